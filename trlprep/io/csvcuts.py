"""Where one CSV / TSV file is cut into ranges of whole records: one Ray task each with
`--engine ray`, one after another (one Arrow block each) in the local engine.

A line break ends a record only outside quotes: outside when the quotes CSV quoting counts
before it are even in number (`trlprep.io.csvlines.marks`, the rules rows are numbered
by). An uncompressed file is scanned in pieces of about `RANGE_BYTES` (in parallel on Ray,
`trlprep.ray.csvread`; one after another locally, `scanned_cut`): each piece's quotes and
line breaks are counted and its first record end found for either parity at its start;
the parities are chained and the file cut there, so every range starts a record and knows
its file line. A compressed file (gzip, bz2, zstd) cannot be cut: it is decompressed as a
stream and handed out as ranges of whole records (`cut_stream`), so it is never held
whole. Where the quotes do not read as CSV quoting (lines are then counted another way)
nothing is cut: the file is read whole.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from trlprep.io.csvlines import marks, previous_bytes
from trlprep.io.sources import BOM, guard

RANGE_BYTES = 128 << 20  # a CSV file's bytes read by one task
_SCAN_BYTES = 16 << 20  # bytes looked at at once while scanning
_LF, _CR, _QUOTE = 10, 13, 34


@dataclass(frozen=True)
class Range:
    """Bytes `start`..`end` of a CSV file (uncompressed), whole records, the first on file
    line `line`; `data`: a compressed file's range, its bytes (a Ray object ref)."""

    start: int
    end: int
    line: int = 1
    data: object | None = None


@dataclass(frozen=True)
class Cut:
    """A CSV file's ranges and its header record's bytes (`header`: start, end)."""

    ranges: list[Range]
    header: tuple[int, int]
    delimiter: str


@dataclass(frozen=True)
class PieceScan:
    """One piece's counts: quotes CSV quoting counts, line breaks; for the parity of the
    quotes before the piece (0 even, 1 odd): the offset just past its first record end
    (`first`, None: none), the line breaks up to it (`breaks_to`), whether a quote opens
    mid-value (`loose`)."""

    quotes: int
    breaks: int
    first: tuple[int | None, int | None]
    breaks_to: tuple[int, int]
    loose: tuple[bool, bool]


def _structural(delimiter: str) -> np.ndarray:
    return np.array([_LF, _CR, _QUOTE, ord(delimiter)], np.uint8)


def scan_piece(path: str, start: int, end: int, delimiter: str) -> PieceScan:
    """Bytes `start`..`end` of `path` counted (a byte-order mark at the file's start left
    out, as Arrow leaves it)."""
    structural = _structural(delimiter)
    quotes, breaks = 0, 0
    first: list[int | None] = [None, None]
    breaks_to, loose = [0, 0], [False, False]
    with open(path, "rb") as f:
        if start == 0:
            prev = _LF
            start = len(BOM) if guard(path, lambda: f.read(len(BOM))) == BOM else 0
        else:
            f.seek(start - 1)
            prev = guard(path, lambda: f.read(1))[0]
        pos = start
        while pos < end:
            n = min(_SCAN_BYTES, end - pos)
            f.seek(pos)
            data = guard(path, lambda n=n: f.read(n + 1))
            arr = np.frombuffer(data, np.uint8, count=min(n, len(data)))
            if not len(arr):
                break
            nxt = data[n] if len(data) > n else None
            before = previous_bytes(arr, prev)
            q, odd, b = marks(arr, before, nxt, structural)
            inside = np.searchsorted(q, b)
            for parity in (0, 1):
                p = (parity + quotes) % 2
                loose[parity] |= bool(odd[(p + np.arange(len(q))) % 2 == 0].any())
                if first[parity] is None:
                    outside = np.flatnonzero((p + inside) % 2 == 0)
                    if len(outside):
                        first[parity] = pos + int(b[outside[0]]) + 1
                        breaks_to[parity] = breaks + int(outside[0]) + 1
            quotes, breaks = quotes + len(q), breaks + len(b)
            prev, pos = int(arr[-1]), pos + len(arr)
    return PieceScan(quotes, breaks, tuple(first), tuple(breaks_to), tuple(loose))


