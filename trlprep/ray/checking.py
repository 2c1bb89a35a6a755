"""Detection and validation on Ray: every block checked in a task, the flagged rows merged
into one report with global row numbers and file lines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from trlprep.errors import ROW_ID
from trlprep.ray.base import LINE, _arrow, _blocks, _ray

if TYPE_CHECKING:
    import ray.data

    from trlprep.detection.detect import Detection
    from trlprep.validation.report import Report


def detect(ds: ray.data.Dataset) -> Detection:
    """Detect the type, format and modality of a Ray dataset, checking every row (the
    blocks stream through the driver, one at a time)."""
    from trlprep.detection.detect import detect_batches
    from trlprep.io.readers import Batch

    def batches():
        offset = 0
        for b in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            lines = None
            if LINE in b.column_names and b.num_rows and not b.column(LINE).null_count:
                lines = np.asarray(b.column(LINE).to_numpy(), np.int64)
            b = b.drop_columns([c for c in (ROW_ID, LINE) if c in b.column_names])
            yield Batch(b, offset, lines)
            offset += b.num_rows

    return detect_batches(batches())


def _check_block(block: Any, plan: Any, duplicates: bool) -> tuple:
    """Run every row rule on one block: (rows, its flags, row hashes, columns, seen)."""
    from trlprep.validation.checks.common import BatchSink
    from trlprep.validation.dupes import column_hashes, row_hash
    from trlprep.validation.validate import check_batch

    t = _arrow(block)
    lines = None
    if LINE in t.column_names and t.num_rows and not t.column(LINE).null_count:
        lines = np.asarray(t.column(LINE).to_numpy(), np.int64)
    t = t.drop_columns([c for c in (ROW_ID, LINE) if c in t.column_names])
    sink = BatchSink(t.num_rows)
    hashes = column_hashes(t) if duplicates and t.num_rows else None
    seen = check_batch(t, plan, sink, hashes) if plan is not None and t.num_rows else set()
    rows = row_hash(hashes) if hashes is not None else None
    unhashable = hashes is None and t.num_rows > 0
    return t.num_rows, sink, rows, list(t.column_names), seen, unhashable, lines


def validate(
    ds: ray.data.Dataset,
    type: str | None = None,
    format: str | None = None,
    *,
    strict: bool = False,
    max_errors: int = 10,
    role_map: str | dict[str, str] | None = None,
    allow_empty: bool = False,
) -> Report:
    """Validate every row of a Ray dataset: one task per block, the blocks' flagged rows
    merged into one `Report` with global row numbers (as `trlprep.validate`)."""
    from trlprep.validation.collect import Collector
    from trlprep.validation.dupes import DuplicateFinder
    from trlprep.validation.report import Report
    from trlprep.validation.validate import _report_duplicates, _required, make_plan

    ray = _ray()
    det = detect(ds) if type is None or format is None else None
    plan, notes = make_plan(det, type, format, role_map)
    check = ray.remote(_check_block)
    blocks = _blocks(ds)
    results = ray.get([check.remote(ref, plan, True) for ref, _, _ in blocks])
    col = Collector(max_errors)
    finder: DuplicateFinder | None = DuplicateFinder()
    columns: dict[str, None] = {}
    for (_, offset, _), result in zip(blocks, results, strict=True):
        n, sink, hashes, names, seen, unhashable, lines = result
        col.num_rows += n
        columns.update(dict.fromkeys(names))
        if not n:
            continue
        col.seen_columns |= seen
        if finder is not None:
            finder = None if unhashable else finder
        if finder is not None:
            finder.add(hashes, lines)
        col.line_oriented = col.line_oriented or lines is not None
        col.add_sink(sink, offset, lines)
    if finder is not None:
        _report_duplicates(finder, col)
    else:
        notes.append("duplicate rows were not checked (a column type polars cannot hash)")
    if col.num_rows == 0:
        col.add("empty-dataset", None, [], count=0)
    elif plan is None:
        col.add(
            "unknown-type", None, [], count=col.num_rows,
            message="no dataset type matches the columns " + (", ".join(columns) or "(none)"),
        )  # fmt: skip
    report = Report(
        type=plan.dtype.name if plan else None,
        format=plan.fmt.value if plan else None,
        num_rows=col.num_rows,
        issues=col.issues(*_required(plan) if plan and col.num_rows else ()),
        strict=strict,
        notes=notes,
    )
    if allow_empty:
        report.allow_empty()
    return report
