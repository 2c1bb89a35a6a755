"""`--split-turns all` with a chat template or tokenizer: the render refuses single turns.

Splitting makes one row per assistant turn; a turn the template cannot render (a tool
call Cohere cannot print) is refused alone, and the other turns of its input row are kept,
exactly as splitting into a file and rendering that file keeps them. A refused turn is named
`turn K of line L`: K counts the rows its input row split into (1-based, in order: its K-th
assistant turn after the first message). In the rejects file it is one line with the input
row as read (`record`, as for any refused row) and `turn` set; rows refused whole (before
the split) have `turn` null.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from trlprep.conversion.failures import Failure
from trlprep.errors import ROW_ID, RowFailures, holding_warnings, show_held

if TYPE_CHECKING:
    from trlprep.conversion.convert import Plan

__all__ = [
    "as_rejects",
    "by_turn",
    "render_by_turn",
    "rendered_by_turn",
    "splitting_step",
    "turn_numbers",
]


def splitting_step(plan: Any, options: Any = None) -> str | None:
    """The name of the plan's edge that makes one row per assistant turn (the last edge,
    `--split-turns all`), else None."""
    steps = plan.route.steps
    opts = options or plan.options
    if not steps or getattr(opts, "split_turns", "last") != "all":
        return None
    e = steps[-1]
    if (e.src, e.dst) != ("language-modeling", "prompt-completion"):
        return None
    return f"{e.src} -> {e.dst}"


def by_turn(plan: Any, options: Any = None) -> bool:
    """Whether the render refuses single turns: the plan splits every turn and renders or
    tokenises the rows it makes."""
    return plan.render is not None and splitting_step(plan, options) is not None


def turn_numbers(ids: np.ndarray) -> np.ndarray:
    """1-based turn of each row of a split table: its place among the rows of its input row
    (`ids`, each input row's rows together and in order)."""
    ids = np.asarray(ids, np.int64)
    if not len(ids):
        return np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    run = np.repeat(starts, np.diff(np.r_[starts, len(ids)]))
    return np.arange(len(ids), dtype=np.int64) - run + 1


def rendered_by_turn(table: pa.Table, render: Any) -> tuple[pa.Table, list[Failure]]:
    """`render(t)` (the template, tokenizer and output check, row for row) of a split `table`
    (with `ROW_ID`), less the turns it refuses: each attempt's `RowFailures` names rows of
    the table it was given, which are set aside as `Failure`s with their turns and the rest
    rendered again (only the kept attempt's warnings are shown)."""
    turns = turn_numbers(table.column(ROW_ID).to_numpy())
    failures: list[Failure] = []
    while True:
        with holding_warnings() as held:
            try:
                out = render(table)
            except RowFailures as e:
                pos, first = np.unique(np.asarray(e.rows, np.int64), return_index=True)
                if not len(pos) or pos.max() >= table.num_rows:
                    show_held(held)
                    raise  # not rows of this table: the stage's own error stands
                ids = np.asarray(table.column(ROW_ID).take(pa.array(pos)).to_numpy(), np.int64)
                reasons = [e.reasons[i] for i in first]
                failures.append(Failure(ids, e.stage, reasons, e.hint, turns[pos]))
                keep = np.ones(table.num_rows, bool)
                keep[pos] = False
                table, turns = table.filter(pa.array(keep)), turns[keep]
                continue
            except Exception:
                show_held(held)
                raise
        show_held(held)
        return out, failures


def as_rejects(table: pa.Table, turned: bool) -> pa.Table:
    """A rejects table (`REJECTS_SCHEMA` columns, and `turn` after `line` when `turned`)."""
    from trlprep.importers.rejects import REJECTS_SCHEMA

    if not turned:
        return table.select(REJECTS_SCHEMA.names).cast(REJECTS_SCHEMA)
    schema = REJECTS_SCHEMA.insert(2, pa.field("turn", pa.int64()))
    if "turn" not in table.column_names:
        table = table.append_column("turn", pa.nulls(table.num_rows, pa.int64()))
    return table.select(schema.names).cast(schema)


def render_by_turn(
    table: pa.Table, plan: Plan, opts: Any, offset: int, lines: Any, source: Any, reports: list
) -> tuple[pa.Table, list[Failure]]:
    """The render and output check of a split `table`, less the turns they refuse
    (`rendered_by_turn`); the kept attempt's reports go to `reports`."""
    from trlprep.conversion.apply import check_output
    from trlprep.conversion.rendering import render_steps

    kept: list[tuple[str, Any]] = []

    def render(t: pa.Table) -> pa.Table:
        found: list[tuple[str, Any]] = []
        out = render_steps(t, plan, opts or plan.options, offset, lines, source, found)
        check_output(out, plan, offset)
        kept[:] = found
        return out

    out, failures = rendered_by_turn(table, render)
    reports.extend(kept)
    return out, failures
