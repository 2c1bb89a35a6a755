"""`--engine ray` decides the default `--inline-media move` of a Parquet output as the local
engine does: media no URL or path names (OpenAI's `input_audio`) stay in their parts with
the same warning, the other media moved; a video-only input read in many chunks gets a
`videos` column alone. Real xtuner rows (`test_realdata_inline_media_default`)."""

from __future__ import annotations

import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

import pyarrow.parquet as pq  # noqa: E402
from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)
from test_realdata_inline_media_default import VIDEOS, _run_chunked, _with_audio  # noqa: E402


def _both(tmp_path, src, chunk, *args):
    """(exit code, warning lines, table) of the local run, then of Ray's."""
    got = []
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.parquet"
        res = _run_chunked(chunk, "convert", src, "-o", out, *args, "--engine", engine)
        assert res.exit_code == 0, res.output
        said = [x for x in res.output.splitlines() if x.startswith("warning:")]
        shard = out if out.is_file() else next(out.iterdir())
        got.append((res.exit_code, said, pq.read_table(shard)))
    return got


def test_ray_keeps_unmovable_audio_as_the_local_engine_does(tmp_path):
    local, ray = _both(tmp_path, _with_audio(tmp_path), 1 << 30)
    assert local[:2] == ray[:2]
    assert any("inline audio parts holding their audio" in x for x in local[1])
    names = local[2].column_names
    assert names == ray[2].column_names and "audios" not in names
    assert local[2].to_pylist() == ray[2].select(names).to_pylist()


def test_ray_writes_only_videos_for_a_chunked_video_only_input(tmp_path):
    local, ray = _both(tmp_path, VIDEOS, 600, "--on-error", "skip")
    assert local[2].column_names == ray[2].column_names == ["id", "messages", "videos"]
