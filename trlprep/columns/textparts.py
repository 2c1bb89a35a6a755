"""Message content given as a string in some messages and a list of parts in others, held
in one Arrow type: every content a list of parts, a string as one text part
(`{"type": "text", "text": s}`), and a hidden per-message flag (`MARK`) saying which
contents were strings, so JSON Lines outputs, Python rows and chat templates get each
message's content back as the user wrote it; `datasets` outputs hold it as `Json`
(`io.jsonencode.content_as_json`). Parquet and Arrow outputs drop the flag: there every
content is a list of parts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths, relist
from trlprep.columns.arrowtypes import is_list, is_messages, is_string

MARK = "__trlprep_text__"  # per message: its content was a string (true), else null
TEXT_PART = pa.struct([("type", pa.string()), ("text", pa.string())])


# ---------------------------------------------------------------- types


def content_type(t: pa.DataType) -> pa.DataType | None:
    """The `content` type of a messages type (None: not messages, or no content field)."""
    if not is_messages(t):
        return None
    i = t.value_type.get_field_index("content")
    return None if i < 0 else t.value_type.field(i).type


def has_marks(t: pa.DataType) -> bool:
    """True for a messages type carrying the per-message string flag."""
    return is_messages(t) and t.value_type.get_field_index(MARK) >= 0


def string_content(t: pa.DataType) -> bool:
    """True for messages whose content is typed as strings."""
    ct = content_type(t)
    return ct is not None and is_string(ct)


def parts_content(t: pa.DataType) -> bool:
    """True for messages whose content is typed as lists of parts."""
    ct = content_type(t)
    return ct is not None and is_list(ct) and pa.types.is_struct(ct.value_type)


# ---------------------------------------------------------------- Arrow


def _messages(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr


def _with_fields(msgs: pa.StructArray, fields: list[pa.Field], children: list) -> pa.StructArray:
    mask = msgs.is_null() if msgs.null_count else None
    return pa.StructArray.from_arrays(children, fields=fields, mask=mask)


def strings_as_parts(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Messages with string content as messages whose content is one text part, flagged
    (`MARK`) so that they are written back as strings. Columnar; null content stays null."""
    arr = _messages(arr)
    msgs = arr.flatten()
    t = msgs.type
    fields, children = [], []
    for k, f in enumerate(t):
        child = msgs.field(k)
        if f.name == "content":
            text = child.cast(pa.string())
            m = len(text)
            kinds = pa.array(["text"], pa.string()).take(pa.array(np.zeros(m, np.int64)))
            parts = pa.StructArray.from_arrays([kinds, text], fields=list(TEXT_PART))
            offsets = pa.array(np.arange(m + 1, dtype=np.int32))
            mask = text.is_null() if text.null_count else None
            child = pa.ListArray.from_arrays(offsets, parts, mask=mask)
            f = pa.field("content", child.type)
        fields.append(f)
        children.append(child)
    mark = pc.if_else(pc.is_valid(msgs.field("content")), True, pa.scalar(None, pa.bool_()))
    fields.append(pa.field(MARK, pa.bool_()))
    children.append(mark)
    return relist(arr, _with_fields(msgs, fields, children))


def flagged_text(msgs: pa.Array) -> pa.Array:
    """Per message of a flat messages struct array: the string its content was (the text of
    a flagged message's one part), null for a message whose content was parts (or for every
    message, without the flag). Columnar."""
    n = len(msgs)
    if msgs.type.get_field_index(MARK) < 0 or not parts_content(pa.list_(msgs.type)):
        return pa.nulls(n, pa.string())
    flag = np.asarray(pc.fill_null(pc.struct_field(msgs, MARK), False), dtype=bool)
    content = pc.struct_field(msgs, "content")
    flag &= list_lengths(content) > 0
    parts = pc.list_flatten(content)
    if not flag.any() or parts.type.get_field_index("text") < 0:
        return pa.nulls(n, pa.string())
    text = pc.struct_field(parts, "text").cast(pa.string())
    lengths = list_lengths(content)
    starts = np.cumsum(lengths) - lengths  # each message's first part in `parts`
    picked = text.take(pa.array(np.where(flag, starts, 0)))
    return pc.if_else(pa.array(flag), picked, pa.scalar(None, pa.string()))


