"""JSON text -> Arrow, vectorised: parse JSON rows, decode JSON-text columns, type values.

A column whose rows hold different JSON kinds (a string here, a message list there) has no
single Arrow type; it is kept as the JSON text of each value in a string field tagged with
`arrowtypes.JSON_FIELD_KEY`. Everything here produces such columns when values disagree;
`jsonencode` turns them (and any Arrow column) back into JSON. A `tools` column (function
schemas, each row its own) is always kept so: read from values as each row's JSON text
(also under the name `--map tools=NAME` renames, `tools_from`).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from trlprep.columns.arrowtypes import JSON_FIELD_KEY
from trlprep.columns.textparts import as_parts, mixed_content
from trlprep.errors import InputError
from trlprep.io.sources import ARROW_ERRORS

BLOCK_BYTES = 4 << 20
TOOLS = "tools"  # a side column of function schemas, each row its own
_CONVERSION_ERRORS = (*ARROW_ERRORS, OverflowError, TypeError, ValueError)
# `functions`: OpenAI's legacy name for `tools` (read so by `--from openai-chat`)
LEGACY_TOOLS = "functions"
_TOOLS_NAMES: ContextVar[frozenset[str]] = ContextVar(
    "tools_names", default=frozenset({TOOLS, LEGACY_TOOLS})
)


def tools_names() -> frozenset[str]:
    """The input columns read as a `tools` column (each row's own schemas, as JSON text):
    `tools`, `functions`, and the column `--map tools=NAME` names while reading under
    `tools_from`."""
    return _TOOLS_NAMES.get()


@contextmanager
def tools_from(mapping: Mapping[str, str] | None) -> Iterator[None]:
    """Read the column that `mapping` (`--map`: output -> input column) renames to `tools`
    as a `tools` column (each row's own schemas), as the readers read `tools` itself.

    The readers must know it before they type the column: Arrow's JSON reader would give
    every row's schemas every key of all rows (null where a row has none) in first-seen
    order, which no renaming afterwards can undo exactly.
    """
    src = (mapping or {}).get(TOOLS)
    if src is None:
        yield
        return
    token = _TOOLS_NAMES.set(_TOOLS_NAMES.get() | {src})
    try:
        yield
    finally:
        _TOOLS_NAMES.reset(token)


def json_field(name: str) -> pa.Field:
    """A string field tagged as holding the JSON text of values of mixed kinds."""
    return pa.field(name, pa.string(), metadata={JSON_FIELD_KEY: b"1"})


def dumps(value: Any) -> str:
    """Compact JSON text of one value, as stored in tagged columns."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------- Python values -> Arrow


def column_from_values(name: str, values: Sequence[Any]) -> tuple[pa.Field, pa.Array]:
    """An Arrow column from Python values; values of disagreeing kinds become tagged JSON text.

    Tool-call arguments given as objects are kept as tagged JSON text (see `jsonargs`);
    message content given as strings and lists of parts is typed as parts (`textparts`).
    """
    if name in tools_names() and any(isinstance(v, (list, dict)) for v in values):
        # each row's own schemas: Arrow would give every row's schemas every key of all rows
        return json_field(name), _texts(name, values)
    typed = _typed(values)
    if typed is None and mixed_content(values):
        # content a string in some messages, parts in others: every content parts, the
        # strings flagged so that they are written back as strings (`columns.textparts`)
        typed = _typed(as_parts(values))
    if typed is not None:
        return pa.field(name, typed.type), typed
    return json_field(name), _texts(name, values)


def _typed(values: Sequence[Any]) -> pa.Array | None:
    """One Arrow array of `values` (tool-call arguments objects as tagged JSON text), or
    None when their kinds disagree."""
    from trlprep.io.jsonargs import array_with_text_arguments

    arr = array_with_text_arguments(values)
    if arr is not None:
        return arr
    try:
        return pa.array(values)
    except _CONVERSION_ERRORS:
        return None


def _texts(name: str, values: Sequence[Any]) -> pa.Array:
    """Each value's compact JSON text (None stays null)."""
    try:
        return pa.array([None if v is None else dumps(v) for v in values], pa.string())
    except UnicodeEncodeError:
        raise InputError(
            "text holds invalid Unicode (a lone surrogate such as \\ud800)",
            column=name,
            hint="fix the escaped characters in that column",
        ) from None


def table_from_columns(columns: Mapping[str, Sequence[Any]]) -> pa.Table:
    """A table from a dict of equally long value lists (columns of mixed kinds are tagged)."""
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise InputError(
            "columns have different lengths: "
            + ", ".join(f"{k}={len(v)}" for k, v in columns.items()),
            hint="every column must hold one value per row",
        )
    fields, arrays = [], []
    for name, values in columns.items():
        field, arr = column_from_values(str(name), values)
        fields.append(field)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def table_from_records(records: Iterable[Mapping[str, Any]]) -> pa.Table:
    """A table from row dicts (missing keys are null; columns of mixed kinds are tagged)."""
    records = list(records)
    keys: dict[str, None] = {}
    for r in records:
        keys.update(dict.fromkeys(r))
    return table_from_columns({k: [r.get(k) for r in records] for k in keys})


# ---------------------------------------------------------------- JSON rows -> Arrow


def read_json_rows(
    data: bytes | pa.Buffer, *, newlines_in_values: bool = False, block_size: int = BLOCK_BYTES
) -> pa.Table:
    """Parse newline-delimited JSON objects with Arrow's C++ reader, strings kept as strings.

    Arrow infers timestamps from ISO-8601 strings; those are re-read as the original text so
    a date-like prompt stays byte for byte what the file holds. Arrow's type inference also
    drops leading nulls of lists (`[null, "a"]`, apache/arrow#51305), leaving invalid
    arrays; those are re-read with the inferred schema given explicitly, which parses them
    right. Raises Arrow errors on bad JSON, kinds that disagree, or data still invalid;
    callers fall back to a line-by-line parse.
    """
    read_opts = pj.ReadOptions(block_size=max(block_size, 1 << 16))

    def _read(schema: pa.Schema | None) -> pa.Table:
        parse = pj.ParseOptions(explicit_schema=schema, newlines_in_values=newlines_in_values)
        return pj.read_json(pa.BufferReader(data), read_options=read_opts, parse_options=parse)

    table = _read(None)
    temporal = any(_has_temporal(f.type) for f in table.schema)
    if temporal or not _is_valid(table):
        table = _read(pa.schema([f.with_type(_temporal_as_string(f.type)) for f in table.schema]))
        if not _is_valid(table):  # lists of nulls only: no schema helps
            raise pa.ArrowInvalid("Arrow's JSON reader built invalid list arrays")
    return table


def _is_valid(table: pa.Table) -> bool:
    try:
        table.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _has_temporal(t: pa.DataType) -> bool:
    if pa.types.is_temporal(t):
        return True
    if pa.types.is_struct(t):
        return any(_has_temporal(f.type) for f in t)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _has_temporal(t.value_type)
    return False


def _temporal_as_string(t: pa.DataType) -> pa.DataType:
    if pa.types.is_temporal(t):
        return pa.string()
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_temporal_as_string(f.type)) for f in t])
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_temporal_as_string(t.value_type)))
    if pa.types.is_large_list(t):
        return pa.large_list(t.value_field.with_type(_temporal_as_string(t.value_type)))
    return t


