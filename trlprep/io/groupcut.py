"""Where written rows are cut into groups (Parquet row groups, Arrow record batches, JSON
Lines serialised at once): bounded by rows and by bytes, a function of the rows alone.

Each row's size is measured from its values (lengths of strings and binaries, list lengths,
fixed widths; through structs and lists, columnarly), never from the buffers of the batch
holding it, so rows read whole or in chunks get the same sizes. A group is the longest run
of the rows after the previous group that holds at most `max_rows` rows and `max_bytes`
bytes (at least one row: a single row past the bound is a group of its own). A group is
closed as soon as the row after it is seen (or it is full), so a writer holds no more than
one group's rows besides the batch being written.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_OTHER_BYTES = 8  # a value of a type measured by no rule below (unions, views of lists)


def row_bytes(data: pa.Table | pa.RecordBatch) -> np.ndarray:
    """Each row's bytes (int64, one per row): the sum of its values' sizes."""
    total = np.zeros(data.num_rows, dtype=np.int64)
    for col in data.columns:
        chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
        if chunks:
            total += np.concatenate([array_bytes(c) for c in chunks])
    return total


def array_bytes(arr: pa.Array) -> np.ndarray:
    """Each value's bytes in `arr` (int64); a null value counts nothing."""
    n = len(arr)
    t = arr.type
    if isinstance(t, pa.ExtensionType):
        return array_bytes(arr.storage)
    if pa.types.is_dictionary(t):
        return array_bytes(arr.indices)
    if pa.types.is_null(t) or n == 0:
        return np.zeros(n, dtype=np.int64)
    if (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_string_view(t)
        or pa.types.is_binary_view(t)
    ):
        sizes = pc.binary_length(arr).fill_null(0).to_numpy().astype(np.int64)
        sizes += 8 if pa.types.is_large_string(t) or pa.types.is_large_binary(t) else 4
    elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_map(t):
        offsets = arr.offsets.to_numpy().astype(np.int64)
        child = arr.values.slice(offsets[0], offsets[-1] - offsets[0])
        ends = np.concatenate([[0], np.cumsum(array_bytes(child))])
        rel = offsets - offsets[0]
        sizes = ends[rel[1:]] - ends[rel[:-1]] + 4
    elif pa.types.is_fixed_size_list(t):
        child = array_bytes(arr.flatten())
        sizes = child.reshape(n, t.list_size).sum(axis=1) if t.list_size else np.zeros(n, np.int64)
    elif pa.types.is_struct(t):
        sizes = np.zeros(n, dtype=np.int64)
        for field in arr.flatten():
            sizes += array_bytes(field)
    elif pa.types.is_boolean(t):
        sizes = np.ones(n, dtype=np.int64)
    else:
        try:
            width = max(t.bit_width // 8, 1)
        except ValueError:
            width = _OTHER_BYTES
        sizes = np.full(n, width, dtype=np.int64)
    if arr.null_count:
        sizes = np.where(arr.is_valid().to_numpy(zero_copy_only=False), sizes, 0)
    return sizes


class GroupCuts:
    """Cuts a stream of rows, given batch by batch as their sizes, into groups of at most
    `max_rows` rows and `max_bytes` bytes (see the module docstring)."""

    def __init__(self, max_rows: int, max_bytes: int) -> None:
        self.max_rows, self.max_bytes = max(1, max_rows), max_bytes
        self.open_rows = 0  # rows of the open group (given in earlier batches)
        self.open_bytes = 0

    def feed(self, sizes: np.ndarray) -> list[int]:
        """The rows of the next batch (their sizes) taken in: where in the batch each group
        closed by them ends (exclusive; 0: the open group closes before the batch's first
        row). The rows after the last end belong to the open group."""
        ends: list[int] = []
        cum = np.cumsum(sizes, dtype=np.int64)
        n, start = len(sizes), 0
        base = 0  # cum's value before `start`
        while start < n:
            room_rows = self.max_rows - self.open_rows
            room_bytes = self.max_bytes - self.open_bytes
            fit = int(np.searchsorted(cum[start:], base + room_bytes, side="right"))
            fit = min(fit, room_rows)
            if fit == 0 and self.open_rows == 0:
                fit = 1  # a row past the bound alone
            end = start + fit
            if end == n and self.open_rows + fit < self.max_rows:
                self.open_rows += fit
                self.open_bytes += int(cum[-1] - base)
                return ends
            ends.append(end)  # the next row does not fit (or the group is full)
            self.open_rows = self.open_bytes = 0
            base = int(cum[end - 1]) if end else 0
            start = end
        return ends


def cuts(sizes: np.ndarray, max_rows: int, max_bytes: int) -> list[int]:
    """Where rows of `sizes` (one batch, written on its own) are cut: the groups' ends, the
    last being `len(sizes)`."""
    g = GroupCuts(max_rows, max_bytes)
    ends = g.feed(sizes)
    return ends + [len(sizes)] if g.open_rows else ends


__all__ = ["GroupCuts", "array_bytes", "cuts", "row_bytes"]
