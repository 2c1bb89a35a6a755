"""Stepwise supervision -> language modeling, prompt-completion, prompt-only, unpaired.

Steps are joined with `step_separator` (by default `separator`, which is "" by default, as
the guide; `separator` also joins the prompt and the steps into `text`). To language modeling
and prompt-completion, only rows whose step labels are all true are kept (a row with no
steps counts as all true, as Python's `all([])`). To unpaired preference the step labels
merge into one label (`label_merge`):

- `all` (default, the guide): true when every step is true;
- `any`: true when some step is true;
- `last`: the last step's label (rows without steps are an error);
- `first-false-truncates`: the steps before the first false step, labelled true (a correct
  partial solution). Rows whose first step is false, or with no steps, have no correct
  prefix and are dropped, with a warning giving their count.

Beyond the guide, the prompt may be conversational while the steps stay text: the joined
steps become one assistant message, appended to the prompt for language modeling
(`messages`) and used as the one-message completion for prompt-completion and unpaired
preference.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from trlprep.converters.arrowops import as_array, concat_lists, offsets, slice_lists
from trlprep.converters.base import ConvertOptions, edge, step_separator
from trlprep.converters.basic import lm_column
from trlprep.converters.common import (
    DEFAULT_MESSAGES,
    bools_column,
    check_format,
    choice,
    content,
    no_nulls,
    output,
    rows_text,
    steps_column,
    warn,
)

from trlprep.columns.arrowtypes import is_list
from trlprep.errors import DataError
from trlprep.registry import (
    LANGUAGE_MODELING,
    PROMPT_COMPLETION,
    PROMPT_ONLY,
    UNPAIRED_PREFERENCE,
    Format,
)
from trlprep.wording import noun

LABEL_MERGES = ("all", "any", "last", "first-false-truncates")
_CONSUMED = {"prompt", "completions", "labels"}


def _steps_and_labels(table: pa.Table) -> tuple[pa.Array, pa.Array]:
    steps = steps_column(table, "completions")
    labels = bools_column(table, "labels", listed=True)
    no_nulls(steps, "completions", items=True)
    no_nulls(labels, "labels", items=True)
    steps, labels = as_array(steps), as_array(labels)
    _, ns = offsets(steps)
    _, nl = offsets(labels)
    bad = np.flatnonzero(ns != nl)
    if len(bad):
        raise DataError(
            f"{rows_text(bad, len(bad))} {noun(len(bad), 'has')} a different number of "
            "steps and labels",
            column="labels",
            hint="give exactly one label per step",
        )
    return steps, labels


def _false_positions(labels: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row of each false label, its step index, labels per row)."""
    start, length = offsets(labels)
    values = labels.values.to_numpy(zero_copy_only=False)
    idx = np.flatnonzero(~values.astype(bool))
    row = np.searchsorted(start + length, idx, side="right")
    # `values` covers the whole child array; keep only labels inside some row
    inside = (row < len(start)) & (idx >= start[np.minimum(row, len(start) - 1)])
    idx, row = idx[inside], row[inside]
    return row, idx - start[row], length


def _first_false(labels: pa.Array) -> np.ndarray:
    """Index of each row's first false step (the number of steps when all are true)."""
    row, step, length = _false_positions(labels)
    first = length.copy()
    if len(row):
        lead = np.ones(len(row), dtype=bool)
        lead[1:] = row[1:] != row[:-1]
        first[row[lead]] = step[lead]
    return first


def _join(steps: pa.Array, sep: str) -> pa.Array:
    return pc.binary_join(steps, sep)


def assistant_messages(text: pa.Array, like: pa.DataType) -> pa.Array:
    """One `{"role": "assistant", "content": text}` message per row, typed like `like`."""
    like = like if is_list(like) else DEFAULT_MESSAGES
    struct = like.value_type
    n = len(text)
    children = []
    for field in struct:
        if field.name == "role":
            child = pa.array(["assistant"], field.type).take(pa.array(np.zeros(n, np.int64)))
        elif field.name == "content":
            child = _content_of(text, field.type)
        else:
            child = pa.nulls(n, field.type)
        children.append(child)
    messages = pa.StructArray.from_arrays(children, fields=list(struct))
    off = pa.array(np.arange(n + 1, dtype=np.int32))
    return pa.ListArray.from_arrays(off, messages).cast(like)


def _content_of(text: pa.Array, t: pa.DataType) -> pa.Array:
    if not is_list(t):
        return text.cast(t)
    part = t.value_type  # content as a list of typed parts: one text part
    if not (pa.types.is_struct(part) and part.get_field_index("text") >= 0):
        raise DataError("message content has an unknown layout", hint="use string content")
    n = len(text)
    kids = []
    for f in part:
        if f.name == "type":
            kids.append(pa.array(["text"], f.type).take(pa.array(np.zeros(n, np.int64))))
        elif f.name == "text":
            kids.append(text.cast(f.type))
        else:
            kids.append(pa.nulls(n, f.type))
    parts = pa.StructArray.from_arrays(kids, fields=list(part))
    return pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), parts).cast(t)


