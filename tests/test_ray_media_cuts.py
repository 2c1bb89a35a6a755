"""`--engine ray` cuts a single `image` and JSON text media columns on `--to prompt-only`,
and refuses pairs whose answers show different media, as the local engine does: the same
exit code, messages, output bytes and rejects. Real rows of `test_realdata_media_cuts`."""

from __future__ import annotations

import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray, run_outcome  # noqa: E402, F401  (the session's Ray)
from realdata.support import run  # noqa: E402
from test_realdata_media_cuts import (  # noqa: E402
    frames_and_paths,
    image_in_the_answer,
    unpaired_with_own_images,
)

CASES = {
    "single-image": (image_in_the_answer, "prompt-only"),
    "json-text": (frames_and_paths, "prompt-only"),
    "pairs": (unpaired_with_own_images, "preference"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_ray_cuts_and_refuses_as_the_local_engine_does(tmp_path, case):
    make, to = CASES[case]
    src = make(tmp_path)
    got = []
    for engine in ("local", "ray"):
        out = tmp_path / ("local.jsonl" if engine == "local" else "ray_out.jsonl")
        args = ("--to", to, "--on-error", "skip", "--engine", engine)
        got.append(run_outcome(run("convert", src, "-o", out, *args), out))
    assert got[0][0] == 0 and got[0][2]
    assert got[0] == got[1]
