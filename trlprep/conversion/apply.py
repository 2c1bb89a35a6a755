"""Apply a conversion plan to a table or batch: the media stages and the route's edges,
then the chat template and tokenizer (`rendering`), the output check against the target
type, and the rows any stage refuses.

`trlprep.conversion.convert` makes the plan; `trlprep.conversion.stream` (files) and the Python API
(`convert_table`) run it through here. Rows a stage refuses (`RowFailures`) are mapped
back to input rows through the hidden `ROW_ID` column and set aside as `Failure`s, so the
rest of a batch goes on; `failures_table` writes them as rejects (row, line, stage,
reason, record).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from trlprep.columns.mediacolumns import as_media_lists
from trlprep.conversion.failures import (  # noqa: F401 (re-exported)
    Failure,
    failures_table,
    read_notes,
    settled_rows,
    split_missing,
)
from trlprep.conversion.mediastage import (
    RENDERED,
    inline_images,
    media_parts,
    say_inline_images,
    say_unrendered,
)
from trlprep.conversion.prerender import say_prerendered
from trlprep.conversion.rendering import render_steps
from trlprep.conversion.rowids import InputRows, row_ids, run_stage, with_row_ids
from trlprep.errors import ROW_ID, DataError, RowFailures, holding_warnings, show_held, warn_user
from trlprep.registry import Format
from trlprep.wording import plural

if TYPE_CHECKING:
    from trlprep.conversion.convert import Plan

__all__ = [
    "Failure",
    "InputRows",
    "apply_checked",
    "apply_steps",
    "check_output",
    "convert_table",
    "failures_table",
    "merge_reports",
    "row_ids",
    "settle_table",
    "split_missing",
    "with_row_ids",
]


def apply_steps(
    table: pa.Table,
    plan: Plan,
    options: Any = None,
    offset: int = 0,
    lines: Any = None,
    counts: list[tuple[str, int, int]] | None = None,
    source: InputRows | None = None,
    reports: list[tuple[str, Any]] | None = None,
    rendering: bool = True,
) -> pa.Table:
    """Run the route's edges, then the chat template and tokenizer, over one table or batch;
    conversations a template renders are validated first (`check_output`). `rendering`
    False: stop before the template (`render_steps` runs the rest).

    `offset` is the index of the batch's first row (and `lines` its file lines), so errors
    name rows of the whole input. A `RowFailures` from any stage leaves with `input_rows`:
    the input rows (the table's `ROW_ID` values) of its failing rows. `counts` receives
    (edge, rows in, rows out) per edge; `source` names rows in the edges' messages. The
    template's and tokenizer's reports are merged into `plan.render`, or collected in
    `reports` (to merge with `merge_reports` once the batch is kept).
    """
    from trlprep.converters import row_offset

    opts = options or plan.options
    table = run_stage(table, media_parts, offset, source)
    if plan.fmt is Format.STANDARD:
        columns = plan.source_columns
        table = run_stage(table, lambda t: say_unrendered(t, columns) or t, offset, source)
    kind = getattr(opts, "output_kind", "")
    if getattr(opts, "inline_media", "keep") == "move" and _moves(plan, opts):
        said = kind if getattr(opts, "moved_by_default", False) else ""
        if getattr(opts, "moved_by_default", False) and plan.render is not None:
            said = RENDERED
        kept = getattr(opts, "kept_media", ())
        whole = getattr(opts, "media_columns", ())
        table = run_stage(table, lambda t: inline_images(t, said, kept, whole), offset, source)
    elif plan.render is None:  # conversational output, as TRL's trainers take it
        say_inline_images(table, kind)
    with row_offset(offset):
        for e in plan.steps:
            n = table.num_rows
            table = run_stage(table, lambda t, e=e: e.fn(t, plan.fmt, opts), offset, source)
            if counts is not None:
                counts.append((f"{e.src} -> {e.dst}", n, table.num_rows))
    r = plan.render
    if r is None:
        return table
    if r.template is not None:
        columns = plan.source_columns
        table = run_stage(table, lambda t: say_prerendered(t, columns) or t, offset, source)
    if r.template is not None and plan.fmt is Format.CONVERSATIONAL:
        # the conversations are checked as convert without a template checks its output:
        # the rendered text cannot show an empty answer or a missing role any more
        table = run_stage(table, lambda t: check_output(t, plan, offset, plan.fmt) or t, offset)
    if not rendering:
        return table
    found: list[tuple[str, Any]] = [] if reports is None else reports
    table = render_steps(table, plan, opts, offset, lines, source, found)
    if reports is None:
        merge_reports(plan, found)
    return table


def merge_reports(plan: Plan, found: list[tuple[str, Any]]) -> None:
    """Merge templating/tokenising reports of a batch into the plan's render."""
    r = plan.render
    for name, report in found:
        if getattr(r, name) is None:
            setattr(r, name, report)
        else:
            getattr(r, name).merge(report)


def check_output(table: pa.Table, plan: Plan, offset: int = 0, fmt: Format | None = None) -> None:
    """Validate converted rows against the target type, in `fmt` (default: the output's
    format; a template's conversations are checked before they are rendered).

    Rows that fail raise one `RowFailures` (stage `validation`, `input_rows` set through
    `ROW_ID`); a missing column of the target type is a DataError (a bug, not a row).
    """
    from trlprep.importers.rejects import invalid_rows

    data = table.drop_columns([ROW_ID]) if ROW_ID in table.column_names else table
    try:
        why = invalid_rows(data, plan.dst, fmt or plan.out_format)
    except DataError as e:
        raise DataError(f"converted {e.message}", hint="this is a bug: please report it") from None
    bad = np.flatnonzero(why != None)  # noqa: E711 (elementwise)
    if len(bad):
        e = RowFailures(
            bad.tolist(),
            [f"the converted row fails {plan.dst.name} validation: {w}" for w in why[bad]],
            stage="validation",
        )
        e.input_rows = row_ids(table, bad, offset)
        raise e


def apply_checked(
    table: pa.Table,
    plan: Plan,
    options: Any = None,
    offset: int = 0,
    lines: Any = None,
    counts: list[tuple[str, int, int]] | None = None,
    source: InputRows | None = None,
) -> tuple[pa.Table, list[Failure]]:
    """Convert and validate a batch, setting aside the input rows any stage refuses.

    Returns the output (with `ROW_ID`) and the failures; on a failure the batch runs again
    without the refused input rows (the rare path). `counts`: as in `apply_steps`, for the
    run that succeeded; `source`: as in `apply_steps`.
    """
    from trlprep.conversion.byturn import by_turn, render_by_turn

    table = with_row_ids(table, offset)
    failures: list[Failure] = []
    split = by_turn(plan, options)
    if split and source is None:  # the render then names rows by their place in the table
        source = InputRows(offset, None)
    while True:
        step_counts: list[tuple[str, int, int]] = []
        reports: list[tuple[str, Any]] = []
        turned: list[Failure] = []
        try:
            with holding_warnings() as held:  # a run redone on fewer rows says them again
                out = apply_steps(
                    table, plan, options, offset, lines, counts=step_counts, source=source,
                    reports=reports, rendering=not split,
                )  # fmt: skip
                if split:  # the render refuses single turns, not their input rows
                    out, turned = render_by_turn(out, plan, options, offset, lines, source, reports)
                else:
                    check_output(out, plan, offset)
        except RowFailures as e:
            ids = np.asarray(getattr(e, "input_rows", e.rows), dtype=np.int64)
            ids, first = np.unique(ids, return_index=True)
            present = np.asarray(table.column(ROW_ID).to_numpy(), np.int64)
            keep = ~np.isin(present, ids)
            if not len(ids) or keep.all():
                show_held(held)
                raise  # no row to set aside: the stage's own error stands
            failures.append(Failure(ids, e.stage, [e.reasons[i] for i in first], e.hint))
            table = table.filter(pa.array(keep))
            if lines is not None:
                lines = np.asarray(lines)[keep]
            continue
        except Exception:
            show_held(held)  # what led to the error
            raise
        show_held(held)
        if counts is not None:
            counts.extend(step_counts)
        merge_reports(plan, reports)
        return out, failures + turned


def convert_table(
    table: pa.Table,
    plan: Plan,
    lines: Any = None,
    *,
    on_error: str = "stop",
    path: str | None = None,
    coerce: bool = False,
    shards: Any = None,
) -> pa.Table:
    """Convert a whole table. Rows a stage refuses raise one DataError naming the first
    input row (its line, when `lines` are given) and how many more fail, its message ending
    with the counts (`.counts`: `RowCounts`, every row of the table checked); with
    `on_error="skip"` they are left out and a `RejectedRowsWarning` says how many.
    `shards` (`trlprep.io.shards.Shards`, the table's rows being those of several files):
    each row is named by its file.

    Rows holding a value of another kind than the rest of their column (a number among
    text answers) are refused too (stage `read`), unless `coerce` reads them as text."""

    from trlprep.conversion.ledger import Ledger
    from trlprep.importers.options import check_on_error

    check_on_error(on_error)
    read, work, work_lines, failures = _settled(table, lines, coerce)
    work, keep, missing = split_missing(work, plan)
    if missing is not None:
        failures.append(missing)
        work_lines = None if work_lines is None else np.asarray(work_lines)[keep]
    source = InputRows(0, lines, shards=shards)  # several files: `a.jsonl:4`
    steps: list[tuple[str, int, int]] = []  # each step's rows in and out (said in the counts)
    out, more = apply_checked(work, plan, lines=work_lines, counts=steps, source=source)
    failures += more
    refused = np.concatenate([f.rows for f in failures]) if failures else np.zeros(0, np.int64)
    for note in read_notes(read, ~np.isin(np.arange(table.num_rows), refused)):
        warn_user(note, UserWarning)  # values read as booleans: in the rows kept only
    out = out.drop_columns([ROW_ID]) if ROW_ID in out.column_names else out
    if not failures:
        from trlprep.conversion.rowsleft import check_rows_left

        check_rows_left(plan, work.num_rows, out.num_rows, "returned")  # the route dropped all
        return out
    from trlprep.conversion.byturn import by_turn, splitting_step

    ledger = Ledger(path=path, on_error=on_error)
    ledger.shards = shards
    ledger.rows_in = table.num_rows
    ledger.split_step, ledger.turned = splitting_step(plan), by_turn(plan)
    for name, n_in, n_out in steps:
        ledger.count_step(name, n_in, n_out)
    rejected = failures_table(failures, table, 0, lines)
    ledger.reject(rejected)
    for f in failures:
        if f.hint:
            ledger.hints.setdefault(f.stage, f.hint)
    if on_error != "skip":  # the counts said in the error, as the CLI says them before it
        raise ledger.returned_error(plan)
    from trlprep.importers.run import RejectedRowsWarning

    message = (
        f"{plural(ledger.rejected, 'row')} could not be converted and "
        + ("was" if ledger.rejected == 1 else "were")
        + " left out: "
    )
    if ledger.turns_refused:  # the rows' other turns are kept
        message = (
            f"{plural(ledger.turns_refused, 'turn')} of {plural(ledger.turn_rows, 'row')} could "
            "not be rendered and " + ("was" if ledger.turns_refused == 1 else "were")
            + " left out (the other turns of those rows are kept)"
            + (f", and {message[:-2]}" if ledger.rejected else "") + ": "
        )  # fmt: skip
    if not out.num_rows:  # an empty result: the counts said as the CLI says them
        message = f"no row is left ({ledger.summary()}): " + message
    message += "; ".join(ledger.reason_lines(3))
    warn_user(RejectedRowsWarning(message, rejected))
    return out


def _moves(plan: Plan, opts: Any) -> bool:
    """False where inline media were to be moved by default before a render that prints
    the parts as data (their URLs in the text): moving them would change the render."""
    r = plan.render
    if not getattr(opts, "moved_by_default", False) or r is None or r.template is None:
        return True
    from trlprep.templates.mediaprobe import renders_bare_as_inline

    return renders_bare_as_inline(r.template)


def settle_table(
    table: pa.Table, lines: Any = None, *, coerce: bool = False
) -> tuple[pa.Table, Any, list[Failure], list[str]]:
    """`table` (with ROW_ID) with its mixed-kind columns settled (`trlprep.io.kinds`), less the
    rows that cannot be; also their lines, those rows as failures (stage `read`) and notes.
    Extras of several kinds are carried as JSON text (`Arrow` outputs get a note)."""
    s, work, work_lines, failed = _settled(table, lines, coerce)
    return work, work_lines, failed, read_notes(s, ~s.bad)


def _settled(table: pa.Table, lines: Any, coerce: bool):
    """(the `Settled` reading, then `settle_table`'s table, lines and failures)."""
    s, failed = settled_rows(table, coerce)
    lists, _ = as_media_lists(s.table)  # Qwen-VL's `image` lists, `video` -> `videos`
    work, keep = with_row_ids(lists), ~s.bad  # row ids: positions in `table`
    if not failed:
        return s, work, lines, failed
    return (
        s,
        work.filter(pa.array(keep)),
        None if lines is None else np.asarray(lines)[keep],
        failed,
    )
