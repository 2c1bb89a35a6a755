"""ShareGPT's turns read as message fields: `{from, value}` turns (or `{role, content}`
turns of text) with their roles mapped, function_call turns made assistant `tool_calls`,
a `system` column made first system messages, and `chosen`/`rejected` single turns (or
turn lists) made messages; rows that cannot be read are marked with the reason."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_json_field, is_list, is_string
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers.jsonarrow import as_json_strings, decode_json_column
from trlprep.importers.messages import (
    field_of,
    flatten_lists,
    map_roles,
    messages_from,
    string_arguments,
    typed_messages,
)
from trlprep.importers.rejects import Rejections
from trlprep.importers.survey import whole_input
from trlprep.io.jsontext import dumps
from trlprep.registry import MESSAGE_FIELDS

CALL = "function_call"
# a function_call turn's `tool_calls` (arguments tagged later, with the whole column)
CALLS_TYPE = pa.list_(
    pa.struct(
        [("type", pa.string()),
         ("function", pa.struct([("name", pa.string()), ("arguments", pa.string())]))]
    )
)  # fmt: skip
# the turn fields read besides the message fields
TURN_KEYS = ("from", "value")


def text_content(turn: pa.StructType) -> bool:
    """True when `turn` has a `content` field of text (or only nulls)."""
    i = turn.get_field_index("content")
    return i >= 0 and (is_string(turn.field(i).type) or pa.types.is_null(turn.field(i).type))


def declared_fields(items: pa.Array, table: pa.Table) -> set[str]:
    """The message fields kept even where a batch's values are all null: those the turns
    are typed with, and `tool_calls` where the input has a `tools` column or a
    function_call turn. All hold over the whole input (`io.agreeing`, `whole_input`), so
    each batch's messages have the fields the input read whole gives them, wherever it is
    cut."""
    declared = set()
    if pa.types.is_struct(items.type):
        declared = {f.name for f in items.type if not pa.types.is_null(f.type)}
    if "tools" in table.column_names or CALL in (whole_input() or ()):
        declared.add("tool_calls")
    return declared & set(MESSAGE_FIELDS)


def has_calls(table: pa.Table, name: str, roles: dict[str, str]) -> bool:
    """Whether a turn of column `name` (turn lists or single turns) is a function_call."""
    col = as_array(table.column(name))
    if is_json_field(table.schema.field(name)):
        col, _ = typed_messages(table, name, _sharegpt_turn)
    if is_list(col.type):
        col = pc.list_flatten(col)
    src = field_of(col, "from")
    if src is None or not len(src):
        return False
    return bool(pc.any(pc.equal(map_roles(src, roles), CALL)).as_py())


def dropped_fields(items: pa.Array, col: str) -> list[str]:
    """A note naming the turn fields that are not carried into messages (e.g. `markdown`)."""
    if not pa.types.is_struct(items.type):
        return []
    kept = set(TURN_KEYS) | set(MESSAGE_FIELDS)
    dropped = [
        f.name
        for f in items.type
        if f.name not in kept and field_of(items, f.name).null_count < len(items)
    ]
    if not dropped:
        return []
    return [f"{col}: turn fields dropped (not message fields): {', '.join(dropped)}"]


def _sharegpt_turn(turn: Any) -> Any:
    """Python (tagged columns only): a turn with `value` as text."""
    if isinstance(turn, dict) and "value" in turn and not isinstance(turn["value"], str | None):
        turn = dict(turn, value=dumps(turn["value"]))
    return string_arguments(turn)


def turn_lists(table: pa.Table, name: str, bad: Rejections) -> pa.Array:
    """Column `name` as lists of turns (JSON-typed turns decoded); rows whose turns cannot
    be read, or that are null, marked in `bad`."""
    conv, problems = typed_messages(table, name, _sharegpt_turn)
    if problems is not None:
        bad.add_per_row(problems != None, problems)  # noqa: E711
    if pa.types.is_null(conv.type):
        conv = conv.cast(pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())])))
    if not (is_list(conv.type) and pa.types.is_struct(conv.type.value_type)):
        raise DataError(
            f"must hold lists of {{from, value}} turns, not {conv.type}",
            column=name,
            hint="pass the layout that matches the data to --from",
        )
    bad.add(~np.asarray(conv.is_valid().to_numpy(zero_copy_only=False), bool), f"{name} is null")
    return conv


def _row_mask(parent: np.ndarray, where: np.ndarray, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[parent[where]] = True
    return mask


def message_fields(
    items: pa.Array,
    parent: np.ndarray,
    roles: dict[str, str],
    bad: Rejections,
    col: str,
    n: int,
    declared: set[str],
) -> dict[str, pa.Array]:
    """Message fields of flat {from, value} turns; `tool_calls` (null where a turn is no
    function_call) wherever a turn is one or the field is `declared`."""
    m = len(items)
    src = field_of(items, "from")
    value = field_of(items, "value")
    if (src is None or value is None) and pa.types.is_struct(items.type):
        if field_of(items, "role") is not None and text_content(items.type):
            src, value = field_of(items, "role"), field_of(items, "content")
    if src is None or value is None:
        if m:
            raise DataError(
                "turns need `from` and `value` keys, or `role` and `content` of text (found "
                + ", ".join(f.name for f in items.type)
                + ")",
                column=col,
                hint=f"for {{role, content}} messages whose content is a list of parts, "
                f"--map messages={col} reads them as they are",
            )
        src = value = pa.nulls(0, pa.string())
    no_turn = np.asarray(items.is_null().to_numpy(zero_copy_only=False), bool)
    bad.add(_row_mask(parent, no_turn, n), f"{col}: a turn is null")
    no_from = np.asarray(src.is_null().to_numpy(zero_copy_only=False), bool) & ~no_turn
    bad.add(_row_mask(parent, no_from, n), f"{col}: a turn has no `from`")
    mapped = map_roles(src, roles)
    is_call = np.asarray(
        pc.fill_null(pc.equal(mapped, CALL), False).to_numpy(zero_copy_only=False), bool
    )
    value = as_json_strings(value)
    fields: dict[str, pa.Array | None] = {
        name: field_of(items, name) for name in MESSAGE_FIELDS if name not in ("role", "content")
    }
    fields["role"] = pc.if_else(pa.array(is_call), pa.scalar("assistant"), mapped)
    fields["content"] = pc.if_else(pa.array(is_call), pa.scalar(None, pa.string()), value)
    if is_call.any():
        calls, problems = _tool_calls(value.filter(pa.array(is_call)), col)
        where = np.flatnonzero(is_call)
        broken = np.zeros(m, dtype=bool)
        broken[where[problems != None]] = True  # noqa: E711
        reasons = np.full(n, None, dtype=object)
        reasons[parent[where[problems != None]]] = problems[problems != None]  # noqa: E711
        bad.add_per_row(_row_mask(parent, broken, n), reasons)
        idx = np.full(m, -1, np.int64)
        idx[where] = np.arange(len(where))
        if pa.types.is_null(calls.type):  # every call of the batch refused
            calls = calls.cast(CALLS_TYPE)
        fields["tool_calls"] = calls.take(pa.array(idx, mask=idx < 0))
    elif "tool_calls" in declared and fields["tool_calls"] is None:
        fields["tool_calls"] = pa.nulls(m, CALLS_TYPE)
    return fields


def _tool_calls(texts: pa.Array, col: str) -> tuple[pa.Array, np.ndarray]:
    """Parse function_call turn values (JSON) into tool-call lists, once per distinct value."""

    def norm(value: Any) -> tuple[Any, str | None]:
        calls = value if isinstance(value, list) else [value]
        out = []
        for call in calls:
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                return None, f'{col}: a function_call turn is not JSON {{"name", "arguments"}}'
            args = call.get("arguments", call.get("parameters", {}))
            text = dumps(args)  # the JSON text of the user's value (tagged: see jsonargs)
            out.append({"type": "function", "function": {"name": call["name"], "arguments": text}})
        return out, None

    typed, problems = decode_json_column(texts, col, norm)
    bad_json = problems == "not valid JSON"
    problems[bad_json] = f"{col}: a function_call turn is not valid JSON"
    return typed, problems


def system_messages(
    table: pa.Table, bad: Rejections
) -> tuple[dict[str, pa.Array], np.ndarray, np.ndarray] | None:
    """The `system` column's non-empty prompts as system messages (fields, rows, positions
    before the first turn); None without one."""
    if "system" not in table.column_names:
        return None
    field = table.schema.field("system")
    col = as_array(table.column("system"))
    if pa.types.is_null(col.type):
        return None
    if not is_string(col.type) or is_json_field(field):
        raise DataError("must hold text (a system prompt)", column="system")
    has = np.asarray(
        pc.fill_null(pc.not_equal(col, ""), False).to_numpy(zero_copy_only=False), bool
    )
    rows = np.flatnonzero(has)
    content = col.cast(pa.string()).take(pa.array(rows, pa.int64()))
    fields = {"role": pa.array(["system"] * len(rows), pa.string()), "content": content}
    return fields, rows, np.full(len(rows), -1, np.int64)


def single_turns(table: pa.Table, name: str, roles: dict[str, str], bad: Rejections) -> pa.Array:
    """`chosen`/`rejected`: one {from, value} turn (or a list of turns) per row -> messages."""
    n = table.num_rows
    field = table.schema.field(name)
    col = as_array(table.column(name))
    if is_json_field(field) or is_list(col.type):
        turns = turn_lists(table, name, bad)
        items, parent, _ = flatten_lists(turns)
        valid = np.asarray(turns.is_valid().to_numpy(zero_copy_only=False), bool)
    elif pa.types.is_struct(col.type):
        items, parent = col, np.arange(n, dtype=np.int64)
        valid = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), bool)
        bad.add(~valid, f"{name} is null")
        valid = np.ones(n, dtype=bool)
    else:
        raise DataError(
            f"must hold a {{from, value}} turn, not {col.type}",
            column=name,
            hint="ShareGPT preference rows hold chosen/rejected as single turns",
        )
    declared = declared_fields(items, table)
    fields = message_fields(items, parent, roles, bad, name, n, declared)
    return messages_from(fields, parent, n, valid, declared)
