"""Vectorised row-wise operations on Arrow arrays that pyarrow.compute lacks.

Per-row list concatenation and slicing, byte-offset string splitting, and the row orders
of unpairing, all done by computing offsets and gather indices with numpy over whole
columns. Null rows are read as empty (callers reject nulls before they get here), except
by `slice_lists`, which keeps a null list null.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list
from trlprep.columns.textparts import marked_as_parts
from trlprep.errors import DataError


def as_array(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array (string views become large strings, which numpy can read)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if pa.types.is_string_view(col.type):
        col = col.cast(pa.large_string())
    if pa.types.is_list_view(col.type):
        col = col.cast(pa.list_(col.type.value_type))
    return col


def common_type(*types: pa.DataType) -> pa.DataType:
    """One type all `types` cast to (struct fields merged, missing ones null; large wins)."""
    if len(set(types)) == 1:
        return types[0]
    try:
        schema = pa.unify_schemas(
            [pa.schema([("x", t)]) for t in types], promote_options="permissive"
        )
    except (pa.ArrowTypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise DataError(
            f"columns to combine have incompatible types ({', '.join(map(str, types))})",
            hint="make the message fields uniform (e.g. all `content` strings)",
        ) from e
    return schema.field("x").type


def unify(*arrays: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    """Contiguous arrays cast to one common type (messages whose content is strings beside
    messages whose content is parts: the strings made flagged text parts, `textparts`)."""
    arrays = [as_array(a) for a in arrays]
    if len(arrays) == 2:
        arrays = list(marked_as_parts(*arrays))
    target = common_type(*(a.type for a in arrays))
    return [a if a.type == target else a.cast(target) for a in arrays]


def unify_chunked(*cols: pa.ChunkedArray) -> list[pa.ChunkedArray]:
    """Chunked columns cast to one common type (chunks kept; content of two kinds as
    `unify` makes it)."""
    if len(cols) == 2 and len({c.type for c in cols}) == 2:
        a, b = marked_as_parts(as_array(cols[0]), as_array(cols[1]))
        cols = (pa.chunked_array([a]), pa.chunked_array([b]))
    target = common_type(*(c.type for c in cols))
    return [c if c.type == target else c.cast(target) for c in cols]


def offsets(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(start, length) of every row of a list or string array, into its values / data buffer."""
    n = len(arr)
    width = (
        np.int64
        if pa.types.is_large_list(arr.type) or pa.types.is_large_string(arr.type)
        else np.int32
    )
    buf = arr.buffers()[1]
    if buf is None or n == 0:
        return np.zeros(n, np.int64), np.zeros(n, np.int64)
    off = np.frombuffer(buf, dtype=width)[arr.offset : arr.offset + n + 1].astype(np.int64)
    start, length = off[:-1], np.diff(off)
    if arr.null_count:
        length = np.where(valid_mask(arr), length, 0)
    return start, length


def valid_mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=bool)
    return pc.is_valid(arr).to_numpy(zero_copy_only=False)


def string_data(arr: pa.Array) -> np.ndarray:
    """The data buffer of a string array as bytes (empty when every string is empty)."""
    buf = arr.buffers()[2]
    return np.frombuffer(buf, dtype=np.uint8) if buf is not None else np.zeros(0, np.uint8)


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of `range(s, s + l)` for every (s, l)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    before = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) + np.repeat(np.asarray(starts) - before, lengths)


def _list_from(
    values: pa.Array, lengths: np.ndarray, like: pa.DataType, null: pa.Array | None = None
) -> pa.Array:
    """A list array of consecutive runs of `values` (`null`: a mask of the null lists)."""
    off = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=off[1:])
    if pa.types.is_large_list(like) or off[-1] > np.iinfo(np.int32).max:
        return pa.LargeListArray.from_arrays(pa.array(off, pa.int64()), values, mask=null)
    return pa.ListArray.from_arrays(pa.array(off.astype(np.int32), pa.int32()), values, mask=null)


