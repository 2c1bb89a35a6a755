"""Row hashes and duplicate rows across record batches.

Each batch contributes one 64-bit hash per row; at the end one sort over all of them finds
the rows that repeat an earlier row. Memory is 8 bytes per row (16 with line numbers),
never the rows themselves.

A column's row hash is built from its leaves: flat values (strings, numbers ...) are hashed
by polars, dictionary values once per distinct value, and lists and structs are folded
from their children with numpy. Nested columns are therefore never converted to polars
as a whole, and a list of messages costs one pass over its message fields. Hashes depend
on Arrow types, so two JSONL chunks inferred with different types (say, a message field
present in one only) may hide a duplicate pair that spans them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_layout
from trlprep.columns.arrowtypes import is_string

_WRAP = 2**64  # hashes are arithmetic modulo 2**64
_MIX_INT = 0x9E3779B97F4A7C15
_MIX = np.uint64(_MIX_INT)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_POS_INT = 0xD6E8FEB86659FD93
_POS = np.uint64(_POS_INT)
_POS2 = np.uint64(2 * _POS_INT % _WRAP)
_FIELD_INT = 0xA0761D6478BD642F
_NULL_LIST = np.uint64(0x2D358DCCAA6C78A5)
_NULL_STRUCT_INT = 0x8BB84B93962EACC9
_EMPTY_INT = 0x5851F42D4C957F2D
_EMPTY = np.uint64(_EMPTY_INT)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place (a bijection that spreads every bit)."""
    t = x >> _S30
    x ^= t
    x *= _M1
    x ^= np.right_shift(x, _S27, out=t)
    x *= _M2
    x ^= np.right_shift(x, _S31, out=t)
    return x


def _valid(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(arr.is_valid(), False).to_numpy(zero_copy_only=False), bool)


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t)


