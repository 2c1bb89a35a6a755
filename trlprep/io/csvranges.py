"""One CSV / TSV file read in ranges of whole records (`csvcuts`), each parsed as one Arrow
block, with the column types and file lines of the file read at once: by Ray tasks
(`trlprep.ray.csvread`) and by the local engine, a range at a time (`csvlocal`).

Arrow decides each column's type over all the values it reads; ranges read apart would
each decide their own. So a first pass reads every
range (the header's bytes put before it) and says what it found: each column's inferred
type, integers written so that their numbers do not give the text back (`csvnumbers`),
integers that are all 0 / 1, string columns that look like JSON. The driver then decides
each column once, as Arrow's inference over the whole file ends (`decide`): integers and
floats are floats, integers of 0 / 1 and booleans are booleans, dates stay text, any other
mix is text. A range that read a column otherwise reads that column again with the type
decided (`settle`), and JSON text columns are decoded (`csvjson`). Each range's records are
numbered by the file line they start on (`csvlines.RecordLines`, from the range's first
line; or as they were counted while the file was cut, `csvcount`).

A column no range types (every value empty, "NA" ...) is read as text where another range
holds text: a range whose values there are all empty holds no text that is not JSON.
Where a range cannot be read as its part of the file read whole (quotes that do not read
as CSV quoting, rows Arrow reads otherwise than counted, bytes that are not UTF-8, JSON
columns decoded to different types in different ranges, any other read error), the file
is read whole instead, as the local engine reads it (and fails as it fails).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.io.csvcuts import Range
from trlprep.io.csvjson import decoded_column

LINE = "__trlprep_line__"  # each row's 1-based file line (Ray's hidden column of that name)
_LOOKS = ("json", "none", "no")  # a column's values: JSON text, empty, other


@dataclass
class Seen:
    """What the first pass found in one range (columns by position); `whole`: why the file
    must be read whole instead (None: it can be read in ranges)."""

    rows: int = 0
    names: list[str] = field(default_factory=list)
    raw_names: list[str] = field(default_factory=list)
    kinds: list[pa.DataType] = field(default_factory=list)  # as Arrow inferred them
    types: list[pa.DataType] = field(default_factory=list)  # as read (dates as text)
    texts: set[int] = field(default_factory=set)  # integers whose text they do not give
    # back: read as that text (null where the number is), as the local engine reads them
    bits: set[int] = field(default_factory=set)  # integers all 0 / 1, written so
    looks: list[str] = field(default_factory=list)  # one of `_LOOKS`
    nulls: list[int] = field(default_factory=list)  # each column's nulls
    whole: str | None = None
    error: Exception | None = None  # the range's error, raised in the driver


@dataclass(frozen=True)
class Plan:
    """Each column's type for the whole file (`types`), integer columns kept as their text
    (`texts`), JSON text columns decoded (`json`) and, once the ranges agree on it, the
    type each decodes to (`decoded`, `csvjson.json_plan`)."""

    types: list[pa.DataType]
    texts: frozenset[int]
    json: frozenset[int]
    decoded: tuple[tuple[int, pa.DataType], ...] = ()  # a JSON column's type, where known


def _parse(
    source: bytes,
    delimiter: str,
    invalid: list | None = None,
    column_types: dict[str, pa.DataType] | None = None,
    include: list[str] | None = None,
) -> pa.Table:
    """CSV bytes read as one Arrow block (`delimiter`, `column_types`, `include` as Arrow's
    options; `invalid`: gets the rows with another number of fields, the read stopped)."""
    import pyarrow.csv as pcsv

    def stop(row) -> str:
        if invalid is not None:
            invalid.append(row)
        return "error"

    # one block: Arrow's reader (pyarrow 26) drops the `\n` of a quoted value's `\r\n`
    # at some of its block bounds; a range is in memory already, so this costs nothing
    block = min(len(source) + 1, (1 << 31) - 1)
    return pcsv.read_csv(
        pa.BufferReader(source),
        read_options=pcsv.ReadOptions(block_size=block),
        parse_options=pcsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=True, invalid_row_handler=stop
        ),
        convert_options=pcsv.ConvertOptions(
            column_types=column_types or {}, include_columns=include or []
        ),
    )


class Scratch:
    """One buffer the ranges read one after another are read into (the local engine's):
    its memory is taken from the system once, not again for each range. Arrow's tables
    hold copies of the values they read, never the buffer."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def view(self, size: int) -> memoryview:
        """The buffer's first `size` bytes (what they held before, overwritten next)."""
        if len(self._buf) < size:
            self._buf = bytearray(size + (size >> 4))
        return memoryview(self._buf)[:size]


def _source(
    path: str, rng: Range, header: bytes, data: bytes | None, scratch: Scratch | None = None
) -> tuple[Any, Any]:
    """(the bytes Arrow reads: the header's put before a range after the first; the range's
    own bytes, a view of them) from the file (into `scratch` where given), or `data` (a
    compressed file's range)."""
    from trlprep.io.sources import guard

    head = b"" if rng.start == 0 else header
    if data is not None:
        source = data if not head else head + data
        return source, memoryview(source)[len(head) :]
    size = len(head) + rng.end - rng.start
    source = bytearray(size) if scratch is None else scratch.view(size)
    source[: len(head)] = head
    with open(path, "rb") as f:  # read in place: no second copy of a range
        f.seek(rng.start)
        guard(path, lambda: f.readinto(memoryview(source)[len(head) :]))
    return source, memoryview(source)[len(head) :]


def _lines(
    data: Any, delimiter: str, rng: Range, counted: np.ndarray | None
) -> tuple[np.ndarray, bool]:
    """(the file line of each of a range's rows, whether its quotes read as CSV quoting):
    `counted` (its records' lines, the header's first in the first range) or counted over
    the range's bytes `data` (`csvlines.RecordLines`, a piece at a time)."""
    from trlprep.io.csvlines import CHUNK_BYTES, RecordLines

    if counted is not None:
        return (counted[1:] if rng.start == 0 else counted), True
    counter = RecordLines(delimiter.encode())
    for at in range(0, len(data), CHUNK_BYTES):
        counter.feed(bytes(data[at : at + CHUNK_BYTES]))
    lines = counter.finish()
    return (lines[1:] if rng.start == 0 else lines + (rng.line - 1)), counter.quoting_ok


def first_pass(
    path: str,
    name: str,
    rng: Range,
    header: bytes,
    delimiter: str,
    data: bytes | None = None,
    lines: np.ndarray | None = None,
    scratch: Scratch | None = None,
) -> tuple[pa.Table, Seen]:
    """One range read, its rows with LINE, and what it found (`Seen`). `path`: the file;
    `name`: as the user gave it (in errors); `header`: put before a range after the first;
    `data`: a compressed file's range; `lines`: its records' file lines where they were
    counted already (`csvcount`; the first range's header's first); `scratch`: where an
    uncompressed range is read into."""
    from trlprep.io import textfaults
    from trlprep.io.jsontext import looks_like_json_container

    source, data = _source(path, rng, header, data, scratch)
    invalid: list = []
    try:
        table = _parse(source, delimiter, invalid)
    except (pa.ArrowException, OSError):
        if not invalid:
            return pa.table({}), Seen(whole="Arrow could not read a range")
        r = invalid[0]
        error = textfaults.csv_row_error(
            name, bytes(data), r.expected_columns, r.actual_columns, r.text, rng.line
        )
        return pa.table({}), Seen(error=error)  # raised by the driver, in file order
    if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in table.schema):
        return pa.table({}), Seen(whole="bytes that are not UTF-8")
    if len(set(table.column_names)) < table.num_columns:  # read by name below
        return pa.table({}), Seen(whole="a column named twice")
    lines, quoting_ok = _lines(data, delimiter, rng, lines)
    if not quoting_ok or len(lines) != table.num_rows:
        return pa.table({}), Seen(whole="records counted otherwise than Arrow read them")
    seen = Seen(rows=table.num_rows, raw_names=list(table.column_names))
    seen.kinds = [f.type for f in table.schema]
    dates = [f.name for f in table.schema if pa.types.is_temporal(f.type)]
    if dates:  # date-like text kept as written, as the local engine keeps it
        table = _reread(table, source, delimiter, dict.fromkeys(dates, pa.string()))
    ints = [f.name for f in table.schema if pa.types.is_integer(f.type)]
    if ints:
        written = _parse(source, delimiter, None, dict.fromkeys(ints, pa.string()), ints)
        for name_ in ints:
            i = table.column_names.index(name_)
            numbers = table.column(i)
            same = pc.fill_null(pc.equal(pc.cast(numbers, pa.string()), written[name_]), True)
            if not pc.all(same).as_py():  # as text, null where the number was null
                seen.texts.add(i)
                text = pc.if_else(numbers.is_null(), pa.scalar(None, pa.string()), written[name_])
                table = table.set_column(i, name_, text)
            elif pc.all(pc.is_in(numbers.drop_null(), pa.array([0, 1]))).as_py():
                seen.bits.add(i)
    blank = _blank(table, source, delimiter)
    names = [n or f"Unnamed: {i}" for i, n in enumerate(table.column_names)]
    table = table.rename_columns(names)
    seen.names, seen.types = names, [f.type for f in table.schema]
    seen.nulls = [c.null_count for c in table.columns]
    for i, (col, kind) in enumerate(zip(table.columns, seen.types, strict=True)):
        if pa.types.is_null(kind):
            seen.looks.append("none" if i in blank else "no")
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            present = pc.any(pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(col), ""), False))
            looks = looks_like_json_container(col)
            seen.looks.append("json" if looks else "no" if present.as_py() else "none")
        else:
            seen.looks.append("no" if table.num_rows and col.null_count < len(col) else "none")
    return table.append_column(LINE, pa.array(lines, pa.int64())), seen


