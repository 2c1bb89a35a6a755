"""Where one CSV / TSV file is cut into ranges of whole records: one Ray task each with
`--engine ray`, one after another (one Arrow block each) in the local engine.

A line break ends a record only outside quotes: outside when the quotes CSV quoting counts
before it are even in number (`trlprep.io.csvlines.marks`, the rules rows are numbered
by). On Ray, an uncompressed file is scanned in pieces of about `RANGE_BYTES`, in parallel
(`trlprep.ray.csvread`): each piece's quotes and line breaks are counted and its first
record end found for either parity at its start; the parities are chained and the file
cut there, so every range starts a record and knows its file line. The local engine, and
Ray for a compressed file (gzip, bz2, zstd: it cannot be cut), count the file in order
instead and cut it as they go (`trlprep.io.csvcount`). Where the quotes do not read as
CSV quoting (lines are then counted another way) nothing is cut: the file is read whole.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from trlprep.io.csvlines import marks, parity_outside
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
            q, odd, b = marks(arr, prev, nxt, structural)
            for parity in (0, 1):
                p = (parity + quotes) % 2
                loose[parity] |= bool(odd[p::2].any())
                if first[parity] is None:
                    outside = np.flatnonzero(parity_outside(q, b, p))
                    if len(outside):
                        first[parity] = pos + int(b[outside[0]]) + 1
                        breaks_to[parity] = breaks + int(outside[0]) + 1
            quotes, breaks = quotes + len(q), breaks + len(b)
            prev, pos = int(arr[-1]), pos + len(arr)
    return PieceScan(quotes, breaks, tuple(first), tuple(breaks_to), tuple(loose))


def piece_bounds(size: int, pieces: int) -> list[int]:
    """Where a file of `size` bytes is cut into `pieces` of about one size (its start and
    end included)."""
    return sorted({round(j * size / pieces) for j in range(pieces + 1)})


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