def _completion(text: pa.Array, prompt: pa.ChunkedArray, fmt: Format) -> pa.Array:
    if fmt is Format.CONVERSATIONAL:
        return assistant_messages(text, prompt.type)
    return text


def _all_true(table: pa.Table, opts: ConvertOptions) -> tuple[pa.Table, pa.Array]:
    """Rows whose labels are all true, and their joined steps."""
    steps, labels = _steps_and_labels(table)
    keep = _first_false(labels) == offsets(labels)[1]
    table = table.filter(pa.array(keep))
    return table, _join(steps.filter(pa.array(keep)), step_separator(opts))


@edge(
    "stepwise-supervision",
    "language-modeling",
    reads=("separator", "step_separator"),
    joins="the prompt and the steps",
    drops="rows with a false step label, step labels, step and prompt boundaries",
    rows="filters",
    description="Keep rows whose steps are all true; concatenate the prompt and the joined "
    "steps into `text` (conversational prompt: the steps become an assistant message).",
)
def stepwise_to_lm(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    fmt = check_format(fmt)
    prompt = content(table, "prompt", fmt)
    no_nulls(prompt, "prompt")
    table, text = _all_true(table, opts)
    prompt = content(table, "prompt", fmt)
    if fmt is Format.CONVERSATIONAL:
        joined = concat_lists(as_array(prompt), assistant_messages(text, prompt.type))
    else:
        joined = pc.binary_join_element_wise(
            as_array(prompt), text.cast(prompt.type), opts.separator
        )
    return output(table, LANGUAGE_MODELING, fmt, {lm_column(fmt): joined}, _CONSUMED)


@edge(
    "stepwise-supervision",
    "prompt-completion",
    reads=("separator", "step_separator"),
    joins="the steps",
    drops="rows with a false step label, step labels and step boundaries",
    rows="filters",
    description="Keep rows whose steps are all true; join the steps into the completion.",
)
def stepwise_to_prompt_completion(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    fmt = check_format(fmt)
    content(table, "prompt", fmt)
    table, text = _all_true(table, opts)
    prompt = content(table, "prompt", fmt)
    produced = {"prompt": prompt, "completion": _completion(text, prompt, fmt)}
    return output(table, PROMPT_COMPLETION, fmt, produced, _CONSUMED)


@edge(
    "stepwise-supervision",
    "prompt-only",
    drops="completion steps and their labels",
    description="Remove the completions and the labels.",
)
def stepwise_to_prompt_only(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    fmt = check_format(fmt)
    steps_column(table, "completions")
    bools_column(table, "labels", listed=True)
    prompt = content(table, "prompt", fmt)
    return output(table, PROMPT_ONLY, fmt, {"prompt": prompt}, _CONSUMED)


def merge_labels(labels: pa.Array, how: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(one label per row, steps to keep per row or None for all) under `how`."""
    row, _, length = _false_positions(labels)
    false_count = np.bincount(row, minlength=len(length))
    if how == "all":
        return false_count == 0, None
    if how == "any":
        return false_count < length, None
    if how == "last":
        empty = np.flatnonzero(length == 0)
        if len(empty):
            raise DataError(
                f"{rows_text(empty, len(empty))} {noun(len(empty), 'has')} no steps, so no "
                "last label",
                column="labels",
                hint="drop these rows or choose another --label-merge",
            )
        start, _ = offsets(labels)
        values = labels.values.to_numpy(zero_copy_only=False).astype(bool)
        return values[start + length - 1], None
    first = _first_false(labels)
    return np.ones(len(length), dtype=bool), first


@edge(
    "stepwise-supervision",
    "unpaired-preference",
    reads=("separator", "step_separator", "label_merge"),
    joins="the steps",
    drops="step labels (merged into one label per row) and step boundaries",
    description="Join the steps into the completion and merge the step labels into one "
    "label (all true by default; see --label-merge).",
)
def stepwise_to_unpaired(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    fmt = check_format(fmt)
    how = choice(opts.label_merge, LABEL_MERGES, "label merge")
    content(table, "prompt", fmt)
    steps, labels = _steps_and_labels(table)
    label, keep_steps = merge_labels(labels, how)
    if keep_steps is not None:
        keep = keep_steps > 0
        dropped = np.flatnonzero(~keep)
        if len(dropped):
            warn(
                f"{rows_text(dropped, len(dropped))} {noun(len(dropped), 'has')} no "
                "correct first step (or no steps): dropped (--label-merge first-false-truncates)"
            )
        steps = slice_lists(steps, 0, keep_steps)
        mask = pa.array(keep)
        table, steps, label = table.filter(mask), steps.filter(mask), label[keep]
    prompt = content(table, "prompt", fmt)
    text = _join(steps, step_separator(opts))
    produced = {
        "prompt": prompt,
        "completion": _completion(text, prompt, fmt),
        "label": pa.array(label, pa.bool_()),
    }
    return output(table, UNPAIRED_PREFERENCE, fmt, produced, _CONSUMED)
