"""A CSV / TSV file's bytes counted once, in order, and cut into ranges of whole records as
they are counted, each with the file line of every record it holds (the local engine's
cut: `csvlocal`).

The quotes and line breaks are counted as `csvlines.RecordLines` counts them (the rules
rows are numbered by): a line break outside quotes ends a record, empty records are left
out. Once `range_bytes` or more are counted past a range's start, the range ends at the
last record end counted; its records' lines come from the same count, so neither pass that
reads the range counts again. A compressed file's ranges keep their bytes (`keep`): it is
decompressed once for the count and the first pass together.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from trlprep.io.csvcuts import Range
from trlprep.io.csvlines import filled_records, marks, parity_outside
from trlprep.io.sources import BOM

_LF, _CR, _QUOTE = 10, 13, 34
READ_BYTES = 16 << 20  # bytes counted at once


@dataclass(frozen=True)
class Counted:
    """One range: its bytes' place (`rng`), the file line of each of its records (the
    header's too in the first range), and its bytes where they were kept."""

    rng: Range
    lines: np.ndarray
    data: bytes | None = None


class RangeCounter:
    """CSV bytes fed in order, handed out as `Counted` ranges: of about `range_bytes`
    (each cut at the last record end once that many are counted past its start), or, given
    `bounds` (offsets in a file of `size` bytes), cut at the first record end at or after
    each bound, where `csvcuts.chained` cuts a file scanned in pieces that start there.
    `ok`: the quotes read as CSV quoting and the header is the first line (else the file
    is read whole); `header`: the header record's bytes, once counted (`keep`)."""

    def __init__(
        self,
        delimiter: str,
        range_bytes: int,
        keep: bool = False,
        bounds: list[int] | None = None,
        size: int = 0,
    ) -> None:
        self._structural = np.array([_LF, _CR, _QUOTE, ord(delimiter)], np.uint8)
        self._range_bytes = range_bytes
        self._bounds = list(reversed(bounds)) if bounds is not None else None
        self._size = size
        self._keep = keep
        self._buf = bytearray()  # the bytes of the range being counted (`keep` only)
        self._held = b""  # a last `\r` or quote, whose meaning the next byte decides
        self._first = True
        self._prev = _LF
        self._pos = 0  # the file offset of the bytes not yet counted
        self._quotes = 0
        self._lines = 0  # line breaks before `_pos`
        self._record_start, self._record_line = 0, 1  # the record being counted
        self._start, self._line = 0, 1  # the range being counted
        self._found: list[tuple[np.ndarray, np.ndarray]] = []  # its records' starts, lines
        self._head = 0  # where the header starts (past a byte-order mark)
        self.header: bytes | None = None
        self.header_end: int | None = None
        self.ok = True

    def feed(self, data: bytes | memoryview) -> Iterator[Counted]:
        """The ranges that `data` completes (`data` is not kept past the call)."""
        data = memoryview(self._held + data) if self._held else memoryview(data)
        self._held = b""
        if self._first:
            if len(data) < len(BOM) and BOM.startswith(data.tobytes()):
                self._held = data.tobytes()
                return
            self._first = False
            if data[: len(BOM)] == BOM:  # kept in the range: Arrow skips it
                self._buf += BOM if self._keep else b""
                self._head = self._pos = self._record_start = len(BOM)
                data = data[len(BOM) :]
        if len(data) and data[-1] in (_CR, _QUOTE):
            data, self._held = data[:-1], data[-1:].tobytes()
        ends, lines = self._count(data)
        if self._bounds is None:
            if len(ends) and self._pos - self._start >= self._range_bytes:
                yield self._hand_out(int(ends[-1]), int(lines[-1]))
            return
        while self._bounds:  # the first record end at or after each bound
            k = int(np.searchsorted(ends, self._bounds[-1] + 1))
            if k == len(ends):
                return
            self._bounds.pop()
            if self._start < ends[k] < self._size:
                yield self._hand_out(int(ends[k]), int(lines[k]))

    def finish(self) -> Iterator[Counted]:
        """The last range (none for an empty file)."""
        held, self._held = self._held, b""
        if self._first and BOM.startswith(held):  # a file of part of a byte-order mark
            held = b""
        self._count(held)
        if self._pos > self._record_start:  # a last record with no line end
            last = np.array([self._record_line], np.int64)
            self._found.append((np.array([self._record_start], np.int64), last))
        if self._quotes % 2 or self.header_end is None:
            self.ok = False
        if self._pos > self._start:
            yield self._hand_out(self._pos, self._record_line)

    def _count(self, data: bytes | memoryview) -> tuple[np.ndarray, np.ndarray]:
        """Count `data` (never ending in a `\\r` or quote but at the file's end): the offsets
        just past the record ends in it, and the line each next record starts on."""
        none = np.zeros(0, np.int64)
        if not len(data):
            return none, none
        if self._keep:
            self._buf += data
        arr = np.frombuffer(data, np.uint8)
        parity = self._quotes % 2
        quotes, loose, breaks = marks(arr, self._prev, None, self._structural)
        if loose[parity::2].any():  # a quote opening mid-value: not CSV quoting
            self.ok = False
        which = np.flatnonzero(parity_outside(quotes, breaks, parity))
        ends, lines = none, none
        if len(which):
            ends = breaks[which]
            first = self._record_start - self._pos
            starts, found = filled_records(
                arr, ends, which, self._prev, first, self._record_line, self._lines
            )
            if self.header_end is None:
                self._header(starts, int(ends[0]) + 1)
            self._found.append((starts + self._pos, found))
            ends, lines = ends + (self._pos + 1), self._lines + which + 2
            self._record_start, self._record_line = int(ends[-1]), int(lines[-1])
        self._quotes += len(quotes)
        self._lines += len(breaks)
        self._pos += len(arr)
        self._prev = int(arr[-1])
        return ends, lines

    def _header(self, starts: np.ndarray, end: int) -> None:
        """The header record, the first counted (`starts`: the filled records' starts in
        the bytes counted, `end`: just past the first record end there)."""
        self.header_end = self._pos + end
        if not len(starts) or self._pos + int(starts[0]) != self._head:
            self.ok = False  # empty lines before the header: read whole
        elif self._keep:
            self.header = bytes(self._buf[self._head : self.header_end])

    def header_span(self) -> tuple[int, int] | None:
        """The header record's bytes (start, end) in the file (None: not counted yet)."""
        return None if self.header_end is None else (self._head, self.header_end)

    def _hand_out(self, cut: int, line: int) -> Counted:
        """The range up to `cut`, the next starting there on `line`."""
        starts = np.concatenate([s for s, _ in self._found]) if self._found else np.zeros(0)
        lines = np.concatenate([n for _, n in self._found]) if self._found else np.zeros(0)
        k = int(np.searchsorted(starts, cut))
        self._found = [(starts[k:], lines[k:])] if k < len(starts) else []
        data = None
        if self._keep:
            data = bytes(self._buf[: cut - self._start])
            del self._buf[: cut - self._start]
        out = Counted(Range(self._start, cut, self._line), lines[:k].astype(np.int64), data)
        self._start, self._line = cut, line
        return out


def cut_stream(path: str, delimiter: str, range_bytes: int, name: str) -> Iterator[object]:
    """A compressed CSV file decompressed as a stream and handed out as ranges of whole
    records (Ray's task for it): for each, (its file line, the header's bytes, its offset,
    its records' lines), then its bytes; last, whether the quotes read as CSV quoting and
    the header is the first line (else the ranges are not used). `name`: the file as the
    user gave it, in errors."""
    from trlprep.errors import TrlprepError
    from trlprep.io.sources import guard, open_stream

    counter = RangeCounter(delimiter, range_bytes, keep=True)
    try:
        with open_stream(path) as f:
            while True:
                data = guard(path, lambda: f.read(min(READ_BYTES, range_bytes)))
                for c in counter.feed(data) if data else counter.finish():
                    yield c.rng.line, counter.header, c.rng.start, c.lines
                    yield c.data
                if not data:
                    break
    except TrlprepError as e:  # named as the local engine names it
        if e.path == path:
            e.path = name
        raise
    yield counter.ok
