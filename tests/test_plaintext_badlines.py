"""Lines that are not UTF-8 in text files (`--on-bad-lines`): set aside, they are no part of
any row (line, paragraph or document), every row is valid UTF-8, and every line is
accounted for (the rows' lines, the blank lines, the bad lines)."""

from __future__ import annotations

import itertools
import os
import tempfile

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.errors import DataError
from trlprep.io import plaintext
from trlprep.io.jsonl import BadLines
from trlprep.io.textfaults import wide_encoding

BAD = b"good one\nbad \xff line\n\nnext para\nmore\xfe\nend\n"
_SPACES = " \t\f\v"  # a blank line's characters (its line end is no part of it)
_names = itertools.count()


def _read(path: str, fmt: str, bad: BadLines | None, chunk_bytes: int | None = None):
    """(texts, first lines) of the rows, every batch's text column checked as UTF-8."""
    texts, lines = [], []
    for batch in plaintext.text_chunks(path, fmt, chunk_bytes, bad):
        column = batch.data.column("text")
        column.validate(full=True)  # raises on bytes that are not UTF-8
        texts += column.to_pylist()
        lines += [int(n) for n in batch.lines]
    return texts, lines


def test_a_document_leaves_skipped_bad_lines_out(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(BAD)
    bad = BadLines()
    assert _read(str(path), "text-document", bad) == (["good one\n\nnext para\nend"], [1])
    assert bad.lines == [2, 5]
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(BAD.replace(b"\n", b"\r\n"))
    assert _read(str(crlf), "text-document", BadLines())[0] == ["good one\n\nnext para\nend"]


@pytest.mark.parametrize("suffix", ["parquet", "jsonl"])
def test_converted_document_holds_no_bad_bytes(tmp_path, suffix):
    path = tmp_path / "bad.txt"
    path.write_bytes(BAD)
    out = tmp_path / f"out.{suffix}"
    args = ["convert", str(path), "--input-format", "text-document", "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--on-bad-lines", "skip"])
    assert result.exit_code == 0, result.output
    assert "2 bad lines skipped (line 2" in result.output
    if suffix == "parquet":
        column = pq.read_table(out).column("text")
        column.validate(full=True)
        assert column.to_pylist() == ["good one\n\nnext para\nend"]
    else:
        assert out.read_bytes().decode("utf-8") == '{"text":"good one\\n\\nnext para\\nend"}\n'


def test_a_skipped_line_neither_breaks_nor_joins_a_paragraph(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(BAD)
    assert _read(str(path), "text-paragraph", BadLines()) == (
        ["good one", "next para\nend"],
        [1, 4],
    )
    first = tmp_path / "first.txt"  # a paragraph whose first line is bad starts after it
    first.write_bytes(b"a\n\n\xff\nb\n\xfe\n\nc\n")
    assert _read(str(first), "text-paragraph", BadLines()) == (["a", "b", "c"], [1, 4, 7])


@pytest.mark.parametrize(
    ("fmt", "note"),
    [
        ("text", "6 lines read: 3 rows, 1 blank line skipped, 2 bad lines skipped"),
        (
            "text-paragraph",
            "6 lines read: 2 paragraph rows, 1 blank line between them, 2 bad lines skipped",
        ),
        ("text-document", "6 lines read: 1 document row, 2 bad lines skipped"),
    ],
)
def test_the_note_counts_the_bad_lines(tmp_path, fmt, note):
    path = tmp_path / "bad.txt"
    path.write_bytes(BAD)
    out = tmp_path / "out.jsonl"
    args = ["convert", str(path), "--input-format", fmt, "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--on-bad-lines", "skip"])
    assert result.exit_code == 0, result.output
    assert f"; {note} -> " in result.output
    assert plaintext.stats(str(path)).note() == note


# ---------------------------------------------------------------- random bytes, every mode

