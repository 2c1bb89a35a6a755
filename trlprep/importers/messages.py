"""Building TRL message lists out of flat Arrow columns: roles, tool calls, message fields.

Importers flatten a layout's turns into one row per message (a parent row index per
message), compute each message field as a whole column, and rebuild `list<struct>` columns
here. Message fields are written in the registry's order (`MESSAGE_FIELDS`); optional ones
are left out of the struct when no message of the batch has them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import JSON_FIELD_KEY, is_json_field, is_list, is_string
from trlprep.converters.arrowops import as_array
from trlprep.importers.jsonarrow import (
    as_json_strings,
    decode_json_column,
    lists_from,
    row_lengths,
    to_json_text,
)
from trlprep.io.jsonargs import tagged
from trlprep.io.jsontext import dumps, json_field
from trlprep.registry import MESSAGE_FIELDS
from trlprep.wording import article

REQUIRED_FIELDS = ("role", "content")

# the input roles (lower-cased) `map_roles` met while `roles_read` collects them
_READ: ContextVar[set[str] | None] = ContextVar("trlprep_roles_read", default=None)


@contextmanager
def roles_read() -> Iterator[set[str]]:
    """A set filled with every input role (lower-cased) `map_roles` reads inside the block:
    a --role-map key none of them is was never used."""
    seen: set[str] = set()
    token = _READ.set(seen)
    try:
        yield seen
    finally:
        _READ.reset(token)


def merged_roles(defaults: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """Role map, keys lower-cased; the user's `overrides` win over the layout's defaults."""
    out = {k.lower(): v for k, v in defaults.items()}
    out.update({k.lower(): v for k, v in overrides.items()})
    return out


def map_roles(roles: pa.Array, mapping: Mapping[str, str]) -> pa.Array:
    """Replace role names by `mapping` (keys matched case-insensitively; others kept)."""
    roles = as_array(roles).cast(pa.string())
    if not mapping or len(roles) == 0:
        return roles
    seen = _READ.get()
    if seen is not None:
        seen.update(r for r in pc.unique(pc.utf8_lower(roles)).to_pylist() if r is not None)
    keys = pa.array(list(mapping), pa.string())
    values = pa.array(list(mapping.values()), pa.string())
    idx = pc.index_in(pc.utf8_lower(roles), keys)
    return pc.if_else(pc.is_null(idx), roles, values.take(idx))


def field_of(struct: pa.Array, name: str) -> pa.Array | None:
    """A struct field with the struct's nulls applied (None when the field is absent)."""
    t = struct.type
    if not pa.types.is_struct(t) or t.get_field_index(name) < 0:
        return None
    return struct.flatten()[t.get_field_index(name)]


def message_struct(
    fields: Mapping[str, pa.Array | None], declared: Collection[str] = ()
) -> pa.StructArray:
    """Messages from per-message field columns, in registry order; all-null optional
    fields are left out, but for those of `declared` (fields the input's own type holds)."""
    names, arrays = [], []
    for name in MESSAGE_FIELDS:
        arr = fields.get(name)
        if arr is None:
            continue
        # a declared field is kept by its type, not its values: null in one batch of a file
        # that holds it elsewhere, it is kept (null) as in the file read whole
        if name in declared and not pa.types.is_null(arr.type):
            pass
        elif name not in REQUIRED_FIELDS and arr.null_count == len(arr):
            continue
        names.append(name)
        arrays.append(as_array(arr))
    return pa.StructArray.from_arrays(arrays, names=names)


def messages_from(
    fields: Mapping[str, pa.Array | None],
    parent: np.ndarray,
    n_rows: int,
    valid: np.ndarray | None = None,
    declared: Collection[str] = (),
) -> pa.Array:
    """`list<struct>` rows from per-message fields; `parent` (non-decreasing) gives each
    message's row; `declared`: as `message_struct`."""
    lengths = (
        np.bincount(parent, minlength=n_rows).astype(np.int64)
        if len(parent)
        else (np.zeros(n_rows, np.int64))
    )
    return lists_from(message_struct(fields, declared), lengths, valid)


