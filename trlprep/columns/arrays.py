"""numpy views of Arrow arrays: boolean masks, list lengths and where each list starts;
`relist`: new items in the lists of an array."""

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


def relist(arr: pa.Array, values: pa.Array) -> pa.Array:
    """`values` (the flattened items of list array `arr`, remade) in lists shaped as `arr`'s
    (lengths and null lists), of `arr`'s list kind and item field (name, nullability) with
    `values`' type; a large list where the items outgrow 32-bit offsets."""
    offsets = np.concatenate([[0], np.cumsum(list_lengths(arr))]).astype(np.int64)
    mask = arr.is_null() if arr.null_count else None
    field = arr.type.value_field.with_type(values.type)
    if pa.types.is_large_list(arr.type) or offsets[-1] >= 2**31:
        out = pa.LargeListArray.from_arrays(pa.array(offsets), values, mask=mask)
        return out.cast(pa.large_list(field))
    out = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, mask=mask)
    return out.cast(pa.list_(field))


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
