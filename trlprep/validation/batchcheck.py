"""One batch checked against a plan: every row rule of its type's columns, as whole columns.

`check_batch` prepares each column the plan names (`prepare`), runs the `checks` family on
it (strings, messages, steps, labels, token ids, side columns, cross-column rules and media
placeholders) and marks the failing rows in a `BatchSink`. A `messages` column read as
another type (`Plan.reading`) is checked as that type (`checks.reading`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa

from trlprep.registry import MEDIA_COLUMNS, Format, Kind
from trlprep.validation.checkplan import Plan
from trlprep.validation.checks.common import BatchSink
from trlprep.validation.checks.cross import cross_checks
from trlprep.validation.checks.messages import MessagesInfo, check_messages
from trlprep.validation.checks.plain import (
    check_bool_lists,
    check_string_lists,
    check_strings,
    check_tokens,
)
from trlprep.validation.checks.sides import check_side_columns, media_columns
from trlprep.validation.checks.text import check_placeholders
from trlprep.validation.checks.toolnames import check_tool_names
from trlprep.validation.checks.toolresults import check_tool_results
from trlprep.validation.checks.toolschemas import check_tool_schemas
from trlprep.validation.prepare import prepare_column


def check_batch(
    data: pa.Table | pa.RecordBatch,
    plan: Plan,
    sink: BatchSink,
    hashes: dict[str, np.ndarray] | None = None,
) -> set[str]:
    """Run every row rule on one batch; returns the names of the type's columns it holds.

    `hashes` (per-column row hashes, when computed) speed up the chosen == rejected test.
    """
    if plan.reading is not None:
        return _check_read(data, plan, sink)
    present: set[str] = set()
    typed: dict[str, pa.Array] = {}
    infos: dict[str, MessagesInfo] = {}
    for c in plan.columns:
        name = c.name_in(plan.fmt)
        if name in data.schema.names:
            present.add(name)
        arr = prepare_column(data, c, plan.fmt, sink)
        if arr is None:
            continue
        typed[name] = arr
        if c.kind is Kind.CONTENT and plan.fmt is Format.STANDARD:
            check_strings(arr, name, sink)
        elif c.kind is Kind.CONTENT:
            infos[c.role] = check_messages(arr, name, sink, plan.role_map)
        elif c.kind is Kind.STEPS:
            check_string_lists(arr, name, sink)
        elif c.kind is Kind.LABELS:
            check_bool_lists(arr, name, sink)
    if "input_ids" in typed:
        check_tokens(typed["input_ids"], typed.get("attention_mask"), sink)
    images = check_side_columns(data, sink)
    media = media_columns(data, sink)
    cross_checks(plan.dtype, plan.fmt, typed, infos, images, sink, hashes, media)
    check_tool_names(data, typed, sink)
    check_tool_schemas(data, sink)
    check_tool_results(typed, sink)
    names = {c.role: c.name_in(plan.fmt) for c in plan.columns}
    marks = {r: i.placeholders for r, i in infos.items() if i.placeholders is not None}
    columns = set(data.schema.names)
    if marks:
        no_images = not columns & set(MEDIA_COLUMNS["image"])
        # bare image parts beside the placeholders stand for images too
        parts = {
            r: i.images - (0 if i.inline_images is None else i.inline_images)
            for r, i in infos.items()
        }
        check_placeholders(marks, names, images, sink, no_column=no_images, parts=parts)
    for kind, held in media.items():  # without their column they stay text: said so
        marks = {r: i.marks[kind] for r, i in infos.items() if kind in i.marks}
        no_column = not columns & set(MEDIA_COLUMNS[kind])
        if marks and (held is not None or no_column):
            parts = {r: i.media[kind] for r, i in infos.items() if kind in i.media}
            check_placeholders(marks, names, held, sink, kind, no_column=no_column, parts=parts)
    return present


def _check_read(data: pa.Table | pa.RecordBatch, plan: Plan, sink: BatchSink) -> set[str]:
    """Check a `messages` column as the type detect reads it as (`checks.reading`)."""
    from trlprep.validation.checks.reading import merge_findings, read_batch

    got = read_batch(data, plan.reading, sink)
    if got is None:
        return set()
    table, rows = got
    if table.num_rows == 0:
        return set(plan.dtype.column_names(plan.fmt))
    found = BatchSink(table.num_rows)
    present = check_batch(table, dataclasses.replace(plan, reading=None), found)
    merge_findings(found, sink, rows, plan.reading)
    return present
