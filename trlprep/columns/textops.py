"""Vectorised string operations over Arrow string columns (no Python loop over rows).

`common_prefix_bytes` finds, row by row, the longest common prefix of two string columns
by comparing their UTF-8 buffers with numpy; validation uses it for implicit preference
(shared prompt) and prompt extraction uses it to split chosen/rejected. `join_lists` joins
the texts of each list's items (JSON arrays, rendered turns).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths

# nothing visible: whitespace, and the zero-width characters a reader cannot see either (a
# lone U+200B answer trains the model to answer nothing; Chinese text copied from the web
# carries them)
INVISIBLE = r"^[\s\p{Z}\x{200B}-\x{200D}\x{2060}\x{FEFF}]*$"


def blank(arr: pa.Array) -> pa.Array:
    """Per string: it is not empty and holds only whitespace (`utf8_is_space`: U+3000 too)
    or zero-width characters (U+200B-U+200D, U+2060, U+FEFF); null for nulls."""
    space = pc.utf8_is_space(arr)
    unseen = pc.and_(pc.match_substring_regex(arr, INVISIBLE), pc.greater(pc.binary_length(arr), 0))
    return pc.or_(space, unseen)


# ASCII whitespace bytes: space, \t, \n, \v, \f, \r
_WS = np.zeros(256, dtype=bool)
_WS[[9, 10, 11, 12, 13, 32]] = True
# 8-byte words compared per round, at most (bounds the temporary index arrays)
_ROUND_WORDS = 1 << 21


def _buffers(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start offsets, byte lengths, data bytes) of a string column; nulls have length 0."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    arr = arr.cast(pa.large_string())
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data_buf = arr.buffers()[2]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    return offsets[:-1], np.diff(offsets), data


def _ramp(widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position within segment, segment start in the flat array) for segments of `widths`."""
    total = int(widths.sum())
    seg_start = np.cumsum(widths) - widths
    pos = np.arange(total, dtype=np.int64) - np.repeat(seg_start, widths)
    return pos, seg_start


def _windows(data: np.ndarray) -> np.ndarray:
    """Every 8-byte little-endian window of `data` (zero-padded), one per start byte."""
    padded = np.concatenate([data, np.zeros(8, np.uint8)])
    return np.ndarray(shape=(len(data) + 1,), dtype="<u8", buffer=padded, strides=(1,))


def _lowest_set_byte(x: np.ndarray) -> np.ndarray:
    """Index (0-7) of the lowest non-zero byte of each non-zero uint64."""
    low = x & (~x + np.uint64(1))
    _, exp = np.frexp(low.astype(np.float64))
    return (exp - 1) // 8


