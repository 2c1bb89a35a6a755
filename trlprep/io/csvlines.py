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
        quotes, loose, breaks = marks(arr, self._prev, None, self._structural)
        if loose[self._quotes % 2 :: 2].any():  # an opening quote after an ordinary byte
            self.quoting_ok = False
        which = np.flatnonzero(parity_outside(quotes, breaks, self._quotes % 2))
        if len(which):
            ends = breaks[which]
            first = self._record_start - self._pos
            _, lines = filled_records(
                arr, ends, which, self._prev, first, self._record_line, self._lines
            )
            self._found.append(lines)
            self._record_start = self._pos + int(ends[-1]) + 1
            self._record_line = self._lines + int(which[-1]) + 2
        self._lines += len(breaks)
        self._quotes += len(quotes)
        self._pos += len(arr)
        self._prev = int(arr[-1])


def filled_records(
    arr: np.ndarray,
    ends: np.ndarray,
    which: np.ndarray,
    prev: int,
    first_start: int,
    first_line: int,
    lines_before: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(the start, the start line) of each record that the record ends `ends` close (less
    the empty ones): `ends` are positions in `arr` of the line breaks outside quotes,
    `which` their index among all its line breaks. `first_start`: where the first record
    starts (negative: before `arr`), `first_line`: its line; `lines_before`: the line
    breaks before `arr`; `prev`: the byte before `arr`."""
    starts = np.empty(len(ends), np.int64)
    starts[0] = first_start
    starts[1:] = ends[:-1] + 1
    lines = np.empty(len(ends), np.int64)
    lines[0] = first_line
    lines[1:] = lines_before + which[:-1] + 2
    crlf = (arr[ends] == _LF) & (neighbours(arr, ends, prev, None)[0] == _CR)
    filled = ends - starts - crlf > 0
    return starts[filled], lines[filled]


def neighbours(
    arr: np.ndarray, at: np.ndarray, prev: int, after_last: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """(the byte before, the byte after) each of the increasing positions `at` in `arr`:
    `prev` before the first byte, `after_last` after the last (None: a line end)."""
    n = len(arr)
    before = arr[at - 1]  # position 0 wraps to the last byte: set below
    after = arr[np.minimum(at + 1, n - 1)]
    if len(at):
        if at[0] == 0:
            before[0] = prev
        if at[-1] == n - 1:
            after[-1] = _LF if after_last is None else after_last
    return before, after


def marks(
    arr: np.ndarray, prev: int, after_last: int | None, structural: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the positions in the CSV bytes `arr` of the quotes that CSV quoting counts; for
    each, whether it follows an ordinary byte (an opening quote there is not CSV quoting);
    the positions of the line breaks: `\\n`, the `\\n` of `\\r\\n`, a lone `\\r`).
    `prev`: the byte before `arr`; `after_last`: the byte after it (None: the data's end,
    which acts as a line end); `structural`: line breaks, the quote and the delimiter."""
    special = np.zeros(256, bool)
    special[structural] = True
    quotes = np.flatnonzero(arr == _QUOTE)
    before, after = neighbours(arr, quotes, prev, after_last)
    counted = special[before] | special[after]  # else a literal quote mid-value
    if not counted.all():
        quotes, before = quotes[counted], before[counted]
    breaks = np.flatnonzero(arr == _LF)
    crs = np.flatnonzero(arr == _CR) if len(arr) and np.count_nonzero(arr == _CR) else None
    if crs is not None:
        _, next_byte = neighbours(arr, crs, prev, _CR if after_last is None else after_last)
        lone = crs[next_byte != _LF]  # a `\r` ending the data: a line end
        if len(lone):
            breaks = np.sort(np.concatenate([breaks, lone]))
    return quotes, ~special[before], breaks


def parity_outside(quotes: np.ndarray, breaks: np.ndarray, parity: int) -> np.ndarray:
    """Which `breaks` lie outside quotes, the quotes before the data `parity` (0: even)."""
    return (np.searchsorted(quotes, breaks) + parity) % 2 == 0


def line_of_record(data: bytes, raw: bytes, delimiter: bytes = b",") -> int | None:
    """The 1-based line (counted as `RecordLines` counts) of the first record of the CSV
    bytes `data` (a byte-order mark skipped) that starts with `raw`; None: none does."""
    skip = len(BOM) if data.startswith(BOM) else 0
    arr = np.frombuffer(data, np.uint8)[skip:]
    structural = np.array([_LF, _CR, _QUOTE, delimiter[0]], np.uint8)
    quotes, _, breaks = marks(arr, _LF, None, structural)
    outside = breaks[parity_outside(quotes, breaks, 0)]
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
