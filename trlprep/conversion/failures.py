"""Rows a conversion stage refuses (`Failure`), as a rejects table (`failures_table`), and
the rows that hold no value in a column the plan reads, set aside before the route runs
(`split_missing`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from trlprep.wording import plural

if TYPE_CHECKING:
    from trlprep.conversion.convert import Plan


@dataclass
class Failure:
    """Input rows one stage refused, with a reason each."""

    rows: np.ndarray  # input row indices (ROW_ID values)
    stage: str
    reasons: list[str]
    hint: str | None = None  # the stage's advice on such rows
    # `--split-turns all`: the turn of each refused row (its input row's others are kept)
    turns: np.ndarray | None = None


def split_missing(table: pa.Table, plan: Plan) -> tuple[pa.Table, np.ndarray, Failure | None]:
    """`table` (with `ROW_ID`) less its rows that hold no value (null, or the key absent)
    in a column the plan reads, which are returned as a failure (stage `read`, rule
    `null-value`, as `trlprep validate` names it). Also the positions of the rows kept
    (to filter their lines). A column missing from a streamed batch altogether (no row
    of a JSON Lines chunk has the key) is missing in each of its rows."""
    import pyarrow.compute as pc

    from trlprep.conversion.apply import row_ids

    n = table.num_rows
    missing = np.zeros(n, dtype=bool)
    reasons = np.full(n, None, dtype=object)
    for name in plan.source_columns:
        if name not in table.column_names:
            null = np.ones(n, dtype=bool)
        elif table.column(name).null_count:
            null = np.asarray(pc.is_null(table.column(name)).to_numpy(zero_copy_only=False), bool)
        else:
            continue
        reasons[null & ~missing] = (
            f"column {name!r}: a required value is null or missing (rule null-value)"
        )
        missing |= null
    if not missing.any():
        return table, np.arange(n), None
    idx = np.flatnonzero(missing)
    keep = np.flatnonzero(~missing)
    failure = Failure(row_ids(table, idx), "read", list(reasons[idx]))
    return table.take(pa.array(keep)), keep, failure


def settled_rows(table: pa.Table, coerce: bool) -> tuple[Any, list[Failure]]:
    """`table` read as `trlprep.conversion.apply.settle_table` reads it: the `Settled`
    reading, and its rows that cannot be settled as a failure of stage `read` (row
    numbers: positions in `table`)."""
    from trlprep.detection.columnroles import carried_columns, label_columns
    from trlprep.io.kinds import settle_kinds

    names = table.column_names
    s = settle_kinds(
        table, coerce=coerce, carry=carried_columns(names), labels=label_columns(names)
    )
    idx = np.flatnonzero(s.bad)
    return s, [Failure(idx, "read", list(s.reasons[idx]))] if len(idx) else []


def read_notes(s: Any, kept: np.ndarray) -> list[str]:
    """What reading changed (`settled_rows`): values read as text, and values read as
    booleans in the `kept` rows (a row a later stage refuses is not counted)."""
    from trlprep.io.labels import READ_AS

    return [
        f"column {column!r}: {plural(count, 'value')} of another kind (numbers, booleans) "
        "read as text (coerce)"
        for column, count in s.coerced.items()
    ] + [
        f"column {column!r}: {plural(count, 'value')} ({READ_AS}) read as booleans (coerce)"
        for column, count in s.booleans_in(kept).items()
    ]


def failures_table(
    failures: list[Failure], original: pa.Table, offset: int, lines: Any
) -> pa.Table:
    """The refused input rows as a rejects table (row, line, stage, reason, record; and
    `turn` where a failure holds refused turns: null for rows refused whole)."""
    from trlprep.importers.rejects import REJECTS_SCHEMA, records

    if not failures:
        return REJECTS_SCHEMA.empty_table()
    ids = np.concatenate([f.rows for f in failures])
    stage = [f.stage for f in failures for _ in f.rows]
    reasons = [r for f in failures for r in f.reasons]
    turns = None
    if any(f.turns is not None for f in failures):
        turns = np.concatenate(
            [f.turns if f.turns is not None else np.zeros(len(f.rows), np.int64) for f in failures]
        )
        order = np.lexsort((turns, ids))
    else:
        order = np.argsort(ids, kind="stable")
    ids = ids[order]
    local = ids - offset
    line = np.asarray(lines)[local].astype(np.int64) if lines is not None else None
    table = pa.Table.from_arrays(
        [
            pa.array(ids, pa.int64()),
            pa.array(line, pa.int64()) if line is not None else pa.nulls(len(ids), pa.int64()),
            pa.array([stage[i] for i in order], pa.string()),
            pa.array([reasons[i] for i in order], pa.string()),
            pa.array(records(original.take(pa.array(local))), pa.string()),
        ],
        schema=REJECTS_SCHEMA,
    )
    if turns is None:
        return table
    turns = turns[order]
    return table.append_column("turn", pa.array(turns, pa.int64(), mask=turns == 0))
