"""The local engine's CSV / TSV reading: a file in ranges of whole records (`csvcuts`), each
parsed as one Arrow block, its columns typed once over the whole file as `--engine ray`
types them (`csvranges`), in bounded memory.

A first pass reads every range and keeps only what it found (`Seen`; for a file of several
ranges, also what each JSON-looking column decodes to, which the decision needs before any
row is handed out); the types are decided; a second pass reads each range once more with
them (`read_planned`) and hands its rows out, a range at a time. A file of one range is
read once. A compressed file is decompressed as a stream, once per pass, so it is never
held whole. Where a range cannot be read as its part of the file (`Seen.whole`, `decide`,
`json_plan`), None: the caller reads the file whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

from trlprep.io import csvcuts
from trlprep.io.csvcuts import Range
from trlprep.io.csvranges import (
    LINE,
    Plan,
    Seen,
    decide,
    first_pass,
    json_plan,
    read_planned,
    settle,
)
from trlprep.io.sources import guard, is_tab_separated, open_stream, sniff, split_suffix

_Ranges = Callable[[], Iterator[tuple[Range, bytes, bytes | None]]]


def read_ranges(path: str) -> Iterator[tuple[pa.Table, np.ndarray]] | None:
    """The CSV / TSV file `path` read in ranges: the first pass done, then each range's rows
    and the file line of each, read as they are asked for; None: read it whole instead. A
    bad record raises its error."""
    delimiter = "\t" if is_tab_separated(path) else ","
    if sniff(path) is not None or split_suffix(path)[1]:
        ranges, ok = _stream(path, delimiter)
    else:
        cut = csvcuts.scanned_cut(path, delimiter)
        if cut is None:
            return None
        header = csvcuts.header_bytes(path, cut)

        def ranges() -> Iterator[tuple[Range, bytes, bytes | None]]:
            return ((r, header, None) for r in cut.ranges)

        ok = [True]
    found = _first_pass(path, delimiter, ranges)
    if found is None or not ok[-1]:
        return None
    seen, plan, only = found
    if only is not None:  # one range, read once
        return iter([_split(only)])
    return _second_pass(path, delimiter, ranges, plan, seen[0].raw_names)


def _stream(path: str, delimiter: str) -> tuple[_Ranges, list[bool]]:
    """A compressed file's ranges, decompressed anew each time they are asked for (cut by
    `csvcuts.stream_ranges` the first time, then by the sizes it found); whether its quotes
    read as CSV quoting, known once the first pass has read them all."""
    ok: list[bool] = []
    found: list[tuple[Range, bytes]] = []

    def ranges() -> Iterator[tuple[Range, bytes, bytes | None]]:
        if ok:
            yield from _again(path, found)
            return
        for rng, header, data in csvcuts.stream_ranges(path, delimiter, path, ok):
            found.append((rng, header))
            yield rng, header, data

    return ranges, ok


def _again(path: str, found: list[tuple[Range, bytes]]) -> Iterator[tuple[Range, bytes, bytes]]:
    """The ranges `found` in a compressed file, read again by their sizes."""
    with open_stream(path) as f:
        for rng, header in found:
            yield rng, header, guard(path, lambda n=rng.end - rng.start: f.read(n))


def _first_pass(
    path: str, delimiter: str, ranges: _Ranges
) -> tuple[list[Seen], Plan, pa.Table | None] | None:
    """(what each range holds, the plan, a file of one range's table settled: else None),
    or None: read the file whole."""
    from trlprep.io.jsontext import decode_json_texts

    seen: list[Seen] = []
    fields: list[dict[int, pa.Field | None]] = []  # each range's JSON-looking columns decoded
    kept: tuple[pa.Table, Range, bytes, bytes | None] | None = None
    for rng, header, data in ranges():
        table, s = first_pass(path, path, rng, header, delimiter, data)
        if s.error is not None:
            raise s.error
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
    if not seen:
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
        if looks in ("json", "none") and pa.types.is_string(seen.types[i]):
            found = decode(table.schema.field(i).name, table.column(i))
            out[i] = None if found is None else found[0]
    return out


def _second_pass(
    path: str, delimiter: str, ranges: _Ranges, plan: Plan, names: list[str]
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Each range read again, once, with the plan's types, in order."""
    for rng, header, data in ranges():
        yield _split(read_planned(path, rng, header, delimiter, plan, names, data))


def _split(table: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """A range's rows without LINE, and its lines."""
    lines = table.column(LINE).to_numpy()
    return table.drop_columns([LINE]), lines
