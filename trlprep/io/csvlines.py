"""The file line each CSV record starts on, counted over the bytes as whole arrays.

A record starts after a line break outside quotes: a break is outside when the quotes before
it are even in number (a doubled quote `""` inside a quoted value counts twice, so the parity
holds). Records are those Arrow's CSV reader reads: empty lines and the header are skipped,
and a value's line breaks belong to its record, named by the line it starts on. Line breaks
are `\\n`, `\\r\\n` and a lone `\\r`, as Python's `csv` module counts lines. A quote between
two ordinary bytes (`5" screen`) is a literal one in an unquoted value and is not counted.

The count runs over chunks of the file (a compressed file decompressed as it is read) and
carries its state across them. Where the quotes do not read as CSV quoting (a quote opening
mid-value), or the records counted are not the rows Arrow read, the lines are counted by the
`csv` module instead; where that disagrees too, rows are named by their index (`row N`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import numpy as np

from trlprep.io.sources import BOM, guard, open_stream

CHUNK_BYTES = 16 << 20
_LF, _CR, _QUOTE = 10, 13, 34


class RecordLines:
    """Counts the records of CSV bytes fed in order, keeping the line each starts on."""

    def __init__(self, delimiter: bytes = b",") -> None:
        self._structural = np.array([_LF, _CR, _QUOTE, delimiter[0]], np.uint8)
        self._delimiter = delimiter[0]
        self._lines = 0  # line breaks before the bytes not yet counted
        self._quotes = 0  # quotes counted before them
        self._pos = 0  # their offset in the file
        self._record_start = 0  # the offset and line of the record they continue
        self._record_line = 1
        self._prev = _LF  # the byte before them (the file's start acts as a line start)
        self._held = b""  # a last `\r` or `"`, whose meaning the next byte decides
        self._found: list[np.ndarray] = []
        self._first = True
        self.quoting_ok = True  # every counted quote opens at a value's start

    def feed(self, chunk: bytes) -> None:
        """Count the next bytes of the file."""
        data = self._held + chunk
        self._held = b""
        if self._first:  # a byte-order mark, which Arrow skips, may come in pieces
            if len(data) < len(BOM) and BOM.startswith(data):
                self._held = data
                return
            data = data[len(BOM) :] if data.startswith(BOM) else data
            self._first = False
        if data and data[-1] in (_CR, _QUOTE):
            data, self._held = data[:-1], data[-1:]
        self._count(data)

    def finish(self) -> np.ndarray:
        """The 1-based line each record starts on, the header's first (empty lines skipped)."""
        held, self._held = self._held, b""
        self._count(held[len(BOM) :] if self._first and BOM.startswith(held) else held)
        if self._pos > self._record_start:  # a last record with no line end
            self._found.append(np.array([self._record_line], np.int64))
            self._record_start = self._pos
        return np.concatenate(self._found) if self._found else np.zeros(0, np.int64)

    def _count(self, data: bytes) -> None:
        if not data:
            return
        arr = np.frombuffer(data, np.uint8)
        n = len(arr)
        before = previous_bytes(arr, self._prev)
        quotes, loose, breaks = marks(arr, before, None, self._structural)
        opening = (self._quotes + np.arange(len(quotes))) % 2 == 0
        if loose[opening].any():
            self.quoting_ok = False
        outside = (self._quotes + np.searchsorted(quotes, breaks)) % 2 == 0
        which = np.flatnonzero(outside)
        if len(which):
            ends = breaks[which]
            starts = np.empty(len(ends), np.int64)
            starts[0] = self._record_start - self._pos  # may lie in an earlier chunk
            starts[1:] = ends[:-1] + 1
            lines = np.empty(len(ends), np.int64)
            lines[0] = self._record_line
            lines[1:] = self._lines + which[:-1] + 2
            crlf = (arr[ends] == _LF) & (before[ends] == _CR)
            filled = ends - starts - crlf > 0
            self._found.append(lines[filled])
            self._record_start = self._pos + int(ends[-1]) + 1
            self._record_line = self._lines + int(which[-1]) + 2
        self._lines += len(breaks)
        self._quotes += len(quotes)
        self._pos += n
        self._prev = int(arr[-1])


def previous_bytes(arr: np.ndarray, prev: int) -> np.ndarray:
    """Each byte's previous byte (`prev` before the first)."""
    before = np.empty(len(arr), np.uint8)
    if len(arr):
        before[0] = prev
        before[1:] = arr[:-1]
    return before


