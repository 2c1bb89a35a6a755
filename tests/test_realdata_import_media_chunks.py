"""Imports (`--from LAYOUT`) whose message parts hold media inline, read in chunks: each
chunk gets the media columns of the whole imported input, in the order the whole input
gets them, and the writer regroups rows into row groups of its own, so the output file does
not depend on where the reader cut the input. Real rows:
xtuner's Qwen3.5 conversations (image URLs inline, video objects; OpenAI chat layout) and
Oumi's content items (`image_url` items), each after Oumi's text-only rows."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from realdata.support import HERE, counts, sample
from test_realdata_inline_media_default import _run_chunked

QWEN35 = sample("xtuner_inline_media")  # 4 rows: images inline (line 1), videos (lines 2-4)
OUMI = HERE / "oumi_dataset_examples"


def _after_text_rows(tmp_path, src):
    """Oumi's 2 text-only conversations, then the rows of `src`: the first chunk holds no
    media at all."""
    path = tmp_path / f"mixed_{src.stem}.jsonl"
    text = (OUMI / "oumi_format.jsonl").read_text(encoding="utf-8")
    path.write_text(text + src.read_text(encoding="utf-8"), encoding="utf-8")
    return path


CASES = {
    "openai-chat": lambda tmp: _after_text_rows(tmp, QWEN35),
    "oumi": lambda tmp: _after_text_rows(tmp, OUMI / "vision_language_oumi_format.jsonl"),
}


def _whole_and_chunked(tmp_path, layout, suffix, *args):
    src = CASES[layout](tmp_path)
    got = []
    for chunk in (1 << 30, 300):  # one chunk; a chunk a row or so
        out = tmp_path / f"c{chunk}.{suffix}"
        res = _run_chunked(chunk, "convert", src, "--from", layout, "-o", out, *args)
        assert res.exit_code == 0, res.output
        got.append((counts(res.output), out))
    return got


@pytest.mark.parametrize("layout", sorted(CASES))
def test_parquet_files_do_not_depend_on_the_chunks(tmp_path, layout):
    (whole_counts, whole), (cut_counts, cut) = _whole_and_chunked(tmp_path, layout, "parquet")
    assert whole_counts == cut_counts
    a, b = pq.read_table(whole), pq.read_table(cut)
    assert "images" in a.column_names and a.schema == b.schema
    assert a.column("images").to_pylist()[:2] == [[], []]  # the text-only rows
    assert whole.read_bytes() == cut.read_bytes()  # row groups too: rows regrouped as written


@pytest.mark.parametrize("layout", sorted(CASES))
def test_json_lines_moved_media_are_byte_identical_however_chunked(tmp_path, layout):
    (_, whole), (_, cut) = _whole_and_chunked(tmp_path, layout, "jsonl", "--inline-media", "move")
    assert whole.read_bytes() == cut.read_bytes()


def test_videos_of_a_later_chunk_follow_the_images_column(tmp_path):
    """A chunk holding videos alone still writes `images` before `videos`."""
    _, (_, cut) = _whole_and_chunked(tmp_path, "openai-chat", "jsonl", "--inline-media", "move")
    import json

    last = json.loads(cut.read_text(encoding="utf-8").splitlines()[-1])
    assert list(last)[-2:] == ["images", "videos"] and last["images"] == []


def test_a_plain_convert_writes_the_same_parquet_bytes_however_chunked(tmp_path):
    """No import: xtuner's rows converted as they are, one chunk or a row a chunk."""
    outs = []
    for chunk in (1 << 30, 300):
        out = tmp_path / f"plain{chunk}.parquet"
        assert _run_chunked(chunk, "convert", QWEN35, "-o", out).exit_code == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