def _blank(table: pa.Table, source: Any, delimiter: str) -> set[int]:
    """The untyped columns of `table` (every value one of Arrow's null values) whose values
    are all empty: as text, which they are where another range holds text, "NA" or "null"
    is not empty (and no JSON)."""
    untyped = [f.name for f in table.schema if pa.types.is_null(f.type)]
    if not untyped or not table.num_rows:
        return {table.column_names.index(n) for n in untyped}
    text = _parse(source, delimiter, None, dict.fromkeys(untyped, pa.string()), untyped)
    return {
        table.column_names.index(n)
        for n in untyped
        if pc.all(pc.equal(pc.utf8_trim_whitespace(text[n]), "")).as_py()
    }


def _reread(
    table: pa.Table, source: bytes, delimiter: str, types: dict[str, pa.DataType]
) -> pa.Table:
    """`table` with the columns `types` names read again from `source` with those types."""
    again = _parse(source, delimiter, None, types, list(types))
    for name in types:
        table = table.set_column(table.column_names.index(name), name, again[name])
    return table


def decide(seen: list[Seen]) -> Plan | None:
    """Each column's type over the whole file, as Arrow's inference over all its values
    ends (None: the file is read whole: its header names a column twice)."""
    names = seen[0].raw_names
    if len(set(names)) < len(names) or any(s.raw_names != names for s in seen):
        return None
    types, texts, json = [], set(), set()
    for i in range(len(names)):
        kinds = {s.kinds[i] for s in seen} - {pa.null()}
        if len(kinds) == 1:
            (kind,) = kinds
        elif not kinds:
            kind = pa.null()
        elif kinds == {pa.int64(), pa.float64()}:
            kind = pa.float64()
        elif kinds == {pa.int64(), pa.bool_()}:  # "1"/"0" read as booleans by then
            ints = [s for s in seen if s.kinds[i] == pa.int64()]
            kind = pa.bool_() if all(i in s.bits for s in ints) else pa.string()
        else:
            kind = pa.string()
        if pa.types.is_temporal(kind):
            kind = pa.string()
        if pa.types.is_integer(kind) and any(i in s.texts for s in seen):
            texts.add(i)
        types.append(kind)
        looks = {s.looks[i] for s in seen}  # a range that read numbers or "NA": "no"
        if kind == pa.string() and i not in texts and looks <= {"json", "none"}:
            if "json" in looks:
                json.add(i)
    return Plan(types, frozenset(texts), frozenset(json))


