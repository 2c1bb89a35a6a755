"""numpy views of Arrow arrays: boolean masks, list lengths and where each list starts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def to_numpy_bool(arr: pa.Array | pa.ChunkedArray, null: bool = False) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, null).to_numpy(zero_copy_only=False), dtype=bool)


def list_lengths(arr: pa.Array) -> np.ndarray:
    """Per-row list length, 0 for null lists."""
    return np.asarray(
        pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False), dtype=np.int64
    )


def list_layout(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(length, start in `pc.list_flatten(arr)`) of each list; null lists have length 0."""
    if not arr.null_count and (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)):
        offsets = arr.offsets.to_numpy()  # int32 or int64, read-only
        starts = offsets[:-1] if offsets[0] == 0 else offsets[:-1] - offsets[0]
        return np.diff(offsets), starts
    lengths = list_lengths(arr)
    return lengths, np.cumsum(lengths) - lengths
