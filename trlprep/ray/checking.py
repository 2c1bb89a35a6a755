"""Detection and validation on Ray: every block checked in a task, the flagged rows merged
into one report with global row numbers and file lines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.errors import ROW_ID
from trlprep.ray.base import LINE, _arrow, _blocks, _ray, entered, unwrapped

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
            b = entered(b)  # as the local engine reads them (`Json` columns decoded, ...)
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
    """Run every row rule on one block: (rows, its flags, row hashes, columns, seen,
    unhashable, lines, the values read with `coerce`)."""
    from trlprep.validation.checks.common import BatchSink
    from trlprep.validation.coerced import Coerced, flag_read
    from trlprep.validation.dupes import column_hashes, row_hash
    from trlprep.validation.validate import check_batch

    t = entered(block)  # as the local engine reads them (`Json` columns decoded, ...)
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
    from trlprep.validation.coerced import Coerced
    from trlprep.validation.collect import Collector
    from trlprep.validation.dupes import DuplicateFinder
    from trlprep.validation.report import Report
    from trlprep.validation.validate import _report_duplicates, _required, make_plan

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
    for (_, offset, _), result in zip(blocks, results, strict=True):
        n, sink, hashes, names, seen, unhashable, lines, read = result
        coerced.text.update(read.text)
        coerced.booleans.update(read.booleans)
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
    notes = notes + coerced.notes() + col.media_notes()
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


@unwrapped()
def validate_imported(
    ds: ray.data.Dataset,
    layout: str,
    import_options: Any = None,
    *,
    max_errors: int = 10,
    coerce: bool = False,
    **kwargs: Any,
) -> Report:
    """`ds` (numbered) imported from the public `layout` block by block, then validated, as
    `trlprep.validation.imported` does locally: refused rows are `import-failed` errors,
    every issue names the input's rows and lines; `coerce`: imported as `convert --from
    LAYOUT --coerce` imports it (the values read said in the notes)."""
    from collections import Counter

    from trlprep.ray import notes as worker_notes
    from trlprep.ray.conversion import import_layout
    from trlprep.validation.coerced import Coerced, coerced_options
    from trlprep.validation.imported import (
        import_issues,
        imported_note,
        say_none_imported,
        to_input_rows,
    )

    ray = _ray()
    book = worker_notes.notebook() if coerce else None
    opts = coerced_options(import_options, coerce)
    imported = import_layout(ds, layout, opts, coerce=coerce, collect=True, notes=book)
    imported = imported.materialize()
    rows = imported.map_batches(_accepted, batch_format="pyarrow").materialize()
    keep = max(max_errors, 1)  # as the local import keeps (`trlprep.validation.imported`)
    # the refused rows counted by reason on the workers: only the counts and the first
    # `keep` rows of each reason reach the driver
    refused = imported.map_batches(_refused, batch_format="pyarrow", fn_args=(keep,))
    refused = list(refused.iter_batches(batch_size=None, batch_format="pyarrow"))
    report = validate(rows, max_errors=max_errors, **kwargs)
    ids = ray.get([ray.remote(_row_ids).remote(ref) for ref, _, n in _blocks(rows) if n])
    to_input_rows(report, np.concatenate(ids) if ids else np.zeros(0, np.int64))
    stats = _Counts(ds.count(), report.num_rows, Counter(), {})
    found = [t for t in refused if t.num_rows]
    if found:  # reasons in order of their first row, as the local import meets them
        table = pa.concat_tables(found).sort_by([("first", "ascending")])
        cols = [table.column(n).to_pylist() for n in ("reason", "count", "rows", "lines")]
        for reason, count, row_ids, lines in zip(*cols, strict=True):
            stats.reasons[reason] += count
            shown = stats.examples.setdefault(reason, [])
            shown += [{"row": r, "line": n} for r, n in zip(row_ids, lines, strict=True)]
    for reason, shown in stats.examples.items():
        stats.examples[reason] = sorted(shown, key=lambda e: e["row"])[:keep]
    stats.rejected = sum(stats.reasons.values())
    say_none_imported(report, stats)
    report.notes.insert(0, imported_note(layout, stats))
    if book is not None:
        found = worker_notes.take(book)
        from trlprep.importers.base import mapped_labels

        said = Coerced(found.coerced, found.booleans).notes(mapped_labels(opts)) + found.notes
        report.notes += [n for n in said if n not in report.notes]
    report.issues[:0] = import_issues(stats, layout, max_errors)
    return report


class _Counts:
    """What the import did (the fields `imported_note` and `import_issues` read)."""

    def __init__(self, rows_in: int, rows_out: int, reasons: Any, examples: dict) -> None:
        self.rows_in, self.rows_out, self.rejected = rows_in, rows_out, 0
        self.reasons, self.examples = reasons, examples


def _accepted(table: Any) -> Any:
    """The imported rows of a block (its reject rows left out), with ROW_ID and LINE."""
    from trlprep.ray.base import REJECT

    if REJECT not in table.column_names:
        return table
    return table.filter(table.column(REJECT).is_null()).drop_columns([REJECT])


_REFUSED = pa.schema(
    [
        ("reason", pa.string()),
        ("count", pa.int64()),
        ("rows", pa.list_(pa.int64())),  # the first rows refused for it
        ("lines", pa.list_(pa.int64())),
        ("first", pa.int64()),
    ]
)


def _refused(table: pa.Table, keep: int) -> pa.Table:
    """The refused rows of a block by reason: how many, the first `keep` (ROW_ID, LINE)."""
    import polars as pl

    from trlprep.ray.base import REJECT

    if REJECT not in table.column_names or not table.num_rows:
        return _REFUSED.empty_table()
    t = table.filter(table.column(REJECT).is_valid())
    if not t.num_rows:
        return _REFUSED.empty_table()
    line = t.column(LINE) if LINE in t.column_names else pa.nulls(t.num_rows, pa.int64())
    df = pl.from_arrow(
        pa.table(
            {
                "row": t.column(ROW_ID).cast(pa.int64()),
                "line": line.cast(pa.int64()),
                "reason": pc.struct_field(t.column(REJECT), "reason").cast(pa.string()),
            }
        )
    )
    df = df.sort("row", maintain_order=True)
    out = df.group_by("reason", maintain_order=True).agg(
        count=pl.len(),
        rows=pl.col("row").head(keep),
        lines=pl.col("line").head(keep),
        first=pl.col("row").first(),
    )
    return out.to_arrow().select(_REFUSED.names).cast(_REFUSED)


def _row_ids(block: Any) -> np.ndarray:
    return np.asarray(_arrow(block).column(ROW_ID).to_numpy(), np.int64)