def change(seen: Seen, plan: Plan, i: int) -> str | None:
    """How a range's column `i` becomes the plan's: None (as it is), "cast" (its values
    cast, where that gives what reading them as the type gives) or "read" (read again).
    Integers whose text they give back cast to floats, booleans (all 0 / 1) and their
    text; where text is decided, an empty or "NA" field of an untyped or integer column
    is text, not null."""
    have, texts = seen.types[i], i in plan.texts
    target = pa.string() if texts else plan.types[i]
    nulls = seen.nulls[i] > 0
    if have == target:
        return "read" if i in seen.texts and not texts and nulls else None
    if pa.types.is_null(have):
        return "cast" if texts or not pa.types.is_string(target) else "read"
    if pa.types.is_integer(have):
        if target in (pa.float64(), pa.bool_()) or (texts or not nulls):
            return "cast"
    return "read"


def settle(
    path: str,
    rng: Range,
    header: bytes,
    delimiter: str,
    table: pa.Table,
    plan: Plan,
    seen: Seen,
    data: bytes | None = None,
) -> tuple[pa.Table, list[pa.Field | None]]:
    """One range's table (LINE last) with the plan's column types (`change`: cast or read
    again from the range's bytes, `data` for a compressed file's), JSON text decoded; also
    each JSON column's decoded field (None: not decoded)."""
    from trlprep.io.jsontext import decode_json_texts

    types = {}
    for i, kind in enumerate(plan.types):
        target = pa.string() if i in plan.texts else kind
        how = change(seen, plan, i)
        if how == "cast":
            column = table.column(i).cast(target, safe=False)
            table = table.set_column(i, table.field(i).with_type(target), column)
        elif how == "read":
            types[seen.raw_names[i]] = target
    if types:
        source, _ = _source(path, rng, header, data)
        again = _parse(source, delimiter, None, types, list(types))
        for i, raw in enumerate(seen.raw_names):
            if raw in types:
                table = table.set_column(i, table.schema.field(i).name, again[raw])
    decoded: list[pa.Field | None] = []
    for i in sorted(plan.json):
        name = table.schema.field(i).name
        found = decode_json_texts(name, table.column(i))
        decoded.append(None if found is None else found[0])
        if found is not None:
            table = table.set_column(i, *decoded_column(plan, i, found))
    return table, decoded


