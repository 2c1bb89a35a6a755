"""Prompt extraction: preference with implicit prompt -> explicit prompt, and what builds on it.

The prompt is the longest common prefix of chosen and rejected (see `converters.prefix` for
the exact rules and how they differ from TRL's `extract_prompt`): whole leading messages in
conversational format, text cut at a word boundary (`split_mode="word"`, the default) or at
the first differing character (`split_mode="char"`, TRL's behaviour) in standard format.

Rows whose chosen and rejected share no prompt at all (no common first message, or no
common text) would give an empty prompt, which no trainer accepts; `no_prompt` decides:
`error` (default, the rows are refused: RowFailures), `warn` (keep the empty prompt) or
`drop`. Rows where one side is a prefix of the other (or both are equal) would leave an
empty completion: the cut backs off (see `converters.prefix`) and the rows are reported
with a warning; rows where no cut leaves both completions non-empty are refused too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from trlprep.converters.arrowops import slice_lists, split_strings, unify
from trlprep.converters.base import ConvertOptions, edge
from trlprep.converters.common import (
    PAIR_ONLY_COLUMNS,
    check_format,
    choice,
    content,
    no_nulls,
    output,
    rows_text,
    warn,
)
from trlprep.converters.media import keep_shown
from trlprep.converters.prefix import (
    NO_SPLIT,
    NO_SPLIT_MESSAGES,
    NO_SPLIT_TEXT,
    message_split,
    split_points_backed,
)

from trlprep.errors import RowFailures
from trlprep.registry import PREFERENCE, PROMPT_COMPLETION, PROMPT_ONLY, Format

SPLIT_MODES = ("word", "char")
SIDES = ("chosen", "rejected")
NO_PROMPT = ("error", "warn", "drop")
BATCH_ROWS = 65_536  # rows split per numpy pass: bounds the temporaries


@dataclass
class Extracted:
    """The input table (rows dropped by `no_prompt="drop"` removed) and its split columns."""

    table: pa.Table
    prompt: pa.ChunkedArray
    chosen: pa.ChunkedArray
    rejected: pa.ChunkedArray


def _split_batch(chosen: pa.Array, rejected: pa.Array, fmt: Format, mode: str):
    """(prompt, chosen, rejected) of a batch, its rows without a prompt, without a split,
    and those whose cut backed off from the end of the shared part."""
    chosen, rejected = unify(chosen, rejected)
    if fmt is Format.CONVERSATIONAL:
        k, backed = message_split(chosen, rejected)
    else:
        k, backed = split_points_backed(chosen, rejected, mode)
    failed = k == NO_SPLIT
    k = np.where(failed, 0, k)
    if fmt is Format.CONVERSATIONAL:
        parts = (slice_lists(chosen, 0, k), slice_lists(chosen, k), slice_lists(rejected, k))
    else:
        prompt, rest_c = split_strings(chosen, k)
        parts = (prompt, rest_c, split_strings(rejected, k)[1])
    return parts, (k == 0) & ~failed, failed, backed & ~failed


def extract(
    table: pa.Table, fmt: Format, opts: ConvertOptions, keeps: tuple[str, ...] = SIDES
) -> Extracted:
    """Split every row's chosen and rejected into (prompt, chosen, rejected), vectorised.

    Rows that cannot be split (no shared prompt under `no_prompt="error"`, or no cut that
    leaves both completions non-empty) are refused together: one RowFailures. Completions
    the caller `keeps` that hold only whitespace (HH's empty final Assistant turn) are
    reported with a warning.
    """
    fmt = check_format(fmt)
    mode = choice(opts.split_mode, SPLIT_MODES, "split mode")
    policy = choice(opts.no_prompt, NO_PROMPT, "no-prompt policy")
    c, r = content(table, "chosen", fmt), content(table, "rejected", fmt)
    no_nulls(c, "chosen")
    no_nulls(r, "rejected")
    pair = pa.Table.from_arrays([c, r], names=["chosen", "rejected"])
    pieces: list[tuple] = []
    masks: list[tuple] = []
    batches = pair.to_batches(max_chunksize=BATCH_ROWS) or [
        pa.RecordBatch.from_arrays([a.combine_chunks() for a in pair.columns], names=["c", "r"])
    ]
    for batch in batches:
        parts, *flags = _split_batch(batch.column(0), batch.column(1), fmt, mode)
        pieces.append(parts)
        masks.append(flags)
    cols = [pa.chunked_array([p[i] for p in pieces]) for i in range(3)]
    no_prompt, failed, backed = (np.concatenate([m[i] for m in masks]) for i in range(3))
    conv = fmt is Format.CONVERSATIONAL
    what = "no first message" if conv else "no text"
    no_prompt_reason = f"chosen and rejected share {what}, so no prompt"
    _refuse(no_prompt if policy == "error" else None, failed, no_prompt_reason, conv)
    if no_prompt.any():
        bad = np.flatnonzero(no_prompt)
        msg = f"{rows_text(bad, len(bad))}: {no_prompt_reason}"
        if policy == "drop":
            warn(msg + "; dropped")
            keep = pa.array(~no_prompt)
            table = table.filter(keep)
            cols = [col.filter(keep) for col in cols]
        else:
            warn(msg + "; kept with an empty prompt")
    if backed.any():
        bad = np.flatnonzero(backed)
        where = (
            "before the last shared assistant turn"
            if conv
            else "one character before the end of the shared text (TRL's cut)"
            if mode == "char"
            else "at the last turn boundary (\\n\\nAssistant:) or word boundary before it"
        )
        warn(
            f"{rows_text(bad, len(bad))}: one of chosen and rejected is a prefix of the other "
            f"(or both are equal); the prompt ends {where}, so both completions are non-empty"
        )
    if fmt is Format.STANDARD:
        for side, col in zip(SIDES, cols[1:], strict=True):
            blank = np.asarray(pc.utf8_is_space(col).to_numpy(zero_copy_only=False), bool)
            if side in keeps and blank.any():
                bad = np.flatnonzero(blank)
                warn(
                    f"{rows_text(bad, len(bad))}: the {side} completion is only whitespace "
                    "(e.g. an empty final Assistant turn); kept as it is"
                )
    return Extracted(table, *cols)


def _refuse(no_prompt: np.ndarray | None, failed: np.ndarray, reason: str, conv: bool) -> None:
    """Raise one RowFailures for every row without a prompt (when refused) or a split."""
    reasons: dict[int, str] = {}
    if no_prompt is not None:
        reasons.update(dict.fromkeys(np.flatnonzero(no_prompt).tolist(), reason))
    split_reason = NO_SPLIT_MESSAGES if conv else NO_SPLIT_TEXT
    reasons.update(dict.fromkeys(np.flatnonzero(failed).tolist(), split_reason))
    if not reasons:
        return
    rows = sorted(reasons)
    hint = "fix or drop these rows (--on-error skip sends them to the rejects file)"
    if no_prompt is not None and no_prompt.any():
        hint += "; --no-prompt warn|drop keeps or drops the pairs without a shared prompt"
    raise RowFailures(rows, [reasons[r] for r in rows], stage="conversion", hint=hint)


@edge(
    "preference-implicit",
    "preference",
    reads=("no_prompt",),
    standard_reads=("split_mode",),
    description="Extract the shared prompt from the chosen and the rejected.",
)
def implicit_to_preference(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    x = extract(table, fmt, opts)
    produced = {"prompt": x.prompt, "chosen": x.chosen, "rejected": x.rejected}
    return output(x.table, PREFERENCE, fmt, produced, {"chosen", "rejected"})


@edge(
    "preference-implicit",
    "prompt-completion",
    reads=("no_prompt",),
    standard_reads=("split_mode",),
    drops="rejected completions (and a `margin` column)",
    description="Extract the prompt; remove the rejected; rename `chosen` to `completion`.",
)
def implicit_to_prompt_completion(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    x = extract(table, fmt, opts, keeps=("chosen",))
    return output(
        x.table,
        PROMPT_COMPLETION,
        fmt,
        {"prompt": x.prompt, "completion": x.chosen},
        {"chosen", "rejected"},
        drop=PAIR_ONLY_COLUMNS,
        renames={"completion": "chosen"},
        chosen_only=True,
    )


@edge(
    "preference-implicit",
    "prompt-only",
    reads=("no_prompt",),
    standard_reads=("split_mode",),
    drops="chosen and rejected completions (and a `margin` column)",
    description="Extract the prompt; remove the chosen and the rejected.",
)
def implicit_to_prompt_only(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    x = extract(table, fmt, opts, keeps=())
    out = output(
        x.table,
        PROMPT_ONLY,
        fmt,
        {"prompt": x.prompt},
        {"chosen", "rejected"},
        drop=PAIR_ONLY_COLUMNS,
    )
    return keep_shown(out, x.table)