PIECES = [b"a", b"bc", b" ", b"\t", b"\xc3\xa9", b"\xe6\x97\xa5", b"\xef\xbb\xbf"]
PIECES += [b"\xff", b"\xfe", b"\xc3", b"\xe6\x97", b"\x80"]  # not UTF-8
ENDS = [b"\n", b"\r\n", b"\r"]
BYTE = st.integers(1, 255).map(lambda b: bytes([b]))
LINES = st.lists(  # lines of text, blank and bad, any line ends (a last one or not)
    st.tuples(st.lists(st.sampled_from(PIECES), max_size=4), st.sampled_from(ENDS)),
    max_size=12,
).map(lambda lines: b"".join(b"".join(line) + end for line, end in lines))
FILES = st.one_of(
    st.tuples(LINES, st.booleans()).map(lambda f: f[0].rstrip(b"\r\n") if f[1] else f[0]),
    st.lists(st.one_of(st.sampled_from(PIECES + ENDS), BYTE), max_size=40).map(b"".join),
)


def _file_lines(data: bytes) -> list[bytes]:
    """The lines as Python's universal newlines cut them (after a UTF-8 byte-order mark)."""
    return data.removeprefix(b"\xef\xbb\xbf").splitlines()


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _expected(lines: list[bytes], fmt: str) -> tuple[list[str], list[int]]:
    """(texts, first lines) of the rows, in plain Python: a bad line is as if not there."""
    kept = [(n, line.decode()) for n, line in enumerate(lines, 1) if _is_utf8(line)]
    text = [(n, line) for n, line in kept if line.strip(_SPACES)]
    if fmt == "text":
        return [line for _, line in text], [n for n, _ in text]
    if fmt == "text-document":
        if not text:
            return [], []
        first, last = text[0][0], text[-1][0]
        return ["\n".join(line for n, line in kept if first <= n <= last)], [first]
    rows, starts, run = [], [], []
    for n, line in [*kept, (0, "")]:
        if line.strip(_SPACES):
            starts += [] if run else [n]
            run.append(line)
        elif run:
            rows.append("\n".join(run))
            run = []
    return rows, starts


def _text_lines(texts: list[str]) -> int:
    """The lines of the rows that are not blank (a document's blank lines are its own)."""
    return sum(bool(line.strip(_SPACES)) for t in texts for line in t.split("\n"))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=FILES,
    fmt=st.sampled_from(list(plaintext.SAMPLINGS)),
    chunk_bytes=st.sampled_from([None, 1, 2, 5, 16]),
)
def test_random_bytes_give_utf8_rows_and_every_line_counted(data, fmt, chunk_bytes):
    if wide_encoding(data.removeprefix(b"\xef\xbb\xbf")) is not None:
        return  # UTF-16/32 by its first bytes: refused before any row (tests elsewhere)
    if data.startswith(b"\xef\xbb\xbf") and chunk_bytes in (1, 2):
        chunk_bytes = 16  # the mark is looked for in the first read (of 32 MB, not 1 byte)
    lines = _file_lines(data)
    bad_lines = [n for n, line in enumerate(lines, 1) if not _is_utf8(line)]
    blank = sum(_is_utf8(line) and not line.decode().strip(_SPACES) for line in lines)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"{next(_names)}.txt")  # a new name: stats by name
        with open(path, "wb") as f:
            f.write(data)
        skipped = BadLines()
        texts, starts = _read(path, fmt, skipped, chunk_bytes)
        assert (texts, starts) == _expected(lines, fmt)
        assert skipped.lines == bad_lines
        found = plaintext.stats(path)
        assert (found.lines, found.blank, found.bad) == (len(lines), blank, len(bad_lines))
        assert _text_lines(texts) + found.blank + found.bad == found.lines
        assert found.rows == len(texts)
        before = lines[: bad_lines[0] - 1] if bad_lines else lines
        assert _read(path, fmt, BadLines(stop=True), chunk_bytes) == _expected(before, fmt)
        if bad_lines:
            with pytest.raises(DataError) as e:
                _read(path, fmt, None, chunk_bytes)
            assert e.value.line == bad_lines[0]
        else:
            assert _read(path, fmt, None, chunk_bytes)[0] == texts


def test_every_row_of_a_stopped_read_is_utf8(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(BAD)
    for fmt in plaintext.SAMPLINGS:
        stop = BadLines(stop=True)
        texts, _ = _read(str(path), fmt, stop)
        assert texts == ["good one"] and stop.stopped.line == 2
