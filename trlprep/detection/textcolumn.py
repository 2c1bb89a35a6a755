"""The `--map text=COLUMN` that data of one text column fits (a column of transcripts or
documents under another name than `text`), and whether its text writes tool calls as text."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_string
from trlprep.detection.mapnames import PROMPT_NAMES

# markup models write a tool call with, inside the text (Hermes and Qwen, Mistral, Llama 3.1);
# the text keeps it as written: no template renders such a call anew
TOOL_MARKUP = ("<tool_call>", "[TOOL_CALLS]", "<|python_tag|>")


def text_column_suggestion(table: pa.Table) -> str | None:
    """A note naming `--map text=COLUMN` when `table` holds one text column and nothing
    nested (language modeling is the one type that reads a single text), else None."""
    from trlprep.detection.columnroles import trl_column_names

    strings = [f.name for f in table.schema if is_string(_values_type(f.type))]
    nested = [f for f in table.schema if pa.types.is_nested(f.type)]
    if len(strings) != 1 or nested or strings[0] == "text":
        return None
    if trl_column_names().intersection(table.column_names):  # a TRL type's columns, unfilled
        return None
    if strings[0].lower() in PROMPT_NAMES:  # a question alone is a prompt, not a document
        return None
    column = strings[0]
    note = (
        f"column {column!r} is the only text: pass `--map text={column}` to read it as "
        f"language modeling (trlprep convert DATA --map text={column} -o OUT)"
    )
    marks = [m for m in TOOL_MARKUP if _holds(table.column(column), m)]
    if marks:
        shown = ", ".join(f"`{m}`" for m in marks)
        note += (
            f"; its text writes tool calls as text ({shown}): they stay text, trained as "
            "written (no chat template renders them anew)"
        )
    return note


def _values_type(type_: pa.DataType) -> pa.DataType:
    """A dictionary-encoded column's value type (Parquet keeps strings so), else the type."""
    return type_.value_type if pa.types.is_dictionary(type_) else type_


def _holds(col: pa.ChunkedArray, needle: str) -> bool:
    col = col.cast(_values_type(col.type))
    return bool(pc.any(pc.match_substring(col, needle)).as_py())