def chained(scans: list[PieceScan], size: int) -> list[Range] | None:
    """The ranges that `scans` (of a file's pieces in order) cut a file of `size` bytes
    into: cut at each piece's first record end for the parity of the quotes before it
    (the first piece starts a record already).
    None: the quotes do not read as CSV quoting, or the last quote is never closed."""
    ranges, start, line, quotes, breaks = [], 0, 1, 0, 0
    for i, scan in enumerate(scans):
        parity = quotes % 2
        if scan.loose[parity]:
            return None
        cut = scan.first[parity]
        if i and cut is not None and start < cut < size:
            at = 1 + breaks + scan.breaks_to[parity]
            ranges.append((start, cut, line))
            start, line = cut, at
        quotes, breaks = quotes + scan.quotes, breaks + scan.breaks
    if quotes % 2:
        return None
    ranges.append((start, size, line))
    return [Range(a, b, n) for a, b, n in ranges]


def file_cut(path: str, delimiter: str, scans: list[PieceScan], least: int = 2) -> Cut | None:
    """The ranges of the uncompressed CSV file `path` from its pieces' `scans` (None: read
    it whole: fewer than `least` ranges, its header not in the first piece, or quotes that
    do not read as CSV quoting)."""
    ranges = chained(scans, os.path.getsize(path))
    head = len(BOM) if _starts_with_bom(path) else 0
    header_end = scans[0].first[0]
    if ranges is None or len(ranges) < least or header_end is None:
        return None
    if not _filled(path, head, header_end):  # empty lines before the header: read whole
        return None
    return Cut(ranges, (head, header_end), delimiter)


def scanned_cut(path: str, delimiter: str) -> Cut | None:
    """The ranges of the uncompressed CSV file `path`, its pieces of about `RANGE_BYTES`
    scanned one after another (the local engine's cut; one range for a small file; None:
    read it whole, as `file_cut` says)."""
    size = os.path.getsize(path)
    pieces = max(math.ceil(size / RANGE_BYTES), 1)
    bounds = sorted({round(j * size / pieces) for j in range(pieces + 1)})
    scans = [scan_piece(path, a, b, delimiter) for a, b in zip(bounds, bounds[1:], strict=False)]
    return file_cut(path, delimiter, scans, least=1) if scans else None


def header_bytes(path: str, cut: Cut) -> bytes:
    """The bytes of the header record of `cut`'s file, put before each later range."""
    with open(path, "rb") as f:
        f.seek(cut.header[0])
        return guard(path, lambda: f.read(cut.header[1] - cut.header[0]))


