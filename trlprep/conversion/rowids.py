"""Which input row each converted row came from: the hidden `ROW_ID` column, rows named by
their file lines (line-oriented inputs) or 0-based index, and a stage run so that the rows
it refuses or names are input rows (`run_stage`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.errors import ROW_ID, RowFailures

__all__ = ["InputRows", "row_ids", "run_stage", "with_row_ids"]


def with_row_ids(table: pa.Table, offset: int = 0) -> pa.Table:
    """`table` with the hidden `ROW_ID` column (input row index), unless it has one."""
    if ROW_ID in table.column_names:
        return table
    ids = pa.array(np.arange(offset, offset + table.num_rows, dtype=np.int64))
    return table.append_column(ROW_ID, ids)


def row_ids(table: pa.Table, rows: Any, offset: int = 0) -> np.ndarray:
    """The input rows of positions `rows` of `table` (through `ROW_ID`, else `offset`)."""
    rows = np.asarray(rows, dtype=np.int64)
    if ROW_ID in table.column_names:
        return np.asarray(table.column(ROW_ID).take(pa.array(rows)).to_numpy(), np.int64)
    return rows + offset


@dataclass
class InputRows:
    """Where the rows of a batch came from: the input's lines (line-oriented files) of the
    input rows `offset`, `offset + 1`, ... (None: rows are named by 0-based index). Where
    the input is several files, lines say `file:line`: `path`, the one file of these rows,
    or `shards` (`trlprep.io.shards.Shards`), the file of each row of the whole input."""

    offset: int = 0
    lines: Any = None
    path: str | None = None
    shards: Any = None

    def numbers(self, ids: Any) -> tuple[str, list[int]]:
        """("lines", their file lines) for input rows `ids`, else ("rows", the ids)."""
        ids = np.asarray(ids, np.int64)
        if self.lines is not None:
            return "lines", [int(x) for x in np.asarray(self.lines)[ids - self.offset]]
        return "rows", [int(x) for x in ids]

    def name(self, ids: np.ndarray) -> str:
        """`line 4` / `lines 4, 8` (1-based file lines), else `row 3` / `rows 3, 7`; rows
        of one of several files `a.jsonl:4, a.jsonl:8`, or `a.parquet row 3` (0-based in
        its file), as `trlprep.io.shards.Shards.where` names them."""
        word, shown = self.numbers(ids)
        if self.shards is not None:
            rows = np.asarray(ids, np.int64).tolist()
            return self.shards.places(rows, shown if word == "lines" else None)
        if self.path is not None and word == "lines":
            from trlprep.io.shards import place

            return ", ".join(place(self.path, x) for x in shown)
        return f"{word[:-1] if len(shown) == 1 else word} " + ", ".join(map(str, shown))


def run_stage(table: pa.Table, fn: Any, offset: int, source: InputRows | None = None) -> pa.Table:
    """Run one stage; a RowFailures it raises gets `input_rows` (mapped through ROW_ID).

    Rows the stage names in its messages (`converters.common.rows_text`) are named by
    their input lines (or rows) when the table carries ROW_ID and `source` is given.
    """
    from trlprep.converters.common import ROW_NAMER

    token = None
    if source is not None and ROW_ID in table.column_names:
        token = ROW_NAMER.set(lambda rows: source.name(row_ids(table, rows, offset)))
    try:
        return fn(table)
    except RowFailures as e:
        if getattr(e, "input_rows", None) is None:
            e.input_rows = row_ids(table, e.rows, offset)
        raise
    finally:
        if token is not None:
            ROW_NAMER.reset(token)
