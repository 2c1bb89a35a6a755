"""Per row, the text a column holds, for the report's text checks."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from trlprep.columns.arrowtypes import is_messages


def plain_text(col: pa.ChunkedArray) -> pa.Array | None:
    """Per row, the text a column holds: strings as they are, messages' contents (strings,
    or the text of their parts) joined by newlines (None for other kinds: ids ...)."""
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
        if content is None:
            return None
        if pa.types.is_string(content) or pa.types.is_large_string(content):
            text = pl.element().struct.field("content").fill_null("")
        elif _text_parts(content):  # each message's text parts, joined (media parts: none)
            text = (
                pl.element()
                .struct.field("content")
                .list.eval(pl.element().struct.field("text").drop_nulls())
                .list.join("\n")
                .fill_null("")
            )
        else:
            return None
        frame = pl.from_arrow(pa.table({"m": col}))
        joined = frame.select(pl.col("m").list.eval(text).list.join("\n"))
        return joined.to_arrow().column(0).combine_chunks().cast(pa.string())
    if pa.types.is_list(t) and pa.types.is_string(t.value_type):  # stepwise completions
        frame = pl.from_arrow(pa.table({"m": col}))
        return frame.select(pl.col("m").list.join("\n")).to_arrow().column(0).combine_chunks()
    return None


def _text_parts(content: pa.DataType) -> bool:
    """A list of parts with a string `text` field."""
    if not (pa.types.is_list(content) or pa.types.is_large_list(content)):
        return False
    part = content.value_type
    if not pa.types.is_struct(part) or part.get_field_index("text") < 0:
        return False
    t = part.field("text").type
    return pa.types.is_string(t) or pa.types.is_large_string(t)


__all__ = ["plain_text"]
