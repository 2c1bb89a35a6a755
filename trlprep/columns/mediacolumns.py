"""LLaVA's and Qwen-VL's media columns (`image`, `video`: one path per row, or a list of
them) made the lists TRL and trlprep read (`images`, `videos`).

TRL reads `image` as one image (a list there would reach the processor as one image) and
has no `video` column; trlprep counts `<video>` placeholders against `videos`
(LLaMA-Factory's name). So an `image` column holding lists becomes `images`, and a `video`
column becomes `videos`, a lone path made a list of one (null stays null). An `image` of
one path per row stays as it is (TRL reads it). Nothing is renamed where the list column
is there already.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import json_list_lengths, list_lengths
from trlprep.columns.arrowtypes import is_json_field, is_list, is_string, json_kinds
from trlprep.registry import SINGLE_MEDIA_COLUMNS


def as_media_lists(table: pa.Table) -> tuple[pa.Table, dict[str, str]]:
    """`table` with its `image` lists and its `video` column as `images` / `videos` lists
    (see the module docstring), and the columns renamed (old -> new)."""
    renamed: dict[str, str] = {}
    for name, plural in SINGLE_MEDIA_COLUMNS.items():
        if name not in table.column_names or plural in table.column_names:
            continue
        i = table.schema.get_field_index(name)
        field, col = table.schema.field(i), table.column(i)
        if is_json_field(field) or pa.types.is_null(col.type):
            continue
        if is_list(col.type):
            lists = col
        elif name == "image" or not is_string(col.type):
            continue
        else:
            lists = one_each(col)
        table = table.set_column(i, pa.field(plural, lists.type), lists)
        renamed[name] = plural
    return table, renamed


def one_each(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Each non-null value as a list of one; null rows stay null."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    valid = col.is_valid()
    offsets = pc.cumulative_sum(pc.cast(valid, pa.int32()))
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), offsets])
    values = col.filter(valid)
    mask = pc.invert(valid)
    return pa.ListArray.from_arrays(offsets, values, mask=mask)


def single_media_counts(field: pa.Field, col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Entries per row of an `image` / `video` column: 1 for one path or object, the list's
    length for a list (typed, or in JSON text whose rows mix both), 0 for null."""
    if is_list(col.type):
        return list_lengths(col)
    one = np.asarray(pc.cast(col.is_valid(), pa.int64()).to_numpy(), np.int64)
    if not is_json_field(field):
        return one
    kinds = np.asarray(json_kinds(col).to_numpy(zero_copy_only=False), dtype=object)
    lists = kinds == "list"
    out = np.where(kinds == "null", 0, one)
    out[lists] = json_list_lengths(col)[lists]
    return out
