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


# ---------------------------------------------------------------- random bytes, every mode

PIECES = [b"a", b"bc", b" ", b"\t", b"\n", b"\r", b"\r\n", b"\xc3\xa9", b"\xe6\x97\xa5"]
PIECES += [b"\xff", b"\xfe", b"\xc3", b"\xe6\x97", b"\x80", b"\xef\xbb\xbf"]
FILES = st.lists(
    st.one_of(st.sampled_from(PIECES), st.integers(1, 255).map(lambda b: bytes([b]))),
    max_size=40,
).map(b"".join)


def _file_lines(data: bytes) -> list[bytes]:
    """The lines as Python's universal newlines cut them (after a UTF-8 byte-order mark)."""
    return data.removeprefix(b"\xef\xbb\xbf").splitlines()


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _text_lines(texts: list[str]) -> int:
    """The lines of the rows that are not blank (a document's blank lines are its own)."""
    return sum(bool(line.strip(_SPACES)) for t in texts for line in t.split("\n"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=FILES,
    fmt=st.sampled_from(list(plaintext.SAMPLINGS)),
    chunk_bytes=st.sampled_from([None, 1, 2, 5, 16]),
)
def test_random_bytes_give_utf8_rows_and_every_line_counted(data, fmt, chunk_bytes):
    if wide_encoding(data.removeprefix(b"\xef\xbb\xbf")) is not None:
        return  # UTF-16/32 by its first bytes: refused before any row (tests elsewhere)
    lines = _file_lines(data)
    bad_lines = [n for n, line in enumerate(lines, 1) if not _is_utf8(line)]
    blank = sum(_is_utf8(line) and not line.decode().strip(_SPACES) for line in lines)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"{next(_names)}.txt")  # a new name: stats by name
        with open(path, "wb") as f:
            f.write(data)
        skipped = BadLines()
        texts, _ = _read(path, fmt, skipped, chunk_bytes)
        assert skipped.lines == bad_lines
        found = plaintext.stats(path)
        assert (found.lines, found.blank, found.bad) == (len(lines), blank, len(bad_lines))
        assert _text_lines(texts) + found.blank + found.bad == found.lines
        assert found.rows == len(texts)
        _read(path, fmt, BadLines(stop=True), chunk_bytes)  # rows before the first bad one
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
