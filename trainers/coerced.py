"""`train --coerce`: the data's labels of 0/1 and "true"/"false" read as booleans (and
numbers among text read as text) before the type is detected, as `trlprep convert
--coerce` reads them (`trlprep.io.kinds`, `trlprep.io.labels`). Rows with no such reading
stop the run naming their file line or, with `on_error="skip"`, are left out with a
`RejectedRowsWarning` holding them. Without --coerce the rows of another kind than most
rows' (a number among text) are stopped at or left out the same way, as `convert` does.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.errors import DataError


def coerced(
    table: pa.Table,
    rows: np.ndarray,
    lines: Any,
    *,
    path: str | None,
    on_error: str,
    coerce: bool = True,
) -> tuple[pa.Table, np.ndarray, Any]:
    """`table` read with --coerce (or, without it, as it is), less the rows that cannot be;
    their input rows and lines."""
    from trlprep.conversion.apply import Failure, failures_table
    from trlprep.detection.columnroles import carried_columns, label_columns
    from trlprep.importers.run import RejectedRowsWarning
    from trlprep.io.kinds import settle_kinds
    from trlprep.io.labels import READ_AS
    from trlprep.wording import plural

    names = table.column_names
    labels = label_columns(names)
    s = settle_kinds(table, coerce=coerce, carry=carried_columns(names), labels=labels)
    for column, count in s.booleans.items():
        warnings.warn(
            f"column {column!r}: {plural(count, 'value')} ({READ_AS}) read as booleans (--coerce)",
            UserWarning,
            stacklevel=3,
        )
    if not s.bad.any():  # without --coerce the data trains as it was read
        return (s.table if coerce else table), rows, lines
    idx = np.flatnonzero(s.bad)
    if on_error != "skip":
        n = len(idx) - 1
        more = f" ({plural(n, 'more row')} {'fails' if n == 1 else 'fail'})" if n else ""
        first = int(idx[0])
        e = DataError(
            f"{s.reasons[first]}{more}",
            path=path,
            line=None if lines is None else int(lines[first]),
            row=int(rows[first]),
            hint="fix the rows, or pass --on-error skip to leave them out (listed)",
        )
        from trlprep.trainers.data_rejects import trained

        from trlprep.errors import RowCounts

        n_in, bad = table.num_rows, len(idx)  # (read before any other step: `kept_as` read)
        raise trained(e, RowCounts(n_in, bad, n_in - bad, "", None, "read"), n_in)
    rejects = failures_table([Failure(rows[idx], "read", list(s.reasons[idx]))], table, 0, lines)
    warnings.warn(
        RejectedRowsWarning(
            f"{plural(len(idx), 'row')} could not be read and "
            + ("was" if len(idx) == 1 else "were")
            + f" left out: {s.reasons[idx[0]]}",
            rejects,
        ),
        stacklevel=3,
    )
    keep = ~s.bad
    return (
        s.table.filter(pa.array(keep)),
        rows[keep],
        None if lines is None else np.asarray(lines)[keep],
    )


def skip_would_leave_out(table: pa.Table) -> bool:
    """True when `on_error="skip"` would leave rows of `table` out as of another kind than
    most rows' (so advising --on-error skip for a non-uniform column helps)."""
    from trlprep.detection.columnroles import carried_columns
    from trlprep.io.kinds import settle_kinds

    return bool(settle_kinds(table, carry=carried_columns(table.column_names)).bad.any())
