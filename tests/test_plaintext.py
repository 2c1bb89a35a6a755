"""Plain text files (`trlprep.io.plaintext`): rows per line, paragraph or document, the
file line of every row, blank lines counted, bytes cut at any chunk size alike, CRLF, a
last line without a line end, compressed files, bad UTF-8 named by its line."""

from __future__ import annotations

import gzip

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.errors import DataError
from trlprep.io import plaintext
from trlprep.io.jsonl import BadLines
from trlprep.io.readers import iter_batches, read, resolve_format

TEXT = "first line\r\n\r\n  \nsecond  line\n\nthird\n para line2\n\n\nlast, no line end"


def _rows(path, fmt="text", chunk_bytes=None, bad=None) -> tuple[list[str], list[int]]:
    batches = list(plaintext.text_chunks(str(path), fmt, chunk_bytes, bad))
    texts = [t for b in batches for t in b.data.column("text").to_pylist()]
    lines = [int(n) for b in batches for n in b.lines]
    offsets = [b.offset for b in batches]
    assert offsets == sorted(offsets) and (not batches or offsets[0] == 0)
    return texts, lines


@pytest.fixture
def mixed(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes(TEXT.encode())
    return path


def test_lines_rows_and_file_lines(mixed):
    texts, lines = _rows(mixed)
    assert texts == ["first line", "second  line", "third", " para line2", "last, no line end"]
    assert lines == [1, 4, 6, 7, 10]
    found = plaintext.stats(str(mixed))
    assert (found.lines, found.blank, found.rows) == (10, 5, 5)  # every line accounted for
    assert found.note() == "10 lines read: 5 rows, 5 blank lines skipped"


def test_paragraphs_and_documents(mixed):
    texts, lines = _rows(mixed, "text-paragraph")
    assert texts == ["first line", "second  line", "third\n para line2", "last, no line end"]
    assert lines == [1, 4, 6, 10]
    texts, lines = _rows(mixed, "text-document")
    assert texts == [TEXT.replace("\r\n", "\n")] and lines == [1]
    padded = mixed.with_name("padded.txt")
    padded.write_bytes(b"\n \nbody\n\nmore\n\n")
    assert _rows(padded, "text-document") == (["body\n\nmore"], [3])


@pytest.mark.parametrize("fmt", ["text", "text-paragraph"])
@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 7, 16, 64])
def test_any_chunk_size_gives_the_same_rows(mixed, fmt, chunk_bytes):
    """Chunks cut mid-line (and mid-CRLF, mid-paragraph) give the rows of one read."""
    assert _rows(mixed, fmt, chunk_bytes) == _rows(mixed, fmt)


def test_multibyte_characters_cut_by_chunks(tmp_path):
    path = tmp_path / "zh.txt"
    lines = [f"第{i}行：中文文本 ✓ émoji 🙂" for i in range(200)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for size in (5, 33, 1000):
        texts, numbers = _rows(path, chunk_bytes=size)
        assert texts == lines and numbers == list(range(1, 201))


def test_crlf_and_a_lone_cr_end_lines(tmp_path):
    """`\\r\\n` and a lone `\\r` (old Mac) end lines, as universal newlines (`datasets`)."""
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"a\r\nb\rc\r\n\r\nd\r\n")
    assert _rows(path) == (["a", "b", "c", "d"], [1, 2, 3, 5])
    mac = tmp_path / "mac.txt"
    mac.write_bytes(b"one\rtwo\r\rthree  \r \rp2\r\r\nfour")
    assert _rows(mac) == (["one", "two", "three  ", "p2", "four"], [1, 2, 4, 6, 8])
    found = plaintext.stats(str(mac))
    assert (found.lines, found.blank, found.rows) == (8, 3, 5)
    assert _rows(mac, "text-paragraph") == (["one\ntwo", "three  ", "p2", "four"], [1, 4, 6, 8])
    assert _rows(mac, "text-document") == (["one\ntwo\n\nthree  \n \np2\n\nfour"], [1])
    for size in (1, 2, 3, 5, 8):  # a chunk may end between `\\r` and `\\n`: read alike
        for fmt in plaintext.SAMPLINGS:
            assert _rows(mac, fmt, size) == _rows(mac, fmt), (size, fmt)


