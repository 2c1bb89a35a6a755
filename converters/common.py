"""What every edge shares: reading its input columns safely and assembling its output table.

Input checks (each raises DataError naming the column and the first offending rows):
- a required column is missing, or holds mixed JSON kinds, or does not match the format
  (strings in standard format, message lists in conversational format);
- a value the edge computes with is null. Edges that only drop or rename columns do not
  look at values (they pass nulls through; validating the output reports them).

Output layout: the target type's columns in registry order, then every other input column
in input order (extras and side columns are carried along). A column the target type
produces that already exists as an extra is an error rather than a silent overwrite.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from trlprep.converters.arrowops import valid_mask
from trlprep.converters.base import ConversionWarning
from trlprep.converters.sides import chosen_sides

from trlprep.columns.arrowtypes import is_json_field, is_list, is_messages, is_string
from trlprep.errors import DataError, UsageError, warn_user
from trlprep.registry import DatasetType, Format
from trlprep.wording import noun

# Side columns that describe a pair (chosen vs rejected) and mean nothing without one.
PAIR_ONLY_COLUMNS: tuple[str, ...] = ("margin",)
DEFAULT_MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
MAX_ROWS_SHOWN = 5
_ROW_OFFSET: ContextVar[int] = ContextVar("trlprep_row_offset", default=0)


@contextmanager
def row_offset(offset: int) -> Iterator[None]:
    """Number the rows in errors and warnings from `offset` (a batch of a larger dataset)."""
    token = _ROW_OFFSET.set(offset)
    try:
        yield
    finally:
        _ROW_OFFSET.reset(token)


# Set by the driver (`trlprep.conversion.apply.apply_steps`): names rows of the table a stage got
# by their input rows/lines ('lines 4, 8'), through the hidden ROW_ID column.
ROW_NAMER: ContextVar[Callable[[np.ndarray], str] | None] = ContextVar(
    "trlprep_row_namer", default=None
)


def rows_text(rows: np.ndarray | Iterable[int], total: int | None = None) -> str:
    """'rows 3, 7, 9' or 'rows 3, 7, 9, 12, 15 (and 40 more)' (0-based, see `row_offset`);
    'lines 4, 8' (the input file's lines) when the driver set `ROW_NAMER`."""
    rows = np.asarray(rows if isinstance(rows, np.ndarray) else list(rows), dtype=np.int64)
    total = len(rows) if total is None else total
    namer = ROW_NAMER.get()
    if namer is not None:
        more = f" (and {total - MAX_ROWS_SHOWN} more)" if total > MAX_ROWS_SHOWN else ""
        return namer(rows[:MAX_ROWS_SHOWN]) + more
    offset = _ROW_OFFSET.get()
    shown = ", ".join(str(int(r) + offset) for r in rows[:MAX_ROWS_SHOWN])
    more = f" (and {total - MAX_ROWS_SHOWN} more)" if total > MAX_ROWS_SHOWN else ""
    return f"row{'s' if total != 1 else ''} {shown}{more}"


# rows of one of several files are named `a.jsonl:4, b.jsonl:9` (no word before them), or
# `a.parquet row 3` (a file without lines; 0-based in the file: `trlprep.io.shards.place`)
_PLACE = r"\S+(?::\d+| row \d+)"
_ONE_PLACE = re.compile(r"^(?P<file>\S+?)(?::(?P<line>\d+)| row (?P<row>\d+))$")
_ROWS_RE = (
    r"(?:(?P<word>rows?|lines?) (?P<shown>\d+(?:, \d+)*)"
    f"|(?P<placed>{_PLACE}(?:, {_PLACE})*))"
    r"(?: \(and (?P<more>\d+) more\))?"
)
_ROWS = re.compile(f"^{_ROWS_RE}$")
_NAMED = re.compile(f"^(?P<rows>{_ROWS_RE}): (?P<rest>.+)$", re.S)
# `counted_rows_text`: '3 rows (lines 1, 2, 3): ...', the count summed when merged
_COUNTED = re.compile(f"^\\d+ rows? \\((?P<rows>{_ROWS_RE})\\): (?P<rest>.+)$", re.S)


def counted_rows_text(rows: np.ndarray | Iterable[int], total: int | None = None) -> str:
    """'3 rows (lines 1, 2, 3)': `rows_text` after the number of rows, which
    `merge_row_warnings` adds up over batches."""
    rows = np.asarray(rows if isinstance(rows, np.ndarray) else list(rows), dtype=np.int64)
    total = len(rows) if total is None else total
    return f"{total} row{'s' if total != 1 else ''} ({rows_text(rows, total)})"


def merge_rows_texts(texts: Iterable[str]) -> str:
    """Several `rows_text` of one kind (`rows 3, 7 (and 2 more)`, `line 9`) as one, the
    first rows in order."""
    word, numbers, places, hidden = "row", set(), {}, 0
    for text in texts:
        m = _ROWS.match(text)
        if m is None:
            raise ValueError(f"not a rows_text: {text!r}")
        if m["placed"]:  # `a.jsonl:4`, `a.parquet row 3`: in file order (as given), then
            for p in m["placed"].split(", "):  # line (row) order
                file, sep, number = _place(p)
                places.setdefault(file, set()).add((number, sep))
        else:
            word = m["word"].rstrip("s")
            numbers |= {int(x) for x in m["shown"].split(", ")}
        hidden += int(m["more"] or 0)
    if places:
        shown = [f"{f}{sep}{x}" for f, xs in places.items() for x, sep in sorted(xs)]
        shown = shown[:MAX_ROWS_SHOWN]
        total = sum(map(len, places.values())) + hidden
        more = f" (and {total - len(shown)} more)" if total > len(shown) else ""
        return ", ".join(shown) + more
    first = sorted(numbers)[:MAX_ROWS_SHOWN]
    total = len(numbers) + hidden
    more = f" (and {total - len(first)} more)" if total > len(first) else ""
    return f"{word}{'s' if total != 1 else ''} {', '.join(map(str, first))}{more}"


def _place(text: str) -> tuple[str, str, int]:
    """(file, what joins it to the number, the number) of `a.jsonl:4` or `a.parquet row 3`."""
    m = _ONE_PLACE.match(text)
    if m["line"] is not None:
        return m["file"], ":", int(m["line"])
    return m["file"], " row ", int(m["row"])


def merge_row_warnings(messages: Iterable[str]) -> list[str]:
    """Warnings that start by naming rows (`rows_text`) and say the same thing, made one:
    a stage warns once per batch (or Ray block), and the reader wants one line per problem
    naming its first rows in order (`rows 0, 3, 9000 (and 12 more)`). Each distinct
    message once, merged ones where the first of them was."""
    merged: dict[tuple[str, str, bool] | str, list[str]] = {}
    for message in messages:
        m = _COUNTED.match(message) or _NAMED.match(message)
        if m is None:
            merged.setdefault(message, [])
        else:
            key = ((m["word"] or "place").rstrip("s"), m["rest"], m.re is _COUNTED)
            merged.setdefault(key, []).append(m["rows"])
    out = []
    for key, texts in merged.items():
        if isinstance(key, str):
            out.append(key)
            continue
        rows = merge_rows_texts(texts)
        if key[2]:  # counted: the rows of every batch
            total = sum(_rows_count(t) for t in texts)
            rows = f"{total} row{'s' if total != 1 else ''} ({rows})"
        out.append(f"{rows}: {key[1]}")
    return out


def first_place_named(message: str) -> tuple[str, int] | None:
    """(file, row or line) of the first row a warning starting with its rows names, the file
    `""` where it names rows of one input (None: it names none): warnings of a folder's
    shards sort by shard, then row. Shards sort by name, as a folder's files are read."""
    m = _COUNTED.match(message) or _NAMED.match(message)
    if m is None:
        return None
    if m["placed"]:
        file, _, number = _place(m["placed"].split(", ")[0])
        return file, number
    return "", int(m["shown"].split(", ")[0])


def _rows_count(text: str) -> int:
    """The rows a `rows_text` names (shown and more)."""
    m = _ROWS.match(text)
    return len((m["shown"] or m["placed"]).split(", ")) + int(m["more"] or 0)


def choice(value: str, allowed: tuple[str, ...], flag: str) -> str:
    if value not in allowed:
        raise UsageError(f"unknown {flag} {value!r}", hint="use one of: " + ", ".join(allowed))
    return value


def warn(message: str) -> None:
    warn_user(message, ConversionWarning)


def check_format(fmt: Format) -> Format:
    if fmt not in (Format.STANDARD, Format.CONVERSATIONAL):
        raise UsageError(f"conversions work on standard or conversational data, not {fmt}")
    return fmt


def content(table: pa.Table, name: str, fmt: Format) -> pa.ChunkedArray:
    """A text column (standard) or message-list column (conversational), type-checked."""
    col = column(table, name)
    t = col.type
    if pa.types.is_null(t):
        return col.cast(DEFAULT_MESSAGES if fmt is Format.CONVERSATIONAL else pa.string())
    if fmt is Format.CONVERSATIONAL and is_messages(t):
        return col
    if fmt is Format.STANDARD and is_string(t):
        return col
    held = "strings" if is_string(t) else "message lists" if is_messages(t) else str(t)
    wanted = "message lists" if fmt is Format.CONVERSATIONAL else "strings"
    raise DataError(
        f"holds {held}, but {fmt} data needs {wanted} here",
        column=name,
        hint="convert the whole dataset in one format (`trlprep detect` shows which it is)",
    )


def column(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise DataError(
            f"missing column {name!r} (the table has {', '.join(table.column_names) or 'none'})",
            column=name,
        )
    field = table.schema.field(name)
    if is_json_field(field):
        raise DataError(
            "rows hold values of different kinds (e.g. text in some, message lists in others)",
            column=name,
            hint="run `trlprep validate` to list them, and make the column uniform",
        )
    return table.column(name)


def steps_column(table: pa.Table, name: str) -> pa.ChunkedArray:
    col = column(table, name)
    if pa.types.is_null(col.type):
        return col.cast(pa.list_(pa.string()))
    if not (is_list(col.type) and is_string(col.type.value_type)):
        raise DataError(f"must hold lists of strings, not {col.type}", column=name)
    return col


def bools_column(table: pa.Table, name: str, *, listed: bool) -> pa.ChunkedArray:
    col = column(table, name)
    want = pa.list_(pa.bool_()) if listed else pa.bool_()
    if pa.types.is_null(col.type):
        return col.cast(want)
    inner = col.type.value_type if listed and is_list(col.type) else col.type
    if (listed and not is_list(col.type)) or not pa.types.is_boolean(inner):
        raise DataError(
            f"must hold {'lists of booleans' if listed else 'booleans'}, not {col.type}",
            column=name,
            hint="labels are true/false values",
        )
    return col


def no_nulls(col: pa.ChunkedArray | pa.Array, name: str, *, items: bool = False) -> None:
    """Reject null values (and, with `items`, null elements inside list values)."""
    if col.null_count:
        bad = np.flatnonzero(~valid_mask(col))
        raise DataError(
            f"{rows_text(bad[:MAX_ROWS_SHOWN], len(bad))} {noun(len(bad), 'holds', 'hold')} null",
            column=name,
            hint="drop or fill these rows first (`trlprep validate` lists them)",
        )
    if items and is_list(col.type):
        flat = pc.list_flatten(col)
        if flat.null_count:
            parents = pc.list_parent_indices(col).to_numpy()
            bad = np.unique(parents[~valid_mask(flat)])
            raise DataError(
                f"{rows_text(bad[:MAX_ROWS_SHOWN], len(bad))} "
                f"{noun(len(bad), 'holds', 'hold')} a null element",
                column=name,
                hint="drop or fill these rows first (`trlprep validate` lists them)",
            )


def output(
    table: pa.Table,
    dst: DatasetType,
    fmt: Format,
    produced: Mapping[str, pa.Array | pa.ChunkedArray],
    consumed: Iterable[str],
    *,
    drop: Iterable[str] = (),
    rows: np.ndarray | None = None,
    renames: Mapping[str, str] | None = None,
    types_first: bool = False,
    chosen_only: bool = False,
) -> pa.Table:
    """The target table: the `produced` type columns and the input's other columns.

    Columns are where the TRL guide's recipe (`datasets.map`, `remove_columns`,
    `rename_column`) puts them: the input's columns in their order, a produced column in
    the place of the consumed input column of its name (or of the one `renames` names for
    it: produced -> input), the other produced columns at the end (in the type's order).
    `types_first`: the produced columns first, then the carried ones (readings of a layout).
    `consumed` input columns are not carried; `rows` (when given) selects or repeats input
    rows for the carried columns, so they line up with `produced`. `chosen_only`: the rows
    keep the chosen completion alone, and a pair's side columns (`chosen_X` / `rejected_X`)
    become `X`, the chosen one's (`converters.sides`).
    """
    if chosen_only:
        own, replaced, moved = chosen_sides(table, produced, dst.name, rows)
        produced, consumed = {**produced, **own}, set(consumed) | replaced
        renames = {**(renames or {}), **moved}
    for name in [c for c in drop if c in table.column_names]:  # said, never silently gone
        warn(f"column {name!r} left out: it measures a pair, and {dst.name} rows are no pairs")
    consumed = set(consumed) | set(drop)
    order = [n for n in dst.column_names(fmt, required_only=False) if n in produced]
    order += [n for n in produced if n not in order]
    at = {src: name for name, src in (renames or {}).items()}
    at.update({n: n for n in order if n in consumed and n not in at.values()})
    slots: list[tuple[pa.Field | str, pa.Array | pa.ChunkedArray]] = []  # carried: own field
    placed: set[str] = set()
    for field in table.schema:
        if field.name in consumed:
            name = at.get(field.name)
            if name is not None and not types_first:
                slots.append((name, produced[name]))
                placed.add(name)
            continue
        if field.name in produced:
            raise DataError(
                f"the input already has a column {field.name!r}, which the conversion "
                "would produce",
                column=field.name,
                hint=f"keep it under another name (--map {field.name}_orig={field.name}), or "
                "drop it first",
            )
        col = table.column(field.name)
        if rows is not None:
            col = col.take(pa.array(rows, pa.int64()))
        slots.append((field, col))  # its metadata (a JSON-text extra) goes with it
    rest = [(n, produced[n]) for n in order if n not in placed]
    slots = rest + slots if types_first else slots + rest
    arrays = [a if isinstance(a, pa.ChunkedArray) else pa.chunked_array([a]) for _, a in slots]
    fields = [
        f if isinstance(f, pa.Field) else pa.field(f, a.type)
        for (f, _), a in zip(slots, arrays, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
