"""Validate a dataset against its type and format, batch by batch, over whole columns.

`validate_batches` streams record batches (memory stays bounded by one batch plus 8 bytes
per row, 16 for line-oriented files, for duplicate detection), checks each with Arrow and
numpy column operations (`batchcheck.check_batch`: `prepare`, the `checks` family) and
merges the flagged rows into one `Report` (`collect`). What to check the data as (type, format, the
reading of a `messages` column): `trlprep.validation.checkplan`. Rule ids and severities:
`trlprep.validation.rules`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.detection.detect import Detection, detect_batches, detect_table
from trlprep.io.agreeing import AgreeingBatches, agreeing_batches
from trlprep.io.jsonl import BadLines
from trlprep.io.plaintext import SAMPLINGS
from trlprep.io.readers import Batch, read, resolve_format
from trlprep.registry import DatasetType, Format
from trlprep.validation.batchcheck import check_batch
from trlprep.validation.checkplan import Plan, _needs_detection, make_plan
from trlprep.validation.checks.common import BatchSink
from trlprep.validation.collect import DEFAULT_MAX_ERRORS, Collector
from trlprep.validation.dupes import DuplicateFinder, column_hashes, row_hash
from trlprep.validation.report import Issue, Report
from trlprep.validation.rolemap import unused_role_map_error
from trlprep.validation.rules import Severity
from trlprep.validation.wholeissues import (
    add_unknown_type,
    report_duplicates,
    required_columns,
    skipped_line_issues,
)

# read in batches; the others are read whole: a JSON document is parsed at once, Arrow IPC
# and `save_to_disk` folders are memory-mapped (their pages the file's cache, not the heap)
STREAMED = ("jsonl", "parquet", "csv", *SAMPLINGS)


def validate_batches(
    batches: Iterable[Batch],
    plan: Plan | None,
    *,
    strict: bool = False,
    max_errors: int = DEFAULT_MAX_ERRORS,
    path: str | None = None,
    notes: list[str] | None = None,
    duplicates: bool = True,
    coerce: bool = False,
) -> Report:
    """Validate streamed batches against `plan` (None: the type is unknown); `coerce`:
    each batch read first as `convert --coerce` reads it (`trlprep.validation.coerced`)."""
    from trlprep.validation.coerced import Coerced, flag_read

    col = Collector(max_errors)
    coerced = Coerced() if coerce else None
    finder = DuplicateFinder() if duplicates else None
    columns: dict[str, None] = {}
    roles: set[str] = set()  # every message role written, checked against the role map
    for b in batches:
        n = b.data.num_rows
        col.num_rows += n
        col.line_oriented = col.line_oriented or b.lines is not None
        columns.update(dict.fromkeys(b.data.schema.names))
        if n == 0:
            continue
        sink = BatchSink(n)
        settled = coerced.settle(b.data) if coerced is not None else None
        data = settled.table if settled is not None else b.data
        hashes = column_hashes(data) if finder is not None else None
        if plan is not None:
            col.seen_columns |= check_batch(data, plan, sink, hashes)
            roles |= sink.roles_seen
        if settled is not None:
            flag_read(sink, settled)
            coerced.count_kept(settled, sink)
        if finder is not None:
            if hashes is None:
                finder = None
            else:
                finder.add(row_hash(hashes), b.lines)
        col.add_sink(sink, b.offset, b.lines)
        del b, data, settled, hashes, sink  # none held while the next batch is read
    if plan is not None and plan.role_map and col.num_rows:
        unused = unused_role_map_error(plan.role_map, roles)
        if unused is not None:
            raise unused
    notes = list(notes or []) + (coerced.notes() if coerced else []) + col.media_notes()
    if finder is not None:
        report_duplicates(finder, col)
    elif duplicates:
        notes.append("duplicate rows were not checked (a column type polars cannot hash)")
    if col.num_rows == 0:
        said = f"{path}: the dataset has no rows" if path else None
        col.add("empty-dataset", None, [], count=0, message=said)
    elif plan is None:
        notes = add_unknown_type(col, columns, notes)
    return Report(
        type=plan.dtype.name if plan else None,
        format=plan.fmt.value if plan else None,
        num_rows=col.num_rows,
        issues=col.issues(*required_columns(plan) if plan and col.num_rows else ()),
        path=path,
        strict=strict,
        notes=notes,
    )


# ---------------------------------------------------------------- entry points


def validate_table(
    table: pa.Table,
    *,
    lines: np.ndarray | None = None,
    type: str | DatasetType | None = None,
    format: str | Format | None = None,
    strict: bool = False,
    max_errors: int = DEFAULT_MAX_ERRORS,
    role_map: str | dict[str, str] | None = None,
    path: str | None = None,
    batch_rows: int = 65_536,
    layout: str | None = None,
    import_options: Any = None,
    coerce: bool = False,
) -> Report:
    """Validate an in-memory Arrow table (checked in slices of `batch_rows`); `layout`: its
    rows imported from that public layout first (`trlprep.validation.imported`); `coerce`:
    read as `convert --coerce` reads it (`trlprep.validation.coerced`)."""
    if layout is not None:
        from trlprep.validation.coerced import coerced_options
        from trlprep.validation.imported import validate_imported

        opts = coerced_options(import_options, coerce)
        return validate_imported(
            lambda: iter([Batch(table, 0, lines)]), layout, opts, path=path,
            type=type, format=format, strict=strict, max_errors=max_errors, role_map=role_map,
            one_schema=True,
        )  # fmt: skip
    det = None
    if _needs_detection(type, format):
        from trlprep.validation.coerced import settle_batch

        det = detect_table(settle_batch(table).table if coerce else table, lines)
    plan, notes = make_plan(det, type, format, role_map)
    batches = []
    n = table.num_rows
    for off in range(0, n, batch_rows):
        part = table.slice(off, min(batch_rows, n - off))  # exact: a 0-column slice is not
        part_lines = lines[off : off + batch_rows] if lines is not None else None
        batches.append(Batch(part, off, part_lines))
    return validate_batches(
        batches, plan, strict=strict, max_errors=max_errors, path=path, notes=notes,
        coerce=coerce,
    )  # fmt: skip


def validate_path(
    path: str | os.PathLike,
    *,
    type: str | DatasetType | None = None,
    format: str | Format | None = None,
    strict: bool = False,
    max_errors: int = DEFAULT_MAX_ERRORS,
    role_map: str | dict[str, str] | None = None,
    split: str | None = None,
    input_format: str | None = None,
    on_bad_lines: str = "error",
    layout: str | None = None,
    import_options: Any = None,
    coerce: bool = False,
) -> Report:
    """Validate a file, folder or Hub id; JSON Lines, Parquet, CSV / TSV and plain text are
    streamed in record batches (`STREAMED`), the rest read whole.

    A JSONL line that holds no JSON object is an `invalid-line` error in the report:
    reading stops there, or (`on_bad_lines="skip"`) goes on and every such line is listed.
    `layout` (a public layout, `trlprep.validation.imported`): the rows are imported from
    it with `import_options` and checked as the type they land on. `coerce`: the rows are
    read as `convert --coerce` reads them (`trlprep.validation.coerced`).
    """
    path = path if isinstance(path, str) else str(path)  # a trlprep.io.shards.Inputs stays one
    if on_bad_lines not in ("error", "skip"):
        from trlprep.errors import unknown_choice

        raise unknown_choice("--on-bad-lines", on_bad_lines, ("error", "skip"))
    # without skip, reading stops at the first bad line; the rows before it are checked
    bad = BadLines(stop=on_bad_lines != "skip")
    if layout is not None:
        from trlprep.io.jsontext import tools_from
        from trlprep.validation.coerced import coerced_options
        from trlprep.validation.imported import validate_imported

        def read_raw() -> Iterator[Batch]:
            return agreeing_batches(path, split=split, input_format=input_format, bad_lines=bad)

        try:
            one_schema = (  # one Parquet/Arrow file: every batch has the first's schema
                resolve_format(path, input_format) != "jsonl" and os.path.isfile(path)
            )
        except Exception:  # a Hub id, say: read_raw says what is wrong
            one_schema = False
        with tools_from(getattr(import_options, "map", None)):  # `--map tools=NAME`
            opts = coerced_options(import_options, coerce)
            report = validate_imported(
                read_raw, layout, opts, path=path, type=type, format=format,
                strict=strict, max_errors=max_errors, role_map=role_map, one_schema=one_schema,
            )  # fmt: skip
    else:
        report = _validate_path(
            path, type, format, strict, max_errors, role_map, split, input_format, bad, coerce
        )
    from trlprep.io.shards import note_shards

    note_shards(report, path, split, input_format, bad)  # several files: each one's rows
    if bad.stopped is not None:
        from trlprep.io.jsonl import PRETTY_PRINTED, line_name

        e = bad.stopped
        line = e.line
        if getattr(report, "shards", None) is not None:  # several files: name the file
            from trlprep.io.inputfiles import FileLine

            line = FileLine(e.line, str(e.path))
        issue = Issue("invalid-line", Severity.ERROR, e.message, e.hint, count=1, lines=[line])
        report.issues.insert(0, issue.name_line_files())
        said = f"reading stopped at {line_name(line)}"
        if PRETTY_PRINTED not in e.message:  # skipping would skip every line of the file
            said += "; pass --on-bad-lines skip to check the rest"
        report.notes.append(said)
        return report
    report.issues[:0] = skipped_line_issues(bad, max_errors)
    return report


def _validate_path(
    path, type, format, strict, max_errors, role_map, split, input_format, bad, coerce
):
    from trlprep.io.shards import Inputs, input_files

    files = input_files(path, split, input_format)  # a folder, a glob, several paths
    path = Inputs(files) if files is not None else path  # the files of the split, as one
    fmt = resolve_format(path, input_format)

    def whole() -> Report:
        src = read(path, split=split, input_format=fmt, bad_lines=bad)
        return validate_table(
            src.table,
            lines=src.lines,
            type=type,
            format=format,
            strict=strict,
            max_errors=max_errors,
            role_map=role_map,
            path=path,
            coerce=coerce,
        )

    if fmt not in STREAMED:
        return whole()
    report = _validate_streamed(path, fmt, type, format, strict, max_errors, role_map, bad, coerce)
    if report.num_rows == 0 and (fmt not in ("jsonl", "parquet") or not (bad.found or bad.stopped)):
        # no batch comes of a file without rows: its columns (a CSV header, a Parquet
        # schema, a text file's `text`), which the report names and detects from, are read
        # whole (no rows: cheap; not a JSON Lines file whose every line was bad, read again)
        return whole()
    return report


def _validate_streamed(path, fmt, type, format, strict, max_errors, role_map, bad, coerce):
    det = None
    if _needs_detection(type, format):
        det, batches = _detect_streamed(path, fmt, bad, coerce)
    else:
        batches = agreeing_batches(path, input_format=fmt, dictionaries=True, bad_lines=bad)
    plan, notes = make_plan(det, type, format, role_map)
    return validate_batches(
        batches,
        plan,
        strict=strict,
        max_errors=max_errors,
        path=path,
        notes=notes,
        coerce=coerce,
    )


def validate_read(
    path: str,
    batches: Iterable[Batch],
    det: Detection | None,
    *,
    type: str | DatasetType | None = None,
    split: str | None = None,
    input_format: str | None = None,
) -> Report:
    """`validate_path(path, type=type, ...)` of a streamed input whose batches another step
    has read already (`batches`, given as `agreeing_batches` gives them, the input detected
    as `det`): the input not read again. Lines that hold no JSON object raised as they
    were read; the shards are not noted (`trlprep.io.shards.note_shards`)."""
    from trlprep.io.shards import Inputs, input_files

    files = input_files(path, split, input_format)
    plan, notes = make_plan(det if _needs_detection(type, None) else None, type, None, None)
    where = Inputs(files) if files is not None else path
    return validate_batches(batches, plan, path=where, notes=notes)


def head_decides(det: Detection, head: Batch) -> bool:
    """Whether detection on the first batch `head` equals detection on all (where the rest
    has its schema): a type and format found, uniform, every column that can hold values
    holding some."""
    filled = all(
        pa.types.is_null(f.type) or head.data.column(i).null_count < head.data.num_rows
        for i, f in enumerate(head.data.schema)
    )
    return det.type is not None and det.format is not None and det.uniform and filled


def _detect_streamed(
    path: str, fmt: str, bad: BadLines | None = None, coerce: bool = False
) -> tuple[Detection, Iterable[Batch]]:
    """Detect, then give back batches to validate, the input parsed once.

    A Parquet file has one schema, so when its first batch is uniform and every column
    that can hold values holds some there, the rest cannot change the type or format:
    detection on that batch equals detection on all and the file is read once (otherwise
    read again: Parquet is read by bytes, faster than its batches are kept). A text input
    (JSON Lines, CSV, plain text) is parsed once, its batches kept as detection reads them
    (`trlprep.io.keptbatches`: memory, then a scratch file) and given back to validate.
    `coerce`: detected on the rows as `convert --coerce` reads them.
    """
    from trlprep.validation.coerced import settled_batches

    read = settled_batches if coerce else iter

    def batches(replayable: bool = False) -> AgreeingBatches:
        return agreeing_batches(
            path, input_format=fmt, dictionaries=True, bad_lines=bad, replayable=replayable
        )

    if fmt == "parquet":
        first = batches()
        head = next(first, None)
        if head is None:
            return detect_batches([]), []
        det = detect_batches(read([head]))
        if head_decides(det, next(read([head]))):
            return det, itertools.chain([head], first)
        first.close()
        return detect_batches(read(batches())), batches()
    kept = batches(replayable=True)
    try:
        det = detect_batches(read(kept))
    except BaseException:
        kept.close()
        raise
    return det, kept.again()


def validate(data: Any, **kwargs: Any) -> Report:
    """Validate a path or an Arrow table; see `trlprep.api.validate` for every kind."""
    if isinstance(data, (str, os.PathLike)):
        return validate_path(data, **kwargs)
    return validate_table(data, **kwargs)


__all__ = [
    "DEFAULT_MAX_ERRORS",
    "Collector",
    "Plan",
    "check_batch",
    "make_plan",
    "validate",
    "validate_batches",
    "validate_path",
    "validate_read",
    "validate_table",
]
