"""Real plain text: LLaMA-Factory's `wiki_demo.txt` (30 Wikipedia articles, one a line) read
as `datasets.load_dataset("text", ...)` reads it, by every command, the Python API, the
trainer's data step and the Ray engine, with each row's file line."""

from __future__ import annotations

import gzip
import shutil

import pytest
from realdata.support import counts, rows_of, run, sample

from trlprep.io import plaintext
from trlprep.io.readers import read

WIKI = sample("wiki_text")
LINES = WIKI.read_text(encoding="utf-8").splitlines()


def test_the_sample_is_what_its_source_says():
    assert WIKI.name == "wiki_demo.txt" and len(LINES) == 30
    assert all(line.strip() for line in LINES)  # no blank lines
    assert sum(not line.isascii() for line in LINES) > 20


def test_detect_validate_and_report():
    result = run("detect", WIKI)
    assert result.exit_code == 0, result.output
    assert "language-modeling" in result.output and "standard" in result.output
    assert "30 lines read: 30 rows, 0 blank lines skipped" in result.output
    result = run("validate", WIKI)
    assert result.exit_code == 0 and "valid: 30 rows" in result.output, result.output


def test_report_names_rows_by_file_line(tmp_path):
    result = run("report", WIKI, "-o", tmp_path / "r.html")
    assert result.exit_code == 0, result.output
    assert "line 1:" in result.output and "Anarchism is a political" in result.output


def test_convert_keeps_every_line_as_a_row(tmp_path):
    out = tmp_path / "wiki.parquet"
    result = run("convert", WIKI, "--to", "language-modeling", "-o", out)
    assert result.exit_code == 0, result.output
    assert counts(result.output) == (30, 0, 30, 30)
    assert [r["text"] for r in rows_of(out)] == LINES


def test_convert_tokenizes_with_a_tokenizer(tmp_path):
    out = tmp_path / "ids.parquet"
    model = WIKI.parents[3] / "examples/tiny-chat-model"
    result = run("convert", WIKI, "--to", "lm", "-o", out, "--tokenize", "--tokenizer", model)
    assert result.exit_code == 0, result.output
    rows = rows_of(out)
    assert len(rows) == 30 and all(len(r["input_ids"]) > 100 for r in rows)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model))
    assert tok.decode(rows[2]["input_ids"], skip_special_tokens=True).startswith(LINES[2][:200])


@pytest.mark.parametrize("chunk_bytes", [4096, 100_003])
def test_chunks_cut_inside_lines_and_characters_give_the_same_rows(chunk_bytes):
    batches = list(plaintext.text_chunks(str(WIKI), chunk_bytes=chunk_bytes))
    assert [t for b in batches for t in b.data.column("text").to_pylist()] == LINES
    assert [int(n) for b in batches for n in b.lines] == list(range(1, 31))


def test_gzip_and_a_folder_of_shards(tmp_path):
    gz = tmp_path / "wiki_demo.txt.gz"
    gz.write_bytes(gzip.compress(WIKI.read_bytes()))
    assert read(gz).table.column("text").to_pylist() == LINES
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "part-0.txt").write_text("\n".join(LINES[:10]) + "\n", encoding="utf-8")
    (folder / "part-1.txt").write_text("\n\n".join(LINES[10:]) + "\n", encoding="utf-8")
    shutil.copy(WIKI.parent / "LICENSE", folder / "LICENSE.txt")  # not data
    src = read(folder)
    assert src.table.column("text").to_pylist() == LINES
    assert src.lines.tolist() == list(range(1, 11)) + list(range(1, 40, 2))
    result = run("validate", folder)
    assert result.exit_code == 0, result.output
    assert "49 lines read: 30 rows, 19 blank lines skipped" in result.output


@pytest.mark.parametrize("sample_by", ["line", "paragraph", "document"])
def test_rows_equal_datasets_text_builder(tmp_path, sample_by):
    datasets = pytest.importorskip("datasets")
    theirs = datasets.load_dataset(
        "text", data_files=str(WIKI), sample_by=sample_by, cache_dir=str(tmp_path)
    )["train"]["text"]
    fmt = {v: k for k, v in plaintext.SAMPLINGS.items()}[sample_by]
    ours = read(WIKI, input_format=fmt).table.column("text").to_pylist()
    if sample_by != "line":  # `datasets` keeps the file's last line end in its last row
        theirs = [t.removesuffix("\n") for t in theirs]
    assert ours == theirs


def test_python_api_and_the_trainers_data_step():
    from trlprep.trainers.data_table import to_training_table

    import trlprep

    assert trlprep.convert(str(WIKI), to="lm").column("text").to_pylist() == LINES
    table, *_ = to_training_table(str(WIKI), ["language-modeling"], None, algo="sft")
    assert table.column("text").to_pylist() == LINES


def test_ray_reads_the_same_rows_and_lines(tmp_path):
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    from trlprep.ray.base import LINE
    from trlprep.ray.sources import read_numbered

    started = not ray.is_initialized()
    if started:  # as `ray_support.local_ray`, which only Ray test modules start
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    spaced = tmp_path / "spaced.txt"
    spaced.write_text("\n\n".join(LINES[:5]) + "\n", encoding="utf-8")
    for path in (WIKI, spaced):
        ds, total, _ = read_numbered(str(path))
        rows = sorted(ds.take_all(), key=lambda r: r[LINE])
        local = read(path)
        assert total == local.table.num_rows
        assert [r["text"] for r in rows] == local.table.column("text").to_pylist()
        assert [r[LINE] for r in rows] == local.lines.tolist()
    if started:
        ray.shutdown()


def _with_blank_lines(tmp_path):
    """wiki_demo.txt with a blank line after every third article: 40 lines, 30 rows."""
    out = tmp_path / "wiki_blank.txt"
    text = "".join(x + "\n" + ("\n" if i % 3 == 2 else "") for i, x in enumerate(LINES))
    out.write_text(text, encoding="utf-8")
    return out


NOTE = "40 lines read: 30 rows, 10 blank lines skipped"


def test_report_says_the_blank_lines_skipped(tmp_path):
    import json

    src = _with_blank_lines(tmp_path)
    result = run("report", src)
    assert result.exit_code == 0, result.output
    assert f"  note: {NOTE}" in result.output
    result = run("report", src, "--format", "json")
    assert json.loads(result.stdout)["report"]["notes"] == [NOTE]
    result = run("report", src, "-o", tmp_path / "r.html")
    assert result.exit_code == 0, result.output
    assert f"note: {NOTE}</p>" in (tmp_path / "r.html").read_text(encoding="utf-8")
    result = run("report", WIKI, "--format", "json")  # no blank lines: said as 0
    assert json.loads(result.stdout)["report"]["notes"] == [
        "30 lines read: 30 rows, 0 blank lines skipped"
    ]


def test_python_api_says_the_blank_lines_skipped(tmp_path):
    import warnings

    import trlprep

    src = _with_blank_lines(tmp_path)
    assert NOTE in trlprep.detect(src).notes
    assert NOTE in trlprep.validate(src).notes
    assert trlprep.report(src).to_dict()["report"]["notes"] == [NOTE]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = trlprep.convert(src, to="language-modeling")
    assert out.column("text").to_pylist() == LINES
    assert [str(w.message) for w in caught if NOTE in str(w.message)] == [NOTE]
    jsonl = tmp_path / "rows.jsonl"  # not plain text: no such note
    jsonl.write_text('{"text": "a"}\n', encoding="utf-8")
    assert not any("lines read" in n for n in trlprep.validate(jsonl).notes)