def flatten_lists(arr: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """(items, parent row per item, position of each item within its row)."""
    arr = as_array(arr)
    items = pc.list_flatten(arr)
    parent = np.asarray(pc.list_parent_indices(arr).to_numpy(zero_copy_only=False), np.int64)
    lengths = row_lengths(arr)
    starts = np.cumsum(lengths) - lengths
    pos = np.arange(len(items), dtype=np.int64) - starts[parent] if len(items) else parent
    return items, parent, pos


def interleave(
    parts: list[tuple[Mapping[str, pa.Array | None], np.ndarray, np.ndarray]],
) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Merge several sets of messages (fields, parent row, sort key) into one, ordered by
    (row, key). Used to put a `system` column's message before a row's turns."""
    names = [n for n in MESSAGE_FIELDS if any(p[0].get(n) is not None for p in parts)]
    columns: dict[str, pa.Array] = {}
    for name in names:
        arrays = []
        for fields, _parent, _ in parts:
            arr = fields.get(name)
            arrays.append(as_array(arr) if arr is not None else None)
        target = (
            next(a.type for a in arrays if a is not None and not pa.types.is_null(a.type))
            if any(a is not None and not pa.types.is_null(a.type) for a in arrays)
            else pa.null()
        )
        filled = [
            (a.cast(target) if a is not None else pa.nulls(len(p[1]), target))
            for a, p in zip(arrays, parts, strict=True)
        ]
        columns[name] = pa.concat_arrays(filled)
    parent = np.concatenate([p[1] for p in parts])
    key = np.concatenate([p[2] for p in parts])
    order = np.lexsort((key, parent))
    take = pa.array(order, pa.int64())
    return {k: v.take(take) for k, v in columns.items()}, parent[order]


# ---------------------------------------------------------------- tool calls


def normalise_tool_calls(calls: pa.Array) -> pa.Array:
    """Tool calls as `[{id?, type, function: {name, arguments: JSON text}}]`.

    Accepts the OpenAI layout (`{id, type, function: {name, arguments}}`) and the flat one
    (`{name, arguments}`); arguments that are objects become their JSON text.
    """
    calls = as_array(calls)
    if pa.types.is_null(calls.type) or not is_list(calls.type):
        return calls
    items = pc.list_flatten(calls)
    if not pa.types.is_struct(items.type):
        return calls
    fn = field_of(items, "function")
    source = fn if fn is not None and pa.types.is_struct(fn.type) else items
    name = field_of(source, "name")
    key = "arguments" if source.type.get_field_index("arguments") >= 0 else "parameters"
    args = field_of(source, key)
    n = len(items)
    name = name.cast(pa.string()) if name is not None else pa.nulls(n, pa.string())
    # strings are the user's (OpenAI's) JSON text; JSON text already tagged or objects
    # (typed by Arrow) are kept as tagged JSON text (see trlprep.io.jsonargs)
    as_text = args is not None and (
        is_json_field(source.type.field(key)) or not (is_string(args.type) or _null(args))
    )
    args = as_json_strings(args) if args is not None else pa.nulls(n, pa.string())
    args_field = pa.field("arguments", pa.string())
    if as_text:
        args_field = args_field.with_metadata({JSON_FIELD_KEY: b"1"})
    function = pa.StructArray.from_arrays(
        [name, args], fields=[pa.field("name", pa.string()), args_field]
    )
    kind = field_of(items, "type")
    kind = (
        pc.fill_null(kind.cast(pa.string()), "function")
        if kind is not None
        else (pa.array(["function"] * n, pa.string()))
    )
    names, arrays = [], []
    call_id = field_of(items, "id")
    if call_id is not None and call_id.null_count < n:
        names.append("id")
        arrays.append(call_id.cast(pa.string()))
    names += ["type", "function"]
    arrays += [kind, function]
    struct = pa.StructArray.from_arrays(arrays, names=names)
    valid = np.asarray(calls.is_valid().to_numpy(zero_copy_only=False), bool)
    return lists_from(struct, row_lengths(calls), valid)


def _null(arr: pa.Array) -> bool:
    return pa.types.is_null(arr.type)


def tools_as_text(table: pa.Table, name: str = "tools") -> pa.Table:
    """A `tools` column of objects becomes the JSON text of each row's list, tagged so that
    it is written back as that list (Arrow would give every row the union of all rows'
    schema keys); a column of strings stays as it is."""
    i = table.schema.get_field_index(name)
    if i < 0:
        return table
    field = table.schema.field(i)
    col = table.column(i)
    if is_string(col.type) and not is_json_field(field):
        return table
    if pa.types.is_null(col.type):
        return table
    if is_json_field(field):
        text = as_array(col).cast(pa.string())  # already the JSON text of each row
    else:
        text = to_json_text(col)
    return table.set_column(i, json_field(name), text)


def string_arguments(message: Any) -> Any:
    """Python: a message dict with every tool call's `arguments` as the JSON text of its
    value (a string as its JSON literal: the column is then tagged, see jsonargs)."""
    if not isinstance(message, dict):
        return message
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        message = dict(message)
        message["tool_calls"] = [_call_with_text(c) for c in calls]
    call = message.get("function_call")
    if isinstance(call, dict):
        message = dict(message)
        message["function_call"] = _call_with_text(call)
    return message


def _call_with_text(call: Any) -> Any:
    if not isinstance(call, dict):
        return call
    call = dict(call)
    fn = call.get("function")
    if isinstance(fn, dict):
        fn = dict(fn)
        if fn.get("arguments") is not None:
            fn["arguments"] = dumps(fn["arguments"])
        call["function"] = fn
    elif call.get("arguments") is not None:
        call["arguments"] = dumps(call["arguments"])
    return call


def typed_messages(
    table: pa.Table, name: str, normalise_message
) -> tuple[pa.Array, np.ndarray | None]:
    """Column `name` as a typed list of message structs.

    A tagged JSON-text column (rows whose values disagree in kind, e.g. tool-call arguments
    that are objects here and strings there) is parsed once per distinct value, each message
    passed through `normalise_message`; returns the array and per-row problems (or None).
    """
    field = table.schema.field(name)
    col = table.column(name)
    if not is_json_field(field):
        return as_array(col), None

    def norm(value: Any) -> tuple[Any, str | None]:
        if not isinstance(value, list):
            return None, f"{name} is {article(type(value).__name__)}, not a list of messages"
        if not all(isinstance(m, dict) for m in value):
            return None, f"{name} holds an item that is not a message object"
        return [normalise_message(m) for m in value], None

    arr, problems = decode_json_column(col, name, norm)
    return arr.cast(tagged(arr.type)), problems
