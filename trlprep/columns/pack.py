"""Pack tokenised sequences into rows of at most `seq_length` tokens, over the whole dataset.

Strategies (TRL's `pack_dataset`): `bfd` (best-fit decreasing; sequences longer than
`seq_length` are truncated), `bfd_split` (best-fit decreasing; long sequences are split into
`seq_length` pieces first, no token lost) and `wrapped` (concatenate everything and cut every
`seq_length` tokens). Every list column with the same lengths as `input_ids` is packed
alongside it; `seq_lengths` gives the lengths of the sequences inside each packed row (for
`position_ids` and attention boundaries), for `wrapped` too. TRL packs each map batch (1,000
rows) separately; trlprep packs the whole dataset at once, so bins fill better. Arrow does
the data movement; the only per-sequence Python is the best-fit search over integer lengths.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths
from trlprep.errors import DataError, UsageError

STRATEGIES = ("bfd", "bfd_split", "wrapped")


@dataclass
class PackReport:
    """Rows in and out, tokens kept and dropped, fill rate, columns left out."""

    rows_in: int = 0
    rows_out: int = 0
    tokens: int = 0
    tokens_dropped: int = 0  # truncated by `bfd`
    empty_rows: int = 0
    dropped_columns: list[str] = field(default_factory=list)

    @property
    def fill(self) -> float:
        return 0.0 if not self.rows_out else self.tokens / self.rows_out

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "mean_tokens_per_row": self.fill}


def pack_table(
    table: pa.Table, seq_length: int, strategy: str = "bfd", *, ids_column: str = "input_ids"
) -> tuple[pa.Table, PackReport]:
    """Pack `table` (with an `input_ids` column) into rows of at most `seq_length` tokens."""
    if strategy not in STRATEGIES:
        raise UsageError(
            f"unknown packing strategy {strategy!r}", hint="use bfd, bfd_split or wrapped"
        )
    if seq_length < 1:
        raise UsageError("--seq-length must be at least 1")
    if ids_column not in table.column_names:
        raise UsageError(
            f"packing needs the column {ids_column!r} of token ids",
            hint="tokenise first (convert --tokenize --tokenizer SRC)",
        )
    table = table.combine_chunks()
    ids = _list_column(table, ids_column)
    lengths = list_lengths(ids)
    names, columns, dropped = [], [], []
    for name in table.column_names:
        col = table.column(name).chunk(0) if table.column(name).num_chunks else table.column(name)
        is_list = pa.types.is_list(col.type) or pa.types.is_large_list(col.type)
        if name != ids_column and name != "seq_lengths":
            if not is_list or not np.array_equal(list_lengths(col), lengths):
                dropped.append(name)
                continue
        if name == "seq_lengths":
            dropped.append(name)
            continue
        names.append(name)
        columns.append(col)
    report = PackReport(rows_in=table.num_rows, dropped_columns=dropped)
    if strategy == "wrapped":
        out, seq = _wrapped(columns, lengths, seq_length)
    else:
        out, seq = _bfd(columns, lengths, seq_length, strategy == "bfd_split", report)
    result = pa.Table.from_arrays([*out, seq], names=[*names, "seq_lengths"])
    report.rows_out = result.num_rows
    report.tokens = int(pc.sum(pc.list_value_length(result.column(ids_column))).as_py() or 0)
    return result, report


def _list_column(table: pa.Table, name: str) -> pa.Array:
    col = table.column(name)
    col = col.chunk(0) if col.num_chunks else pa.array([], col.type)
    if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type)):
        raise DataError(f"column {name!r} must hold lists of token ids, not {col.type}")
    return col


def _rebuild(col: pa.Array, offsets: np.ndarray, values: pa.Array | None = None) -> pa.Array:
    dtype = np.int64 if pa.types.is_large_list(col.type) else np.int32
    return type(col).from_arrays(
        pa.array(offsets.astype(dtype)), col.flatten() if values is None else values
    )


def _wrapped(columns: list[pa.Array], lengths: np.ndarray, seq_length: int):
    total = int(lengths.sum())
    cuts = np.concatenate([np.arange(0, total, seq_length), [total]])
    out = [_rebuild(c, cuts) for c in columns]
    # sequence boundaries and chunk boundaries, merged: the pieces each chunk holds
    ends = np.cumsum(lengths[lengths > 0])
    bounds = np.union1d(ends, cuts)
    bounds = bounds[bounds > 0]
    pieces = np.diff(np.concatenate([[0], bounds]))
    piece_offsets = np.searchsorted(bounds, cuts, side="right")  # pieces ending in each chunk
    seq = pa.ListArray.from_arrays(
        pa.array(piece_offsets.astype(np.int32)), pa.array(pieces, pa.int32())
    )
    return out, seq


def _bfd(columns, lengths, seq_length, split, report):
    rows = np.flatnonzero(lengths > 0)
    report.empty_rows = int(len(lengths) - len(rows))
    lengths = lengths[rows]
    if split:  # cut long sequences into seq_length pieces (the last may be shorter)
        frags = np.ceil(lengths / seq_length).astype(np.int64)
        within = np.arange(frags.sum()) - np.repeat(np.cumsum(frags) - frags, frags)
        item_row = np.repeat(rows, frags)
        item_off = within * seq_length
        item_len = np.minimum(seq_length, np.repeat(lengths, frags) - item_off)
    else:  # keep the first seq_length tokens of each sequence
        report.tokens_dropped = int(np.maximum(lengths - seq_length, 0).sum())
        item_row, item_off = rows, np.zeros(len(rows), np.int64)
        item_len = np.minimum(lengths, seq_length)
    bins = best_fit_decreasing(item_len, seq_length)
    order = np.fromiter((i for b in bins for i in b), np.int64, count=len(item_len))
    bin_sizes = np.fromiter((len(b) for b in bins), np.int64, count=len(bins))
    sel_row, sel_off, sel_len = item_row[order], item_off[order], item_len[order]
    row_offsets = np.concatenate([[0], np.cumsum(sel_len)])[
        np.concatenate([[0], np.cumsum(bin_sizes)])
    ]
    out = []
    for col in columns:
        starts = col.offsets.to_numpy()[sel_row] + sel_off
        gather = np.repeat(starts - (np.cumsum(sel_len) - sel_len), sel_len) + np.arange(
            sel_len.sum()
        )
        out.append(_rebuild(col, row_offsets, col.values.take(pa.array(gather))))
    seq = pa.ListArray.from_arrays(
        pa.array(np.concatenate([[0], np.cumsum(bin_sizes)]).astype(np.int32)),
        pa.array(sel_len, pa.int32()),
    )
    return out, seq


def best_fit_decreasing(lengths: np.ndarray, capacity: int) -> list[list[int]]:
    """Bins of item indices: each item (longest first, ties in index order) goes to the bin
    with the least free space that still fits it, else a new bin. Same result as TRL's."""
    order = np.argsort(-lengths, kind="stable")
    size = 1 << max(capacity - 1, 0).bit_length()
    tree = [0] * (2 * size)  # max-tree over free-space values 1..capacity

    def set_leaf(space: int, value: int) -> None:
        i = size + space - 1
        tree[i] = value
        i >>= 1
        while i:
            a, b = tree[2 * i], tree[2 * i + 1]
            tree[i] = a if a >= b else b
            i >>= 1

    def smallest_fit(need: int) -> int:
        i = 1
        while i < size:
            i = 2 * i if tree[2 * i] >= need else 2 * i + 1
        return tree[i]

    set_leaf(capacity, capacity)  # a fresh bin always fits
    by_space: dict[int, deque[list[int]]] = {}
    bins: list[list[int]] = []
    for idx in order.tolist():
        length = int(lengths[idx])
        space = smallest_fit(length)
        if space < capacity:
            stack = by_space[space]
            b = stack.popleft()
            if not stack:
                set_leaf(space, 0)
        else:
            b = []
            bins.append(b)
        b.append(idx)
        left = space - length
        if left > 0:
            by_space.setdefault(left, deque()).append(b)
            set_leaf(left, left)
    return bins
