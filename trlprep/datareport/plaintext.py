"""Per row, the text a column holds, for the report's text checks."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from trlprep.columns.arrowtypes import is_messages


def plain_text(col: pa.ChunkedArray) -> pa.Array | None:
    """Per row, the text a column holds: strings as they are, messages' string contents
    joined by newlines (None for other kinds: ids, images ...)."""
    col = col.combine_chunks()
    t = col.type
    if pa.types.is_dictionary(t):
        col, t = col.dictionary_decode(), t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return col
    if is_messages(t):
        content = (
            t.value_type.field("content").type
            if t.value_type.get_field_index("content") >= 0
            else None
        )
        if content is None or not (
            pa.types.is_string(content) or pa.types.is_large_string(content)
        ):
            return None
        frame = pl.from_arrow(pa.table({"m": col}))
        joined = frame.select(
            pl.col("m")
            .list.eval(pl.element().struct.field("content").fill_null(""))
            .list.join("\n")
        )
        return joined.to_arrow().column(0).combine_chunks().cast(pa.string())
    if pa.types.is_list(t) and pa.types.is_string(t.value_type):  # stepwise completions
        frame = pl.from_arrow(pa.table({"m": col}))
        return frame.select(pl.col("m").list.join("\n")).to_arrow().column(0).combine_chunks()
    return None


__all__ = ["plain_text"]
