"""Detection and validation on Ray: every block checked in a task, the flagged rows merged
into one report with global row numbers and file lines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from trlprep.errors import ROW_ID
from trlprep.ray.base import LINE, REJECT, _blocks, _ray, entered, unwrapped

if TYPE_CHECKING:
    import ray.data

    from trlprep.detection.detect import Detection
    from trlprep.validation.report import Report


@unwrapped()
def detect(ds: ray.data.Dataset, coerce: bool = False) -> Detection:
    """Detect the type, format and modality of a Ray dataset, checking every row (the
    blocks stream through the driver, one at a time); `coerce`: the rows as `convert
    --coerce` reads them (`trlprep.validation.coerced`)."""
    from trlprep.detection.detect import detect_batches
    from trlprep.io.readers import Batch

    def batches():
        offset = 0
        for b in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            refused = REJECT in b.column_names and b.num_rows
            b = _accepted(entered(b))  # as the local engine reads them (`Json` decoded, ...)
            if refused and not b.num_rows:  # the import gives no batch of a block it refused
                continue
            lines = None
            if LINE in b.column_names and b.num_rows and not b.column(LINE).null_count:
                lines = np.asarray(b.column(LINE).to_numpy(), np.int64)
            b = b.drop_columns([c for c in (ROW_ID, LINE) if c in b.column_names])
            if coerce:
                from trlprep.validation.coerced import settle_batch

                b = settle_batch(b).table
            yield Batch(b, offset, lines)
            offset += b.num_rows

    return detect_batches(batches())


def _check_block(block: Any, plan: Any, duplicates: bool, coerce: bool = False) -> tuple:
    """Run every row rule on one block (its reject rows left out): (rows, its flags, row
    hashes, columns, seen, unhashable, lines, the values read with `coerce`)."""
    from trlprep.validation.batchcheck import check_batch
    from trlprep.validation.checks.common import BatchSink
    from trlprep.validation.coerced import Coerced, flag_read
    from trlprep.validation.dupes import column_hashes, row_hash

    t = _accepted(entered(block))  # as the local engine reads them (`Json` decoded, ...)
    lines = None
    if LINE in t.column_names and t.num_rows and not t.column(LINE).null_count:
        lines = np.asarray(t.column(LINE).to_numpy(), np.int64)
    t = t.drop_columns([c for c in (ROW_ID, LINE) if c in t.column_names])
    names = list(t.column_names)
    sink = BatchSink(t.num_rows)
    coerced = Coerced()
    settled = coerced.settle(t) if coerce and t.num_rows else None
    t = settled.table if settled is not None else t
    hashes = column_hashes(t) if duplicates and t.num_rows else None
    seen = check_batch(t, plan, sink, hashes) if plan is not None and t.num_rows else set()
    if settled is not None:
        flag_read(sink, settled)
        coerced.count_kept(settled, sink)
    rows = row_hash(hashes) if hashes is not None else None
    unhashable = hashes is None and t.num_rows > 0
    return t.num_rows, sink, rows, names, seen, unhashable, lines, coerced


@unwrapped()
def validate(
    ds: ray.data.Dataset,
    type: str | None = None,
    format: str | None = None,
    *,
    strict: bool = False,
    max_errors: int = 10,
    role_map: str | dict[str, str] | None = None,
    allow_empty: bool = False,
    coerce: bool = False,
) -> Report:
    """Validate every row of a Ray dataset: one task per block, the blocks' flagged rows
    merged into one `Report` with global row numbers (as `trlprep.validate`); `coerce`:
    each block read first as `convert --coerce` reads it."""
    return _validate(ds, type, format, strict=strict, max_errors=max_errors, role_map=role_map,
                     allow_empty=allow_empty, coerce=coerce)[0]  # fmt: skip


def _validate(
    ds: ray.data.Dataset,
    type: str | None,
    format: str | None,
    *,
    strict: bool,
    max_errors: int,
    role_map: str | dict[str, str] | None,
    allow_empty: bool,
    coerce: bool,
) -> tuple[Report, list[tuple[Any, int, int]]]:
    """`validate`, and (block ref, position of its first checked row, rows checked) of every
    block: reject rows (an import's, `validate_imported`) are not checked nor counted."""
    from trlprep.validation.checkplan import make_plan
    from trlprep.validation.coerced import Coerced
    from trlprep.validation.collect import Collector
    from trlprep.validation.dupes import DuplicateFinder
    from trlprep.validation.report import Report
    from trlprep.validation.rolemap import unused_role_map_error
    from trlprep.validation.wholeissues import (
        add_unknown_type,
        report_duplicates,
        required_columns,
    )

    ray = _ray()
    det = detect(ds, coerce) if type is None or format is None else None
    plan, notes = make_plan(det, type, format, role_map)
    check = ray.remote(_check_block)
    blocks = _blocks(ds)
    results = ray.get([check.remote(ref, plan, True, coerce) for ref, _, _ in blocks])
    coerced = Coerced()
    col = Collector(max_errors)
    finder: DuplicateFinder | None = DuplicateFinder()
    columns: dict[str, None] = {}
    checked, offset = [], 0
    roles: set[str] = set()  # every message role written, checked against the role map
    for (ref, _, _), result in zip(blocks, results, strict=True):
        n, sink, hashes, names, seen, unhashable, lines, read = result
        checked.append((ref, offset, n))
        offset += n
        coerced.text.update(read.text)
        coerced.booleans.update(read.booleans)
        col.num_rows += n
        columns.update(dict.fromkeys(names))
        if not n:
            continue
        col.seen_columns |= seen
        roles |= sink.roles_seen
        if finder is not None:
            finder = None if unhashable else finder
        if finder is not None:
            finder.add(hashes, lines)
        col.line_oriented = col.line_oriented or lines is not None
        col.add_sink(sink, checked[-1][1], lines)
    if plan is not None and plan.role_map and col.num_rows:
        unused = unused_role_map_error(plan.role_map, roles)
        if unused is not None:
            raise unused
    notes = notes + coerced.notes() + col.media_notes()
    if finder is not None:
        report_duplicates(finder, col)
    else:
        notes.append("duplicate rows were not checked (a column type polars cannot hash)")
    if col.num_rows == 0:
        col.add("empty-dataset", None, [], count=0)
    elif plan is None:
        notes = add_unknown_type(col, columns, notes)
    report = Report(
        type=plan.dtype.name if plan else None,
        format=plan.fmt.value if plan else None,
        num_rows=col.num_rows,
        issues=col.issues(*required_columns(plan) if plan and col.num_rows else ()),
        strict=strict,
        notes=notes,
    )
    if allow_empty:
        report.allow_empty()
    return report, checked


def _accepted(table: Any) -> Any:
    """The imported rows of a block (its reject rows left out), with ROW_ID and LINE."""
    if REJECT not in table.column_names:
        return table
    return table.filter(table.column(REJECT).is_null()).drop_columns([REJECT])
