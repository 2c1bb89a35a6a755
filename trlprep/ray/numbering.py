"""Global row numbers and file lines: each row's `ROW_ID` (its row in the whole input) and
`LINE` (its file line, for local JSON Lines files), as the local engine numbers them."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from trlprep.errors import ROW_ID
from trlprep.ray.base import LINE, PATH, _arrow, _blocks, _ray

if TYPE_CHECKING:
    import ray.data


def numbered(ds: ray.data.Dataset) -> tuple[ray.data.Dataset, int]:
    """`ds` with `ROW_ID` (each row's index in the whole dataset) and its row count."""
    ray = _ray()

    @ray.remote
    def number(block: Any, offset: int) -> pa.Table:
        t = _arrow(block)
        if ROW_ID in t.column_names:
            return t
        return t.append_column(ROW_ID, pa.array(np.arange(offset, offset + t.num_rows)))

    blocks = _blocks(ds)
    refs = [number.remote(ref, offset) for ref, offset, _ in blocks]
    total = sum(n for _, _, n in blocks)
    return (ray.data.from_arrow_refs(refs) if refs else ds), total


def _runs(block: Any) -> list[tuple[str, int]]:
    """(file, rows) of each run of rows of one file in a block read with `include_paths`."""
    import pyarrow.compute as pc

    t = _arrow(block)
    if not t.num_rows:
        return []
    enc = pc.dictionary_encode(t.column(PATH)).combine_chunks()
    idx = enc.indices.to_numpy()
    names = enc.dictionary.to_pylist()
    starts = np.r_[0, np.flatnonzero(np.diff(idx)) + 1]
    ends = np.r_[starts[1:], len(idx)]
    return [(names[idx[s]], int(e - s)) for s, e in zip(starts, ends, strict=True)]


def text_lines(path: str) -> np.ndarray | None:
    """The 1-based numbers of the lines holding text in a JSON Lines file (None when every
    line does: row k is line k + 1); blank lines are whitespace only, as the local reader
    reads them."""
    blank_at: list[np.ndarray] = []
    line0 = 0  # lines before the chunk
    total = 0
    import bz2
    import gzip

    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(os.path.splitext(path)[1], open)
    with opener(path, "rb") as f:
        rest = b""
        while True:
            chunk = f.read(1 << 24)
            data = rest + chunk
            if not chunk:
                cut = len(data)
            else:
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest = data
                    continue
            body, rest = data[:cut], data[cut:]
            if body:
                a = np.frombuffer(body, np.uint8)
                nl = np.flatnonzero(a == 10)
                starts = np.r_[0, nl + 1]
                stops = np.r_[nl, len(a)]
                if len(a) and a[-1] == 10:
                    starts, stops = starts[:-1], stops[:-1]
                text = ~np.isin(a, (9, 10, 11, 12, 13, 32))
                c = np.r_[0, np.cumsum(text, dtype=np.int64)]
                blank = c[stops] == c[starts]
                blank_at.append(np.flatnonzero(blank) + line0 + 1)
                line0 += len(starts)
                total = line0
            if not chunk:
                break
    blanks = np.concatenate(blank_at) if blank_at else np.zeros(0, np.int64)
    if not len(blanks):
        return None
    return np.setdiff1d(np.arange(1, total + 1), blanks)


def numbered_files(
    ds: ray.data.Dataset, files: list[str], line_based: bool
) -> tuple[ray.data.Dataset, int, Any]:
    """`ds` read from local `files` with Ray's `include_paths`, numbered: ROW_ID (global
    row), LINE (file line, line-based files) in place of the path column; also the row
    count and the files as `trlprep.io.shards.Shards` (each one's first row and rows)."""

    from trlprep.io.shards import Shards

    ray = _ray()
    blocks = _blocks(ds)
    runs = ray.get([ray.remote(_runs).remote(ref) for ref, _, _ in blocks])
    name = {os.path.abspath(f): f for f in files}
    start: dict[str, int] = {}
    rows: dict[str, int] = {}
    offset = 0
    for block_runs in runs:
        for p, n in block_runs:
            f = name.get(os.path.abspath(p), p)
            start.setdefault(f, offset)
            rows[f] = rows.get(f, 0) + n
            offset += n
    order = sorted(start, key=start.get)
    shards = Shards(order, [start[f] for f in order], [rows[f] for f in order])
    lines = {}
    line_based = line_based and not any(f.endswith((".zst", ".lz4", ".br")) for f in order)
    if line_based:
        found = ray.get([ray.remote(text_lines).remote(f) for f in order])
        lines = dict(zip(order, found, strict=True))
    info = {p: (start[name.get(os.path.abspath(p), p)], lines.get(name.get(os.path.abspath(p), p)))
            for block_runs in runs for p, _ in block_runs}  # fmt: skip
    number = ray.remote(_number_lines)
    refs = [number.remote(ref, off, info, line_based) for ref, off, _ in blocks]
    return (ray.data.from_arrow_refs(refs) if refs else ds), offset, shards


def _number_lines(block: Any, offset: int, info: dict, line_based: bool) -> pa.Table:
    t = _arrow(block)
    ids = np.arange(offset, offset + t.num_rows, dtype=np.int64)
    line = np.zeros(t.num_rows, np.int64)
    if t.num_rows and line_based:
        paths = t.column(PATH).to_numpy(zero_copy_only=False)
        for p in set(paths.tolist()):
            at = paths == p
            first, text = info[p]
            k = ids[at] - first
            line[at] = k + 1 if text is None else np.asarray(text)[k]
    t = t.drop_columns([PATH]).append_column(ROW_ID, pa.array(ids))
    return t.append_column(LINE, pa.array(line) if line_based else pa.nulls(t.num_rows, pa.int64()))


def _span(block: Any) -> tuple[int, int, bool]:
    """(first ROW_ID, last ROW_ID, whether they never decrease) of a non-empty block."""
    ids = _arrow(block).column(ROW_ID).to_numpy()
    return int(ids[0]), int(ids[-1]), bool(np.all(np.diff(ids) >= 0))


def _drop_row_ids(block: Any) -> pa.Table:
    return _arrow(block).drop_columns([ROW_ID])


def in_row_order(ds: ray.data.Dataset, drop_row_ids: bool = False) -> ray.data.Dataset:
    """`ds` (rows carrying ROW_ID) materialized with its rows in ROW_ID order, rows of one
    ROW_ID kept as they are (`drop_row_ids`: without the ROW_ID column). Ray keeps the
    order of blocks only as a best effort (with `preserve_order` set, blocks have still
    been seen to pass each other): blocks in order within themselves are put back in order
    by their rows (no data moves), anything else is sorted. The result is the list of
    blocks itself (no operation left to run, so nothing left to reorder them)."""
    ray = _ray()
    ds = ds.materialize()
    blocks = [ref for ref, _, n in _blocks(ds) if n]
    spans = ray.get([ray.remote(_span).remote(ref) for ref in blocks])
    order = sorted(range(len(blocks)), key=lambda i: (spans[i][0], spans[i][1], i))
    inside = all(s[2] for s in spans)
    chained = all(spans[a][1] <= spans[b][0] for a, b in zip(order, order[1:], strict=False))
    if not (inside and chained):
        return in_row_order(ds.sort(ROW_ID), drop_row_ids)
    if not blocks:
        return ds.drop_columns([ROW_ID]).materialize() if drop_row_ids else ds
    refs = [blocks[i] for i in order]
    if drop_row_ids:
        refs = [ray.remote(_drop_row_ids).remote(ref) for ref in refs]
    return ray.data.from_arrow_refs(refs)
