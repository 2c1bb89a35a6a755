"""numpy views of Arrow arrays: boolean masks, list lengths and where each list starts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def to_numpy_bool(arr: pa.Array | pa.ChunkedArray, null: bool = False) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, null).to_numpy(zero_copy_only=False), dtype=bool)


def list_lengths(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
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


def json_list_lengths(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per row of a JSON-text column, the length of the list its text holds (0 for null,
    `null` and any other JSON value), parsing each distinct text once: a column whose rows
    mix lists of paths with lists of lists (a video as its frames) has no Arrow list type."""
    import json

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_null(arr.type) or len(arr) == 0:
        return np.zeros(len(arr), np.int64)
    enc = pc.dictionary_encode(arr)

    def length(text: str) -> int:
        try:
            value = json.loads(text)
        except ValueError:
            return 0
        return len(value) if isinstance(value, list) else 0

    per_text = np.array([length(t) for t in enc.dictionary.to_pylist()] + [0], np.int64)
    return per_text[pc.fill_null(enc.indices, len(enc.dictionary)).to_numpy()]
