"""Parquet, Arrow and `save_to_disk` outputs move media held inline to their columns by
default (`--inline-media move` unsaid): decided over the whole input, so that media no URL
or path names (OpenAI's `input_audio` data) stay in their parts instead of refusing valid
rows, and the media columns written do not depend on where the reader cut the input.
Real xtuner rows (images inline, videos as objects; videos as paths), with one OpenAI
`input_audio` row in its documented shape added where a test says so."""

from __future__ import annotations

import json
import warnings

import pyarrow.parquet as pq
import pytest
from realdata.support import counts, run, sample

from trlprep.io import jsonl

QWEN35 = sample("xtuner_inline_media")  # 4 rows: 3 inline image URLs (line 1), video objects
VIDEOS = sample("xtuner_video_paths")  # 10 rows: video parts holding a path, no other media
AUDIO = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA="  # a 0-sample WAV
SPOKEN = {
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is said?"},
                {"type": "input_audio", "input_audio": {"data": AUDIO, "format": "wav"}},
            ],
        },
        {"role": "assistant", "content": "Nothing."},
    ]
}


def _with_audio(tmp_path):
    """The real rows, then the OpenAI audio row (line 5)."""
    path = tmp_path / "mixed.jsonl"
    path.write_text(QWEN35.read_text(encoding="utf-8") + json.dumps(SPOKEN) + "\n")
    return path


def _run_chunked(chunk: int, *args: object):
    was, jsonl.CHUNK_BYTES = jsonl.CHUNK_BYTES, chunk
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run(*args)
    finally:
        jsonl.CHUNK_BYTES = was


def test_default_keeps_unmovable_audio_and_moves_the_images(tmp_path):
    out = tmp_path / "out.parquet"
    res = run("convert", _with_audio(tmp_path), "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (5, 0, 5, 5)
    said = " ".join(res.output.split())
    assert "inline audio parts holding their audio as data that no URL or path names" in said
    assert '("input_audio") are kept in their parts, in every row' in said
    assert "--inline-media keep keeps every medium" in said
    table = pq.read_table(out)
    assert "audios" not in table.column_names
    assert len(table.column("images")[0].as_py()) == 3  # moved, in order
    audio_part = table.column("messages")[4].as_py()[0]["content"][1]
    assert audio_part["type"] == "input_audio" and audio_part["input_audio"]["data"] == AUDIO
    first = table.column("messages")[0].as_py()
    assert all("image" not in p or p["image"] is None for m in first for p in m["content"])


def test_explicit_move_refuses_the_audio_row_naming_the_flag(tmp_path):
    out = tmp_path / "o.parquet"
    res = run("convert", _with_audio(tmp_path), "-o", out, "--inline-media", "move")
    assert res.exit_code == 1
    said = " ".join(res.output.split())
    assert "mixed.jsonl:5: inline media: an inline audio part names no URL or path" in said
    assert "or pass --inline-media keep" in said


def test_the_default_is_decided_over_the_whole_input(tmp_path):
    """The audio row read in a later chunk than the images: the same output as read whole."""
    src = _with_audio(tmp_path)
    tables = []
    for chunk in (1 << 30, 700):
        out = tmp_path / f"c{chunk}.parquet"
        res = _run_chunked(chunk, "convert", src, "-o", out)
        assert res.exit_code == 0, res.output
        tables.append(pq.read_table(out))
    assert tables[0].column_names == tables[1].column_names
    assert tables[0].to_pylist() == tables[1].to_pylist()


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_video_only_input_gets_only_a_videos_column_however_chunked(tmp_path, fmt):
    """TRL's SFT and DPO trainers take any `images` column as a vision dataset (a text-only
    model refused, packing refused): a video-only input gets none, in one chunk or many."""
    names = []
    for chunk in (1 << 30, 600):
        out = tmp_path / f"c{chunk}.{fmt}"
        res = _run_chunked(chunk, "convert", VIDEOS, "-o", out, "--on-error", "skip")
        assert res.exit_code == 0, res.output
        if fmt == "parquet":
            names.append(pq.read_table(out).column_names)
        else:
            import pyarrow.ipc as ipc

            with open(out, "rb") as f:
                names.append(ipc.open_file(f).read_all().column_names)
    assert names[0] == names[1] == ["id", "messages", "videos"]


def test_an_import_keeps_unmovable_audio_too(tmp_path):
    out = tmp_path / "imported.parquet"
    res = run("convert", _with_audio(tmp_path), "--from", "openai-chat", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (5, 0, 5, 5)
    assert "inline audio parts holding their audio as data" in " ".join(res.output.split())
    assert len(pq.read_table(out).column("images")[0].as_py()) == 3


def _kept_then_cut(tmp_path, fmt: str):
    """The video rows converted with `--inline-media keep` (their parts keep the `path`
    key, which may hold any medium), written after text-only rows in several batches: a
    Parquet file past one read batch (65,536 rows, row groups of 8,192), an Arrow file of
    record batches of 2 rows."""
    import pyarrow as pa

    keep = tmp_path / "keep.parquet"
    res = run("convert", VIDEOS, "--inline-media", "keep", "--on-error", "skip", "-o", keep)
    assert res.exit_code == 0, res.output
    videos = pq.read_table(keep)
    hi = [{"type": "text", "text": "Hi"}]
    turns = [{"role": r, "content": hi} for r in ("user", "assistant")]
    text = pa.Table.from_pylist([{"id": 0, "messages": turns}], schema=videos.schema)
    many = 65_536 if fmt == "parquet" else 6
    table = pa.concat_tables([text] * many + [videos])
    path = tmp_path / f"cut.{fmt}"
    if fmt == "parquet":
        pq.write_table(table, path, row_group_size=8_192)
    else:
        import pyarrow.ipc as ipc

        with ipc.new_file(path, table.schema) as w:
            for b in table.to_batches(max_chunksize=2):
                w.write_batch(b)
    return path, many, videos


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_a_kept_file_read_in_several_batches_gets_the_media_columns_of_its_data(tmp_path, fmt):
    """Media columns come from which media the input holds, not from its one schema (whose
    `path` key may hold images, videos or audios): as for the JSON Lines it came from."""
    src, many, videos = _kept_then_cut(tmp_path, fmt)
    out, direct = tmp_path / "out.parquet", tmp_path / "direct.parquet"
    res = run("convert", src, "-o", out)
    assert res.exit_code == 0, res.output
    assert run("convert", VIDEOS, "--on-error", "skip", "-o", direct).exit_code == 0
    got, want = pq.read_table(out), pq.read_table(direct)
    assert got.column_names == want.column_names == ["id", "messages", "videos"]
    assert got.slice(many).column("videos").to_pylist() == want.column("videos").to_pylist()
    assert got.num_rows == many + videos.num_rows
