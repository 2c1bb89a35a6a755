"""TRL's `maybe_convert_to_chatml`: ShareGPT-style messages (`from`/`value`) as ChatML
(`role`/`content`), for one example or a whole dataset (see `trlprep.compat.dataset`)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from trlprep.columns.arrowtypes import is_string
from trlprep.compat.dataset import CHATML_KEYS, is_example
from trlprep.compat.helpers import is_iterable_dataset, map_iterable
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.io.adapters import as_input, map_splits
from trlprep.registry import COMMON_ROLE_MAP


def _role(value: Any) -> Any:
    if isinstance(value, str):
        return COMMON_ROLE_MAP.get(value, COMMON_ROLE_MAP.get(value.lower(), value))
    return value


def _chatml_message(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    out = {}
    for key, value in message.items():
        if key == "from":
            out["role"] = value
        elif key == "value":
            out["content"] = value
        elif key == "role" and "from" in message:
            continue
        elif key == "content" and "value" in message:
            continue
        else:
            out[key] = value
    if "role" in out:
        out["role"] = _role(out["role"])
    return out


def _chatml_example(example: dict) -> dict:
    if "conversations" in example and "messages" in example:
        raise DataError(
            "the example has both `conversations` and `messages`",
            hint="drop one of them before converting to ChatML",
        )
    out = {}
    for key, value in example.items():
        if key in CHATML_KEYS and isinstance(value, list):
            value = [_chatml_message(m) for m in value]
        out["messages" if key == "conversations" else key] = value
    return out


def _chatml_messages(col: pa.ChunkedArray) -> pa.Array:
    import pyarrow.compute as pc

    arr = as_array(col)
    values = arr.values
    names = [f.name for f in values.type]
    kids = dict(zip(names, values.flatten(), strict=True))
    for old, new in (("from", "role"), ("value", "content")):
        if old in kids:
            moved = kids.pop(old)
            kids[new] = pc.coalesce(moved, kids[new].cast(moved.type)) if new in kids else moved
    order = [("role" if n == "from" else "content" if n == "value" else n) for n in names]
    order = list(dict.fromkeys(order))
    if "role" in kids and is_string(kids["role"].type):
        role = kids["role"]
        distinct = pc.unique(role)
        mapped = pa.array([_role(v) for v in distinct.to_pylist()], role.type)
        kids["role"] = mapped.take(pc.index_in(role, distinct))
    mask = pc.is_null(values) if values.null_count else None
    struct = pa.StructArray.from_arrays([kids[n] for n in order], names=order, mask=mask)
    list_mask = pc.is_null(arr) if arr.null_count else None
    offsets = arr.offsets
    if pa.types.is_large_list(arr.type):
        return pa.LargeListArray.from_arrays(offsets, struct, mask=list_mask)
    return pa.ListArray.from_arrays(offsets, struct, mask=list_mask)


def _chatml_table(data: Any) -> Any:
    inp = as_input(data)
    table = inp.table
    if "conversations" in table.column_names and "messages" in table.column_names:
        raise DataError(
            "the dataset has both `conversations` and `messages` columns",
            hint="drop one of them before converting to ChatML",
        )
    for i, name in enumerate(table.column_names):
        if name in CHATML_KEYS and is_messages_like(table.schema.field(i).type):
            new = _chatml_messages(table.column(i))
            table = table.set_column(i, "messages" if name == "conversations" else name, new)
    return inp.restore(table)


def is_messages_like(t: pa.DataType) -> bool:
    """A list of structs with a `role` or `from` field."""
    if not (pa.types.is_list(t) or pa.types.is_large_list(t)):
        return False
    v = t.value_type
    return pa.types.is_struct(v) and (
        v.get_field_index("role") >= 0 or v.get_field_index("from") >= 0
    )


def maybe_convert_to_chatml(example: Any) -> Any:
    """Convert ShareGPT-style messages (`from`/`value`) to ChatML (`role`/`content`).

    Renames the message keys `from` -> `role` and `value` -> `content` in `prompt`,
    `completion`, `chosen`, `rejected`, `messages` and `conversations`, and renames
    `conversations` to `messages`. Works on one example or a whole dataset.

    Differences from TRL:
    - role values are mapped too (`human` -> `user`, `gpt` -> `assistant`, ... as in
      `trlprep.registry.COMMON_ROLE_MAP`, case-insensitively); TRL keeps `human`/`gpt`,
      which chat templates reject;
    - the input is not modified: a new example is returned (TRL mutates its argument);
    - renamed keys keep their position in the message;
    - an example or dataset with both `conversations` and `messages` raises a `DataError`
      (TRL silently overwrites `messages`).
    """
    if is_example(example):
        return _chatml_example(example)
    if is_iterable_dataset(example):
        return map_iterable(example, _chatml_table)
    return map_splits(example, _chatml_table)


__all__ = ["is_messages_like", "maybe_convert_to_chatml"]
