"""Columnar helpers over the flattened messages (or parts) of a batch: which row owns each
item, a struct's field, null/true/empty masks, distinct values for an issue's details."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import to_numpy_bool
from trlprep.validation.checks.common import MAX_DETAILS


class Owners:
    """Maps a per-item mask to the rows owning those items (item i of the flattened lists)."""

    def __init__(self, lengths: np.ndarray, parent: np.ndarray | None = None) -> None:
        self.n = len(lengths)
        self.lengths = lengths
        self._parent = parent

    @property
    def parent(self) -> np.ndarray:
        """Row index of every item (as `pc.list_parent_indices`)."""
        if self._parent is None:
            self._parent = np.repeat(np.arange(self.n, dtype=np.int64), self.lengths)
        return self._parent

    def rows(self, item_mask: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        if item_mask.any():
            out[self.parent[item_mask]] = True
        return out


def null_mask(arr: pa.Array) -> np.ndarray:
    if not arr.null_count:
        return np.zeros(len(arr), dtype=bool)
    return to_numpy_bool(arr.is_null())


def true_mask(arr: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy (null as False); skips the conversion when none is true."""
    if not pc.any(arr).as_py():
        return np.zeros(len(arr), dtype=bool)
    return to_numpy_bool(arr)


def string_offsets(arr: pa.Array) -> np.ndarray | None:
    """The offsets of a string/large_string array (None for other layouts)."""
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    offsets = arr.buffers()[1]
    if offsets is None:
        return None
    dtype = np.int32 if pa.types.is_string(arr.type) else np.int64
    return np.frombuffer(offsets, dtype=dtype)[arr.offset : arr.offset + len(arr) + 1]


def empty_and_space(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Per string: (empty, only whitespace or zero-width characters as `textops.blank` says);
    False for nulls."""
    from trlprep.columns.textops import blank

    space = true_mask(blank(arr))
    offsets = string_offsets(arr)
    if offsets is None:
        lengths = pc.fill_null(pc.binary_length(arr), 0).to_numpy(zero_copy_only=False)
    else:
        lengths = np.diff(offsets)
    empty = lengths == 0
    if arr.null_count:
        empty &= ~null_mask(arr)
    return empty, space


def distinct(values: pa.Array, mask: np.ndarray, limit: int = MAX_DETAILS) -> list[str]:
    picked = values.filter(pa.array(mask))
    if pa.types.is_dictionary(picked.type):
        picked = picked.cast(picked.type.value_type)
    picked = pc.unique(picked)
    return ["null" if v is None else repr(v) for v in picked.to_pylist()[:limit]]


def struct_field(struct: pa.Array, name: str) -> pa.Array | None:
    if not pa.types.is_struct(struct.type) or struct.type.get_field_index(name) < 0:
        return None
    return pc.struct_field(struct, name)
