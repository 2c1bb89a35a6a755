"""Rows that cannot be imported: why (`Rejections`), and the side table that keeps them.

Imported rows are also checked against their landing type with the validator's own row
rules (`trlprep.validation.batchcheck.check_batch`), so an imported batch always
validates; rows that fail keep the rule's message and id as their reason.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from trlprep.columns.arrowtypes import JSON_FIELD_KEY
from trlprep.errors import NOT_PAIRED, ROW_ID, DataError
from trlprep.io.jsonencode import has_binary, to_jsonl
from trlprep.registry import DatasetType, Format
from trlprep.validation.batchcheck import check_batch
from trlprep.validation.checkplan import Plan
from trlprep.validation.checks.common import BatchSink, row_details, row_messages
from trlprep.validation.rolemap import role_map_hint
from trlprep.validation.rules import RULES, Severity


class Rejections:
    """Why each input row of a batch cannot be imported (the first reason found wins), and
    which of them are ties (`tie`: stage `NOT_PAIRED`, not an error)."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, None, dtype=object)
        self.tie = np.zeros(n, dtype=bool)

    def add(self, mask: np.ndarray, reason: str, *, tie: bool = False) -> None:
        take = np.asarray(mask, dtype=bool) & (self.reason == None)  # noqa: E711 (elementwise)
        self.reason[take] = reason
        self.tie[take] = tie

    def add_per_row(self, mask: np.ndarray, reasons: np.ndarray, *, tie: bool = False) -> None:
        """Like `add`, with one reason per row (`reasons` aligned with the batch)."""
        take = np.asarray(mask, dtype=bool) & (self.reason == None)  # noqa: E711
        self.reason[take] = reasons[take]
        self.tie[take] = tie

    @property
    def mask(self) -> np.ndarray:
        return self.reason != None  # noqa: E711

    def __len__(self) -> int:
        return int(self.mask.sum())


REJECTS_SCHEMA = pa.schema(
    [
        pa.field("row", pa.int64()),
        pa.field("line", pa.int64()),
        pa.field("stage", pa.string()),
        pa.field("reason", pa.string()),
        # the original row, as the JSON object it was (tagged: written as JSON, not text)
        pa.field("record", pa.string(), metadata={JSON_FIELD_KEY: b"1"}),
    ]
)


def invalid_rows(
    out: pa.Table,
    dtype: DatasetType,
    fmt: Format,
    *,
    role_hint: bool = True,
    named: dict[str, str] | None = None,
) -> np.ndarray:
    """Why each row of `out` fails `dtype` validation (None where it passes); `named`: the
    input column of each column of `out` named otherwise, which the reason names.

    The reason is the first error rule's message and id; raises DataError when a column of
    the type is missing altogether (not a row problem).
    """
    n = out.num_rows
    why = np.full(n, None, dtype=object)
    if n == 0:
        return why
    sink = BatchSink(n)
    present = check_batch(out, Plan(dtype, fmt), sink)
    missing = [c for c in dtype.column_names(fmt) if c not in present]
    if missing:  # an importer bug, or a --map that renamed a column away
        raise DataError(f"rows lack the column {missing[0]!r} of {dtype.name} ({fmt})")
    for (rule, column), flag in sink.flags.items():
        r = RULES[rule]
        if r.severity is not Severity.ERROR:
            continue
        at = np.flatnonzero(flag.mask & (why == None))  # noqa: E711 (elementwise)
        if not len(at):
            continue
        # each row told its own call's message and its own details (a batch's would name
        # other rows' values, and differ as the input is cut into batches)
        messages = row_messages(flag, at)
        own = row_details(flag, n)[at] if flag.details else np.full(len(at), None, object)
        told: dict[tuple[str | None, str | None], str] = {}
        why[at] = [
            told.get((m, d))
            or told.setdefault((m, d), _reason(rule, column, m, d, named, role_hint))
            for m, d in zip(messages, own, strict=True)
        ]
    return why


def _reason(
    rule: str,
    column: str | None,
    message: str | None,
    details: str | None,
    named: dict[str, str] | None,
    role_hint: bool,
) -> str:
    """One row's reason: its message, its own details, the ready --role-map for its own
    roles (unknown-role), the rule id."""
    r = RULES[rule]
    msg = message or (f"column {column!r}: {r.summary}" if column else r.summary)
    if column in (named or {}):  # `column 'conversations' (imported as 'messages')`
        msg = msg.replace(
            f"column {column!r}", f"column {named[column]!r} (imported as {column!r})"
        )
    if details is not None:
        msg += f" ({details})"
    if rule == "unknown-role" and role_hint:  # the ready map where the roles are usual
        roles = [] if details is None else [d.strip("'\"") for d in details.split(", ")]
        msg += "; " + (role_map_hint(roles) or "map roles with --role-map FROM=TO")
    return f"{msg} (rule {rule})"


def reject_invalid(
    out: pa.Table,
    rows: np.ndarray,
    dtype: DatasetType,
    fmt: Format,
    bad: Rejections,
    *,
    named: dict[str, str] | None = None,
) -> np.ndarray:
    """Validate `out`; mark the input rows of failing output rows in `bad` (`named`: as
    `invalid_rows`).

    Returns which output rows to keep (every output row of a rejected input row goes).
    """
    if out.num_rows == 0:
        return np.zeros(0, dtype=bool)
    try:
        why = invalid_rows(out, dtype, fmt, named=named)
    except DataError as e:
        raise DataError("imported " + e.message) from None
    fails = why != None  # noqa: E711
    if fails.any():
        per_row = np.full(len(bad.reason), None, dtype=object)
        per_row[rows[fails]] = why[fails]
        bad.add_per_row(per_row != None, per_row)  # noqa: E711
    return ~bad.mask[rows]


def rejects_table(
    original: pa.Table, bad: Rejections, offset: int, lines: np.ndarray | None
) -> pa.Table:
    """The rejected rows: dataset row, file line, stage, reason and the original row as JSON."""
    idx = np.flatnonzero(bad.mask)
    if not len(idx):
        return REJECTS_SCHEMA.empty_table()
    line = None if lines is None else np.asarray(lines)[idx].astype(np.int64)
    return pa.Table.from_arrays(
        [
            pa.array(idx + offset, pa.int64()),
            pa.array(line, pa.int64()) if line is not None else pa.nulls(len(idx), pa.int64()),
            pa.array(np.where(bad.tie[idx], NOT_PAIRED, "import").tolist(), pa.string()),
            pa.array(bad.reason[idx].tolist(), pa.string()),
            pa.array(records(original.take(pa.array(idx, pa.int64()))), pa.string()),
        ],
        schema=REJECTS_SCHEMA,
    )


def records(rows: pa.Table) -> list[str]:
    """The JSON object text of each row, keys in the struct's order: the same text whichever
    rows are refused beside it (rows that JSON cannot hold are described)."""
    if ROW_ID in rows.column_names:
        rows = rows.drop_columns([ROW_ID])
    if rows.num_columns == 0:
        return ["{}"] * rows.num_rows
    if not any(has_binary(f.type) for f in rows.schema):  # (the JSON writer panics on bytes)
        try:
            return to_jsonl(rows).decode("utf-8").split("\n")[:-1]  # JSON escapes newlines
        except Exception:  # noqa: BLE001 (other types JSON cannot store)
            pass
    return [json.dumps(r, ensure_ascii=False, default=str) for r in rows.to_pylist()]
