"""OpenAI chat fine-tuning JSONL -> conversational language modeling (or preference).

Chat layout: `{"messages": [...], "tools": [...], "parallel_tool_calls": ...}` per row.
Messages keep `role`, `content` (text or a list of parts), `tool_calls`, `tool_call_id`,
`name`, `weight` (OpenAI's per-assistant-message 0/1 training weight; xtuner's `loss:
false/true` becomes weight 0/1) and the reasoning
fields of `registry.MESSAGE_FIELDS`; other message fields are dropped (and named in the
notes). Tool calls become `{id?, type, function: {name, arguments}}` with `arguments` as
JSON text: OpenAI writes them as strings, other exporters as objects, and a file mixing both
is read as JSON text per row (Arrow has no single type for it) and normalised here.
The legacy `function_call` field of assistant messages becomes one tool call, and the
legacy `function` role becomes `tool`. `tools` is kept as JSON text; the legacy `functions`
column (bare function schemas, as ToolBench's trajectories hold them) becomes `tools` where
the row has no `tools`. Data in the legacy shape is read as this layout even without
`--from` (`reads_over_trl`): TRL reads neither `function_call` nor a `functions` column.

Preference layout (OpenAI's DPO fine-tuning format): `input` = `{messages, tools?}`,
`preferred_output`, `non_preferred_output` (assistant message lists) -> preference with
explicit prompt (`prompt`, `chosen`, `rejected`, `tools`).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths
from trlprep.columns.arrowtypes import is_json_field, is_messages
from trlprep.columns.textparts import MARK, has_marks, without_marks
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
from trlprep.importers.jsonarrow import decode_json_column, lists_from
from trlprep.importers.messages import (
    field_of,
    flatten_lists,
    map_roles,
    merged_roles,
    messages_from,
    normalise_tool_calls,
    string_arguments,
    tools_as_text,
    typed_messages,
)
from trlprep.io.jsontext import LEGACY_TOOLS, dumps, json_field
from trlprep.registry import LANGUAGE_MODELING, MESSAGE_FIELDS, PREFERENCE, DatasetType, Format

DEFAULT_ROLES = {"function": "tool"}
PREF_COLUMNS = ("input", "preferred_output", "non_preferred_output")
_OPENAI_FIELDS = ("weight", "tool_calls", "function_call")
_LOSS_FLAG = ("loss",)  # xtuner's per-message training switch


class OpenAIChat(Importer):
    name = "openai-chat"
    aliases = ("openai",)
    description = (
        "OpenAI chat fine-tuning rows (messages with tool_calls, tool role and per-message "
        "weight; tools) -> conversational language modeling, weights kept, tool-call "
        "arguments as JSON text. OpenAI's preference layout (input.messages, preferred_output, "
        "non_preferred_output) -> conversational preference."
    )
    reads = (
        "messages [+ tools or functions]  |  input{messages, tools}, preferred_output, "
        "non_preferred_output"
    )
    columns = ("messages", "tools", LEGACY_TOOLS, *PREF_COLUMNS)

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        if all(c in schema.names for c in PREF_COLUMNS):
            return True
        i = schema.get_field_index("messages")
        if i < 0:
            return False
        field = schema.field(i)
        if is_json_field(field):
            return True
        t = field.type
        return is_messages(t) and any(t.value_type.get_field_index(f) >= 0 for f in _OPENAI_FIELDS)

    def reads_over_trl(self, schema: pa.Schema) -> bool:
        return legacy_functions(schema)

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        pref = all(c in schema.names for c in PREF_COLUMNS)
        return (PREFERENCE if pref else LANGUAGE_MODELING), Format.CONVERSATIONAL

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        roles = merged_roles(DEFAULT_ROLES, opts.role_map)
        dtype, _ = self.landing(schema, opts)
        lines = [
            "roles: " + ", ".join(f"{k}->{v}" for k, v in roles.items()) + " (others kept)",
            "tool_calls: arguments as JSON text; legacy function_call -> one tool call",
            "message fields kept: " + ", ".join(MESSAGE_FIELDS),
        ]
        if _renames_functions(schema):
            lines.append(
                "functions -> tools (OpenAI's legacy name), each schema as "
                "{type: function, function: ...}"
            )
        if dtype is PREFERENCE:
            lines.append(
                "input.messages -> prompt; preferred_output -> chosen; "
                "non_preferred_output -> rejected; input.tools -> tools"
            )
        return lines

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        roles = merged_roles(DEFAULT_ROLES, opts.role_map)
        dtype, _ = self.landing(table.schema, opts)
        notes: list[str] = []
        if dtype is PREFERENCE:
            produced, consumed = _preference(table, roles, bad, notes)
        else:
            require(table, "messages", layout="openai-chat")
            msgs = _message_column(table, "messages", bad)
            produced = {"messages": normalise_messages(msgs, roles, bad, "messages", notes)}
            consumed = ("messages",)
        if _renames_functions(table.schema):
            produced["tools"] = _as_tools(tools_as_text(table, LEGACY_TOOLS).column(LEGACY_TOOLS))
            consumed = (*consumed, LEGACY_TOOLS)
            notes.append("functions -> tools: each schema as {type: function, function: ...}")
        out = assemble(tools_as_text(table), produced, consumed)
        if LEGACY_TOOLS in consumed:  # JSON text of each row's list, written back as the list
            i = out.schema.get_field_index("tools")
            out = out.set_column(i, json_field("tools"), out.column(i))
        if "tools" in produced:
            out = tools_as_text(out)
        return Converted(out, notes=notes)


def legacy_functions(schema: pa.Schema) -> bool:
    """True for OpenAI's legacy function calling: messages with a `function_call` field, or
    a `functions` column of schemas beside `messages` (and no `tools`)."""
    i = schema.get_field_index("messages")
    if i < 0:
        return False
    t = schema.field(i).type
    if is_messages(t) and t.value_type.get_field_index("function_call") >= 0:
        return True
    return _renames_functions(schema)


def _renames_functions(schema: pa.Schema) -> bool:
    return LEGACY_TOOLS in schema.names and "tools" not in schema.names


def _as_tools(texts: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Each row's JSON text of legacy `functions` (bare schemas) as the JSON text of `tools`
    (`{"type": "function", "function": schema}`, as OpenAI's `tools` wraps them), so that
    templates reading `tool.function` render them; each distinct list is parsed once."""
    encoded = as_array(texts).cast(pa.string()).dictionary_encode()
    wrapped = [_wrapped(t) for t in encoded.dictionary.to_pylist()]
    return pa.array(wrapped, pa.string()).take(encoded.indices)


