"""Arrow -> JSON text, vectorised: each value's compact JSON text, rows as JSON Lines.

Columns tagged as JSON text (`jsontext.json_field`) are written as the values they hold. A
`tools` column typed as one Arrow struct is turned into each row's JSON text without the
null-valued keys the struct gave it (`settle_tools`); messages columns are written with the
keys each message holds (`trlprep.io.nullkeys`); rows leave out the columns no dataset type
names where they hold null (`to_jsonl`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths
from trlprep.columns.arrowtypes import is_json_field, is_list, is_messages
from trlprep.columns.textparts import MARK, has_marks, parts_content
from trlprep.io.jsontext import (
    concat_text,
    dumps,
    join_texts,
    json_field,
    tools_names,
)
from trlprep.io.nullkeys import (
    KeyOrders,
    encode_dropping_nulls,
    encode_messages,
    messages_needing_drop,
)
from trlprep.io.sources import ARROW_ERRORS
from trlprep.registry import all_type_columns

_ROW: tuple[str, ...] = ()  # `orders` key of the rows' own keys (noted by the first batch)


def has_binary(t: pa.DataType) -> bool:
    """True when raw bytes appear anywhere in type `t` (JSON cannot hold them)."""
    if isinstance(t, pa.BaseExtensionType):
        return has_binary(t.storage_type)
    if (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or pa.types.is_binary_view(t)
    ):
        return True
    if pa.types.is_struct(t):
        return any(has_binary(f.type) for f in t)
    if pa.types.is_map(t):
        return has_binary(t.key_type) or has_binary(t.item_type)
    if pa.types.is_dictionary(t):
        return has_binary(t.value_type)
    if hasattr(t, "value_type"):  # list kinds
        return has_binary(t.value_type)
    return False


def _dumps_any(value: Any) -> str:
    """JSON text of any Arrow value; bytes become text (invalid UTF-8 replaced)."""

    def fallback(o: Any) -> Any:
        return o.decode("utf-8", "replace") if isinstance(o, bytes) else str(o)

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=fallback)


def _polars_ndjson(table: pa.Table) -> bytes:
    import polars as pl
    from polars.exceptions import PanicException

    out = io.BytesIO()
    try:
        pl.from_arrow(table, rechunk=False).write_ndjson(out)
    except PanicException as e:  # polars panics (a BaseException) on types it cannot write
        raise pa.ArrowNotImplementedError(str(e).splitlines()[0]) from None
    return out.getvalue()


def _line_array(data: bytes) -> pa.LargeStringArray:
    """The lines of `data` (each keeping its trailing newline) as one Arrow array, zero-copy."""
    raw = np.frombuffer(data, dtype=np.uint8)
    offsets = np.concatenate(([0], np.flatnonzero(raw == 10) + 1)).astype(np.int64)
    return pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data)
    )


def encode_json_texts(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The compact JSON text of each value (null stays null)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    texts = None
    if not has_binary(arr.type):
        try:
            lines = _line_array(_polars_ndjson(pa.table({"v": arr})))
            texts = pc.utf8_slice_codeunits(lines, 5, -2).cast(pa.string())  # drop {"v": }\n
        except ARROW_ERRORS:
            pass
    if texts is None:  # types Polars cannot write
        texts = pa.array([_dumps_any(v) for v in arr.to_pylist()], pa.string())
    if not arr.null_count:
        return texts
    return pc.if_else(pc.is_null(arr), pa.scalar(None, pa.string()), texts)


def has_struct(t: pa.DataType) -> bool:
    """True when a struct appears anywhere in type `t` (objects typed as one Arrow struct)."""
    if pa.types.is_struct(t):
        return True
    if pa.types.is_map(t):
        return has_struct(t.item_type)
    return (is_list(t) or pa.types.is_fixed_size_list(t)) and has_struct(t.value_type)


def encode_without_null_keys(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The compact JSON text of each value, leaving out every object key whose value is
    null, at any depth (null stays null; a null inside a list stays `null`): each row
    gets back the keys it holds, in the order a reader meets them (`trlprep.io.nullkeys`)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return encode_dropping_nulls(arr, encode_json_texts).cast(pa.string())


def settle_tools(
    data: pa.Table | pa.RecordBatch, names: Iterable[str] | None = None
) -> pa.Table | pa.RecordBatch:
    """`data` with a `tools` column typed as structs (`names`: the columns read as tools,
    `tools_names()` by default) turned into each row's JSON text, null-valued keys left out.

    A column of function schemas has no single Arrow type (each function its own
    parameters); a polars frame, a `datasets.Dataset`, a Parquet file or a `--map` applied
    after Arrow typed it holds one struct of every row's keys, null where a row had none.
    Once typed as one struct, a key a row did not have cannot be told from a key it held as
    null (rare in a schema: `"default": null`), so null-valued keys are left out: each row
    gets its own schemas back (in the struct's key order) as a template should see them.
    """
    for name in tools_names() if names is None else names:
        if name not in data.schema.names:
            continue
        i = data.schema.get_field_index(name)
        field = data.schema.field(i)
        if is_json_field(field) or not has_struct(field.type):
            continue
        texts = encode_without_null_keys(data.column(i))
        data = data.set_column(i, json_field(name), texts)
    return data


def has_tagged_content(t: pa.DataType) -> bool:
    """True for messages whose `content` is tagged JSON text (`content_as_written`)."""
    return is_messages(t) and any(f.name == "content" and is_json_field(f) for f in t.value_type)


def content_as_json(table: pa.Table) -> pa.Table:
    """`table` with each flagged messages column's content (`columns.textparts`) as
    `datasets`' `Json` (the JSON extension type): every message's content as the user
    wrote it, a string or a list of parts, as `datasets.load_dataset("json")` reads it."""
    for i, f in enumerate(table.schema):
        if not has_marks(f.type):
            continue
        col = content_as_written(table.select([i])).column(0).combine_chunks()
        msgs = col.flatten()
        fields, children = [], []
        for k, g in enumerate(msgs.type):
            child = msgs.field(k)
            if g.name == "content":
                child = pa.ExtensionArray.from_storage(pa.json_(), child.cast(pa.string()))
                g = pa.field("content", child.type)
            fields.append(g)
            children.append(child)
        mask = msgs.is_null() if msgs.null_count else None
        values = pa.StructArray.from_arrays(children, fields=fields, mask=mask)
        out = pa.LargeListArray.from_arrays(col.offsets, values, mask=col.is_null())
        out = out.cast(pa.list_(out.type.value_field))
        table = table.set_column(i, pa.field(f.name, out.type), out)
    return table


def _has_null_keys(content: pa.Array) -> bool:
    """True when a part of a list-of-parts array lacks (holds null for) one of its keys."""
    parts = pc.list_flatten(content)
    return any(child.null_count for child in parts.flatten())


def content_as_written(data: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    """`data` with every messages column whose content is parts holding each message's
    content as the JSON text of what the user wrote (tagged, so `to_jsonl` writes the
    values): a flagged content (`columns.textparts`) as its string, a list of parts with
    only the keys each part holds (one Arrow struct gives every part the keys of all
    parts, null where a part had none; a text part written with `"image": null` reads as an
    image part to templates that test `'image' in content`, Qwen2.5-VL's among them)."""
    for i, f in enumerate(data.schema):
        if not (parts_content(f.type) or has_marks(f.type)):
            continue
        arr = data.column(i)
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        msgs = arr.flatten()
        t = msgs.type
        content = msgs.field(t.get_field_index("content"))
        if not has_marks(f.type) and not _has_null_keys(content):
            continue  # every part holds every key: written as it is
        text = encode_without_null_keys(content)
        if has_marks(f.type):
            mark = pc.fill_null(msgs.field(t.get_field_index(MARK)), False)
            flagged = content.filter(mark)  # each one text part
            first = pa.nulls(len(content), pa.string())
            if len(flagged):
                strings = pc.struct_field(pc.list_element(flagged, 0), "text")
                first = pc.replace_with_mask(first, mark, strings.cast(pa.string()))
            text = pc.if_else(mark, encode_json_texts(first).cast(text.type), text)
        fields, children = [], []
        for k, g in enumerate(t):
            if g.name == MARK:
                continue
            if g.name == "content":
                fields.append(json_field("content"))
                children.append(text.cast(pa.string()))
            else:
                fields.append(g)
                children.append(msgs.field(k))
        mask = msgs.is_null() if msgs.null_count else None
        values = pa.StructArray.from_arrays(children, fields=fields, mask=mask)
        lengths = list_lengths(arr)
        offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), pa.int64())
        lmask = arr.is_null() if arr.null_count else None
        out = pa.LargeListArray.from_arrays(offsets, values, mask=lmask)
        data = data.set_column(i, pa.field(f.name, out.type), out)
    return data


