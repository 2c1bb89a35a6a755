"""Tool results that answer no call (`tool-result-without-call`): a `tool` message with no
assistant tool call before it in the conversation.

The call the result answers is missing (Oumi's tool-calling examples write the assistant's
"I'll check the weather" and then the result): a model trained on the row learns that
results arrive unasked, and templates that pair a result with its call refuse the row
(GPT-OSS). Only the columns a conversation starts in are checked (`messages`, `prompt`): a
completion's result may answer a call of its prompt. Found columnar: each message's calls
counted by Arrow, the calls before each message by a cumulative sum per row (numpy).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_layout, list_lengths
from trlprep.columns.arrowtypes import is_list, is_messages
from trlprep.validation.checks.common import BatchSink
from trlprep.validation.checks.msgarrays import Owners

RULE = "tool-result-without-call"
STARTS = ("messages", "prompt")  # the columns a conversation starts in


def check_tool_results(typed: dict[str, pa.Array], sink: BatchSink) -> None:
    """Flag rows whose `messages` or conversational `prompt` (`typed`, by name) hold a `tool`
    message with no assistant tool call before it."""
    for column in STARTS:
        msgs = typed.get(column)
        if msgs is None or not is_messages(msgs.type) or not len(msgs):
            continue
        bad = _unanswered(msgs)
        if bad is not None and bad.any():
            sink.flag(
                RULE,
                column,
                bad,
                message=f"column {column!r}: a tool result follows no assistant tool call "
                "(the call it answers is not in the conversation)",
            )


def _unanswered(msgs: pa.Array) -> np.ndarray | None:
    """Per row: it holds a `tool` message with no tool call in an earlier message (None
    when no message has the `tool` role)."""
    items = pc.list_flatten(msgs)
    t = items.type
    if t.get_field_index("role") < 0:
        return None
    tool = np.asarray(
        pc.fill_null(pc.equal(pc.struct_field(items, "role"), "tool"), False).to_numpy(
            zero_copy_only=False
        ),
        bool,
    )
    if not tool.any():
        return None
    calls = np.zeros(len(items), np.int64)
    i = t.get_field_index("tool_calls")
    if i >= 0 and is_list(t.field(i).type):
        calls += list_lengths(pc.struct_field(items, "tool_calls"))
    i = t.get_field_index("function_call")  # OpenAI's legacy single call
    if i >= 0:
        calls += np.asarray(pc.struct_field(items, "function_call").is_valid(), np.int64)
    i = t.get_field_index("content")  # LLaMA-Factory v1's `{"type": "tool_call"}` parts
    if i >= 0 and is_list(t.field(i).type) and pa.types.is_struct(t.field(i).type.value_type):
        parts = pc.struct_field(items, "content")
        if parts.type.value_type.get_field_index("type") >= 0:
            kinds = pc.struct_field(pc.list_flatten(parts), "type")
            is_call = pc.fill_null(pc.equal(kinds, "tool_call"), False)
            owner = Owners(list_lengths(parts)).parent
            calls += np.bincount(
                owner, weights=np.asarray(is_call, np.float64), minlength=len(items)
            ).astype(np.int64)
    lengths, starts = list_layout(msgs)
    owners = Owners(lengths)
    total = np.cumsum(calls) - calls  # calls in the messages before each one, over all rows
    before = total - total[np.minimum(starts, len(total) - 1)][owners.parent]
    return owners.rows(tool & (before == 0))
