"""The local engine's CSV / TSV reading: a file in ranges of whole records (`csvcuts`), each
parsed as one Arrow block, its columns typed once over the whole file as `--engine ray`
types them (`csvranges`), in bounded memory.

A first pass cuts the file as it counts its quotes and line breaks, once (`csvcount`: where
the file's pieces scanned apart would cut it, or, compressed, every `RANGE_BYTES`), reads
every range and keeps only what it found (`Seen`; for a file of several ranges, also what
each JSON-looking column decodes to, which the decision needs before any row is handed
out) and its records' lines, kept small; the types are decided; a second pass reads each
range once more with them (`read_planned`) and hands its rows out, a range at a time, the
lines not counted again. Both passes read their ranges into one buffer. A file of one
range is read once. A compressed file is decompressed as a stream, once per pass, so it is
never held whole. Where a range cannot be read as its part of the file (`Seen.whole`, `decide`,
`json_plan`), None: the caller reads the file whole.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

from trlprep.io import csvcuts
from trlprep.io.csvcount import READ_BYTES, RangeCounter
from trlprep.io.csvcuts import Range
from trlprep.io.csvjson import json_plan
from trlprep.io.csvranges import (
    LINE,
    Plan,
    Scratch,
    Seen,
    decide,
    first_pass,
    read_planned,
    settle,
)
from trlprep.io.sources import guard, is_tab_separated, open_stream, sniff, split_suffix

_Item = tuple[Range, bytes, bytes | None, np.ndarray | None]
_Ranges = Callable[[], Iterator[_Item]]
_KEPT_LINES = 64 << 20  # bytes of line numbers kept between the passes (past: counted again)


def read_ranges(path: str) -> Iterator[tuple[pa.Table, np.ndarray]] | None:
    """The CSV / TSV file `path` read in ranges: the first pass done, then each range's rows
    and the file line of each, read as they are asked for; None: read it whole instead. A
    bad record raises its error."""
    delimiter = "\t" if is_tab_separated(path) else ","
    compressed = sniff(path) is not None or bool(split_suffix(path)[1])
    ranges, ok = _counted(path, delimiter, compressed)
    scratch = Scratch()
    found = _first_pass(path, delimiter, ranges, ok, scratch)
    if found is None:
        return None
    seen, plan, only = found
    if only is not None:  # one range, read once
        return iter([_split(only)])
    return _second_pass(path, delimiter, ranges, plan, seen[0].raw_names, scratch)


def _counted(path: str, delimiter: str, compressed: bool) -> tuple[_Ranges, list[bool]]:
    """The file's ranges, cut and their lines counted as the first pass asks for them
    (`csvcount`; a compressed file decompressed once for both, its ranges' bytes handed
    out), then, asked again, read again by the places found (a compressed file
    decompressed anew); whether the quotes read as CSV quoting and the header is the first
    line, known once the first pass has read them all."""
    ok: list[bool] = []
    found: list[tuple[Range, bytes, tuple | None]] = []

    def ranges() -> Iterator[_Item]:
        if ok:
            yield from _again(path, found, compressed)
            return
        if compressed:
            counter = RangeCounter(delimiter, csvcuts.RANGE_BYTES, keep=True)
        else:
            size = guard(path, lambda: os.path.getsize(path))
            bounds = csvcuts.piece_bounds(size, max(math.ceil(size / csvcuts.RANGE_BYTES), 1))
            counter = RangeCounter(delimiter, csvcuts.RANGE_BYTES, bounds=bounds[1:-1], size=size)
        kept, header = 0, None
        step = min(READ_BYTES, csvcuts.RANGE_BYTES)
        buf = bytearray(step)  # an uncompressed file's bytes read into it, counted, let go
        with open_stream(path) if compressed else guard(path, lambda: open(path, "rb")) as f:
            while True:
                if compressed:
                    data = guard(path, lambda: f.read(step))
                else:
                    data = memoryview(buf)[: guard(path, lambda: f.readinto(buf))]
                counts = counter.feed(data) if len(data) else counter.finish()
                for c in counts:
                    if header is None:
                        header = counter.header if compressed else _header(path, counter)
                    packed = _pack(c.lines) if kept < _KEPT_LINES else None
                    kept += 0 if packed is None else packed[2].nbytes
                    found.append((c.rng, header, packed))
                    yield c.rng, header, c.data, c.lines
                if not len(data):
                    break
        ok.append(counter.ok)

    return ranges, ok


def _header(path: str, counter: RangeCounter) -> bytes:
    """The header record's bytes, read from the file `path` (none where no record ends:
    such a file is read whole)."""
    span = counter.header_span()
    if span is None:
        return b""
    start, end = span
    with open(path, "rb") as f:
        f.seek(start)
        return guard(path, lambda: f.read(end - start))


def _pack(lines: np.ndarray) -> tuple[int, int, np.ndarray]:
    """A range's record lines kept small: (how many, the first, the steps between them)."""
    if not len(lines):
        return 0, 0, lines
    steps = np.diff(lines)
    top = int(steps.max()) if len(steps) else 0
    kind = next((k for k in (np.uint8, np.uint16, np.uint32) if top <= np.iinfo(k).max), None)
    return len(lines), int(lines[0]), steps if kind is None else steps.astype(kind)


