"""Token ids a table already holds (`trlprep convert --tokenize` output) used as they are, cut
to another `max_length` / `truncation` exactly as `tokenize_table` cuts the ids it makes.

The ids are what the file's tokenisation made (rendered chat text without an added EOS,
standard text with it), which its text columns alone cannot tell apart: re-tokenising the
text would treat rendered chat text as standard text and add a second end of sequence.
Stepwise rows' steps are kept whole (`fit_steps`); their ids are reused only when each step
ends with the run's step separator (`steps_end_with`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths
from trlprep.errors import DataError
from trlprep.registry import DatasetType, get_type
from trlprep.templates.refitcut import MASKS, cut_masked, cut_sides, cut_steps, cut_whole
from trlprep.templates.tokenize import _START, TokenizeReport, token_columns
from trlprep.templates.tokenrecord import longest_sequence

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
    first or last `max_length` ids, as `tokenize_table` would have cut them. Cut as whole
    columns, record batch by record batch (`refitcut`); the id columns come back as
    `list<int32>` (steps: `list<list<int32>>`)."""
    dtype = get_type(dtype)
    report = TokenizeReport(rows=table.num_rows, max_length=max_length, truncation=truncation)
    names = list(token_columns(dtype))
    if dtype.name == "stepwise-supervision":
        cut = functools.partial(cut_steps, max_length=max_length, mode=truncation)
    elif dtype.name == "prompt-completion":
        names += [MASKS] if MASKS in table.column_names else []
        cut = functools.partial(cut_masked, max_length=max_length, mode=truncation)
    elif "prompt_ids" in names and len(names) > 1:  # prompt + completion(s)
        sides = [c for c in names if c != "prompt_ids"]
        names += [c.removesuffix("_ids") + _START for c in sides]
        names = [c for c in names if c in table.column_names]
        cut = functools.partial(cut_sides, sides=sides, max_length=max_length, mode=truncation)
    else:  # whole sequences
        cut = functools.partial(cut_whole, names=names, max_length=max_length, mode=truncation)
    ids = table.select(names)
    batches = ids.to_batches() or [pa.RecordBatch.from_pylist([], schema=ids.schema)]
    pieces: dict[str, list[pa.Array]] = {}
    for batch in batches:  # the columns' chunks aligned
        for name, arr in cut(batch, report=report).items():
            pieces.setdefault(name, []).append(arr)
    new = {k: pa.chunked_array(v, v[0].type) for k, v in pieces.items()}
    starts = [k for k in new if k.endswith(_START)]
    if starts and not any(pc.any(pc.not_equal(new[k], 0)).as_py() for k in starts):
        for k in starts:  # no side cut apart: the layout of a keep_start tokenisation
            new.pop(k)
    for name, values in new.items():
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, values)
        else:
            table = table.append_column(name, values)
    for name in table.column_names:
        if name.endswith(_START) and name not in new:
            table = table.drop_columns([name])
    if dtype.name != "stepwise-supervision":  # a pair's prompt counts with its answer
        report.max_tokens = longest_sequence(pa.table(new), dtype.name)
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
        lengths = list_lengths(steps)
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


__all__ = ["check_vocabulary", "given_id_columns", "refit_table", "steps_end_with"]