def marks(
    arr: np.ndarray, before: np.ndarray, after_last: int | None, structural: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the positions in the CSV bytes `arr` of the quotes that CSV quoting counts; for
    each, whether it follows an ordinary byte (an opening quote there is not CSV quoting);
    the positions of the line breaks: `\\n`, the `\\n` of `\\r\\n`, a lone `\\r`).
    `before`: `previous_bytes`; `after_last`: the byte after `arr` (None: the data's end,
    which acts as a line end); `structural`: line breaks, the quote and the delimiter."""
    n = len(arr)
    quotes = np.flatnonzero(arr == _QUOTE)
    if len(quotes):
        after = np.full(len(quotes), _LF if after_last is None else after_last, np.uint8)
        inner = quotes < n - 1
        after[inner] = arr[quotes[inner] + 1]
        ordinary = ~np.isin(before[quotes], structural) & ~np.isin(after, structural)
        quotes = quotes[~ordinary]
    loose = ~np.isin(before[quotes], structural)
    crs = np.flatnonzero(arr == _CR)
    lone = np.full(len(crs), after_last != _LF)  # a `\r` ending the data: a line end
    inner = crs < n - 1
    lone[inner] = arr[crs[inner] + 1] != _LF
    breaks = np.sort(np.concatenate([np.flatnonzero(arr == _LF), crs[lone]]))
    return quotes, loose, breaks


def line_of_record(data: bytes, raw: bytes, delimiter: bytes = b",") -> int | None:
    """The 1-based line (counted as `RecordLines` counts) of the first record of the CSV
    bytes `data` (a byte-order mark skipped) that starts with `raw`; None: none does."""
    skip = len(BOM) if data.startswith(BOM) else 0
    arr = np.frombuffer(data, np.uint8)[skip:]
    structural = np.array([_LF, _CR, _QUOTE, delimiter[0]], np.uint8)
    quotes, _, breaks = marks(arr, previous_bytes(arr, _LF), None, structural)
    outside = breaks[np.searchsorted(quotes, breaks) % 2 == 0]
    starts = np.concatenate([np.zeros(1, np.int64), outside + 1])
    pos = data.find(raw, skip) if raw else -1
    while pos >= 0:
        at = pos - skip
        k = int(np.searchsorted(starts, at))
        if k < len(starts) and starts[k] == at:
            return int(np.searchsorted(breaks, at)) + 1
        pos = data.find(raw, pos + 1)
    return None


def record_lines(chunks: Iterable[bytes], delimiter: str = ",") -> tuple[np.ndarray, bool]:
    """(the line each record of the CSV bytes `chunks` starts on, header first; whether the
    quotes read as CSV quoting, which the lines then rest on)."""
    counter = RecordLines(delimiter.encode())
    for chunk in chunks:
        counter.feed(chunk)
    return counter.finish(), counter.quoting_ok


def row_lines(path: str, rows: int, delimiter: str = ",") -> np.ndarray | None:
    """The 1-based line each of the `rows` rows Arrow read from the CSV (or, with `delimiter`
    a tab, TSV) file `path` starts on, or None where they cannot be told (rows are then named
    by their index)."""
    lines, ok = record_lines(_chunks(path), delimiter)
    if ok and len(lines) == rows + 1:
        return lines[1:]
    lines = _csv_module_lines(path, delimiter)
    return lines[1:] if lines is not None and len(lines) == rows + 1 else None


def _chunks(path: str) -> Iterable[bytes]:
    with open_stream(path) as f:
        while chunk := guard(path, lambda: f.read(CHUNK_BYTES)):
            yield chunk


def _csv_module_lines(path: str, delimiter: str = ",") -> np.ndarray | None:
    """The records' start lines as Python's `csv` reader reads them (a row at a time: only
    for files whose quotes the columnar count cannot read)."""
    found: list[int] = []
    try:
        with open_stream(path) as f:
            text = io.TextIOWrapper(f, encoding="utf-8-sig", newline="")
            reader = csv.reader(text, delimiter=delimiter)
            line = 0
            for record in reader:
                if record:
                    found.append(line + 1)
                line = reader.line_num
    except (csv.Error, UnicodeDecodeError, OSError):
        return None
    return np.asarray(found, np.int64)