def test_a_document_over_the_string_limit_is_a_clear_error(tmp_path, monkeypatch):
    """A document (or line, paragraph) larger than a `string` column holds (2 GiB; here a
    50-byte limit) is invalid data naming the file, its first line and what to do, not an
    Arrow overflow; read by lines, the same file is rows."""
    monkeypatch.setattr(plaintext, "MAX_TEXT_BYTES", 50)
    path = tmp_path / "book.txt"
    path.write_text("\n" + "".join(f"sentence number {i}.\n" for i in range(5)))
    with pytest.raises(DataError, match=r"a document of 94 bytes is more text than") as e:
        _rows(path, "text-document")
    assert (e.value.path, e.value.line) == (str(path), 2)
    assert "--input-format text-paragraph or text" in e.value.hint
    assert _rows(path, "text", chunk_bytes=16)[1] == [2, 3, 4, 5, 6]
    result = CliRunner().invoke(
        app,
        ["convert", str(path), "--input-format", "text-document", "--to", "lm"]
        + ["-o", str(tmp_path / "out.jsonl")],
    )
    assert result.exit_code == 1, result.output
    assert f"{path}:2: a document of 94 bytes" in " ".join(result.output.split())
    assert not (tmp_path / "out.jsonl").exists()


def test_no_final_line_end_and_a_final_line_end(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(b"x\ny")
    b.write_bytes(b"x\ny\n")
    assert _rows(a) == _rows(b) == (["x", "y"], [1, 2])
    assert plaintext.stats(str(a)).lines == plaintext.stats(str(b)).lines == 2


def test_empty_file_and_only_blank_lines(tmp_path):
    empty, blank = tmp_path / "empty.txt", tmp_path / "blank.txt"
    empty.write_bytes(b"")
    blank.write_bytes(b"\n  \n\t\r\n\n")
    for path in (empty, blank):
        src = read(path)
        assert src.table.num_rows == 0 and src.table.column_names == ["text"]
        assert list(src.lines) == []
    assert (plaintext.stats(str(blank)).lines, plaintext.stats(str(blank)).blank) == (4, 4)
    result = CliRunner().invoke(app, ["validate", str(blank)])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and f"{blank}: the dataset has no rows" in said
    result = CliRunner().invoke(app, ["validate", str(blank), "--allow-empty"])
    assert result.exit_code == 0, result.output
    assert "4 lines read: 0 rows, 4 blank lines skipped" in result.output


def test_a_line_longer_than_a_chunk(tmp_path):
    path = tmp_path / "long.txt"
    long = "word " * 400_000  # 2 MB
    path.write_text(f"short\n{long}\nend\n")
    assert _rows(path, chunk_bytes=4096) == (["short", long, "end"], [1, 2, 3])


def test_compressed_files_by_name_and_by_bytes(tmp_path, mixed):
    gz = tmp_path / "mixed.txt.gz"
    gz.write_bytes(gzip.compress(mixed.read_bytes()))
    zst = tmp_path / "mixed.text.zst"
    with pa.output_stream(str(zst), compression="zstd") as f:
        f.write(mixed.read_bytes())
    unnamed = tmp_path / "gzipped.txt"  # gzip bytes under a plain name
    unnamed.write_bytes(gz.read_bytes())
    for path in (gz, zst, unnamed):
        assert resolve_format(path) == "text"
        assert _rows(path) == _rows(mixed)


def test_byte_order_mark_dropped_and_utf16_refused(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfhello\nworld\n")
    assert _rows(path) == (["hello", "world"], [1, 2])
    wide = tmp_path / "wide.txt"
    wide.write_bytes("hello\nworld\n".encode("utf-16"))
    result = CliRunner().invoke(app, ["detect", str(wide)])
    assert result.exit_code == 1 and "UTF-16" in result.output and "iconv" in result.output


def test_bad_utf8_line_named_or_skipped(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"fine\ncaf\xe9\nalso fine\n")
    with pytest.raises(DataError) as e:
        read(path)
    assert e.value.line == 2 and "not valid UTF-8" in e.value.message
    bad = BadLines()
    texts, lines = _rows(path, bad=bad)
    assert (texts, lines, bad.lines) == (["fine", "also fine"], [1, 3], [2])
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        app, ["convert", str(path), "--to", "lm", "-o", str(out), "--on-bad-lines", "skip"]
    )
    assert result.exit_code == 0, result.output
    assert "1 bad line skipped (line 2" in result.output
    assert "3 lines read: 2 rows, 0 blank lines skipped" in result.output


def test_batches_stream_with_lines(mixed):
    batches = list(iter_batches(mixed, batch_rows=2))
    assert np.concatenate([b.lines for b in batches]).tolist() == [1, 4, 6, 7, 10]


def test_formats_named_and_unknown_suffix(tmp_path, mixed):
    assert resolve_format(mixed, "txt") == "text"
    assert resolve_format(mixed, "text-paragraph") == "text-paragraph"
    notes = tmp_path / "notes.md"
    notes.write_text("hello\n")
    result = CliRunner().invoke(app, ["detect", str(notes)])
    assert result.exit_code == 2 and ".txt" in result.output
    result = CliRunner().invoke(app, ["detect", str(notes), "--input-format", "text"])
    assert result.exit_code == 0, result.output


def test_folders_of_text_files_and_a_readme_beside_data(tmp_path, mixed):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_bytes(mixed.read_bytes())
    (folder / "b.txt").write_text("one\n\ntwo\n")
    (folder / "README.txt").write_text("what these files are\n")  # never data
    (folder / "LICENSE.txt").write_text("Apache-2.0\n")
    src = read(folder)
    assert src.table.column("text").to_pylist()[-2:] == ["one", "two"]
    assert src.lines.tolist() == [1, 4, 6, 7, 10, 1, 3]
    result = CliRunner().invoke(app, ["detect", str(folder)])
    assert "13 lines read: 7 rows, 6 blank lines skipped" in result.output, result.output
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text('{"text": "x"}\n')
    (data / "README.txt").write_text("about this data\n")
    assert read(data).table.to_pylist() == [{"text": "x"}]  # the README is not data


def test_only_whole_note_names_are_left_out_of_a_folder(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    for name in ("notice-board.txt", "copying_rules.txt", "readme_corpus.txt"):  # data
        (folder / name).write_text(f"{name}\n")
    (folder / "Readme.txt").write_text("about\n")
    rows = read(folder).table.column("text").to_pylist()
    assert sorted(rows) == ["copying_rules.txt", "notice-board.txt", "readme_corpus.txt"]


def test_python_api_reads_text_paths(mixed):
    import trlprep

    assert trlprep.detect(str(mixed)).type.name == "language-modeling"
    out = trlprep.convert(str(mixed), to="lm")
    assert out.column("text").to_pylist()[0] == "first line"
    report = trlprep.validate(str(mixed), input_format="text-paragraph")
    assert report.valid and report.num_rows == 4


# ---------------------------------------------------------------- as `datasets` reads them

SAMPLES = {
    "plain": "alpha\nbeta gamma\n  indented\ntrailing space \nlast",
    "final newline": "one\ntwo\nthree\n",
    "paragraphs": "p1 l1\np1 l2\n\np2 l1\n\np3\n",
    "crlf": "a\r\nb\r\n\r\nc\r\n",
    "old mac": "a\rb c\r\rd\r",
    "mixed line ends": "a\r\nb\rc\n\rd\r\r\ne\r",
    "unicode": "日本語\nüber\n🙂 smile\n",
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_rows_equal_datasets_text_builder(tmp_path, name):
    """Where both read the same rows: lines (datasets keeps blank lines as empty rows,
    trlprep counts and skips them), paragraphs and documents (datasets keeps a last line
    end that trlprep drops)."""
    datasets = pytest.importorskip("datasets")
    path = tmp_path / "in.txt"
    path.write_bytes(SAMPLES[name].encode())
    for fmt, sample_by in plaintext.SAMPLINGS.items():
        theirs = datasets.load_dataset(
            "text", data_files=str(path), sample_by=sample_by, cache_dir=str(tmp_path / "c")
        )["train"]["text"]
        ours, _ = _rows(path, fmt)
        if sample_by == "line":
            theirs = [t for t in theirs if t.strip()]
        else:
            theirs = [t.rstrip("\n") for t in theirs]
        assert ours == theirs, (fmt, ours, theirs)


def test_paragraph_after_two_blank_lines_differs_from_datasets(tmp_path):
    """The difference README names: after an even number of blank lines `datasets` (which
    splits on "\\n\\n") starts the paragraph with "\\n"; trlprep does not."""
    datasets = pytest.importorskip("datasets")
    path = tmp_path / "in.txt"
    path.write_bytes(b"a\n\n\nb\n\n\n\nc\n")  # 2 blank lines, then 3
    theirs = datasets.load_dataset(
        "text", data_files=str(path), sample_by="paragraph", cache_dir=str(tmp_path / "c")
    )["train"]["text"]
    assert list(theirs) == ["a", "\nb", "c\n"]
    assert _rows(path, "text-paragraph") == (["a", "b", "c"], [1, 4, 8])
