"""ms-swift's own layouts (modelscope/ms-swift) -> conversational TRL rows.

- `query`, `response`, optional `system`, `history` ([query, response] pairs) and
  `rejected_response`: prompt = [system message] + the history turns (user, assistant) + a
  user message `query`; with `rejected_response` -> preference (chosen: assistant
  `response`, rejected: assistant `rejected_response`), else prompt-completion (completion:
  assistant `response`). The history answers are context, not trained on: a trainer on
  prompt-completion learns the last response only. Qwen-VL's `<img>X</img>` tags in the
  prompt become `<image>` placeholders with X in `images` (`imgtags`), as ms-swift reads them.
- `conversation` of `{human, assistant}` pairs, optional `system` -> language modeling
  (`messages`): [system] + user, assistant for each pair.
- `messages` ending on the chosen answer beside `rejected_response` (ms-swift's DPO rows)
  -> preference: prompt = the messages before the last, chosen = the last, rejected =
  assistant `rejected_response`. Read so without `--from`: as language modeling the
  rejected answer would be dropped.

ms-swift turns every layout into messages before its template renders them, so the rows
land conversational: a chat template frames them (`--chat-template`). An empty `system`
counts as none, as it does for the alpaca layout.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list, is_string
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers.alpaca import _conversational, _history, _nonempty, _text, system_turns
from trlprep.importers.base import (
    Converted,
    Importer,
    ImportOptions,
    Rejections,
    assemble,
    require,
)
from trlprep.importers.imgtags import tags_as_images
from trlprep.importers.jsonarrow import lists_from, row_lengths
from trlprep.importers.messages import field_of, flatten_lists, interleave, messages_from
from trlprep.registry import LANGUAGE_MODELING, PREFERENCE, PROMPT_COMPLETION, DatasetType, Format

CONSUMED = ("query", "response", "rejected_response", "system", "history", "conversation")
PAIR = "[query, response]"


class Swift(Importer):
    name = "swift"
    aliases = ("ms-swift", "modelscope-swift")
    description = (
        "ms-swift rows -> conversational TRL rows: query, response [+ system, history of "
        "[query, response] pairs] -> prompt-completion, prompt = [system] + history turns + "
        "user(query), completion = assistant(response); with rejected_response -> "
        "preference; messages ending on the chosen answer + rejected_response -> "
        "preference; `conversation` of {human, assistant} pairs [+ system] -> language "
        "modeling (messages). Qwen-VL <img>X</img> tags -> <image> + images."
    )
    reads = (
        "query, response [+ system, history, rejected_response], messages + "
        "rejected_response, or conversation [+ system]"
    )
    columns = CONSUMED

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        if _is_pairs(schema) or _is_dpo_messages(schema):
            return True
        # plain query/response (MetaMathQA, ...) is no ms-swift sign: it keeps the standard
        # --map advice; history, system or rejected_response are
        return all(
            c in schema.names and is_string(schema.field(c).type) for c in ("query", "response")
        ) and any(c in schema.names for c in ("history", "system", "rejected_response"))

    def reads_over_trl(self, schema: pa.Schema) -> bool:
        # `messages` alone read as language modeling: `rejected_response` would be dropped
        return _is_dpo_messages(schema)

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        if "query" not in schema.names and "conversation" in schema.names:
            return LANGUAGE_MODELING, Format.CONVERSATIONAL
        if "rejected_response" in schema.names:
            return PREFERENCE, Format.CONVERSATIONAL
        return PROMPT_COMPLETION, Format.CONVERSATIONAL

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        dtype, _ = self.landing(schema, opts)
        if dtype is LANGUAGE_MODELING:
            return ["messages: [system] + user(human), assistant(assistant) for each pair"]
        if _is_dpo_messages(schema):
            return [
                "prompt: messages but the last",
                "chosen: the last message (the assistant's answer)",
                "rejected: assistant(rejected_response)",
            ]
        steps = ["prompt: [system] + history ([query, response] -> user, assistant) + user(query)"]
        if dtype is PREFERENCE:
            return steps + ["chosen: assistant(response)", "rejected: assistant(rejected_response)"]
        return steps + ["completion: assistant(response)"]

    def sources(self, schema: pa.Schema, opts: ImportOptions) -> dict[str, str]:
        if "query" not in schema.names and "conversation" in schema.names:
            return {"messages": "conversation"}
        if _is_dpo_messages(schema):
            return {"prompt": "messages", "chosen": "messages", "rejected": "rejected_response"}
        return {"prompt": "query", "completion": "response", "chosen": "response"}

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        if "query" not in table.column_names and "conversation" in table.column_names:
            return _pairs(table, bad)
        if _is_dpo_messages(table.schema):
            return _dpo_messages(table, bad)
        require(table, "query", "response", layout="swift")
        n = table.num_rows
        query = _text(table, "query", bad, required=True)
        response = _text(table, "response", bad, required=True)
        system = _text(table, "system", bad)
        history = _history(table, bad, PAIR)
        no_input = pa.nulls(n, pa.string())
        prompt, completion = _conversational(
            query, no_input, _nonempty(no_input), system, _nonempty(system), history, response, n
        )
        images = as_array(table.column("images")) if "images" in table.column_names else None
        prompt, images = tags_as_images(prompt, images, bad)
        consumed = CONSUMED + (("images",) if images is not None else ())
        media = {} if images is None else {"images": images}
        if "rejected_response" not in table.column_names:
            produced = {"prompt": prompt, "completion": completion, **media}
            return Converted(assemble(table, produced, consumed))
        rejected = _text(table, "rejected_response", bad, required=True)
        rows = np.arange(n, dtype=np.int64)
        role = _const("assistant", n)
        produced = {
            "prompt": prompt,
            "chosen": completion,
            "rejected": messages_from({"role": role, "content": rejected}, rows, n),
            **media,
        }
        return Converted(assemble(table, produced, consumed))


def _is_dpo_messages(schema: pa.Schema) -> bool:
    """`messages` (ending on the chosen answer) beside `rejected_response`, no `query`."""
    return (
        "messages" in schema.names
        and "rejected_response" in schema.names
        and "query" not in schema.names
        and is_list(schema.field("messages").type)
    )


def _dpo_messages(table: pa.Table, bad: Rejections) -> Converted:
    """ms-swift's DPO rows: the last message is the chosen answer, `rejected_response` the
    other; the messages before it are the prompt."""
    n = table.num_rows
    messages = as_array(table.column("messages"))
    items, parent, pos = flatten_lists(messages)
    lengths = row_lengths(messages)
    last = pos == lengths[parent] - 1
    role = field_of(items, "role")
    assistant = np.zeros(n, bool)
    is_assistant = pc.fill_null(pc.equal(role, "assistant"), False)
    assistant[parent[last & np.asarray(is_assistant.to_numpy(zero_copy_only=False), bool)]] = True
    bad.add(~assistant, "messages: the last message is not the assistant's (chosen) answer")
    prompt = lists_from(items.filter(pa.array(~last)), np.maximum(lengths - 1, 0))
    chosen = lists_from(items.filter(pa.array(last)), (lengths > 0).astype(np.int64))
    rejected_text = _text(table, "rejected_response", bad, required=True)
    rows = np.arange(n, dtype=np.int64)
    rejected = messages_from({"role": _const("assistant", n), "content": rejected_text}, rows, n)
    produced = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
    return Converted(assemble(table, produced, ("messages", "rejected_response")))


def _is_pairs(schema: pa.Schema) -> bool:
    """A `conversation` column of {human, assistant} structs."""
    if "conversation" not in schema.names:
        return False
    t = schema.field("conversation").type
    return (
        is_list(t)
        and pa.types.is_struct(t.value_type)
        and {"human", "assistant"} <= {f.name for f in t.value_type}
    )


def _pairs(table: pa.Table, bad: Rejections) -> Converted:
    if not _is_pairs(table.schema):
        raise DataError(
            "must hold lists of {human, assistant} pairs, "
            f"not {table.schema.field('conversation').type}",
            column="conversation",
        )
    n = table.num_rows
    col = as_array(table.column("conversation"))
    items, parent, pos = flatten_lists(col)
    human, assistant = field_of(items, "human"), field_of(items, "assistant")
    for name, texts in (("human", human), ("assistant", assistant)):
        if not is_string(texts.type):
            raise DataError(
                f"a pair's {name!r} must hold text, not {texts.type}", column="conversation"
            )
    missing = np.zeros(n, bool)
    gaps = np.asarray(
        pc.or_(human.is_null(), assistant.is_null()).to_numpy(zero_copy_only=False), bool
    )
    missing[parent[gaps]] = True
    bad.add(missing, "conversation: a pair lacks its human or assistant text")
    empty = np.bincount(parent, minlength=n) == 0
    bad.add(empty, "conversation is empty or null")
    m = len(items)
    # each pair's two messages in order: human (user), then assistant
    both = pa.concat_arrays([human.cast(pa.string()), assistant.cast(pa.string())])
    turns = both.take(pa.array(np.stack([np.arange(m), np.arange(m) + m], axis=1).ravel()))
    parts = [
        (
            {"role": pa.array(np.tile(np.array(["user", "assistant"]), m)), "content": turns},
            np.repeat(parent, 2),
            np.repeat(pos * 2, 2) + np.tile(np.array([0, 1]), m),
        )
    ]
    system = _text(table, "system", bad)
    parts += system_turns(system, _nonempty(system))
    fields, order = interleave(parts)
    return Converted(assemble(table, {"messages": messages_from(fields, order, n)}, CONSUMED))


def _const(value: str, n: int) -> pa.Array:
    return pa.array([value], pa.string()).take(pa.array(np.zeros(n, np.int64)))
