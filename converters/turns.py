"""Conversations split at assistant turns: language modeling -> prompt-completion / prompt-only,
and the readings of a `messages` column as another type (`trlprep.detection.detect` reports them).

The completion is the last assistant turn (one message); the prompt is every message
before it. `split_turns="all"` (prompt-completion only) gives one row per assistant turn
after the first message instead, its prompt being everything before that turn. Rows that
cannot be split (no messages, a last turn that is not the assistant's, or no message
before it) are refused together as one RowFailures (stage "conversion").

Standard-format text has no turn structure, so these edges exist for conversational data
only (`Edge.formats`); the router says so when asked for them on standard text.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from trlprep.converters.arrowops import as_array, offsets, slice_lists
from trlprep.converters.base import ConvertOptions, edge
from trlprep.converters.common import (
    choice,
    content,
    no_nulls,
    output,
    rows_text,
    warn,
)
from trlprep.converters.media import keep_shown

from trlprep.columns.placeholders import media_entries, shown_counts
from trlprep.columns.turnends import LastTurns  # kept importable from here
from trlprep.errors import RowFailures, UsageError
from trlprep.registry import (
    MEDIA_COLUMNS,
    PROMPT_COMPLETION,
    PROMPT_ONLY,
    SINGLE_MEDIA_COLUMNS,
    UNPAIRED_PREFERENCE,
    Format,
)
from trlprep.wording import noun

SPLIT_TURNS = ("last", "all")
MESSAGES = "messages"
_CONV = (Format.CONVERSATIONAL,)


def _assistant_mask(arr: pa.Array) -> np.ndarray:
    struct = arr.values
    if not (pa.types.is_struct(struct.type) and struct.type.get_field_index("role") >= 0):
        return np.zeros(len(struct), dtype=bool)
    role = pc.struct_field(struct, "role")
    return np.asarray(pc.fill_null(pc.equal(role, "assistant"), False).to_numpy(False), bool)


def split_last_turn(messages: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """(prompt, completion) of every row: the messages before the last assistant turn, and
    that turn; RowFailures naming every row that does not end on an assistant turn after
    at least one other message."""
    arr = as_array(messages)
    last = LastTurns(arr)
    length = last.length
    bad = np.flatnonzero(~last.ends_on("assistant") | (length < 2))
    if len(bad):
        raise RowFailures(
            bad.tolist(),
            [last.why_not(i) for i in bad.tolist()],
            stage="conversion",
            hint="only conversations that end on an assistant turn have a completion "
            "(--on-error skip sets the others aside)",
        )
    return slice_lists(arr, 0, length - 1), slice_lists(arr, length - 1)


def split_every_turn(messages: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """One (prompt, completion) per assistant turn after the first message, with the input
    row of each; RowFailures for rows that have no such turn."""
    arr = as_array(messages)
    start, length = offsets(arr)
    assistant = _assistant_mask(arr)
    flat = np.flatnonzero(assistant)
    row = np.searchsorted(start + length, flat, side="right")
    inside = row < len(arr)
    flat, row = flat[inside], row[inside]
    inside = flat >= start[row]
    flat, row = flat[inside], row[inside]
    pos = flat - start[row]
    keep = pos >= 1
    pos, row = pos[keep], row[keep]
    bad = np.setdiff1d(np.arange(len(arr)), row)
    if len(bad):
        raise RowFailures(
            bad.tolist(),
            ["no assistant turn after the first message" for _ in bad],
            stage="conversion",
            hint="only conversations with an assistant turn have a completion",
        )
    rows = arr.take(pa.array(row, pa.int64()))
    return slice_lists(rows, 0, pos), slice_lists(rows, pos, pos + 1), row


def media_of_turns(out: pa.Table, msgs: pa.Array, rows: np.ndarray) -> pa.Table:
    """`out` (one row per assistant turn of `msgs`' rows `rows`) with each `images`,
    `videos` and `audios` list cut to the entries its prompt and completion show: media
    parts stand for entries in order, so a turn's row keeps the first ones (TRL counts a
    row's parts against its images). Only where the whole conversation's parts number its
    entries (else validation says so)."""
    for kind, names in MEDIA_COLUMNS.items():
        for name in (n for n in names if n in out.column_names and n not in SINGLE_MEDIA_COLUMNS):
            col = as_array(out.column(name))
            if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type)):
                continue
            held = media_entries(out.schema.field(name), col)
            whole = shown_counts(msgs, kind)[rows]
            seen = sum(shown_counts(out.column(c), kind) for c in ("prompt", "completion"))
            cut = (whole == held) & (seen < held)
            if cut.any():
                keep = np.where(cut, seen, held)
                i = out.column_names.index(name)
                out = out.set_column(i, out.schema.field(name), slice_lists(col, 0, keep))
    return out


def _messages(table: pa.Table) -> pa.Array:
    msgs = content(table, MESSAGES, Format.CONVERSATIONAL)
    no_nulls(msgs, MESSAGES)
    return as_array(msgs)


def _conversational(fmt: Format, what: str) -> None:
    if fmt is not Format.CONVERSATIONAL:
        raise UsageError(
            f"{what} needs conversational data: standard text has no turns to split at",
            hint="give the data as `messages` (role/content lists)",
        )


@edge(
    "language-modeling",
    "prompt-completion",
    reads=("split_turns",),
    guide=False,
    formats=_CONV,
    description="Split each conversation at its last assistant turn: the turns before it "
    "are the prompt, that turn the completion (--split-turns all: one row per assistant "
    "turn). Conversational data only.",
)
def lm_to_prompt_completion(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    _conversational(fmt, "splitting conversations into prompt and completion")
    how = choice(opts.split_turns, SPLIT_TURNS, "split turns")
    msgs = _messages(table)
    if how == "all":
        prompt, completion, rows = split_every_turn(msgs)
        produced = {"prompt": prompt, "completion": completion}
        out = output(table, PROMPT_COMPLETION, fmt, produced, {MESSAGES}, rows=rows)
        return media_of_turns(out, msgs, rows)
    prompt, completion = split_last_turn(msgs)
    produced = {"prompt": prompt, "completion": completion}
    return output(table, PROMPT_COMPLETION, fmt, produced, {MESSAGES})


@edge(
    "language-modeling",
    "prompt-only",
    guide=False,
    formats=_CONV,
    drops="the last assistant turn (the completion)",
    description="Drop each conversation's last assistant turn; the turns before it are the "
    "prompt (a conversation already ending on a user turn is kept whole). Conversational "
    "data only.",
)
def lm_to_prompt_only(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    _conversational(fmt, "splitting conversations into prompts")
    msgs = _messages(table)
    last = LastTurns(msgs)
    length = last.length
    ends_on_user = last.ends_on("user")
    split = ~ends_on_user
    bad = np.flatnonzero(split & (~last.ends_on("assistant") | (length < 2)))
    if len(bad):
        raise RowFailures(
            bad.tolist(),
            [last.why_not(i) for i in bad.tolist()],
            stage="conversion",
            hint="a prompt is the turns before the last assistant turn, or a conversation "
            "ending on a user turn (--on-error skip sets the others aside)",
        )
    prompt = slice_lists(msgs, 0, np.where(split, length - 1, length))
    if ends_on_user.any() and split.any():
        kept = np.flatnonzero(ends_on_user)
        warn(
            f"{rows_text(kept, len(kept))} already {noun(len(kept), 'ends', 'end')} on a user "
            "turn: kept whole as the prompt"
        )
    out = output(table, PROMPT_ONLY, fmt, {"prompt": prompt}, {MESSAGES})
    return keep_shown(out, table)


# ---------------------------------------------------------------- readings of `messages`


def read_unpaired(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    """`messages` + boolean `label` (the KTO layout) as unpaired preference: the last
    assistant turn is the completion, the turns before it the prompt."""
    prompt, completion = split_last_turn(_messages(table))
    produced = {"prompt": prompt, "completion": completion, "label": table.column("label")}
    return output(table, UNPAIRED_PREFERENCE, fmt, produced, {MESSAGES, "label"}, types_first=True)


def read_prompt_only(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    """`messages` ending on a user turn (RLVR style) as prompt-only: the whole
    conversation is the prompt."""
    msgs = _messages(table)
    last = LastTurns(msgs)
    bad = np.flatnonzero(~last.ends_on("user"))
    if len(bad):
        raise RowFailures(
            bad.tolist(),
            [
                f"the conversation ends on {last.role(i) or 'nothing'!r}, not a user turn"
                for i in bad
            ],
            stage="conversion",
            hint="a prompt ends on a user turn",
        )
    return output(table, PROMPT_ONLY, fmt, {"prompt": msgs}, {MESSAGES}, types_first=True)
