"""The guide's conversions that drop, rename, concatenate or filter columns.

Concatenation is string concatenation in standard format and message-list concatenation in
conversational format; a language-modeling result is `text` (standard) or `messages`
(conversational). Extra columns are carried along; `margin` (a property of a pair) is
dropped when the pair is.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from trlprep.converters.arrowops import concat_content
from trlprep.converters.base import ConvertOptions, edge
from trlprep.converters.common import (
    PAIR_ONLY_COLUMNS,
    bools_column,
    check_format,
    content,
    no_nulls,
    output,
)
from trlprep.converters.media import keep_shown

from trlprep.registry import (
    LANGUAGE_MODELING,
    PREFERENCE_IMPLICIT,
    PROMPT_COMPLETION,
    PROMPT_ONLY,
    Format,
)


def lm_column(fmt: Format) -> str:
    """`text` in standard format, `messages` in conversational format."""
    return LANGUAGE_MODELING.column_names(fmt)[0]


def _concat(
    table: pa.Table, fmt: Format, first: str, second: str, sep: str = ""
) -> pa.ChunkedArray:
    a, b = content(table, first, fmt), content(table, second, fmt)
    no_nulls(a, first)
    no_nulls(b, second)
    return concat_content(a, b, sep)


# ---------------------------------------------------------------- prompt-completion


@edge(
    "prompt-completion",
    "language-modeling",
    standard_reads=("separator",),
    joins="the prompt and the completion",
    drops="the prompt/completion boundary",
    description="Concatenate the prompt and the completion into `text` (`messages`).",
)
def prompt_completion_to_lm(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    fmt = check_format(fmt)
    text = _concat(table, fmt, "prompt", "completion", opts.separator)
    return output(table, LANGUAGE_MODELING, fmt, {lm_column(fmt): text}, {"prompt", "completion"})


@edge(
    "prompt-completion",
    "prompt-only",
    drops="completions",
    description="Remove the completion.",
)
def prompt_completion_to_prompt_only(
    table: pa.Table, fmt: Format, opts: ConvertOptions
) -> pa.Table:
    fmt = check_format(fmt)
    content(table, "completion", fmt)
    prompt = content(table, "prompt", fmt)
    out = output(table, PROMPT_ONLY, fmt, {"prompt": prompt}, {"prompt", "completion"})
    return keep_shown(out, table)


# ---------------------------------------------------------------- preference, implicit prompt


@edge(
    "preference-implicit",
    "language-modeling",
    drops="rejected sequences (and a `margin` column)",
    description="Remove the rejected and rename `chosen` to `text` (`messages`).",
)
def implicit_to_lm(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    fmt = check_format(fmt)
    content(table, "rejected", fmt)
    chosen = content(table, "chosen", fmt)
    return output(
        table,
        LANGUAGE_MODELING,
        fmt,
        {lm_column(fmt): chosen},
        {"chosen", "rejected"},
        drop=PAIR_ONLY_COLUMNS,
        renames={lm_column(fmt): "chosen"},
        chosen_only=True,
    )


# ---------------------------------------------------------------- preference (explicit prompt)


@edge(
    "preference",
    "language-modeling",
    standard_reads=("separator",),
    joins="the prompt and the chosen",
    drops="rejected completions, the prompt/completion boundary (and a `margin` column)",
    description="Remove the rejected; concatenate the prompt and the chosen into `text`.",
)
def preference_to_lm(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    fmt = check_format(fmt)
    content(table, "rejected", fmt)
    text = _concat(table, fmt, "prompt", "chosen", opts.separator)
    return output(
        table,
        LANGUAGE_MODELING,
        fmt,
        {lm_column(fmt): text},
        {"prompt", "chosen", "rejected"},
        drop=PAIR_ONLY_COLUMNS,
        chosen_only=True,
    )


@edge(
    "preference",
    "prompt-completion",
    drops="rejected completions (and a `margin` column)",
    description="Remove the rejected and rename `chosen` to `completion`.",
)
def preference_to_prompt_completion(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    fmt = check_format(fmt)
    content(table, "rejected", fmt)
    produced = {
        "prompt": content(table, "prompt", fmt),
        "completion": content(table, "chosen", fmt),
    }
    return output(
        table,
        PROMPT_COMPLETION,
        fmt,
        produced,
        {"prompt", "chosen", "rejected"},
        drop=PAIR_ONLY_COLUMNS,
        renames={"completion": "chosen"},
        chosen_only=True,
    )


@edge(
    "preference",
    "prompt-only",
    drops="chosen and rejected completions (and a `margin` column)",
    description="Remove the chosen and the rejected.",
)
def preference_to_prompt_only(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    fmt = check_format(fmt)
    content(table, "chosen", fmt)
    content(table, "rejected", fmt)
    prompt = content(table, "prompt", fmt)
    out = output(
        table,
        PROMPT_ONLY,
        fmt,
        {"prompt": prompt},
        {"prompt", "chosen", "rejected"},
        drop=PAIR_ONLY_COLUMNS,
    )
    return keep_shown(out, table)


@edge(
    "preference",
    "preference-implicit",
    standard_reads=("separator",),
    joins="the prompt and each completion",
    description="Concatenate the prompt to both the chosen and the rejected; remove the prompt.",
)
def preference_to_implicit(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    fmt = check_format(fmt)
    chosen = _concat(table, fmt, "prompt", "chosen", opts.separator)
    rejected = _concat(table, fmt, "prompt", "rejected", opts.separator)
    return output(
        table,
        PREFERENCE_IMPLICIT,
        fmt,
        {"chosen": chosen, "rejected": rejected},
        {"prompt", "chosen", "rejected"},
    )


# ---------------------------------------------------------------- unpaired preference


def _good_rows(table: pa.Table) -> pa.Table:
    label = bools_column(table, "label", listed=False)
    no_nulls(label, "label")
    return table.filter(pc.fill_null(label, False))


@edge(
    "unpaired-preference",
    "language-modeling",
    standard_reads=("separator",),
    joins="the prompt and the completion",
    drops="rows labelled false, the prompt/completion boundary, and labels",
    rows="filters",
    description="Keep rows labelled true; concatenate the prompt and the completion into `text`.",
)
def unpaired_to_lm(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    fmt = check_format(fmt)
    table = _good_rows(table)
    text = _concat(table, fmt, "prompt", "completion", opts.separator)
    return output(
        table, LANGUAGE_MODELING, fmt, {lm_column(fmt): text}, {"prompt", "completion", "label"}
    )


@edge(
    "unpaired-preference",
    "prompt-completion",
    drops="rows labelled false, and labels",
    rows="filters",
    description="Keep rows labelled true; remove the label.",
)
def unpaired_to_prompt_completion(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    fmt = check_format(fmt)
    table = _good_rows(table)
    produced = {
        "prompt": content(table, "prompt", fmt),
        "completion": content(table, "completion", fmt),
    }
    return output(table, PROMPT_COMPLETION, fmt, produced, {"prompt", "completion", "label"})


@edge(
    "unpaired-preference",
    "prompt-only",
    drops="completions and labels",
    description="Remove the completion and the label (prompts repeated across rows stay).",
)
def unpaired_to_prompt_only(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    fmt = check_format(fmt)
    content(table, "completion", fmt)
    bools_column(table, "label", listed=False)
    prompt = content(table, "prompt", fmt)
    out = output(table, PROMPT_ONLY, fmt, {"prompt": prompt}, {"prompt", "completion", "label"})
    return keep_shown(out, table)