def take_ranges(arr: pa.Array, starts: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """Per row, the sub-list `arr[i][starts[i] : starts[i] + lengths[i]]` (indices into row i);
    a null list stays null (`lengths` 0 there)."""
    arr = as_array(arr)
    row_start, _ = offsets(arr)
    idx = ranges(row_start + starts, lengths)
    null = arr.is_null() if arr.null_count else None
    return _list_from(arr.values.take(pa.array(idx, pa.int64())), lengths, arr.type, null)


def slice_lists(arr: pa.Array, start: np.ndarray | int, stop: np.ndarray | None = None) -> pa.Array:
    """Per-row `row[start:stop]` (numpy vectors or scalars; stop None = to the end); a null
    list stays null."""
    arr = as_array(arr)
    _, length = offsets(arr)
    start = np.clip(np.broadcast_to(np.asarray(start, np.int64), length.shape), 0, length)
    stop = length if stop is None else np.clip(np.asarray(stop, np.int64), start, length)
    return take_ranges(arr, start, stop - start)


def concat_lists(a: pa.Array, b: pa.Array) -> pa.Array:
    """Per-row list concatenation `a[i] + b[i]` (element types are unified first)."""
    a, b = unify(a, b)
    sa, la = offsets(a)
    sb, lb = offsets(b)
    n = len(a)
    values = pa.concat_arrays([a.values, b.values])
    starts = np.empty(2 * n, np.int64)
    lengths = np.empty(2 * n, np.int64)
    starts[0::2], starts[1::2] = sa, sb + len(a.values)
    lengths[0::2], lengths[1::2] = la, lb
    idx = ranges(starts, lengths)
    return _list_from(values.take(pa.array(idx, pa.int64())), la + lb, a.type)


def concat_strings(
    a: pa.Array | pa.ChunkedArray, b: pa.Array | pa.ChunkedArray, sep: str = ""
) -> pa.Array:
    """Per-row string concatenation `a[i] + sep + b[i]`."""
    a, b = unify(a, b)
    return pc.binary_join_element_wise(a, b, pa.scalar(sep, a.type))


def concat_content(
    a: pa.Array | pa.ChunkedArray, b: pa.Array | pa.ChunkedArray, sep: str = ""
) -> pa.Array:
    """String concatenation (joined by `sep`) for text, message-list concatenation for
    conversations."""
    if is_list(a.type):
        return concat_lists(a, b)
    return concat_strings(a, b, sep)


def split_strings(arr: pa.Array, cut: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """(`s[:cut]`, `s[cut:]`) per row, `cut` in bytes on UTF-8 character boundaries."""
    arr = as_array(arr)
    n = len(arr)
    if n == 0:
        return arr, arr
    large = pa.types.is_large_string(arr.type)
    width = np.int64 if large else np.int32
    off = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset : arr.offset + n + 1]
    both = np.empty(2 * n + 1, dtype=width)
    both[0::2] = off
    both[1::2] = off[:-1] + cut.astype(width)
    data = arr.buffers()[2] or pa.py_buffer(b"")
    halves = pa.Array.from_buffers(arr.type, 2 * n, [None, pa.py_buffer(both), data])
    even = pa.array(np.arange(0, 2 * n, 2, dtype=np.int64))
    return halves.take(even), halves.take(pa.array(np.arange(1, 2 * n, 2, dtype=np.int64)))


def pair_order(n: int, order: str, block_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(input row, is-first-of-pair) for each of the 2n rows an unpairing emits.

    interleaved: first0, second0, first1, second1, ...; blocks: every first then every
    second, in blocks of `block_rows` input rows (None: one block).
    """
    rows = np.arange(n, dtype=np.int64)
    if order == "interleaved":
        row = np.repeat(rows, 2)
        first = np.tile(np.array([True, False]), n)
        return row, first
    size = block_rows or max(n, 1)
    block = rows // size
    row = np.concatenate([rows, rows])
    first = np.concatenate([np.ones(n, bool), np.zeros(n, bool)])
    perm = np.lexsort((row, ~first, np.concatenate([block, block])))
    return row[perm], first[perm]


def take_rows(col: pa.Array | pa.ChunkedArray, idx: np.ndarray) -> pa.Array | pa.ChunkedArray:
    return col.take(pa.array(idx, pa.int64()))


def map_slices(fn: Callable[[pa.Table], pa.Table], table: pa.Table, rows: int) -> list[pa.Table]:
    """`fn` over consecutive `rows`-row slices of `table`, in order."""
    return [fn(table.slice(start, rows)) for start in range(0, table.num_rows, rows)]
