"""Row values as a chat template sees them, read off Arrow columns: null struct fields
dropped (Arrow cannot tell them from missing ones), JSON text parsed, a row's own `tools`
and `chat_template_kwargs` over the job's. A value that cannot be read (text that is not
JSON) fails only the rows using it (`check_read`).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.columns.arrowtypes import is_json_field, is_string
from trlprep.columns.textparts import has_marks, restored
from trlprep.templates.rules import RowError
from trlprep.templates.template import to_plain

TOOLS_COLUMN = "tools"
KWARGS_COLUMN = "chat_template_kwargs"


def column_values(batch: pa.Table, c: str, offset: int, take: np.ndarray | None = None) -> list:
    """Column `c` of `batch` (rows `take`, else all) as the template sees it (`_pylist`)."""
    arr = batch.column(c) if take is None else batch.column(c).take(take)
    return _pylist(arr, c, offset, take, json_text=is_json_field(batch.schema.field(c)))


def side_values(
    batch: pa.Table, offset: int, rows: np.ndarray, tools: list | None, kwargs: dict[str, Any]
) -> tuple[list, list]:
    """Per row of `rows`: (tools, template kwargs), the row's own values over `tools` and
    `kwargs` (the job's)."""
    per_row = {
        c: _pylist(batch.column(c).take(rows), c, offset, rows, json_text=True)
        for c in (TOOLS_COLUMN, KWARGS_COLUMN)
        if c in batch.column_names
    }
    none = [None] * len(rows)
    return (
        [_row_tools(v, tools) for v in per_row.get(TOOLS_COLUMN, none)],
        [_row_kwargs(v, kwargs) for v in per_row.get(KWARGS_COLUMN, none)],
    )


def check_read(*values: Any) -> None:
    """Raise the RowError of the first value that could not be read (a `_Bad`)."""
    for v in values:
        if isinstance(v, _Bad):
            v.fail()


def _pylist(
    arr: pa.ChunkedArray | pa.Array,
    column: str,
    offset: int,
    rows: np.ndarray | None = None,
    *,
    json_text: bool = False,
) -> list:
    """Python values of a column, as the template should see them.

    Arrow cannot tell a missing struct field from a null one (all rows share one schema),
    so null fields are dropped, at every depth. Strings are parsed as JSON when `json_text`
    (JSON-text columns, and `tools`/`chat_template_kwargs` given as JSON strings); a string
    that is not JSON becomes a `_Bad` value (the rows using it fail).
    """
    values = arr.to_pylist()
    if has_marks(arr.type):  # contents of mixed kinds: each as the user gave it
        return [restored(_drop_nulls(v)) for v in values]
    if not (json_text and is_string(arr.type)):
        return [_drop_nulls(v) for v in values]
    out = []
    for v in values:
        if isinstance(v, str):
            try:
                v = json.loads(v) if v.strip() else None
            except json.JSONDecodeError as e:
                v = _Bad(f"not valid JSON: {e}", column)
        out.append(v)
    return out


class _Bad:
    """A value that could not be read (the row using it fails with this message)."""

    def __init__(self, message: str, column: str) -> None:
        self.message, self.column = message, column

    def fail(self) -> None:
        raise RowError(self.message, self.column)


def _drop_nulls(v: Any) -> Any:
    t = type(v)
    if t is dict:
        return {k: _drop_nulls(x) for k, x in v.items() if x is not None}
    if t is list:
        return [_drop_nulls(x) for x in v]
    if v is None or t in (str, int, float, bool):
        return v
    return to_plain(v)


def _row_tools(value: Any, default: list | None) -> list | None:
    if isinstance(value, _Bad):
        return value
    if isinstance(value, str) and value.strip()[:1] == "[":  # a JSON string in a JSON column
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return _Bad("not valid JSON (a tools list given as text)", TOOLS_COLUMN)
    if value is None:
        return default
    if not isinstance(value, list):
        return default if not value else [value]
    return value or None


def _row_kwargs(value: Any, default: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, _Bad):
        return value
    if not value:
        return default
    if not isinstance(value, dict):
        return default
    return {**default, **value}
