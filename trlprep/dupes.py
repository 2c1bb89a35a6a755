"""Row hashes and duplicate rows across record batches.

Each batch contributes one 64-bit hash per row (per-column polars hashes, combined); at the
end one sort over all of them finds the rows that repeat an earlier row. Memory is 8 bytes
per row (16 with line numbers), never the rows themselves. Hashes depend on Arrow types, so
two JSONL chunks inferred with different types (say, a message field present in one only)
may hide a duplicate pair that spans them.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

_MIX = np.uint64(0x9E3779B97F4A7C15)


def column_hashes(data: pa.Table | pa.RecordBatch) -> dict[str, np.ndarray] | None:
    """A 64-bit hash per row of each column (None when polars cannot read a column)."""
    if data.num_columns == 0:
        return None
    try:
        df = pl.from_arrow(data)
        if isinstance(df, pl.Series):  # pragma: no cover - polars returns a frame for tables
            df = df.to_frame()
        hashed = df.select(pl.col(c).hash() for c in df.columns)
    except Exception:  # polars lacks some Arrow types (unions, extensions ...)
        return None
    return {c: hashed.get_column(c).to_numpy() for c in df.columns}


def row_hash(hashes: dict[str, np.ndarray]) -> np.ndarray:
    """Combine per-column hashes into one hash per row (column order matters)."""
    it = iter(hashes.values())
    h = next(it).copy()
    for other in it:
        h *= _MIX  # wraps modulo 2**64
        h ^= other
    return h


class DuplicateFinder:
    """Collects row hashes batch by batch; `finish` names the rows that repeat earlier ones."""

    def __init__(self) -> None:
        self._hashes: list[np.ndarray] = []
        self._lines: list[np.ndarray] | None = []

    def add(self, hashes: np.ndarray, lines: np.ndarray | None = None) -> None:
        self._hashes.append(np.asarray(hashes, dtype=np.uint64))
        if lines is None or self._lines is None:
            self._lines = None
        else:
            self._lines.append(np.asarray(lines, dtype=np.int64))

    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(duplicate rows ascending, row of each one's first occurrence, lines or None)."""
        if not self._hashes:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), None
        h = np.concatenate(self._hashes)
        self._hashes = []
        order = np.argsort(h, kind="stable")
        hs = h[order]
        del h
        new = np.ones(len(hs), dtype=bool)
        new[1:] = hs[1:] != hs[:-1]
        del hs
        dup_pos = np.flatnonzero(~new)
        # the leader of each group is the first (lowest) row, thanks to the stable sort
        leader_pos = np.flatnonzero(new)
        group_of_dup = np.searchsorted(leader_pos, dup_pos, side="right") - 1
        dup_rows = order[dup_pos]
        first_rows = order[leader_pos[group_of_dup]]
        by_row = np.argsort(dup_rows, kind="stable")
        lines = np.concatenate(self._lines) if self._lines else None
        return dup_rows[by_row], first_rows[by_row], lines
