"""Token ids a table already holds (`trlprep convert --tokenize` output) used as they are, cut
to another `max_length` / `truncation` exactly as `tokenize_table` cuts the ids it makes.

The ids are what the file's tokenisation made (rendered chat text without an added EOS,
standard text with it), which its text columns alone cannot tell apart: re-tokenising the
text would treat rendered chat text as standard text and add a second end of sequence.
Stepwise rows' steps are kept whole (`fit_steps`); their ids are reused only when each step
ends with the run's step separator (`steps_end_with`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.errors import DataError
from trlprep.registry import DatasetType, get_type
from trlprep.templates.fit import Fitted, fit, fit_steps, truncate
from trlprep.templates.tokenize import (
    _IDS,
    _START,
    _STEP_IDS,
    TokenizeReport,
    _longest,
    token_columns,
    truncate_rows,
)

# types whose id columns can be reused
_TYPES = (
    "stepwise-supervision",
    "language-modeling",
    "prompt-only",
    "prompt-completion",
    "preference",
    "preference-implicit",
    "unpaired-preference",
)


def given_id_columns(table: pa.Table, dtype: DatasetType | str) -> tuple[str, ...]:
    """The id columns of `dtype` that `table` holds, all of them, or () when some is missing
    or the type's ids are not reused."""
    dtype = get_type(dtype)
    if dtype.name not in _TYPES:
        return ()
    names = token_columns(dtype)
    if not all(c in table.column_names for c in names):
        return ()
    starts = [c for c in token_columns(dtype, "keep_end", 1) if c.endswith(_START)]
    return names + tuple(c for c in starts if c in table.column_names)


def check_vocabulary(
    table: pa.Table,
    columns: tuple[str, ...],
    tokenizer: Any,
    path: str | None = None,
    *,
    input_rows: Sequence[int] | None = None,
    input_lines: Sequence[int] | None = None,
) -> None:
    """Refuse id columns holding an id beyond the tokenizer's vocabulary (ids made by
    another tokenizer) or a negative one, naming the column, the id and the first row of
    `table` holding one (`path`: the file, for the message): its file line where
    `input_lines` (one per row of `table`) are given, else its input row (`input_rows`)."""
    size = len(tokenizer)
    for name in columns:
        if name.endswith(_START):
            continue
        flat, rows = table.column(name).combine_chunks(), None
        while pa.types.is_list(flat.type) or pa.types.is_large_list(flat.type):
            parents = pc.list_parent_indices(flat)  # stepwise: a list of steps' ids per row
            rows = parents if rows is None else pc.take(rows, parents)
            flat = pc.list_flatten(flat)
        if rows is None or len(flat) == 0:
            continue
        first = pc.index(pc.or_(pc.less(flat, 0), pc.greater_equal(flat, size)), True).as_py()
        if first < 0:
            continue
        bad, row = flat[first].as_py(), rows[first].as_py()
        if bad < 0:
            message = f"column {name} holds token id {bad}: token ids are never negative"
        else:
            message = (
                f"column {name} holds token id {bad}, beyond the vocabulary of the model's "
                f"tokenizer ({size:,} tokens): the ids were made with another tokenizer"
            )
        if input_lines is not None:  # named by its file line, as other errors are
            line, row = int(input_lines[row]), None
        else:
            line, row = None, row if input_rows is None else int(input_rows[row])
        raise DataError(
            message,
            hint="tokenise with the model's tokenizer (`trlprep convert --tokenize "
            "--tokenizer MODEL`), or drop the id columns to tokenise the text",
            path=path,
            line=line,
            row=row,
            column=name,
        )