def to_jsonl(
    data: pa.Table | pa.RecordBatch, orders: KeyOrders | None = None, *, every_key: bool = False
) -> bytes:
    """Rows as JSON Lines; tagged columns (and tagged tool-call arguments) are written as the
    JSON values they hold; messages with the keys each holds, in the order a reader meets
    them (`orders`: the output's so far, for an output written in several batches; None:
    in the struct's order, each row's text its own alone); extra columns only in the rows
    holding a value there (`_held_rows`), or in every row with `every_key`."""
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if data.num_rows == 0:
        return b""
    from trlprep.io.jsonargs import encode, has_tagged_arguments

    data = content_as_written(data)
    columns = data.columns
    # messages written with the keys each holds (and tagged values as the JSON they hold)
    own_keys = [
        any([messages_needing_drop(f, chunk, orders) for chunk in c.chunks])
        for f, c in zip(data.schema, columns, strict=True)
    ]
    nested = [
        has_tagged_arguments(f.type) or has_tagged_content(f.type) or own
        for f, own in zip(data.schema, own_keys, strict=True)
    ]
    tagged = [is_json_field(f) for f in data.schema]
    held = [None] * data.num_columns if every_key else _held_rows(data, orders)
    if not any(tagged) and not any(nested) and not any(h is not None for h in held):
        return _polars_ndjson(data)
    pieces = []
    for field, col, is_tagged, inner in zip(data.schema, columns, tagged, nested, strict=True):
        if is_tagged:
            key = dumps(field.name) + ":"
            pieces.append(join_texts(key, pc.fill_null(col, "null")))
        elif inner and is_messages(field.type):
            text = encode_messages(col.combine_chunks(), encode_json_texts, orders, field.name)
            pieces.append(join_texts(dumps(field.name) + ":", pc.fill_null(text, "null")))
        elif inner:  # arguments held as JSON text: written as the JSON they hold
            text = encode(col.combine_chunks(), encode_json_texts)
            pieces.append(join_texts(dumps(field.name) + ":", pc.fill_null(text, "null")))
        else:
            lines = _line_array(_polars_ndjson(pa.table([col], names=[field.name])))
            pieces.append(pc.utf8_slice_codeunits(lines, 1, -2))  # drop { and }\n
    return concat_text(_rows(pieces, held)).to_pybytes()