def _wrapped(text: str | None) -> str | None:
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        return text  # not JSON: validation's `invalid-tools` names the row
    if not isinstance(value, list):
        return text
    return dumps([
        {"type": "function", "function": f}
        if isinstance(f, dict) and not isinstance(f.get("function"), dict) else f
        for f in value
    ])  # fmt: skip


def _message_column(table: pa.Table, name: str, bad: Rejections) -> pa.Array:
    msgs, problems = typed_messages(table, name, string_arguments)
    if problems is not None:
        bad.add_per_row(problems != None, problems)  # noqa: E711
    return _check_messages_type(msgs, name, bad)


def _check_messages_type(msgs: pa.Array, name: str, bad: Rejections) -> pa.Array:
    if pa.types.is_null(msgs.type):
        bad.add(np.ones(len(msgs), bool), f"{name} is null")
        return msgs
    if not is_messages(msgs.type):
        raise DataError(
            f"must hold lists of {{role, content}} messages, not {msgs.type}",
            column=name,
            hint="for {from, value} turns use --from sharegpt",
        )
    bad.add(~np.asarray(msgs.is_valid().to_numpy(zero_copy_only=False), bool), f"{name} is null")
    return msgs


def normalise_messages(
    msgs: pa.Array, roles: dict[str, str], bad: Rejections, name: str, notes: list[str]
) -> pa.Array:
    """OpenAI messages -> TRL messages (roles mapped, tool calls normalised)."""
    n = len(msgs)
    if has_marks(msgs.type):  # contents given as strings beside parts: flags kept
        return _marks_kept(msgs, lambda m: normalise_messages(m, roles, bad, name, notes))
    if pa.types.is_null(msgs.type):
        return msgs
    items, parent, _ = flatten_lists(msgs)
    known = (*MESSAGE_FIELDS, "function_call", *_LOSS_FLAG)
    dropped = [f.name for f in items.type if f.name not in known]
    if dropped:
        said = ", ".join(repr(d) for d in dropped)  # quoted: a field named `valid` reads as a word
        notes.append(f"{name}: message fields dropped (no TRL message field): {said}")
    fields: dict[str, Any] = {f: field_of(items, f) for f in MESSAGE_FIELDS}
    fields["weight"] = _loss_as_weight(items, fields.get("weight"), notes, name)
    fields["role"] = map_roles(fields["role"], roles)
    calls = fields.get("tool_calls")
    if calls is not None:
        calls = normalise_tool_calls(calls)
    legacy = field_of(items, "function_call")
    if legacy is not None and pa.types.is_struct(legacy.type):
        old = _legacy_calls(legacy)
        if calls is None or pa.types.is_null(calls.type):
            calls = old
        else:
            old = old.cast(calls.type)
            calls = pc.if_else(pc.is_null(calls), old, calls)
    fields["tool_calls"] = calls
    valid = np.asarray(msgs.is_valid().to_numpy(zero_copy_only=False), bool)
    # the fields the input's messages are typed with (over the whole input: `io.agreeing`)
    declared = {f.name for f in items.type if not pa.types.is_null(f.type)}
    if "function_call" in declared:
        declared.add("tool_calls")
    if _LOSS_FLAG[0] in declared:
        declared.add("weight")
    return messages_from(fields, parent, n, valid, declared)


