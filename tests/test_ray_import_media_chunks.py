"""`--engine ray` imports a layout whose parts hold media inline, read in many chunks, as
the local engine does: the same media columns, rows and bytes (JSON Lines). Real rows of
`test_realdata_import_media_chunks`."""

from __future__ import annotations

import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray, run_outcome  # noqa: E402, F401  (the session's Ray)
from test_realdata_import_media_chunks import CASES  # noqa: E402
from test_realdata_inline_media_default import _run_chunked  # noqa: E402


@pytest.mark.parametrize("layout", sorted(CASES))
def test_ray_import_moves_media_as_the_local_engine_does(tmp_path, layout):
    src = CASES[layout](tmp_path)
    got = []
    for engine in ("local", "ray"):
        out = tmp_path / ("local.jsonl" if engine == "local" else "ray_out.jsonl")
        args = ("--from", layout, "--inline-media", "move", "--engine", engine)
        res = _run_chunked(300, "convert", src, "-o", out, *args)
        got.append(run_outcome(res, out))
    (code, _, local, _), (ray_code, _, ray, _) = got
    assert code == ray_code == 0
    assert b'"images":[]' in local and local == ray
