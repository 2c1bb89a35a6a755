"""Tool-call arguments kept as the user's JSON value through Arrow.

Arguments are an object in some data (glaive, exporters) and the JSON text of one in other
data (OpenAI writes strings). Arrow would make objects a struct with the union of every
row's keys, in first-seen order, losing each row's own keys and their order, so objects are
kept as their JSON text instead, in a string field tagged with `arrowtypes.JSON_FIELD_KEY`:
each value of a tagged `arguments` field is the JSON text of the user's value (an object's
text, or a string's JSON literal), written back as that value. Untagged string arguments are
the user's strings. Templates get the parsed object either way (`templates.inputs`).

An `arguments` field counts when it lies inside a `tool_calls` (or legacy `function_call`)
field, at any depth.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths
from trlprep.columns.arrowtypes import JSON_FIELD_KEY, is_json_field, is_list, is_string
from trlprep.columns.textops import join_lists

ARGUMENTS = "arguments"
CALL_FIELDS = ("tool_calls", "function_call")
_TAG = {JSON_FIELD_KEY: b"1"}


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------- types


def _argument_fields(t: pa.DataType, inside: bool = False):
    """Every `arguments` field (inside a tool call) of type `t`, at any depth."""
    if pa.types.is_struct(t):
        for f in t:
            if inside and f.name == ARGUMENTS:
                yield f
            else:
                yield from _argument_fields(f.type, inside or f.name in CALL_FIELDS)
    elif is_list(t) or pa.types.is_large_list(t):
        yield from _argument_fields(t.value_type, inside)


def has_object_arguments(t: pa.DataType) -> bool:
    """True when tool-call arguments in `t` are typed values (structs ...), not JSON text."""
    return any(not (is_string(f.type) or pa.types.is_null(f.type)) for f in _argument_fields(t))


def has_tagged_arguments(t: pa.DataType) -> bool:
    """True when tool-call arguments in `t` are tagged JSON text."""
    return any(is_json_field(f) for f in _argument_fields(t))


def tagged(t: pa.DataType, inside: bool = False) -> pa.DataType:
    """`t` with every string `arguments` field of a tool call tagged as JSON text."""
    if pa.types.is_struct(t):
        fields = []
        for f in t:
            if inside and f.name == ARGUMENTS and is_string(f.type):
                fields.append(f.with_metadata(_TAG))
            else:
                fields.append(f.with_type(tagged(f.type, inside or f.name in CALL_FIELDS)))
        return pa.struct(fields)
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(tagged(t.value_type, inside)))
    if pa.types.is_large_list(t):
        return pa.large_list(t.value_field.with_type(tagged(t.value_type, inside)))
    return t


# ---------------------------------------------------------------- Python values


def arguments_as_text(values: list) -> tuple[list, bool]:
    """Values (rows of one column) with every tool call's arguments as JSON text, and True,
    when any arguments value is not a string; else the values unchanged and False."""
    if not any(_has_object_args(v) for v in values):
        return values, False
    return [_text_args(v) for v in values], True


def _calls(value: Any):
    """The tool-call dicts in a value (a message list, a message, ...)."""
    if isinstance(value, list):
        for v in value:
            yield from _calls(v)
    elif isinstance(value, dict):
        for key in CALL_FIELDS:
            calls = value.get(key)
            for c in calls if isinstance(calls, list) else [calls]:
                if isinstance(c, dict):
                    fn = c.get("function")
                    yield fn if isinstance(fn, dict) else c


def _has_object_args(value: Any) -> bool:
    return any(ARGUMENTS in c and not isinstance(c[ARGUMENTS], str | None) for c in _calls(value))


def _text_args(value: Any) -> Any:
    if isinstance(value, list):
        return [_text_args(v) for v in value]
    if not isinstance(value, dict) or not any(k in value for k in CALL_FIELDS):
        return value
    out = dict(value)
    for key in CALL_FIELDS:
        calls = value.get(key)
        if isinstance(calls, list):
            out[key] = [_call_text(c) for c in calls]
        elif isinstance(calls, dict):
            out[key] = _call_text(calls)
    return out


def _call_text(call: Any) -> Any:
    if not isinstance(call, dict):
        return call
    fn = call.get("function")
    if isinstance(fn, dict):
        return {**call, "function": _call_text(fn)}
    if call.get(ARGUMENTS) is None:
        return call
    return {**call, ARGUMENTS: _dumps(call[ARGUMENTS])}


def array_with_text_arguments(values: list) -> pa.Array | None:
    """An Arrow array of `values` with tagged JSON-text arguments, or None when no
    arguments value is an object (or Arrow cannot type the values)."""
    values, changed = arguments_as_text(values)
    if not changed:
        return None
    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return None
    return arr.cast(tagged(arr.type))


def has_plain_arguments(t: pa.DataType) -> bool:
    """True when tool-call arguments in `t` are plain (untagged) strings."""
    return any(is_string(f.type) and not is_json_field(f) for f in _argument_fields(t))


def tag_arguments(table: pa.Table) -> pa.Table:
    """`table` with every column's tool-call arguments as tagged JSON text, plain strings
    re-encoded (`retag`): one representation whatever a piece of a file held, so pieces
    read apart (streamed JSONL chunks) share one schema."""
    for i, f in enumerate(table.schema):
        if has_plain_arguments(f.type) and not is_json_field(f):
            arr = retag(table.column(i))
            table = table.set_column(i, f.with_type(arr.type), arr)
    return table


def retag(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """An array with untagged string arguments re-encoded as tagged JSON text (each string
    becomes its JSON literal), so it joins columns that are tagged already. Columnar: only
    the arguments strings are rewritten, the nesting around them is rebuilt as it was."""
    from trlprep.io.jsonencode import encode_json_texts

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return _rebuild(pa.concat_arrays([arr]), encode_json_texts, inside=False)


def _rebuild(arr: pa.Array, encode, inside: bool) -> pa.Array:
    t = arr.type
    if pa.types.is_struct(t):
        fields, children = [], []
        for k, f in enumerate(t):
            child = arr.field(k)
            if inside and f.name == ARGUMENTS and is_string(f.type) and not is_json_field(f):
                child = encode(child).cast(pa.string())
                f = pa.field(f.name, pa.string(), metadata=_TAG)
            elif pa.types.is_struct(f.type) or is_list(f.type) or pa.types.is_large_list(f.type):
                child = _rebuild(child, encode, inside or f.name in CALL_FIELDS)
                f = f.with_type(child.type)
            fields.append(f)
            children.append(child)
        mask = arr.is_null() if arr.null_count else None
        return pa.StructArray.from_arrays(children, fields=fields, mask=mask)
    if is_list(t) or pa.types.is_large_list(t):
        values = _rebuild(arr.flatten(), encode, inside)
        lengths = list_lengths(arr)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        mask = arr.is_null() if arr.null_count else None
        field = t.value_field.with_type(values.type)
        if pa.types.is_large_list(t):
            out = pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), values, mask=mask)
            return out.cast(pa.large_list(field))
        out = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, mask=mask)
        return out.cast(pa.list_(field))
    return arr


def decoded(value: Any) -> Any:
    """Python: a value (a row's messages ...) whose tagged arguments text is read back into
    the user's value (an object as a dict, a string as that string)."""
    return _map_args(value, json.loads)


def _map_args(value: Any, fn) -> Any:
    if isinstance(value, list):
        return [_map_args(v, fn) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        k: (_map_call(v, fn) if k in CALL_FIELDS else _map_args(v, fn)) for k, v in value.items()
    }


def _map_call(value: Any, fn) -> Any:
    if isinstance(value, list):
        return [_map_call(v, fn) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        k: (fn(v) if k == ARGUMENTS and isinstance(v, str) else _map_call(v, fn))
        for k, v in value.items()
    }


def _plain_text(text: str) -> str:
    """A tagged value as text for `datasets`: a string as the user's string, an object as
    `json.dumps` writes it (its default spacing: the text glaive-style data holds)."""
    value = json.loads(text)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def untagged(table: pa.Table) -> pa.Table:
    """`table` with tagged arguments as plain strings: a string as the user's string, an
    object as its JSON text, spaced as `json.dumps` writes it (for `datasets`, which keeps
    no field metadata and cannot hold each row's own object)."""
    for i, f in enumerate(table.schema):
        if not has_tagged_arguments(f.type):
            continue
        values = [_map_args(v, _plain_text) for v in table.column(i).to_pylist()]
        t = _strip(f.type)
        table = table.set_column(i, f.with_type(t), pa.array(values, t))
    return table


def _strip(t: pa.DataType) -> pa.DataType:
    if pa.types.is_struct(t):
        return pa.struct(
            [f.remove_metadata() if is_json_field(f) else f.with_type(_strip(f.type)) for f in t]
        )
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_strip(t.value_type)))
    if pa.types.is_large_list(t):
        return pa.large_list(t.value_field.with_type(_strip(t.value_type)))
    return t