def _loss_as_weight(
    items: pa.Array, weight: pa.Array | None, notes: list[str], name: str
) -> pa.Array | None:
    """xtuner's per-message `loss: true/false` as OpenAI's `weight` 1/0 (a weight given
    wins); `loss` that is not true/false is dropped, as other unknown fields are."""
    loss = field_of(items, _LOSS_FLAG[0])
    if loss is None or not pa.types.is_boolean(loss.type):
        if loss is not None and not pa.types.is_null(loss.type):
            notes.append(f"{name}: message field loss dropped (not true/false)")
        return weight
    as_weight = loss.cast(pa.float64())
    if weight is None or pa.types.is_null(weight.type):
        out = as_weight
    else:
        out = pc.if_else(pc.is_null(weight), as_weight, weight.cast(pa.float64()))
    if loss.null_count < len(loss):
        notes.append(f"{name}: message field loss -> weight (false: 0, true: 1)")
    return out


def _legacy_calls(fc: pa.Array) -> pa.Array:
    """`function_call: {name, arguments}` -> a one-item tool-call list (null where absent)."""
    valid = np.asarray(fc.is_valid().to_numpy(zero_copy_only=False), bool)
    calls = pc.filter(fc, pa.array(valid))
    one = lists_from(calls, np.ones(len(calls), np.int64))
    normalised = normalise_tool_calls(one)
    idx = np.full(len(fc), -1, np.int64)
    idx[valid] = np.arange(int(valid.sum()))
    return normalised.take(pa.array(idx, mask=idx < 0))


def _preference(table: pa.Table, roles, bad: Rejections, notes: list[str]):
    inp = as_array(table.column("input"))
    if is_json_field(table.schema.field("input")):
        inp, problems = decode_json_column(inp, "input", _input_value)
        bad.add_per_row(problems != None, problems)  # noqa: E711
    if not (pa.types.is_struct(inp.type) and inp.type.get_field_index("messages") >= 0):
        raise DataError(f"must hold {{messages, tools}} objects, not {inp.type}", column="input")
    bad.add(~np.asarray(inp.is_valid().to_numpy(zero_copy_only=False), bool), "input is null")
    prompt = _check_messages_type(field_of(inp, "messages"), "input.messages", bad)
    produced = {"prompt": normalise_messages(prompt, roles, bad, "input.messages", notes)}
    for src, dst in (("preferred_output", "chosen"), ("non_preferred_output", "rejected")):
        msgs = _message_column(table, src, bad)
        produced[dst] = normalise_messages(msgs, roles, bad, src, notes)
    # input.tools -> tools; other input fields (parallel_tool_calls, ...) become columns
    for f in inp.type:
        if f.name == "messages":
            continue
        values = field_of(inp, f.name)
        if pa.types.is_null(values.type) and f.name == "tools":
            continue
        if f.name in table.column_names:
            raise DataError(f"both `{f.name}` and `input.{f.name}` are present", column=f.name)
        produced[f.name] = values
    return produced, PREF_COLUMNS


def _input_value(value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, dict) or not isinstance(value.get("messages"), list):
        return None, "input is not an object with a `messages` list"
    out = dict(value, messages=[string_arguments(m) for m in value["messages"]])
    return out, None


def _marks_kept(msgs: pa.Array, normalise: Any) -> pa.Array:
    """`normalise` over messages without their string flags (`columns.textparts`), the
    flags put back on its messages (one out per message in, in order)."""
    msgs = as_array(msgs)
    marks = pc.struct_field(pc.list_flatten(msgs), MARK)
    out = normalise(without_marks(msgs))
    flat = pc.list_flatten(out)
    if not is_messages(out.type) or len(flat) != len(marks):
        return out
    fields = [*out.type.value_type, pa.field(MARK, pa.bool_())]
    children = [flat.field(k) for k in range(flat.type.num_fields)] + [marks]
    values = pa.StructArray.from_arrays(
        children, fields=fields, mask=flat.is_null() if flat.null_count else None
    )
    lengths = list_lengths(out)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    return pa.ListArray.from_arrays(offsets, values, mask=out.is_null() if out.null_count else None)
