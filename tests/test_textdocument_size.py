"""A text file read as one document is refused as soon as its text is sure to be over
the string limit (here patched small), before the rest of it is read; a file whose bytes
are over the limit but whose text is not (CRLF line ends, blank lines at either end) is
read; skipped bad lines bound nothing."""

from __future__ import annotations

import gzip

import pytest
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.errors import DataError
from trlprep.io import plaintext, sources, textdocument
from trlprep.io.jsonl import BadLines


@pytest.fixture
def limit(monkeypatch):
    monkeypatch.setattr(plaintext, "MAX_TEXT_BYTES", 100)
    return 100


def _read(path, chunk_bytes=16, bad=None):
    batches = list(plaintext.text_chunks(str(path), "text-document", chunk_bytes, bad))
    return [t for b in batches for t in b.data.column("text").to_pylist()]


def _count_reads(monkeypatch):
    """How many bytes the document reader took from its stream."""
    taken = [0]
    real = sources.open_stream

    class Counting:
        def __init__(self, path):
            self.f = real(path)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def read(self, n):
            data = self.f.read(n)
            taken[0] += len(data)
            return data

    monkeypatch.setattr(textdocument, "open_stream", Counting)
    return taken


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("compressed", [False, True])
def test_a_huge_document_is_refused_before_it_is_all_read(
    tmp_path, limit, monkeypatch, compressed, skip
):
    body = ("word word\n" * 10_000).encode()  # 100,000 bytes: 1,000 times the limit
    path = tmp_path / ("big.txt.gz" if compressed else "big.txt")
    path.write_bytes(gzip.compress(body) if compressed else body)
    taken = _count_reads(monkeypatch)
    with pytest.raises(DataError, match="more text than a text column holds") as e:
        _read(path, bad=BadLines() if skip else None)
    assert taken[0] < 5_000, taken  # the first read (4 KiB) and one more, not 100,000
    assert e.value.path == str(path)
    assert "reading stopped there" in e.value.message
    assert ("100,000-byte file" in e.value.message) != compressed
    assert "--input-format text-paragraph or text" in e.value.hint


def test_the_cli_says_it_and_exits_1(tmp_path, limit):
    path = tmp_path / "big.txt"
    path.write_text("word " * 2000)
    res = CliRunner().invoke(
        app,
        ["convert", str(path), "--input-format", "text-document", "-o", str(tmp_path / "o.jsonl")],
    )
    assert res.exit_code == 1, res.output
    assert "more text than a text column holds" in " ".join(res.output.split())


def test_bytes_over_the_limit_whose_text_fits_are_read(tmp_path, limit):
    text = "\r\n".join(["ab" * 15] * 3)  # 94 bytes of text with `\n` line ends
    path = tmp_path / "crlf.txt"
    path.write_bytes(("\n \n" + text + "\r\n\r\n   \n").encode())  # 106 bytes
    assert path.stat().st_size > limit
    assert _read(path) == [text.replace("\r\n", "\n")]


def test_skipped_bad_lines_bound_nothing(tmp_path, limit):
    """Most of the bytes are a line that is not UTF-8: skipped, the text left fits."""
    path = tmp_path / "bad.txt"
    path.write_bytes(b"keep me\n" + b"\xff" * 300 + b"\nand me\n")
    bad = BadLines()
    assert _read(path, bad=bad) == ["keep me\nand me"]
    assert len(bad) == 1


def test_small_documents_read_as_before(tmp_path):
    path = tmp_path / "doc.txt"
    path.write_bytes("\ufeff\n\nfirst\r\nsecond\rthird\n\n".encode())
    for size in (1, 3, 7, 1 << 20):
        assert _read(path, size) == ["first\nsecond\nthird"], size