# ---------------------------------------------------------------- Arrow -> JSON text


def encode(arr: pa.Array, leaf) -> pa.Array:
    """The compact JSON text of each value of `arr` (nulls: null), tagged `arguments`
    fields (and JSON-extension values) written as the JSON they hold; `leaf` encodes
    untagged leaves (polars' writer, so numbers and strings read as in any other column)."""
    return _encode(arr, leaf, raw=False)


def _encode(arr: pa.Array, leaf, raw: bool) -> pa.Array:
    t = arr.type
    ls = pa.large_string()
    if raw:
        text = arr.cast(ls)
    elif isinstance(t, pa.BaseExtensionType) and t.extension_name == "arrow.json":
        text = arr.storage.cast(ls)  # datasets' `Json`: the JSON text of the value already
    elif pa.types.is_struct(t):
        pieces = []
        for k, f in enumerate(t):
            child = _encode(arr.field(k), leaf, raw=is_json_field(f))
            child = pc.fill_null(child.cast(ls), "null")
            key = pa.scalar(("," if k else "") + _dumps(f.name) + ":", ls)
            pieces += [key, child]
        body = (
            pc.binary_join_element_wise(*pieces, pa.scalar("", ls))
            if pieces
            else pa.array([""] * len(arr), ls)
        )
        text = pc.binary_join_element_wise(
            pa.scalar("{", ls), body, pa.scalar("}", ls), pa.scalar("", ls)
        )
    elif is_list(t) or pa.types.is_large_list(t):
        flat = arr.flatten()  # the values of non-null lists only, slice offsets applied
        items = pc.fill_null(_encode(flat, leaf, raw=False).cast(ls), "null")
        body = join_lists(arr, items, ",")
        text = pc.binary_join_element_wise(
            pa.scalar("[", ls), body, pa.scalar("]", ls), pa.scalar("", ls)
        )
    else:
        text = leaf(arr).cast(ls)
    return pc.if_else(arr.is_valid(), text, pa.scalar(None, ls))


__all__ = [
    "array_with_text_arguments",
    "decoded",
    "untagged",
    "arguments_as_text",
    "encode",
    "has_object_arguments",
    "has_tagged_arguments",
    "has_plain_arguments",
    "retag",
    "tag_arguments",
    "tagged",
]
