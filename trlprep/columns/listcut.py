"""Each row of a list column cut to its own range of positions, as whole columns: numpy
offsets arithmetic and one Arrow filter, no Python per row.

`spans` reads a list (or large_list) array, sliced or not, as numpy offsets; `cut_lists`
keeps row i's items `begin[i]:end[i]`. Null rows count as empty and stay null.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_INT32_MAX = 2**31 - 1


def spans(arr: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """(values, offsets, lengths, valid) of a list array: `values` the items of its rows
    only (a slice of the child array), `offsets` (rows + 1, int64) where each row's items
    start in `values`, `lengths` each row's item count (0 for a null row) and `valid` where
    rows are not null."""
    if pa.types.is_null(arr.type):  # lists given as Python values, all None
        n = len(arr)
        return (
            pa.array([], pa.int32()),
            np.zeros(n + 1, np.int64),
            np.zeros(n, np.int64),
            (np.zeros(n, bool)),
        )
    offsets = np.asarray(arr.offsets.to_numpy(), np.int64)
    first = int(offsets[0])
    values = arr.values.slice(first, int(offsets[-1]) - first)
    offsets = offsets - first
    valid = (
        np.ones(len(arr), bool)
        if not arr.null_count
        else np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
    )
    lengths = np.diff(offsets) * valid
    return values, offsets, lengths, valid


def cut_lists(
    arr: pa.Array, begin: np.ndarray, end: np.ndarray, list_type: pa.DataType
) -> pa.Array:
    """Row i of the list array `arr` as its items `begin[i]:end[i]` (0 <= begin <= end <= its
    length; 0:0 for a null row, which stays null), as a `list_type` array."""
    values, offsets, lengths, valid = spans(arr)
    begin, end = np.asarray(begin, np.int64), np.asarray(end, np.int64)
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), list_type)
    if not begin.any() and np.array_equal(end, lengths):
        return arr.cast(list_type)  # nothing cut
    starts = offsets[:-1]
    keep = end > begin  # rows keeping some items: their ranges in `values`, in order
    marks = np.zeros(len(values) + 1, np.int8)
    marks[(starts + begin)[keep]] += 1
    marks[(starts + end)[keep]] -= 1
    kept = values.filter(pa.array(np.cumsum(marks[:-1], dtype=np.int8).view(bool)))
    new_offsets = np.concatenate([[0], np.cumsum(end - begin)])
    nulls = None if valid.all() else pa.array(~valid)
    if new_offsets[-1] > _INT32_MAX:
        out = pa.LargeListArray.from_arrays(pa.array(new_offsets, pa.int64()), kept, mask=nulls)
    else:
        out = pa.ListArray.from_arrays(pa.array(new_offsets, pa.int32()), kept, mask=nulls)
    return out.cast(list_type)


def py_start(start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Where `x[start:]` starts in a list of `length` items, as Python reads a slice start
    (negative: from the end; beyond it: the end)."""
    start = np.where(start < 0, np.maximum(length + start, 0), start)
    return np.minimum(start, length)


__all__ = ["cut_lists", "py_start", "spans"]
