"""`datasets` 5 `Json` values (Arrow's canonical JSON extension type, `arrow.json`): decoded
to plain Arrow where data enters, and given back as `Json` to a caller who passed them.

`datasets` keeps a value that has no single Arrow type (messages whose keys differ, tool
calls with each row's own argument object, content that is a string in one row and parts in
another) as JSON text in an `extension<arrow.json>` column or field, at any depth
(`Json()`, `List(Json())`, a `Json` field inside the message struct). Such a column is
turned into the JSON text of each row's whole value, columnar (the extension's storage is
that text already; the rest is encoded around it, `jsonargs.encode`), and read back as the
JSON Lines reader reads rows: one Arrow type when the rows agree, tool-call arguments as
tagged JSON text (`jsonargs`), else the tagged JSON text of each row (`ValueKind.MIXED`,
reported row by row). A `tools` column stays the JSON text of each row's tools (Arrow would
give every row's parameters the keys of all rows); so does an extra column (one no dataset
type or side column names, beside columns that are) holding objects, as tagged JSON text
carried to the output, each row's value as it was. Other columns are not touched.
"""

from __future__ import annotations

import json

import pyarrow as pa

from trlprep.columns.arrowtypes import is_json_field, is_list
from trlprep.io.jsonargs import ARGUMENTS, CALL_FIELDS, encode, has_plain_arguments, retag
from trlprep.io.jsonencode import encode_json_texts, has_struct, settle_tools
from trlprep.io.jsontext import decode_json_texts, json_field, tools_names
from trlprep.registry import SIDE_COLUMNS, all_type_columns

JSON_EXTENSION = "arrow.json"
_HF = b"huggingface"


def is_json_extension(t: pa.DataType) -> bool:
    """True for Arrow's canonical JSON extension type (datasets' `Json` feature)."""
    return isinstance(t, pa.BaseExtensionType) and t.extension_name == JSON_EXTENSION


def has_json_extension(t: pa.DataType) -> bool:
    """True when the JSON extension type appears anywhere in type `t`."""
    if is_json_extension(t):
        return True
    if pa.types.is_struct(t):
        return any(has_json_extension(f.type) for f in t)
    if pa.types.is_map(t):
        return has_json_extension(t.key_type) or has_json_extension(t.item_type)
    if is_list(t) or pa.types.is_fixed_size_list(t):
        return has_json_extension(t.value_type)
    return False


def decode_json_column(
    name: str, arr: pa.Array | pa.ChunkedArray, *, extra: bool = False
) -> tuple[pa.Field, pa.Array]:
    """A column holding JSON-extension values as plain Arrow (see the module docstring);
    `extra`: a column trlprep does not read, whose objects are kept as each row's JSON text."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    texts = encode(arr, encode_json_texts).cast(pa.string())
    if name in tools_names():  # each row's own schemas (JSON text, read as glaive's tools are)
        return pa.field(name, pa.string()), texts
    decoded = decode_json_texts(name, texts, python_literals=False)
    if decoded is None:  # not JSON (datasets writes only JSON): kept as the text of each row
        return json_field(name), texts
    field, values = decoded
    if extra and has_struct(values.type):  # objects would get every row's keys: kept as is
        return json_field(name), texts
    if not is_json_field(field) and has_plain_arguments(values.type):
        values = retag(values)  # arguments as tagged JSON text, as the JSONL reader gives them
        field = field.with_type(values.type)
    return field, values


def decode_json_extensions(data: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    """`data` with every column holding JSON-extension values decoded (the same kind back;
    other columns untouched, `datasets`' feature metadata of the decoded columns dropped)."""
    cols = [i for i, f in enumerate(data.schema) if has_json_extension(f.type)]
    if not cols:
        return data
    batch = isinstance(data, pa.RecordBatch)
    table = pa.Table.from_batches([data]) if batch else data
    names = set()
    known = all_type_columns() | set(SIDE_COLUMNS)
    layout = not (known & set(table.column_names))  # a public layout: its importer reads all
    for i in cols:
        f = table.schema.field(i)
        extra = not layout and f.name not in known
        field, values = decode_json_column(f.name, table.column(i), extra=extra)
        table = table.set_column(i, field, values)
        names.add(f.name)
    table = table.replace_schema_metadata(_without_features(table.schema.metadata, names))
    if not batch:
        return table
    return pa.RecordBatch.from_arrays(
        [c.combine_chunks() for c in table.columns], schema=table.schema
    )


def at_entry(data: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    """What every input goes through where it enters (readers, the Python API, Ray): its
    `Json` columns decoded (`decode_json_extensions`), and a `tools` column typed as one
    struct made each row's own JSON text, null-valued keys left out
    (`jsonencode.settle_tools`)."""
    return settle_tools(decode_json_extensions(data))


def _without_features(metadata: dict | None, names: set[str]) -> dict | None:
    """Schema metadata with `datasets`' features of `names` removed (they said `Json`)."""
    if not metadata or _HF not in metadata:
        return metadata
    out = dict(metadata)
    try:
        info = json.loads(out[_HF])
        features = info["info"]["features"]
        for name in names:
            features.pop(name, None)
        if not features:
            del out[_HF]
        else:
            out[_HF] = json.dumps(info).encode()
    except (ValueError, KeyError, TypeError):
        del out[_HF]
    return out


# ---------------------------------------------------------------- back to `datasets`


def with_json_types(table: pa.Table) -> pa.Table:
    """`table` with its tagged JSON text as the JSON extension type: a column of values of
    several kinds, and tool-call arguments (each row's own value), so `datasets` gives
    back the values themselves (`Json` features) instead of their text."""
    for i, f in enumerate(table.schema):
        t = _json_typed(f.type, top=is_json_field(f))
        if t != f.type:
            table = table.set_column(i, pa.field(f.name, t), table.column(i).cast(t))
    return table


def _json_typed(t: pa.DataType, top: bool = False, inside: bool = False) -> pa.DataType:
    if top:
        return pa.json_()
    if pa.types.is_struct(t):
        fields = []
        for f in t:
            if inside and f.name == ARGUMENTS and is_json_field(f):
                fields.append(pa.field(f.name, pa.json_()))
            else:
                calls = inside or f.name in CALL_FIELDS
                fields.append(f.with_type(_json_typed(f.type, inside=calls)))
        return pa.struct(fields)
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_json_typed(t.value_type, inside=inside)))
    if pa.types.is_large_list(t):
        return pa.large_list(t.value_field.with_type(_json_typed(t.value_type, inside=inside)))
    return t


def has_json_features(features: object) -> bool:
    """True when a `datasets.Features` holds a `Json` feature anywhere."""
    schema = getattr(features, "arrow_schema", None)
    return schema is not None and any(has_json_extension(f.type) for f in schema)


__all__ = [
    "at_entry",
    "decode_json_column",
    "decode_json_extensions",
    "has_json_extension",
    "has_json_features",
    "is_json_extension",
    "with_json_types",
]