def looks_like_json_container(arr: pa.Array | pa.ChunkedArray) -> bool:
    """True when every non-empty value of a string column starts with `[` or `{`."""
    first = pc.utf8_slice_codeunits(pc.utf8_ltrim_whitespace(arr), 0, 1)
    present = pc.fill_null(pc.not_equal(first, ""), False)
    if not pc.any(present).as_py():
        return False
    ok = pc.or_(pc.invert(present), pc.is_in(first, pa.array(["[", "{"])))
    return bool(pc.all(pc.fill_null(ok, True)).as_py())


def decode_json_texts(
    name: str, arr: pa.Array | pa.ChunkedArray, *, python_literals: bool = True
) -> tuple[pa.Field, pa.Array] | None:
    """Parse a column of JSON texts (empty = null) into typed Arrow, or None if any fails.

    The whole column goes through Arrow's JSON reader at once; only when that fails (kinds
    disagree, or values are Python literals such as pandas writes) or finds tool-call
    arguments given as objects are the distinct values parsed in Python.
    """
    from trlprep.io.jsonargs import has_object_arguments

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    present = pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(arr), ""), False)
    texts = pc.if_else(present, arr, pa.scalar("null", pa.large_string()))
    lines = join_texts('{"v":', texts, "}\n")
    buf = concat_text(lines)
    if len(arr):
        try:
            table = read_json_rows(buf, newlines_in_values=True, block_size=buf.size + 1)
            if table.num_rows == len(arr) and table.column_names == ["v"]:
                col = table.column("v").combine_chunks()
                if not has_object_arguments(col.type):
                    return pa.field(name, col.type), col
                # tool-call arguments as objects: Arrow made one struct of every row's keys;
                # each row's own object is kept as JSON text (`jsonargs`), parsed below
        except ARROW_ERRORS:
            pass
    return _decode_distinct(name, arr, present, python_literals)


def _decode_distinct(name, arr, present, python_literals):
    distinct = pc.unique(pc.filter(arr, present))
    values = []
    for text in distinct.to_pylist():
        try:
            values.append(json.loads(text))
            continue
        except ValueError:
            pass
        if not python_literals:
            return None
        try:
            value = ast.literal_eval(text.strip())
            dumps(value)  # JSON values only: no sets, bytes or complex numbers
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
        values.append(value)
    field, decoded = column_from_values(name, values)
    index = pc.if_else(present, pc.index_in(arr, distinct), pa.scalar(None, pa.int32()))
    return field, decoded.take(index)


# ---------------------------------------------------------------- text pieces


def join_texts(*parts: Any, sep: str = "") -> pa.Array:
    """Element-wise concatenation of string arrays and constants, as large strings."""
    ls = pa.large_string()
    args = [pa.scalar(p, ls) if isinstance(p, str) else p.cast(ls) for p in parts]
    return pc.binary_join_element_wise(*args, pa.scalar(sep, ls))


def concat_text(arr: pa.Array | pa.ChunkedArray) -> pa.Buffer:
    """All strings of `arr` back to back, as one buffer."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    one = pa.LargeListArray.from_arrays(pa.array([0, len(arr)], pa.int64()), arr)
    return pc.binary_join(one, pa.scalar("", pa.large_string()))[0].as_buffer()
