"""Ranked completions written with their prompt at the start, taken off.

OmegaPRM's MATH-APS rollouts (OpenR) hold in each `solution_prefix` the question, then the
partial solution. Read as they are, every completion would repeat the prompt after it and
a trainer would learn the question twice. Where every completion of a row begins with the
row's text prompt, the prompt is taken off their start (the whitespace after it kept), so
prompt + completion is each text as written; with --conversational the whitespace goes too,
the template marking where the assistant's message starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list, is_string
from trlprep.converters.arrowops import as_array
from trlprep.importers.jsonarrow import lists_from, row_lengths
from trlprep.wording import plural

ALIGNED = ("scores", "ranks")  # lists aligned with `completions`


@dataclass
class Taken:
    """Which rows had the prompt taken off, and how many completions of each were the prompt
    alone (left out)."""

    rows: np.ndarray
    dropped: np.ndarray
    conversational: bool

    def note(self, written: np.ndarray) -> str | None:
        """What was done to the rows `written` (a mask: the rows the import keeps; rows it
        refuses for another reason are not counted), None where none of them was touched."""
        rows = self.rows & written
        if not rows.any():
            return None
        n, dropped = int(rows.sum()), int(self.dropped[rows].sum())
        gone = (
            f"; {plural(dropped, 'completion')} holding the prompt alone (no answer yet) left out"
            if dropped
            else ""
        )
        how = (
            "taken off their start with the whitespace after it (each answer is one assistant "
            "message)"
            if self.conversational
            else "taken off their start, so prompt + completion is each text as written"
        )
        return (
            f"the completions of {plural(n, 'row')} began with the row's prompt (each the whole "
            f"text so far, as MATH-APS's `solution_prefix`): {how}{gone}"
        )


def prompt_taken_off(
    table: pa.Table, conversational: bool = False
) -> tuple[pa.Table, Taken | None]:
    """`table` with the prompt taken off the start of the completions of each row whose
    every completion begins with its (non-empty) text prompt (a completion that was the
    prompt alone left out, with its score), and which rows were (`Taken`, whose `note` says
    it of the rows written); `table` and None where no row does. `conversational` (each
    completion to be one assistant message, the template marking where it starts): the
    whitespace after the prompt taken off too."""
    import polars as pl

    prompt_t = table.schema.field("prompt").type
    comps_t = table.schema.field("completions").type
    if not (is_string(prompt_t) and is_list(comps_t) and is_string(comps_t.value_type)):
        return table, None
    comps = as_array(table.column("completions"))
    lengths = row_lengths(comps)
    if not lengths.sum():
        return table, None
    items = pc.list_flatten(comps).cast(pa.large_string())
    parents = np.asarray(pc.list_parent_indices(comps).to_numpy(), np.int64)
    prompts = as_array(table.column("prompt")).cast(pa.large_string()).take(pa.array(parents))
    frame = pl.DataFrame({"c": pl.from_arrow(items), "p": pl.from_arrow(prompts)})
    starts = frame.select(
        (pl.col("c").str.starts_with(pl.col("p")) & (pl.col("p").str.len_bytes() > 0))
        .fill_null(False)
        .alias("s")
    )["s"].to_numpy()
    begun = np.bincount(parents, weights=starts, minlength=table.num_rows)
    aligned = [n for n in ALIGNED if n in table.column_names]
    rows = (lengths > 0) & (begun == lengths)
    for name in aligned:  # rows whose scores do not line up are refused later, as they are
        rows &= row_lengths(as_array(table.column(name))) == lengths
    if not rows.any():
        return table, None
    strip = rows[parents]
    rest = pl.col("c").str.strip_prefix(pl.col("p"))
    if conversational:
        rest = rest.str.strip_chars_start()
    taken = frame.select(pl.when(pl.lit(pl.Series(strip))).then(rest).otherwise("c")).to_series()
    drop = strip & (taken == "").fill_null(False).to_numpy()  # the prompt alone: no answer
    texts = taken.to_arrow().cast(comps_t.value_type)
    i = table.column_names.index("completions")
    table = table.set_column(i, "completions", _kept(comps, texts, drop))
    for name in aligned:  # the same items of each stripped row left out
        col = as_array(table.column(name))
        at = np.asarray(pc.list_parent_indices(col).to_numpy(), np.int64)
        local = np.arange(len(at)) - np.concatenate([[0], np.cumsum(row_lengths(col))])[at]
        starts_at = np.concatenate([[0], np.cumsum(lengths)])
        gone = rows[at] & drop[np.minimum(starts_at[at] + local, max(len(drop) - 1, 0))]
        j = table.column_names.index(name)
        table = table.set_column(j, name, _kept(col, pc.list_flatten(col), gone))
    per_row = np.bincount(parents, weights=drop, minlength=table.num_rows).astype(np.int64)
    return table, Taken(rows, per_row, conversational)


def _kept(lists: pa.Array, values: pa.Array, drop: np.ndarray) -> pa.Array:
    """`lists` rebuilt from its flattened `values`, the items marked in `drop` left out."""
    at = np.asarray(pc.list_parent_indices(lists).to_numpy(), np.int64)
    kept = np.flatnonzero(~drop)
    lengths = np.bincount(at[kept], minlength=len(lists)).astype(np.int64)
    valid = np.asarray(lists.is_valid().to_numpy(zero_copy_only=False), bool)
    return lists_from(values.take(pa.array(kept)), lengths, valid)
