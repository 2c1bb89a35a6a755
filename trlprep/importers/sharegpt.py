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

import numpy as np
import pyarrow as pa

from trlprep.columns.arrowtypes import is_json_field, is_list, is_string
from trlprep.converters.arrowops import as_array
from trlprep.importers.base import (
    Converted,
    Importer,
    ImportOptions,
    Rejections,
    assemble,
    require,
)
from trlprep.importers.mapping import as_messages
from trlprep.importers.messages import (
    flatten_lists,
    interleave,
    merged_roles,
    messages_from,
    tools_as_text,
)
from trlprep.importers.namedimages import named, named_as_images
from trlprep.importers.sharegptturns import (
    CALL,
    declared_fields,
    dropped_fields,
    has_calls,
    message_fields,
    single_turns,
    system_messages,
    text_content,
    turn_lists,
)
from trlprep.io.jsonargs import tagged
from trlprep.registry import (
    COMMON_ROLE_MAP,
    LANGUAGE_MODELING,
    PREFERENCE,
    PROMPT_COMPLETION,
    PROMPT_ONLY,
    DatasetType,
    Format,
)

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
            if name in table.column_names and has_calls(table, name, roles):
                return {CALL}
        return set()

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        col = turns_column(table.schema) or TURNS
        require(table, col, layout="sharegpt")
        n = table.num_rows
        roles = merged_roles(DEFAULT_ROLES, opts.role_map)
        dtype, _ = self.landing(table.schema, opts)
        conv = turn_lists(table, col, bad)
        items, parent, pos = flatten_lists(conv)
        notes = dropped_fields(items, col)
        declared = declared_fields(items, table)
        fields = message_fields(items, parent, roles, bad, col, n, declared)
        parts = [(fields, parent, pos)]
        system = system_messages(table, bad)
        if system is not None:
            parts.append(system)
        fields, parent = interleave(parts)
        valid = np.asarray(conv.is_valid().to_numpy(zero_copy_only=False), bool)
        messages = messages_from(fields, parent, n, valid, declared)
        produced: dict[str, pa.Array] = {}
        if dtype is PREFERENCE:
            produced["prompt"] = messages
            for name in ("chosen", "rejected"):
                produced[name] = single_turns(table, name, roles, bad)
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
        if name == TURNS and turn.get_field_index("role") >= 0 and text_content(turn):
            return name
    return None


NAMED_NOTE = (
    "column 'image' (MiniCPM-V's named images): `<image_NN>` made `<image>`, the images "
    "listed in `images` in the order they stand"
)