def _unpack(packed: tuple[int, int, np.ndarray] | None) -> np.ndarray | None:
    """The record lines `_pack` kept (None: not kept)."""
    if packed is None:
        return None
    count, first, steps = packed
    lines = np.empty(count, np.int64)
    if count:
        lines[0] = first
        np.cumsum(steps, dtype=np.int64, out=lines[1:])
        lines[1:] += first
    return lines


def _again(
    path: str, found: list[tuple[Range, bytes, tuple | None]], compressed: bool
) -> Iterator[_Item]:
    """The ranges `found`, read again by their places (a compressed file by their sizes)."""
    if not compressed:
        for rng, header, packed in found:
            yield rng, header, None, _unpack(packed)
        return
    with open_stream(path) as f:
        for rng, header, packed in found:
            data = guard(path, lambda n=rng.end - rng.start: f.read(n))
            yield rng, header, data, _unpack(packed)


def _first_pass(
    path: str, delimiter: str, ranges: _Ranges, ok: list[bool], scratch: Scratch
) -> tuple[list[Seen], Plan, pa.Table | None] | None:
    """(what each range holds, the plan, a file of one range's table settled: else None),
    or None: read the file whole (`ok`: `_counted`'s)."""
    from trlprep.io.jsontext import decode_json_texts

    seen: list[Seen] = []
    fields: list[dict[int, pa.Field | None]] = []  # each range's JSON-looking columns decoded
    kept: tuple[pa.Table, Range, bytes, bytes | None] | None = None
    items = ranges()
    for rng, header, data, lines in items:
        table, s = first_pass(path, path, rng, header, delimiter, data, lines, scratch)
        if s.error is not None:
            for _ in items:  # the rest counted: quotes that are no CSV quoting read whole
                pass
            if ok[-1]:
                raise s.error
            return None
        if s.whole:
            return None
        seen.append(s)
        fields.append({})
        if len(seen) == 1:  # kept while it may be the only range
            kept = (table, rng, header, data)
            continue
        if kept is not None:
            fields[0], kept = _decoded(kept[0], seen[0], decode_json_texts), None
        fields[-1] = _decoded(table, s, decode_json_texts)
    if not seen or not ok[-1]:
        return None
    plan = decide(seen)
    if plan is None:
        return None
    if kept is not None:
        table, rng, header, data = kept
        settled, decoded = settle(path, rng, header, delimiter, table, plan, seen[0], data)
        final = json_plan(plan, [decoded]) if plan.json and seen[0].rows else plan
        if final is None:
            return None
        if final != plan:
            settled, _ = settle(path, rng, header, delimiter, table, final, seen[0], data)
        return seen, final, settled
    columns = sorted(plan.json)
    if any(c not in f for f, s in zip(fields, seen, strict=True) if s.rows for c in columns):
        return None  # a JSON column some range did not read as text: read whole to be sure
    found = [[f[c] for c in columns] for f, s in zip(fields, seen, strict=True) if s.rows]
    final = json_plan(plan, found) if plan.json else plan
    return None if final is None else (seen, final, None)


def _decoded(table: pa.Table, seen: Seen, decode: Callable) -> dict[int, pa.Field | None]:
    """The field each text column that looks like JSON (or is blank) in this range decodes
    to (None: it does not decode), as `settle` would decode it."""
    out: dict[int, pa.Field | None] = {}
    for i, looks in enumerate(seen.looks):
        if looks == "none" and pa.types.is_null(seen.types[i]):  # all empty: decoded to nulls
            out[i] = pa.field(table.schema.field(i).name, pa.null())
        elif looks in ("json", "none") and pa.types.is_string(seen.types[i]):
            found = decode(table.schema.field(i).name, table.column(i))
            out[i] = None if found is None else found[0]
    return out


def _second_pass(
    path: str, delimiter: str, ranges: _Ranges, plan: Plan, names: list[str], scratch: Scratch
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Each range read again, once, with the plan's types, in order."""
    for rng, header, data, lines in ranges():
        table = read_planned(path, rng, header, delimiter, plan, names, data, lines, scratch)
        yield _split(table)


def _split(table: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """A range's rows without LINE, and its lines."""
    lines = table.column(LINE).to_numpy()
    return table.drop_columns([LINE]), lines
