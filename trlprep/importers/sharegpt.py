"""ShareGPT: `conversations` of `{from, value}` turns (or `{role, content}` turns of text, as
MiniCPM-V writes them) -> conversational messages.

Roles: human -> user, gpt -> assistant, system -> system, observation/tool -> tool, plus
the usual aliases (`registry.COMMON_ROLE_MAP`); `ImportOptions.role_map` overrides any of
them. A `function_call` turn holds the JSON of a call (`{"name", "arguments"}`, or a list
of them); it becomes an assistant message with no content and `tool_calls` of
`{"type": "function", "function": {"name", "arguments"}}`, arguments kept as the JSON
text of the user's value in a tagged field (`jsonargs`): written back as the object (or the
exact string) the turn held, handed to templates parsed. With a `tools` column, or where
any turn of the input is a function_call (the whole file, however it is read in batches:
`importers.survey`), every message has `tool_calls` (null where it has none), and a turn
field of the input's type (`name`, `weight`, ...) is kept in every batch, null where a
batch has no value of it. An
optional `system` column becomes a first system message; `tools` is kept as JSON text.
Conversations are kept as they are otherwise: one that opens with the assistant stays that
way (chat templates that demand a user turn first refuse it when rendering).

MiniCPM-V's named images (`image` an object of `<image_NN>` names) become `<image>`
placeholders and `images` (`namedimages`).

Layouts: `conversations` alone -> language modeling (`messages`); `conversations` with
`chosen` and `rejected` single turns (or turn lists), LLaMA-Factory's preference layout ->
preference with explicit prompt. Turns under `messages` instead are read the same way; under
`prompt` (Open-Reasoner-Zero's RL prompts beside `final_answer`) they land on prompt-only
(`prompt`), prompt-completion with a text `completion` (one assistant message; `--map
completion=final_answer`), or preference with `chosen` and `rejected`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_json_field, is_list, is_string
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers.base import (
    Converted,
    Importer,
    ImportOptions,
    Rejections,
    assemble,
    require,
)
from trlprep.importers.jsonarrow import as_json_strings, decode_json_column
from trlprep.importers.mapping import as_messages
from trlprep.importers.messages import (
    field_of,
    flatten_lists,
    interleave,
    map_roles,
    merged_roles,
    messages_from,
    string_arguments,
    tools_as_text,
    typed_messages,
)
from trlprep.importers.namedimages import named, named_as_images
from trlprep.importers.survey import whole_input
from trlprep.io.jsonargs import tagged
from trlprep.io.jsontext import dumps
from trlprep.registry import (
    COMMON_ROLE_MAP,
    LANGUAGE_MODELING,
    MESSAGE_FIELDS,
    PREFERENCE,
    PROMPT_COMPLETION,
    PROMPT_ONLY,
    DatasetType,
    Format,
)

CALL = "function_call"
DEFAULT_ROLES: dict[str, str] = {
    **COMMON_ROLE_MAP,
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
    "observation": "tool",
    "tool": "tool",
    CALL: CALL,
}
CONSUMED = ("conversations", "system", "chosen", "rejected")
# the columns that may hold the turns, `conversations` first (the others only as turn lists)
TURN_COLUMNS = ("conversations", "messages", "prompt")
# a function_call turn's `tool_calls` (arguments tagged later, with the whole column)
CALLS_TYPE = pa.list_(
    pa.struct(
        [("type", pa.string()),
         ("function", pa.struct([("name", pa.string()), ("arguments", pa.string())]))]
    )
)  # fmt: skip


class ShareGPT(Importer):
    name = "sharegpt"
    aliases = ("share-gpt",)
    description = (
        "ShareGPT conversations ({from, value} turns) -> conversational messages. Roles "
        "human/gpt/system/observation/tool map to user/assistant/system/tool/tool (override "
        "with --role-map); function_call turns become assistant tool_calls (arguments as JSON "
        "text); a `system` column becomes the first message. With `chosen`/`rejected` turns "
        "the rows land on preference (conversations = the prompt)."
    )
    reads = "conversations [+ system, tools] [+ chosen, rejected]"
    columns = (*CONSUMED, "tools")

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        return turns_column(schema) is not None

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        if "chosen" in schema.names and "rejected" in schema.names:
            return PREFERENCE, Format.CONVERSATIONAL
        if turns_column(schema) == "prompt":  # RL prompts (Open-Reasoner-Zero), answered or not
            answered = _text(schema, "completion")
            return (PROMPT_COMPLETION if answered else PROMPT_ONLY), Format.CONVERSATIONAL
        return LANGUAGE_MODELING, Format.CONVERSATIONAL

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        roles = merged_roles(DEFAULT_ROLES, opts.role_map)
        shown = ", ".join(
            f"{k}->{'assistant tool_calls' if v == CALL else v}" for k, v in roles.items()
        )
        dtype, _ = self.landing(schema, opts)
        lines = [f"roles: {shown}"]
        if "system" in schema.names:
            lines.append("column `system`: prepended as a system message where not empty")
        col = turns_column(schema) or TURNS
        if dtype is PREFERENCE:
            lines.append(f"{col} -> prompt; chosen/rejected turns -> chosen/rejected")
        else:
            lines.append(f"{col} -> {_output(dtype)}")
        return lines

    def sources(self, schema: pa.Schema, opts: ImportOptions) -> dict[str, str]:
        dtype, _ = self.landing(schema, opts)
        return {_output(dtype): turns_column(schema) or TURNS}

    def survey(self, table: pa.Table, opts: ImportOptions) -> set[str]:
        """`{"function_call"}` where a turn of the batch is one (after --role-map)."""
        roles = merged_roles(DEFAULT_ROLES, opts.role_map)
        for name in (turns_column(table.schema) or TURNS, "chosen", "rejected"):
            if name in table.column_names and _has_calls(table, name, roles):
                return {CALL}
        return set()

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        col = turns_column(table.schema) or TURNS
        require(table, col, layout="sharegpt")
        n = table.num_rows
        roles = merged_roles(DEFAULT_ROLES, opts.role_map)
        dtype, _ = self.landing(table.schema, opts)
        conv = _turn_lists(table, col, bad)
        items, parent, pos = flatten_lists(conv)
        notes = _dropped_fields(items, col)
        declared = _declared(items, table)
        fields = _messages(items, parent, roles, bad, col, n, declared)
        parts = [(fields, parent, pos)]
        system = _system_messages(table, bad)
        if system is not None:
            parts.append(system)
        fields, parent = interleave(parts)
        valid = np.asarray(conv.is_valid().to_numpy(zero_copy_only=False), bool)
        messages = messages_from(fields, parent, n, valid, declared)
        produced: dict[str, pa.Array] = {}
        if dtype is PREFERENCE:
            produced["prompt"] = messages
            for name in ("chosen", "rejected"):
                produced[name] = _single_turns(table, name, roles, bad)
        else:
            produced[_output(dtype)] = messages
        consumed = (*CONSUMED, col)
        if "image" in table.column_names and named(image := as_array(table.column("image"))):
            key = "prompt" if dtype is PREFERENCE else _output(dtype)
            produced[key], produced["images"] = named_as_images(produced[key], image, bad)
            consumed = (*consumed, "image")
            notes.append(NAMED_NOTE)
        produced = {k: v.cast(tagged(v.type)) for k, v in produced.items()}
        out = assemble(tools_as_text(table), produced, consumed)
        if dtype is PROMPT_COMPLETION:  # a text answer beside the turns: one assistant message
            out, _ = as_messages(out)
        return Converted(out, notes=notes)


TURNS = "conversations"


def _text(schema: pa.Schema, name: str) -> bool:
    return name in schema.names and is_string(schema.field(name).type)


def _output(dtype: DatasetType) -> str:
    """The column the conversations land in: `prompt` (preference, prompt-only) or `messages`."""
    return "messages" if dtype is LANGUAGE_MODELING else "prompt"


def turns_column(schema: pa.Schema) -> str | None:
    """The column holding the conversations' `{from, value}` turns: `conversations`
    (turn lists, or JSON-typed turns whose values differ in kind), else `messages` or
    `prompt` holding turn lists; None when no column does."""
    for name in TURN_COLUMNS:
        i = schema.get_field_index(name)
        if i < 0:
            continue
        if name == TURNS and is_json_field(schema.field(i)):
            return name
        t = schema.field(i).type
        if not (is_list(t) and pa.types.is_struct(t.value_type)):
            continue
        turn = t.value_type
        if turn.get_field_index("from") >= 0 and turn.get_field_index("value") >= 0:
            return name
        # `conversations` of `{role, content}` turns of text (MiniCPM-V's fine-tuning data,
        # LLaMA-Factory's sharegpt with role/content tags)
        if name == TURNS and turn.get_field_index("role") >= 0 and _text_content(turn):
            return name
    return None


TURN_KEYS = ("from", "value")
NAMED_NOTE = (
    "column 'image' (MiniCPM-V's named images): `<image_NN>` made `<image>`, the images "
    "listed in `images` in the order they stand"
)
# the same turns written as messages (`{role, content}`, content text)
MESSAGE_KEYS = ("role", "content")


def _text_content(turn: pa.StructType) -> bool:
    """True when `turn` has a `content` field of text (or only nulls)."""
    i = turn.get_field_index("content")
    return i >= 0 and (is_string(turn.field(i).type) or pa.types.is_null(turn.field(i).type))


def _declared(items: pa.Array, table: pa.Table) -> set[str]:
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


def _has_calls(table: pa.Table, name: str, roles: dict[str, str]) -> bool:
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


def _dropped_fields(items: pa.Array, col: str) -> list[str]:
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


def _turn_lists(table: pa.Table, name: str, bad: Rejections) -> pa.Array:
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


def _messages(
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
        if field_of(items, "role") is not None and _text_content(items.type):
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


def _system_messages(table: pa.Table, bad: Rejections):
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


def _single_turns(table: pa.Table, name: str, roles: dict[str, str], bad: Rejections) -> pa.Array:
    """`chosen`/`rejected`: one {from, value} turn (or a list of turns) per row -> messages."""
    n = table.num_rows
    field = table.schema.field(name)
    col = as_array(table.column(name))
    if is_json_field(field) or is_list(col.type):
        turns = _turn_lists(table, name, bad)
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
    declared = _declared(items, table)
    fields = _messages(items, parent, roles, bad, name, n, declared)
    return messages_from(fields, parent, n, valid, declared)
