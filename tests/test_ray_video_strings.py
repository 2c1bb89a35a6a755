"""`--engine ray` renders video rows' strings as strings, as the local engine does (the same
messages and output bytes). Real rows of `test_realdata_video_strings`."""

from __future__ import annotations

import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray, run_outcome  # noqa: E402, F401  (the session's Ray)
from realdata.support import original_template_args, run  # noqa: E402
from test_realdata_video_strings import _video_rows  # noqa: E402


def test_ray_renders_video_rows_as_the_local_engine_does(tmp_path):
    src = _video_rows(tmp_path)
    got = []
    for engine in ("local", "ray"):
        out = tmp_path / ("local.jsonl" if engine == "local" else "ray_out.jsonl")
        args = (*original_template_args("diffusion_gemma"), "--engine", engine)
        got.append(run_outcome(run("convert", src, "-o", out, *args), out))
    assert got[0][0] == 0 and "视频内容。<turn|>".encode() in got[0][2]
    assert got[0] == got[1]
