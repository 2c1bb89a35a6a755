"""A file's bytes in chunks of whole lines, holding about one chunk in memory at a time.

The file is read in blocks of `chunk_bytes`; each chunk ends at the last line end of what has
been read so far (the line begun after it goes to the next chunk). An unterminated last line
(a download cut short) is one more line of the last chunk, never a chunk of its own: before
a chunk is given, the bytes after it are read up to the next line end (a line's worth, kept
for the next block) to learn whether another chunk follows. The cuts are the ones a reader
holding each chunk back until the next block is read would make (`ray.jsonranges` makes
them too); only the memory differs: no chunk is held beside the next block. A range of the
file (`start`..`end`, both cuts the whole file's read makes: a Ray task's share) is read in
the same blocks, so its chunks are the whole read's chunks between those cuts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from trlprep.io import textfaults
from trlprep.io.sources import BOM, check_encoding, guard, open_stream

_PROBE_BYTES = 64 << 10  # bytes read at a time while looking for the next line end


def line_chunks(
    path: str, chunk_bytes: int, lone_cr: bool = False, start: int = 0, end: int | None = None
) -> Iterator[bytes]:
    """The file's bytes in chunks of whole lines (see the module docstring). `lone_cr`: a
    `\r` not followed by `\n` ends a line too (plain text), so a chunk may end after one.
    `start`, `end`: only that byte range of an uncompressed file (see the module docstring)."""
    with open_stream(path) as f:
        if start:
            f.seek(start)
        blocks = _Blocks(path, f, chunk_bytes, start, end)
        rest = b""  # the bytes after the last cut: the start of a line
        while True:
            parts = blocks.next_block()
            if parts is None:
                if rest:
                    yield rest
                return
            parts.insert(0, rest)
            cut = _last_cut(parts, lone_cr)
            if cut is None:
                rest = b"".join(parts)
                continue
            i, at = cut
            chunk = b"".join([*parts[:i], memoryview(parts[i])[: at + 1]])
            rest = b"".join([parts[i][at + 1 :], *parts[i + 1 :]])
            del parts
            if blocks.cut_ahead(rest, lone_cr):
                yield chunk
            else:  # the rest is the file's unterminated last line: part of this chunk
                tail = rest + blocks.take_pending()
                yield chunk + tail if tail else chunk
                return
            del chunk


def _last_cut(parts: list[bytes], lone_cr: bool) -> tuple[int, int] | None:
    """(part, position) of the last line end of the concatenated `parts`; with `lone_cr`,
    a `\r` counts unless it is the last byte (it may be the first of a `\r\n`)."""
    last = max((i for i, p in enumerate(parts) if p), default=-1)
    for i in range(last, -1, -1):
        p = parts[i]
        at = p.rfind(b"\n")
        if lone_cr:
            at = max(at, p.rfind(b"\r", 0, len(p) - 1 if i == last else len(p)))
        if at >= 0:
            return i, at
    return None


class _Blocks:
    """The file's blocks of `size` bytes (the first without a byte-order mark), each given
    as parts: bytes read ahead by `cut_ahead` (kept as `pending`), then the block's rest."""

    def __init__(self, path: str, f: Any, size: int, start: int = 0, end: int | None = None):
        self._path, self._f, self._size = path, f, size
        self._pending = b""  # bytes of the coming blocks read ahead
        self._eof = False
        self._start = True
        self._first = (start // size + 1) * size - start  # blocks end where the file's do
        self._left = end - start if end is not None else None  # bytes of the range unread
        self._check = start == 0

    def _read(self, n: int) -> bytes:
        if self._left is not None:
            n = min(n, self._left)
            self._eof = self._eof or not self._left  # the range's end: the end of what it reads
        if self._eof or n <= 0:
            return b""
        data = guard(self._path, lambda: self._f.read(n))
        self._eof = not data
        if self._left is not None:
            self._left -= len(data)
        return data

    def next_block(self) -> list[bytes] | None:
        """The next block's parts, None at the end of the file."""
        size = self._first if self._start else self._size
        ahead, self._pending = self._pending[:size], self._pending[size:]
        data = self._read(size - len(ahead))
        if self._start and self._check:  # a UTF-16/32 file fails here, before any row is read
            check_encoding(self._path, data[: textfaults.HEAD_BYTES])
            data = data[3:] if data.startswith(BOM) else data
        self._start = False
        parts = [p for p in (ahead, data) if p]
        return parts if parts or not self._eof else None  # (a first block of a BOM alone)

    def cut_ahead(self, rest: bytes, lone_cr: bool) -> bool:
        """Whether a line end follows `rest` (the bytes after the last cut) before the end
        of the file; the bytes read to tell are kept for the coming blocks."""
        pieces = [self._pending]
        cr_last = lone_cr and rest.endswith(b"\r")  # a `\r` ends a line when a byte follows
        try:
            while True:
                p = pieces[-1]
                if p:
                    if cr_last or b"\n" in p:
                        return True
                    if lone_cr:
                        cr = p.find(b"\r")
                        if 0 <= cr < len(p) - 1:
                            return True
                        cr_last = cr >= 0
                more = self._read(_PROBE_BYTES)
                if not more:
                    return False
                pieces.append(more)
        finally:
            self._pending = b"".join(pieces) if len(pieces) > 1 else pieces[0]

    def take_pending(self) -> bytes:
        """The bytes read ahead (all that is left of the file once `cut_ahead` said no)."""
        data, self._pending = self._pending, b""
        return data


__all__ = ["line_chunks"]
