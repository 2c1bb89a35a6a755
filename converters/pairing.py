"""Beyond the guide: unpaired preference -> preference, pairing completions of the same prompt.

Within each prompt (compared exactly: the same text, or the same messages), the k-th row
labelled true is paired with the k-th row labelled false, in input order: the true
completion becomes `chosen`, the false one `rejected`. Rows left without a partner (a
prompt with more true than false rows, or the reverse) are reported, and returned by
`pair_by_prompt`. Output rows follow the order of their chosen rows; extra columns come
from the chosen row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
from trlprep.converters.arrowops import as_array, take_rows
from trlprep.converters.base import ConvertOptions, edge
from trlprep.converters.common import (
    bools_column,
    check_format,
    content,
    no_nulls,
    output,
    rows_text,
    warn,
)

from trlprep.registry import PREFERENCE, Format


@dataclass
class Pairing:
    """Preference rows, and the input rows that found no partner (with their row numbers)."""

    table: pa.Table
    leftovers: pa.Table
    leftover_rows: np.ndarray


def group_ids(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An integer per row, the same for equal values (text or messages), in first-seen order."""
    n = len(col)
    if n == 0:
        return np.zeros(0, np.int64)
    frame = pl.DataFrame({"k": pl.from_arrow(as_array(col))}).with_row_index("i")
    groups = (
        frame.group_by("k", maintain_order=True)
        .agg(pl.col("i"))
        .with_row_index("g")
        .explode("i")
        .sort("i")
    )
    return groups["g"].to_numpy().astype(np.int64)


def _rank_within(group: np.ndarray, label: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... for the rows of each (group, label), in row order."""
    n = len(group)
    rows = np.arange(n)
    order = np.lexsort((rows, label, group))
    g, lab = group[order], label[order]
    start = np.ones(n, dtype=bool)
    start[1:] = (g[1:] != g[:-1]) | (lab[1:] != lab[:-1])
    run_start = np.maximum.accumulate(np.where(start, rows, 0))
    rank = np.empty(n, np.int64)
    rank[order] = rows - run_start
    return rank


def pair_by_prompt(table: pa.Table, fmt: Format, opts: ConvertOptions) -> Pairing:
    """Pair true and false completions of the same prompt (see module doc)."""
    fmt = check_format(fmt)
    prompt = content(table, "prompt", fmt)
    completion = content(table, "completion", fmt)
    label_col = bools_column(table, "label", listed=False)
    no_nulls(prompt, "prompt")
    no_nulls(label_col, "label")
    n = table.num_rows
    label = label_col.to_numpy(zero_copy_only=False).astype(bool) if n else np.zeros(0, bool)
    group = group_ids(prompt)
    key = group * max(n, 1) + _rank_within(group, label)
    trues, falses = np.flatnonzero(label), np.flatnonzero(~label)
    _, it, jf = np.intersect1d(key[trues], key[falses], assume_unique=True, return_indices=True)
    order = np.argsort(trues[it], kind="stable")
    chosen_rows, rejected_rows = trues[it][order], falses[jf][order]
    paired = np.zeros(n, dtype=bool)
    paired[chosen_rows] = True
    paired[rejected_rows] = True
    left = np.flatnonzero(~paired)
    produced = {
        "prompt": take_rows(prompt, chosen_rows),
        "chosen": take_rows(completion, chosen_rows),
        "rejected": take_rows(completion, rejected_rows),
    }
    out = output(
        table, PREFERENCE, fmt, produced, {"prompt", "completion", "label"}, rows=chosen_rows
    )
    return Pairing(out, table.take(pa.array(left, pa.int64())), left)


@edge(
    "unpaired-preference",
    "preference",
    drops="rows without a partner of the opposite label for the same prompt, and labels",
    rows="pairs",
    guide=False,
    description="Pair each true completion with a false completion of the same prompt.",
)
def unpaired_to_preference(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    result = pair_by_prompt(table, fmt, opts)
    left = result.leftover_rows
    if len(left):
        label = table.column("label").to_numpy(zero_copy_only=False)[left].astype(bool)
        lonely = _one_label_prompts(table, fmt)
        head = (
            "no prompt has both a true and a false completion, so nothing can be paired: "
            if result.table.num_rows == 0
            else ""
        )
        warn(
            f"{head}{len(left)} rows found no partner with the opposite label and the same "
            f"prompt ({int(label.sum())} true, {int((~label).sum())} false; "
            f"{rows_text(left, len(left))}) and were left out; {lonely}"
        )
    return result.table


def _one_label_prompts(table: pa.Table, fmt: Format) -> str:
    """How many prompts have completions of one label only (none of them can pair)."""
    groups = group_ids(content(table, "prompt", fmt))
    label = table.column("label").to_numpy(zero_copy_only=False).astype(bool)
    with_true = np.unique(groups[label])
    with_false = np.unique(groups[~label])
    only_true = len(np.setdiff1d(with_true, with_false))
    only_false = len(np.setdiff1d(with_false, with_true))
    return (
        f"{only_true + only_false} prompts have completions of one label only "
        f"({only_true} only true, {only_false} only false)"
    )