def _held_rows(data: pa.Table, orders: KeyOrders | None) -> list[pa.Array | None]:
    """Per column, where its key is written (None: in every row). A column no dataset type
    names (`tools`, `metadata`, `system`, any extra) is left out of the rows holding null
    there: a row written holds the keys its input row held. The first row of an output
    (`orders` new) holds every column, so that readers meet every column, in the table's
    order, on its first line (Polars infers the columns from the first lines alone, and a
    column null in every row would vanish); without `orders`, each row holds only its own."""
    first = orders is not None and _ROW not in orders
    if orders is not None:
        orders.setdefault(_ROW, list(data.column_names))
    typed = all_type_columns()
    held: list[pa.Array | None] = []
    for name, col in zip(data.column_names, data.columns, strict=True):
        if name in typed or not col.null_count or (first and data.num_rows == 1):
            held.append(None)
            continue
        valid = pc.is_valid(col).combine_chunks()
        if first:
            valid = pc.or_(valid, pa.array(np.arange(data.num_rows) == 0))
        held.append(valid)
    return held


def _rows(pieces: list[pa.Array], held: list[pa.Array | None]) -> pa.Array:
    """Each row's JSON object text and newline: the `"key":value` pieces joined by commas,
    each left out where its `held` mask is false."""
    if all(h is None for h in held):
        return join_texts("{", join_texts(*pieces, sep=","), "}\n")
    ls = pa.large_string()
    comma, empty = pa.scalar(",", ls), pa.scalar("", ls)
    lead = held[0] is None  # the first key in every row: no comma to cut
    args: list = []
    for i, (piece, mask) in enumerate(zip(pieces, held, strict=True)):
        if mask is not None:  # null where left out: replaced by nothing below
            args.append(pc.if_else(mask, join_texts(",", piece), pa.scalar(None, ls)))
        else:
            args += [comma, piece] if i or not lead else [piece]
    # not `null_handling="skip"`: it drops the rows where every piece is null
    body = pc.binary_join_element_wise(*args, empty, null_handling="replace", null_replacement="")
    if not lead:
        body = pc.utf8_slice_codeunits(body, 1)
    return join_texts("{", body, "}\n")
