"""`io.linechunks`: a file in chunks of whole lines, cut where a reader that holds each chunk
back until the next block is read cuts (the cuts Ray's ranges repeat, and the batches, hence
the row groups written, follow), while no chunk is held beside the next block."""

from __future__ import annotations

import gzip
import random

import pytest

from trlprep.io import linechunks
from trlprep.io.linechunks import line_chunks


def _held_back(data: bytes, size: int, lone_cr: bool) -> list[bytes]:
    """The cuts spelled out: blocks of `size` bytes (the first without a byte-order mark),
    each chunk ending at the last line end of what was read; the unterminated last line
    joins the last chunk (a chunk waits until a later line end is found)."""
    blocks = [data[i : i + size] for i in range(0, len(data), size)]
    if blocks and blocks[0].startswith(b"\xef\xbb\xbf"):
        blocks[0] = blocks[0][3:]
    chunks, held, rest = [], b"", b""
    for block in blocks:
        buf = rest + block
        cut = buf.rfind(b"\n")
        if lone_cr:
            cut = max(cut, buf.rfind(b"\r", 0, len(buf) - 1))
        if cut < 0:
            rest = buf
            continue
        if held:
            chunks.append(held)
        held, rest = buf[: cut + 1], buf[cut + 1 :]
    if held or rest:
        chunks.append(held + rest)
    return chunks


ALPHABETS = [b"ab\n", b"a\r\n", b"abc\r", b"a\n\n\r\r", b"abcdefgh\n", b"ab", b"x" * 20 + b"\n"]


@pytest.mark.parametrize("probe", [1, 3, 64 << 10])
def test_cuts_equal_the_held_back_reader(tmp_path, monkeypatch, probe):
    monkeypatch.setattr(linechunks, "_PROBE_BYTES", probe)  # line ends looked for a few bytes on
    rng = random.Random(probe)
    for _ in range(150):
        data = bytes(rng.choice(rng.choice(ALPHABETS)) for _ in range(rng.choice([1, 9, 60, 400])))
        data = (b"\xef\xbb\xbf" if rng.random() < 0.1 else b"") + data
        path = tmp_path / "f.jsonl.gz" if rng.random() < 0.2 else tmp_path / "f.jsonl"
        path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
        for size in (1, 2, 3, 7, 16, 64, 1000):
            for lone_cr in (False, True):
                want = _held_back(data, size, lone_cr)
                assert list(line_chunks(str(path), size, lone_cr)) == want, (data, size, lone_cr)


def test_an_unterminated_last_line_across_blocks_joins_the_last_chunk(tmp_path):
    """The last line has no line end and starts in one block, ends in the next: it is one
    more line of the chunk before it, never a chunk of its own."""
    path = tmp_path / "cut.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": 33333}')
    assert list(line_chunks(str(path), 20)) == [b'{"a": 1}\n{"a": 2}\n{"a": 33333}']
    assert list(line_chunks(str(path), 12)) == [b'{"a": 1}\n', b'{"a": 2}\n{"a": 33333}']


class _Recording:
    """A file whose reads are recorded: how far it has been read."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def read(self, n: int) -> bytes:
        out = self.data[self.at : self.at + n]
        self.at += len(out)
        return out

    def __enter__(self) -> _Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def test_a_chunk_is_given_before_the_next_block_is_read(tmp_path, monkeypatch):
    """Each chunk is given with the file read at most a line past its block: the next block
    (which a held-back chunk would sit beside) is read only once the chunk is let go."""
    line = b'{"text": "' + b"x" * 90 + b'"}\n'  # 103 bytes
    data = line * 100
    size = 1000
    f = _Recording(data)
    monkeypatch.setattr(linechunks, "open_stream", lambda path: f)
    monkeypatch.setattr(linechunks, "_PROBE_BYTES", 64)
    ends = []
    for k, chunk in enumerate(line_chunks(str(tmp_path / "x.jsonl"), size)):
        assert chunk.endswith(b"\n")
        ends.append(f.at)
        assert f.at <= (k + 1) * size + 2 * len(line)  # this block, and a line of the next
    assert len(ends) == 11 and b"".join(_held_back(data, size, False)) == data
