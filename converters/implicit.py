"""Prompt extraction: preference with implicit prompt -> explicit prompt, and what builds on it.

The prompt is the longest common prefix of chosen and rejected (see `converters.prefix` for
the exact rules and how they differ from TRL's `extract_prompt`): whole leading messages in
conversational format, text cut at a word boundary (`split_mode="word"`, the default) or at
the first differing character (`split_mode="char"`, TRL's behaviour) in standard format.

Rows whose chosen and rejected share no prompt at all (no common first message, or no
common text) would give an empty prompt, which no trainer accepts; `no_prompt` decides:
`error` (default, a DataError naming the rows), `warn` (keep the empty prompt) or `drop`.
Rows where one side is a prefix of the other (or both are equal) leave an empty completion
on that side and are reported with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from trlprep.converters.arrowops import offsets, slice_lists, split_strings, unify
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
from trlprep.converters.prefix import message_lcp, split_points

from trlprep.errors import DataError
from trlprep.registry import PREFERENCE, PROMPT_COMPLETION, PROMPT_ONLY, Format

SPLIT_MODES = ("word", "char")
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
    chosen, rejected = unify(chosen, rejected)
    if fmt is Format.CONVERSATIONAL:
        k = message_lcp(chosen, rejected)
        parts = (slice_lists(chosen, 0, k), slice_lists(chosen, k), slice_lists(rejected, k))
    else:
        k = split_points(chosen, rejected, mode)
        prompt, rest_c = split_strings(chosen, k)
        parts = (prompt, rest_c, split_strings(rejected, k)[1])
    _, lc = offsets(chosen)
    _, lr = offsets(rejected)
    return parts, k == 0, (k == lc) | (k == lr)


def extract(table: pa.Table, fmt: Format, opts: ConvertOptions) -> Extracted:
    """Split every row's chosen and rejected into (prompt, chosen, rejected), vectorised."""
    fmt = check_format(fmt)
    mode = choice(opts.split_mode, SPLIT_MODES, "split mode")
    policy = choice(opts.no_prompt, NO_PROMPT, "no-prompt policy")
    c, r = content(table, "chosen", fmt), content(table, "rejected", fmt)
    no_nulls(c, "chosen")
    no_nulls(r, "rejected")
    pair = pa.Table.from_arrays([c, r], names=["chosen", "rejected"])
    pieces: list[tuple] = []
    empty, prefix = [], []
    batches = pair.to_batches(max_chunksize=BATCH_ROWS) or [
        pa.RecordBatch.from_arrays([a.combine_chunks() for a in pair.columns], names=["c", "r"])
    ]
    for batch in batches:
        parts, no_prompt, one_empty = _split_batch(batch.column(0), batch.column(1), fmt, mode)
        pieces.append(parts)
        empty.append(no_prompt)
        prefix.append(one_empty)
    cols = [pa.chunked_array([p[i] for p in pieces]) for i in range(3)]
    no_prompt = np.concatenate(empty)
    one_empty = np.concatenate(prefix)
    if no_prompt.any():
        bad = np.flatnonzero(no_prompt)
        what = "no first message" if fmt is Format.CONVERSATIONAL else "no text"
        msg = f"{rows_text(bad, len(bad))}: chosen and rejected share {what}, so no prompt"
        if policy == "error":
            raise DataError(
                msg,
                column="chosen",
                hint="fix or drop these rows, or pass --no-prompt warn|drop",
            )
        if policy == "drop":
            warn(msg + "; dropped")
            keep = pa.array(~no_prompt)
            table = table.filter(keep)
            cols = [col.filter(keep) for col in cols]
            one_empty = one_empty[~no_prompt]
        else:
            warn(msg + "; kept with an empty prompt")
    if one_empty.any():
        bad = np.flatnonzero(one_empty)
        warn(
            f"{rows_text(bad, len(bad))}: one of chosen and rejected is a prefix of the other "
            "(or both are equal), leaving an empty completion"
        )
    return Extracted(table, *cols)


@edge(
    "preference-implicit",
    "preference",
    description="Extract the shared prompt from the chosen and the rejected.",
)
def implicit_to_preference(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    x = extract(table, fmt, opts)
    produced = {"prompt": x.prompt, "chosen": x.chosen, "rejected": x.rejected}
    return output(x.table, PREFERENCE, fmt, produced, {"chosen", "rejected"})


@edge(
    "preference-implicit",
    "prompt-completion",
    drops="rejected completions (and a `margin` column)",
    description="Extract the prompt; remove the rejected; rename `chosen` to `completion`.",
)
def implicit_to_prompt_completion(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    x = extract(table, fmt, opts)
    return output(
        x.table,
        PROMPT_COMPLETION,
        fmt,
        {"prompt": x.prompt, "completion": x.chosen},
        {"chosen", "rejected"},
        drop=PAIR_ONLY_COLUMNS,
    )


@edge(
    "preference-implicit",
    "prompt-only",
    drops="chosen and rejected completions (and a `margin` column)",
    description="Extract the prompt; remove the chosen and the rejected.",
)
def implicit_to_prompt_only(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    x = extract(table, fmt, opts)
    return output(
        x.table,
        PROMPT_ONLY,
        fmt,
        {"prompt": x.prompt},
        {"chosen", "rejected"},
        drop=PAIR_ONLY_COLUMNS,
    )