def _starts_with_bom(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(len(BOM)) == BOM


def _filled(path: str, start: int, end: int) -> bool:
    """Whether the record at bytes `start`..`end` holds more than its line end."""
    with open(path, "rb") as f:
        f.seek(start)
        return bool(f.read(end - start).strip(b"\r\n"))


class _Cutter:
    """Decompressed CSV bytes fed in order, handed out as ranges of whole records of about
    `range_bytes` (with the file line each starts on)."""

    def __init__(self, delimiter: str, range_bytes: int) -> None:
        self._structural = _structural(delimiter)
        self._range_bytes = range_bytes
        self._buf = bytearray()
        self._scanned = 0  # bytes of `_buf` counted
        self._held = b""  # a last `\r` or quote, whose meaning the next byte decides
        self._prev = _LF
        self._quotes = 0
        self._breaks = 0  # line breaks in `_buf`'s counted bytes
        self._cut = -1  # `_buf`'s last record end (offset past it), and its line breaks
        self._cut_breaks = 0
        self.line = 1  # the file line `_buf` starts on, and its offset
        self.start = 0
        self.header: bytes | None = None
        self.ok = True  # the quotes read as CSV quoting
        self._first = True

    def feed(self, data: bytes) -> Iterator[tuple[int, int, bytes]]:
        """The ranges (line, offset, bytes) that `data` completes."""
        if self._first:
            self._first = False
            if data.startswith(BOM):  # kept: Arrow skips it where a file starts
                self._buf += BOM
                self._scanned = len(BOM)
                data = data[len(BOM) :]
        data = self._held + data
        self._held = b""
        if data and data[-1] in (_CR, _QUOTE):
            data, self._held = data[:-1], data[-1:]
        self._count(data)
        if len(self._buf) >= self._range_bytes and self._cut > 0:
            yield self._hand_out()

    def finish(self) -> Iterator[tuple[int, int, bytes]]:
        """The last range."""
        held, self._held = self._held, b""
        self._count(held)
        if self._quotes % 2:
            self.ok = False
        if self._buf:
            self._cut, self._cut_breaks = len(self._buf), self._breaks
            yield self._hand_out()

    def _count(self, data: bytes) -> None:
        """Count `data`, which never ends in a `\\r` or quote but at the file's end."""
        self._buf += data
        if not data:
            return
        arr = np.frombuffer(data, np.uint8)
        q, odd, b = marks(arr, previous_bytes(arr, self._prev), None, self._structural)
        if odd[(self._quotes + np.arange(len(q))) % 2 == 0].any():
            self.ok = False
        outside = np.flatnonzero((self._quotes + np.searchsorted(q, b)) % 2 == 0)
        base = self._scanned
        if len(outside):
            if self.header is None:
                end_at = base + int(b[outside[0]]) + 1
                start = len(BOM) if self._buf.startswith(BOM) else 0
                header = bytes(self._buf[start:end_at])
                self.ok &= bool(header.strip(b"\r\n"))
                self.header = header
            self._cut = base + int(b[outside[-1]]) + 1
            self._cut_breaks = self._breaks + int(outside[-1]) + 1
        self._quotes += len(q)
        self._breaks += len(b)
        self._scanned += len(arr)
        self._prev = int(arr[-1])

    def _hand_out(self) -> tuple[int, int, bytes]:
        out = (self.line, self.start, bytes(self._buf[: self._cut]))
        self.start += self._cut
        del self._buf[: self._cut]
        self._scanned -= self._cut
        self._breaks -= self._cut_breaks
        self.line += self._cut_breaks
        self._cut, self._cut_breaks = -1, 0
        return out


def stream_ranges(
    path: str, delimiter: str, name: str, ok: list[bool]
) -> Iterator[tuple[Range, bytes, bytes]]:
    """`cut_stream`'s ranges of about `RANGE_BYTES` as (range, header bytes, its bytes); once
    they are all handed out, `ok` gets whether the quotes read as CSV quoting."""
    items = cut_stream(path, delimiter, RANGE_BYTES, name)
    for meta in items:
        if isinstance(meta, bool):
            ok.append(meta)
            return
        line, header, start = meta
        data = next(items)
        yield Range(start, start + len(data), line), header, data


def cut_stream(path: str, delimiter: str, range_bytes: int, name: str) -> Iterator[object]:
    """A compressed CSV file decompressed as a stream and handed out as ranges of whole
    records: for each, (its file line, the header's bytes, its offset), then its bytes;
    last, whether the quotes read as CSV quoting (else the ranges are not used). `name`:
    the file as the user gave it, in errors."""
    from trlprep.errors import TrlprepError
    from trlprep.io.sources import open_stream

    cutter = _Cutter(delimiter, range_bytes)
    try:
        with open_stream(path) as f:
            while data := guard(path, lambda: f.read(min(_SCAN_BYTES, range_bytes))):
                for line, start, chunk in cutter.feed(data):
                    yield line, cutter.header, start
                    yield chunk
    except TrlprepError as e:  # named as the local engine names it
        if e.path == path:
            e.path = name
        raise
    for line, start, chunk in cutter.finish():
        yield line, cutter.header, start
        yield chunk
    yield cutter.ok and cutter.header is not None