def value_hashes(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash per value: equal values (of one Arrow type) hash alike, nulls included.

    Raises when polars cannot hash a leaf type (unions, extensions ...).
    """
    return _hashes(arr, 1)


def _hashes(arr: pa.Array | pa.ChunkedArray, scale: int) -> np.ndarray:
    """`scale` * the value hashes (mod 2**64); a dictionary scales its small table instead."""
    import polars as pl

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    t = arr.type
    if pa.types.is_dictionary(t):  # hashed as its values, so as the plain column would be
        values = pa.concat_arrays([arr.dictionary, pa.nulls(1, arr.dictionary.type)])
        idx = arr.indices
        table = _dictionary_hashes(values) * np.uint64(scale)
        if not idx.null_count and len(values) == 2:  # one value (and the unused null slot)
            return np.full(len(arr), table[0], dtype=np.uint64)
        if idx.null_count:
            idx = pc.fill_null(idx, len(values) - 1)
        return pc.take(pa.array(table), idx).to_numpy()  # Arrow takes int32 indices as is
    valid = _valid(arr) if arr.null_count else None
    if _is_list(t):
        lengths, starts = list_layout(arr)
        child = _hashes(pc.list_flatten(arr), 1)
        return _fold_list(child, lengths, starts, valid, scale)
    if pa.types.is_struct(t):
        # Horner over the fields, expanded: sum of field hash * _MIX**(fields after it)
        parts, weight = [], scale
        for i in reversed(range(t.num_fields)):
            w = weight * _FIELD_INT if i == 0 else weight
            parts.append(_hashes(pc.struct_field(arr, [i]), w % _WRAP))
            weight = weight * _MIX_INT % _WRAP
        return _fold_struct(parts, len(arr), valid, scale)
    out = np.asarray(pl.Series(arr).hash().to_numpy(), dtype=np.uint64)
    return out * np.uint64(scale) if scale != 1 else out


def _fold_struct(parts: list[np.ndarray], n: int, valid, scale: int) -> np.ndarray:
    if not parts:
        out = np.full(n, _FIELD_INT * scale % _WRAP, dtype=np.uint64)
    else:
        # add into one of our own arrays (polars' and Arrow's results are read-only)
        first = next((i for i, p in enumerate(parts) if p.flags.writeable), None)
        out = parts[0].copy() if first is None else parts[first]
        for i, part in enumerate(parts):
            if i != (0 if first is None else first):
                out += part
    if valid is not None:
        out[~valid] = np.uint64(_NULL_STRUCT_INT * scale % _WRAP)
    return out


_SMALL: dict[tuple, np.ndarray] = {}  # hashes of small dictionaries, by value


def _dictionary_hashes(values: pa.Array) -> np.ndarray:
    """Hashes of a dictionary's values; small ones (roles ...) are remembered across batches."""
    if len(values) > 64 or not (is_string(values.type) or pa.types.is_integer(values.type)):
        return value_hashes(values)
    key = (str(values.type), *values.to_pylist())
    found = _SMALL.get(key)
    if found is None:
        if len(_SMALL) > 1024:
            _SMALL.clear()
        found = _SMALL[key] = value_hashes(values)
    return found


def _fold_list(child, lengths, starts, valid, scale: int) -> np.ndarray:
    """Per list: mix(sum of item hash * an odd weight per position, plus the length).

    Position weights keep the order; the result is the same however rows are batched
    (lists of one length just take a faster path).
    """
    n, m = len(lengths), len(child)
    k = int(lengths[0]) if n else 0
    if m == 0:
        sums = _EMPTY * lengths.astype(np.uint64)
    elif m == n * k and (lengths == k).all():
        sums = child[0::k] * _POS
        for j in range(1, k):
            sums += child[j::k] * np.uint64(_POS_INT * (2 * j + 1) % _WRAP)
        sums += np.uint64(_EMPTY_INT * k % _WRAP)
    else:
        pos = np.arange(m, dtype=np.int64) - np.repeat(starts, lengths)
        weight = pos.astype(np.uint64)
        weight *= _POS2
        weight += _POS
        weight *= child
        cum = np.zeros(m + 1, dtype=np.uint64)
        np.cumsum(weight, out=cum[1:])
        sums = cum[starts + lengths] - cum[starts]
        sums += _EMPTY * lengths.astype(np.uint64)
    out = _mix(sums)
    if valid is not None:
        out[~valid] = _NULL_LIST
    if scale != 1:
        out *= np.uint64(scale)
    return out


def column_hashes(data: pa.Table | pa.RecordBatch) -> dict[str, np.ndarray] | None:
    """A 64-bit hash per row of each column (None when some column cannot be hashed)."""
    if data.num_columns == 0:
        return None
    try:
        return {
            name: value_hashes(col)
            for name, col in zip(data.schema.names, data.columns, strict=True)
        }
    except Exception:  # polars lacks some Arrow types (unions, extensions ...)
        return None


def row_hash(hashes: dict[str, np.ndarray]) -> np.ndarray:
    """Combine per-column hashes into one hash per row (column order matters)."""
    it = iter(hashes.values())
    h = next(it).copy()
    for other in it:
        h *= _MIX  # wraps modulo 2**64
        h ^= other
    return h


class LineMap:
    """Row -> file line, kept per batch as a first line when a batch's lines are consecutive
    (the usual case), so streaming a large file holds O(batches), not O(rows), of it."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._parts: list[int | np.ndarray] = []

    def add(self, start_row: int, lines: np.ndarray) -> None:
        lines = np.asarray(lines, dtype=np.int64)
        if not len(lines):
            return
        consecutive = int(lines[-1] - lines[0]) == len(lines) - 1
        self._starts.append(start_row)
        self._parts.append(int(lines[0]) if consecutive else lines)

    def __getitem__(self, rows: int | np.ndarray) -> int | np.ndarray:
        if np.isscalar(rows):
            return int(self[np.asarray([rows])][0])
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty(len(rows), dtype=np.int64)
        seg = np.searchsorted(np.asarray(self._starts), rows, side="right") - 1
        for i, (r, k) in enumerate(zip(rows, seg, strict=True)):
            part, local = self._parts[k], r - self._starts[k]
            out[i] = part + local if isinstance(part, int) else part[local]
        return out


class DuplicateFinder:
    """Collects row hashes batch by batch; `finish` names the rows that repeat earlier ones."""

    def __init__(self) -> None:
        self._hashes: list[np.ndarray] = []
        self._lines: LineMap | None = LineMap()
        self._rows = 0

    def add(self, hashes: np.ndarray, lines: np.ndarray | None = None) -> None:
        self._hashes.append(np.asarray(hashes, dtype=np.uint64))
        if lines is None or self._lines is None:
            self._lines = None
        else:
            self._lines.add(self._rows, lines)
        self._rows += len(hashes)

    def finish(
        self, limit: int | None = None
    ) -> tuple[int, np.ndarray, np.ndarray, LineMap | None]:
        """(how many rows repeat an earlier row, the first `limit` of them in row order, the
        row each one first appeared at, lines or None).

        Memory stays at a few arrays of one word per row, however many rows repeat.
        """
        none = np.zeros(0, np.int64)
        if not self._hashes:
            return 0, none, none, None
        h = np.concatenate(self._hashes)
        self._hashes = []
        lines = self._lines
        # most datasets have no duplicates: a plain sort proves it, faster than an argsort
        hs = np.sort(h)
        count = int(np.count_nonzero(hs[1:] == hs[:-1]))
        del hs
        if not count:
            return 0, none, none, lines
        order = np.argsort(h, kind="stable")  # by hash, rows ascending within a hash
        hs = h[order]
        first_of_group = np.empty(len(hs), dtype=bool)
        first_of_group[0] = True
        np.not_equal(hs[1:], hs[:-1], out=first_of_group[1:])
        repeats = np.zeros(len(h), dtype=bool)  # row repeats an earlier row
        for s in range(0, len(h), _CHUNK):
            block = order[s : s + _CHUNK]
            repeats[block[~first_of_group[s : s + _CHUNK]]] = True
        del first_of_group
        dup_rows = _first_true(repeats, limit)
        # the first occurrence is the lowest row of the hash's group in the stable order
        first_rows = order[np.searchsorted(hs, h[dup_rows], side="left")]
        return count, dup_rows, first_rows, lines


_CHUNK = 1 << 20


def _first_true(mask: np.ndarray, limit: int | None) -> np.ndarray:
    """Indices of the first `limit` true values (all when None), scanning in chunks."""
    if limit is None:
        return np.flatnonzero(mask)
    found: list[np.ndarray] = []
    need = limit
    for s in range(0, len(mask), _CHUNK):
        idx = np.flatnonzero(mask[s : s + _CHUNK])[:need] + s
        found.append(idx)
        need -= len(idx)
        if need <= 0:
            break
    return np.concatenate(found) if found else np.zeros(0, np.int64)