def without_marks(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Messages without the string flag (every content a list of parts)."""
    arr = _messages(arr)
    msgs = arr.flatten()
    keep = [k for k, f in enumerate(msgs.type) if f.name != MARK]
    fields = [msgs.type.field(k) for k in keep]
    return relist(arr, _with_fields(msgs, fields, [msgs.field(k) for k in keep]))


def marked_as_parts(a: pa.Array, b: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Two message arrays to combine, where one holds string content and the other parts
    (or flagged parts): the string side made flagged parts, so they share one type."""
    ta, tb = a.type, b.type
    if not (is_messages(ta) and is_messages(tb)):
        return a, b
    if string_content(ta) and (parts_content(tb) or has_marks(tb)):
        a = strings_as_parts(a)
    elif string_content(tb) and (parts_content(ta) or has_marks(ta)):
        b = strings_as_parts(b)
    return a, b


def parts_columns(schemas: list[pa.Schema]) -> set[str]:
    """Columns of messages whose content is strings in some pieces (of one input read in
    pieces) and parts in others: `same_content` makes them flagged parts in every piece."""
    strings, parts = set(), set()
    for s in schemas:
        for f in s:
            if string_content(f.type):
                strings.add(f.name)
            elif parts_content(f.type):
                parts.add(f.name)
    return strings & parts


def same_content(data: pa.Table | pa.RecordBatch, names: set[str]) -> pa.Table | pa.RecordBatch:
    """`data` with the string content of the columns `names` (`parts_columns`) made
    flagged text parts, so it joins pieces whose content is parts."""
    for name in names:
        i = data.schema.get_field_index(name)
        if i >= 0 and string_content(data.schema.field(i).type):
            arr = strings_as_parts(data.column(i))
            data = data.set_column(i, data.schema.field(i).with_type(arr.type), arr)
    return data


def schema_with_parts(schema: pa.Schema, names: set[str]) -> pa.Schema:
    """`schema` as `same_content` leaves it."""
    for name in names:
        i = schema.get_field_index(name)
        if i >= 0 and string_content(schema.field(i).type):
            t = strings_as_parts(pa.array([], schema.field(i).type)).type
            schema = schema.set(i, schema.field(i).with_type(t))
    return schema


def table_without_marks(data: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    """`data` with the string flag dropped from every messages column (typed outputs)."""
    for i, f in enumerate(data.schema):
        if has_marks(f.type):
            col = data.column(i)
            arr = without_marks(col)
            data = data.set_column(i, f.with_type(arr.type), arr)
    return data


def schema_without_marks(schema: pa.Schema) -> pa.Schema:
    """`schema` as `table_without_marks` leaves it."""
    for i, f in enumerate(schema):
        if has_marks(f.type):
            msg = f.type.value_type
            st = pa.struct([g for g in msg if g.name != MARK])
            t = (
                pa.large_list(f.type.value_field.with_type(st))
                if pa.types.is_large_list(f.type)
                else pa.list_(f.type.value_field.with_type(st))
            )
            schema = schema.set(i, f.with_type(t))
    return schema


# ---------------------------------------------------------------- Python


def restored(value: Any) -> Any:
    """A row's messages (a list of dicts) with flagged contents back as their strings and
    the flag dropped; anything else unchanged."""
    if not isinstance(value, list):
        return value
    out = []
    for m in value:
        if isinstance(m, dict) and MARK in m:
            m = dict(m)
            if m.pop(MARK) and isinstance(m.get("content"), list) and m["content"]:
                m["content"] = m["content"][0].get("text")
        out.append(m)
    return out


def mixed_content(values: list) -> bool:
    """True when rows of message lists give `content` as a string in some messages and a
    list in others (rows may mix them, or one row hold each)."""
    seen_str = seen_list = False
    for row in values:
        if not isinstance(row, list):
            continue
        for m in row:
            if not isinstance(m, dict):
                continue
            c = m.get("content")
            if isinstance(c, str):
                seen_str = True
            elif isinstance(c, list):
                seen_list = True
            if seen_str and seen_list:
                return True
    return False


def as_parts(values: list) -> list:
    """Rows of message lists with every string content made one flagged text part (the
    values `mixed_content` found mixed), ready for one Arrow type."""
    out = []
    for row in values:
        if not isinstance(row, list):
            out.append(row)
            continue
        msgs = []
        for m in row:
            if isinstance(m, dict) and isinstance(m.get("content"), str):
                m = {**m, "content": [{"type": "text", "text": m["content"]}], MARK: True}
            msgs.append(m)
        out.append(msgs)
    return out
