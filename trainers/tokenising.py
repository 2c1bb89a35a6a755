"""`tokenize_table` over a training table in pieces, so that `train --progress` shows rows
tokenised, their rate, the percentage and the time left (`trlprep.io.progress.tally`).

Every row is tokenised on its own (a prompt tokenised once per distinct text is a cache, not
a change), so the pieces give the same ids and the same report as one call over the table;
rows a piece refuses are named by their position in the whole table.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from trlprep.errors import RowFailures
from trlprep.io.progress import tally

PIECE_ROWS = 2048


def tokenize_pieces(
    table: pa.Table, dtype: Any, tokenizer: Any, *, what: str = "rows", **options: Any
) -> tuple[pa.Table, Any]:
    """`tokenize_table(table, dtype, tokenizer, **options)`, `PIECE_ROWS` rows at a time,
    each piece counted on the progress bar as `what`."""
    from trlprep.templates.tokenize import tokenize_table

    starts = range(0, max(table.num_rows, 1), PIECE_ROWS)
    pieces = (table.slice(i, PIECE_ROWS) for i in starts)
    outs: list[pa.Table] = []
    report = None
    for start, piece in zip(starts, tally(pieces, what, table.num_rows), strict=True):
        try:
            out, part = tokenize_table(piece, dtype, tokenizer, row_offset=start, **options)
        except RowFailures as e:  # positions in the piece -> in the table
            raise RowFailures(
                [r + start for r in e.rows], e.reasons, stage=e.stage, hint=e.hint
            ) from None
        outs.append(out)
        if report is None:
            report = part
        else:
            report.merge(part)
    return pa.concat_tables(outs), report


__all__ = ["PIECE_ROWS", "tokenize_pieces"]
