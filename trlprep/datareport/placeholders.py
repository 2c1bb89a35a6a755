"""`<image>` / `<video>` / `<audio>` placeholders in the text of rows whose medium has no
column beside them (no `images`, `videos`, `audios`): nothing they could stand for, so the
report counts them apart from the media (validate warns of them)."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from trlprep.columns.arrowtypes import is_list
from trlprep.columns.placeholders import PLACEHOLDERS
from trlprep.registry import MEDIA_COLUMNS


def unbacked_placeholders(canon: pa.Table, frame: pl.DataFrame) -> dict[str, tuple[int, int]]:
    """Per medium without its column: (placeholders, rows holding one) in the message
    columns of `frame` (string contents and text parts alike); media with none left out."""
    out = {}
    for medium, mark in PLACEHOLDERS.items():
        if set(MEDIA_COLUMNS[medium]) & set(canon.column_names):
            continue
        counts = [_marks(c, canon.schema.field(c).type, mark) for c in frame.columns]
        counts = [e for e in counts if e is not None]
        if not counts:
            continue
        per_row = frame.select(pl.sum_horizontal(counts)).to_series()
        total = int(per_row.sum() or 0)
        if total:
            out[medium] = (total, int((per_row > 0).sum()))
    return out


def _marks(column: str, t: pa.DataType, mark: str) -> pl.Expr | None:
    """`mark` per row in a messages column's text: its string contents, or the `text` of
    its content parts (None: content of neither kind)."""
    item = t.value_type
    i = item.get_field_index("content")
    if i < 0:
        return None
    kind = item.field(i).type
    content = pl.element().struct.field("content")
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        per_message = content.str.count_matches(mark, literal=True)
    elif (
        is_list(kind)
        and pa.types.is_struct(kind.value_type)
        and kind.value_type.get_field_index("text") >= 0
    ):
        text = pl.element().struct.field("text").str.count_matches(mark, literal=True)
        per_message = content.list.eval(text).list.sum()
    else:
        return None
    return pl.col(column).list.eval(per_message).list.sum().fill_null(0)
