"""Validate a `messages` column the way `trlprep detect` reads it (`Detection.reading`).

`messages` + boolean `label` (the KTO layout) is unpaired preference: the last assistant
turn is the completion, the turns before it the prompt. `messages` that end on a user turn
are prompt-only. `read_batch` splits every row as `trlprep convert` does, flags the rows
that cannot be read so (`conversation-ending`, an error naming the row) and gives back the
read columns of the other rows, which are then checked as the read type; their findings
are mapped back to the batch's rows and to the `messages` column (`merge_findings`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from trlprep.columns.arrays import to_numpy_bool
from trlprep.detection.detect import Reading
from trlprep.validation.checks.common import BatchSink, _Flag

PARTS = {"prompt": "the prompt part", "completion": "the completion part"}


def read_batch(
    data: pa.Table | pa.RecordBatch, reading: Reading, sink: BatchSink
) -> tuple[pa.Table, np.ndarray] | None:
    """(the rows that can be read, as the read type's columns; their rows in `data`), or
    None when `data` has no such column (reported as missing by the caller)."""
    from trlprep.columns.turnends import LastTurns
    from trlprep.converters.arrowops import as_array, slice_lists

    table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    if reading.column not in table.column_names:
        return None
    msgs = as_array(table.column(reading.column))
    valid = to_numpy_bool(msgs.is_valid())
    sink.flag(
        "null-value",
        reading.column,
        ~valid,
        message=f"column {reading.column!r}: the conversation is null",
    )
    last = LastTurns(msgs)
    if reading.kind == "last-assistant-turn":
        ok = last.ends_on("assistant") & (last.length >= 2)
        why = last.why_not
        what = (
            "has no completion to read as unpaired preference (that needs an assistant "
            "turn last, after at least one other turn)"
        )
    else:
        ok = last.ends_on("user")
        why = lambda i: f"the conversation ends on {last.role(i) or 'nothing'!r}, not a user turn"  # noqa: E731
        what = "the conversation is no prompt (a prompt ends on a user turn)"
    bad = np.flatnonzero(valid & ~ok)
    sink.flag_values(  # each row said with its own ending (a loop over these rows only)
        "conversation-ending",
        reading.column,
        [why(i) for i in bad.tolist()],
        bad,
        message=f"column {reading.column!r}: {what}",
    )
    rows = np.flatnonzero(valid & ok)
    taken = table.take(pa.array(rows, pa.int64())).drop_columns([reading.column])
    sub = as_array(msgs.take(pa.array(rows, pa.int64())))
    if reading.kind == "last-assistant-turn":
        length = LastTurns(sub).length
        read = {
            "prompt": slice_lists(sub, 0, length - 1),
            "completion": slice_lists(sub, length - 1),
        }
    else:
        read = {"prompt": sub}
    for name, col in read.items():
        taken = taken.append_column(name, col)
    return taken, rows


def merge_findings(found: BatchSink, into: BatchSink, rows: np.ndarray, reading: Reading) -> None:
    """Flags raised on the read rows, moved to their rows in the batch; findings on the
    read `prompt`/`completion` are named after the column read (its prompt or completion
    part; the whole column where all of it is the prompt)."""
    column = reading.column
    for (rule, col), f in found.flags.items():
        name, old, new = col, f"column {col!r}", None
        if col == "prompt" and reading.kind == "prompt":
            name, new = column, f"column {column!r}"
        elif col in PARTS:
            name, new = f"{column} ({PARTS[col][4:]})", f"column {column!r} ({PARTS[col]})"
        renamed = (lambda m, old=old, new=new: m and m.replace(old, new)) if new else None
        _moved(f, into, rule, name, rows, renamed or (lambda m: m))


def _moved(
    f: _Flag,
    into: BatchSink,
    rule: str,
    name: str,
    rows: np.ndarray,
    renamed: Callable[[str | None], str | None],
) -> None:
    """Flag `f` of the read rows moved onto their `rows` of the batch, each row keeping its
    own call's message and its own details."""

    def where(mask_or_rows: np.ndarray) -> np.ndarray:
        idx = np.flatnonzero(mask_or_rows) if mask_or_rows.dtype == bool else mask_or_rows
        return rows[idx]

    details = list(f.rows_of)  # said once, with their own rows
    for mask, message in f.said or [(f.mask, f.message)]:
        if not (mask & f.mask).any():
            continue
        into.flag(
            rule,
            name,
            where(mask & f.mask),
            message=renamed(message),
            hint=f.hint,
            details=details,
            detail_rows=[
                np.unique(np.concatenate([where(r) for r in f.rows_of[d]])) for d in details
            ],
        )
        details = []