def refit_table(
    table: pa.Table,
    dtype: DatasetType | str,
    *,
    max_length: int | None,
    truncation: str = "keep_start",
) -> tuple[pa.Table, TokenizeReport]:
    """`table` with its id columns of `dtype` cut to `max_length` as `truncation` says: each
    sequence (each side of a pair on its own, from its `<side>_prompt_start`) keeps its
    first or last `max_length` ids, as `tokenize_table` would have cut them."""
    dtype = get_type(dtype)
    report = TokenizeReport(rows=table.num_rows, max_length=max_length, truncation=truncation)
    ids = {c: table.column(c).to_pylist() for c in token_columns(dtype)}
    if dtype.name == "stepwise-supervision":
        new = {"prompt_ids": [], "completions_ids": []}
        for prompt, steps in zip(ids["prompt_ids"], ids["completions_ids"], strict=True):
            prompt, steps = fit_steps(prompt, steps, max_length, truncation, report)
            new["prompt_ids"].append(prompt)
            new["completions_ids"].append(steps)
            report.max_tokens = max(report.max_tokens, len(prompt) + sum(map(len, steps)))
    elif dtype.name == "prompt-completion":
        new = _refit_masked(
            ids["input_ids"], ids["completion_mask"], max_length, truncation, report
        )
    elif "prompt_ids" in ids and len(ids) > 1:  # prompt + completion(s)
        sides = [c for c in ids if c != "prompt_ids"]
        n = table.num_rows
        starts = {
            c: (
                table.column(c.removesuffix("_ids") + _START).to_pylist()
                if c.removesuffix("_ids") + _START in table.column_names
                else [0] * n
            )
            for c in sides
        }
        new = {"prompt_ids": [], **{c: [] for c in sides}}
        new.update({c.removesuffix("_ids") + _START: [] for c in sides if len(sides) > 1})
        for i, prompt in enumerate(ids["prompt_ids"]):
            row = _refit_row(
                prompt, [ids[c][i] for c in sides], [starts[c][i] for c in sides],
                max_length, truncation, report,
            )  # fmt: skip
            new["prompt_ids"].append(row.prompt)
            for c, tail, start in zip(sides, row.tails, row.starts, strict=True):
                new[c].append(tail)
                if len(sides) > 1:
                    new[c.removesuffix("_ids") + _START].append(start)
        if len(sides) > 1 and not any(any(v) for k, v in new.items() if k.endswith(_START)):
            for c in sides:  # no side cut apart: the layout of a keep_start tokenisation
                new.pop(c.removesuffix("_ids") + _START)
    else:  # whole sequences
        new = truncate_rows(ids, max_length, truncation, report)
    types = {
        k: pa.int32() if k.endswith(_START) else _STEP_IDS if k == "completions_ids" else _IDS
        for k in new
    }
    for name, values in new.items():
        arr = pa.array(values, types[name])
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, arr)
        else:
            table = table.append_column(name, arr)
    for name in table.column_names:
        if name.endswith(_START) and name not in new:
            table = table.drop_columns([name])
    if dtype.name != "stepwise-supervision":
        report.max_tokens = _longest(new, types)  # a pair's prompt counts with its answer
    return table, report


def steps_end_with(table: pa.Table, separator_ids: list[int]) -> bool:
    """Whether every (non-empty) step of `completions_ids` ends with `separator_ids`: the
    step separator the ids were made with is the run's. Read column by column; null rows
    and steps count as empty."""
    n = len(separator_ids)
    column = table.column("completions_ids")
    if n == 0 or pa.types.is_null(column.type):
        return True
    sep = np.asarray(separator_ids, np.int64)
    for chunk in column.chunks:
        steps = pc.list_flatten(chunk)  # every row's steps, in order (null rows left out)
        if pa.types.is_null(steps.type):
            continue
        lengths = pc.list_value_length(steps).fill_null(0).to_numpy().astype(np.int64)
        if np.any((lengths > 0) & (lengths < n)):
            return False
        ends = np.cumsum(lengths)[lengths > 0]  # where each non-empty step's ids end
        if not len(ends):
            continue
        flat = pc.list_flatten(steps)  # null steps give no ids
        if pa.types.is_null(flat.type):  # ids that are all null end with no separator
            return False
        ids = pc.cast(flat, pa.int64()).fill_null(-1).to_numpy()  # -1 fits no unsigned id
        last = ids[ends[:, None] - n + np.arange(n)]  # each step's last n ids
        if not np.array_equal(last, np.broadcast_to(sep, last.shape)):
            return False
    return True


def _refit_masked(
    ids: list[list[int]],
    masks: list[list[int]],
    max_length: int | None,
    mode: str,
    report: TokenizeReport,
) -> dict[str, list]:
    """Prompt-completion sequences and their completion masks cut alike."""
    out: dict[str, list] = {"input_ids": [], "completion_mask": []}
    for x, m in zip(ids, masks, strict=True):
        cut = truncate(x, max_length, mode, report)
        out["input_ids"].append(cut)
        kept = m[: len(cut)] if mode == "keep_start" else m[len(m) - len(cut) :]
        out["completion_mask"].append(kept)
    return out


def _refit_row(
    prompt: list[int],
    tails: list[list[int]],
    starts: list[int],
    max_length: int | None,
    mode: str,
    report: TokenizeReport,
) -> Fitted:
    """One row's sides (`prompt[start:] + tail` each) cut on their own, as `fit` cuts them."""
    side = TokenizeReport()
    fitted = [
        fit(prompt[s:], [t], max_length, mode, side) for s, t in zip(starts, tails, strict=True)
    ]
    if side.truncated:
        report.truncated += 1
        report.prompt_cut += side.prompt_cut > 0
        report.completion_cut += side.completion_cut > 0
    kept = [f.prompt for f in fitted]
    # every side's kept prompt ends where the prompt ends unless keep_start cut into it, and
    # then that side keeps no completion (the row has nothing to train on)
    longest = max(kept, key=len, default=prompt)
    return Fitted(longest, [f.tails[0] for f in fitted], [len(longest) - len(k) for k in kept])


__all__ = ["check_vocabulary", "given_id_columns", "refit_table", "steps_end_with"]