def common_prefix_bytes(a: pa.Array | pa.ChunkedArray, b: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per row, the byte length of the longest common prefix of `a` and `b`.

    The length is cut back to a UTF-8 character boundary, so slicing either string there
    never splits a character. A null counts as the empty string (prefix 0). Rows are
    compared 8 bytes at a time in rounds of growing length, so work follows the prefixes.
    """
    sa, la, da = _buffers(a)
    sb, lb, db = _buffers(b)
    m = np.minimum(la, lb)
    lcp = np.zeros(len(m), dtype=np.int64)
    active = np.flatnonzero(m > 0)
    if not len(active):
        return lcp
    wa, wb = _windows(da), _windows(db)
    block = 2
    while len(active):
        pos = lcp[active]
        rem = m[active] - pos
        cap = max(1, min(block, _ROUND_WORDS // len(active)))
        nw = np.minimum((rem + 7) // 8, cap)
        k, seg_start = _ramp(nw)
        x = wa[np.repeat(sa[active] + pos, nw) + 8 * k]
        x ^= wb[np.repeat(sb[active] + pos, nw) + 8 * k]
        first = np.minimum.reduceat(np.where(x != 0, k, np.repeat(nw, nw)), seg_start)
        hit = first < nw
        step = 8 * nw
        step[hit] = 8 * first[hit] + _lowest_set_byte(x[seg_start[hit] + first[hit]])
        lcp[active] = pos + np.minimum(step, rem)
        done = hit | (8 * nw >= rem)
        active = active[~done]
        block *= 4
    return _back_to_char_boundary(lcp, sa, la, da, sb, lb, db)


def _is_continuation(data: np.ndarray, starts: np.ndarray, lens: np.ndarray, at: np.ndarray):
    inside = at < lens
    idx = np.where(inside, starts + at, 0)
    byte = data[idx] if len(data) else np.zeros(len(at), np.uint8)
    return inside & ((byte & 0xC0) == 0x80)


def _back_to_char_boundary(lcp, sa, la, da, sb, lb, db) -> np.ndarray:
    for _ in range(3):  # a UTF-8 character has at most 3 continuation bytes
        cut = _is_continuation(da, sa, la, lcp) | _is_continuation(db, sb, lb, lcp)
        cut &= lcp > 0
        if not cut.any():
            break
        lcp = lcp - cut
    return lcp


def _byte_at(data: np.ndarray, starts: np.ndarray, lens: np.ndarray, at: np.ndarray):
    """(byte at position `at` of each row, whether that position exists)."""
    inside = (at >= 0) & (at < lens)
    idx = np.where(inside, starts + at, 0)
    byte = data[idx] if len(data) else np.zeros(len(at), np.uint8)
    return byte, inside


def prefix_on_word_boundary(
    a: pa.Array | pa.ChunkedArray, b: pa.Array | pa.ChunkedArray, prefix: np.ndarray
) -> np.ndarray:
    """Whether cutting both strings after `prefix` bytes falls between words.

    True when the prefix ends in whitespace, or when in both strings the next character is
    whitespace or the end. Only ASCII whitespace counts.
    """
    sa, la, da = _buffers(a)
    sb, lb, db = _buffers(b)
    prev, has_prev = _byte_at(da, sa, la, prefix - 1)
    na, has_na = _byte_at(da, sa, la, prefix)
    nb, has_nb = _byte_at(db, sb, lb, prefix)
    ends_ws = has_prev & _WS[prev]
    next_ok = (~has_na | _WS[na]) & (~has_nb | _WS[nb])
    return ends_ws | next_ok


def slice_bytes(
    arr: pa.Array | pa.ChunkedArray, start: np.ndarray | int, stop: np.ndarray | int | None = None
) -> pa.Array:
    """Per-row byte slice `s[start:stop]` of a string column (cut on character boundaries)."""
    import polars as pl

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    start = np.broadcast_to(np.asarray(start, dtype=np.int64), (n,))
    lens = pc.binary_length(arr).to_numpy(zero_copy_only=False)
    lens = np.nan_to_num(lens.astype(float), nan=0).astype(np.int64)
    stop = lens if stop is None else np.broadcast_to(np.asarray(stop, dtype=np.int64), (n,))
    length = np.clip(stop - start, 0, None)
    df = pl.DataFrame({"s": pl.from_arrow(arr.cast(pa.large_string())), "o": start, "n": length})
    out = df.select(pl.col("s").cast(pl.Binary).bin.slice(pl.col("o"), pl.col("n")))
    return out.to_series().cast(pl.String).to_arrow()


def join_lists(lists: pa.Array, texts: pa.Array, sep: str) -> pa.Array:
    """Per list of `lists`, the texts of its items joined by `sep` (large strings; "" for an
    empty or null list). `texts` holds one text per item of `lists.flatten()`, in order."""
    offsets = np.zeros(len(lists) + 1, np.int64)
    np.cumsum(list_lengths(lists), out=offsets[1:])
    grouped = pa.LargeListArray.from_arrays(pa.array(offsets), texts.cast(pa.large_string()))
    return pc.binary_join(grouped, pa.scalar(sep, pa.large_string()))