def read_planned(
    path: str,
    rng: Range,
    header: bytes,
    delimiter: str,
    plan: Plan,
    names: list[str],
    data: bytes | None = None,
    lines: np.ndarray | None = None,
    scratch: Scratch | None = None,
) -> pa.Table:
    """One range whose first pass is done read once more, with the plan's types, as
    `settle` gives it after `first_pass` (`names`: the header's, `Seen.raw_names`; `lines`
    and `scratch` as `first_pass` takes them):
    integers kept as text are their text, null where Arrow reads no number (an empty field,
    "NA" ...); JSON text decoded; LINE last."""
    import pyarrow.csv as pcsv

    from trlprep.io.jsontext import decode_json_texts

    source, own = _source(path, rng, header, data, scratch)
    types = {
        names[i]: pa.string() if i in plan.texts else kind
        for i, kind in enumerate(plan.types)
        if i in plan.texts or not pa.types.is_null(kind)
    }
    table = _parse(source, delimiter, None, types)
    nulls = pa.array(pcsv.ConvertOptions().null_values, pa.string())
    for i in sorted(plan.texts):
        text = table.column(i)
        none = pa.scalar(None, pa.string())
        table = table.set_column(i, table.field(i), pc.if_else(pc.is_in(text, nulls), none, text))
    table = table.rename_columns([n or f"Unnamed: {i}" for i, n in enumerate(names)])
    for i in sorted(plan.json):
        found = decode_json_texts(table.schema.field(i).name, table.column(i))
        if found is not None:
            table = table.set_column(i, *decoded_column(plan, i, found))
    lines, _ = _lines(own, delimiter, rng, lines)
    return table.append_column(LINE, pa.array(lines, pa.int64()))
