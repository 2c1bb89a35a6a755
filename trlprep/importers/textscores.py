"""Scores written as text (UltraFeedback's ratings: `"Rating": "4"`) read as numbers; a row
holding a score that is no number (UltraFeedback's `"N/A"`) is set aside with its value."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list, is_string
from trlprep.converters.arrowops import as_array
from trlprep.importers.jsonarrow import lists_from, parent_rows, row_lengths
from trlprep.importers.rejects import Rejections

NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"


def scores_from_text(table: pa.Table, name: str, bad: Rejections) -> pa.Table:
    """`table` with the list column `name` of texts read as numbers (surrounding blanks
    ignored); each row holding a text that is no number is marked in `bad`, its reason
    quoting the first such value. Other columns, and `name` of numbers, are left as they are."""
    if name not in table.column_names:
        return table
    t = table.schema.field(name).type
    if not (is_list(t) and is_string(t.value_type)):
        return table
    lists = as_array(table.column(name))
    items = pc.utf8_trim_whitespace(pc.list_flatten(lists).cast(pa.string()))
    is_number = pc.match_substring_regex(items, NUMBER)
    numbers = pc.if_else(is_number, items, pa.scalar(None, pa.string())).cast(pa.float64())
    wrong = ~np.asarray(pc.fill_null(is_number, True), bool)  # null stays null (refused later)
    if wrong.any():
        parent = parent_rows(lists)
        rows, first = np.unique(parent[wrong], return_index=True)
        values = items.filter(pa.array(wrong)).take(pa.array(first)).to_pylist()
        reasons = np.full(table.num_rows, None, dtype=object)
        for row, value in zip(rows, values, strict=True):
            reasons[row] = f"a {name[:-1]} is {value!r}, no number: no label or pair from it"
        mask = np.zeros(table.num_rows, dtype=bool)
        mask[rows] = True
        bad.add_per_row(mask, reasons)
    valid = np.asarray(lists.is_valid().to_numpy(zero_copy_only=False), bool)
    column = lists_from(numbers, row_lengths(lists), valid)
    return table.set_column(table.column_names.index(name), name, column)
