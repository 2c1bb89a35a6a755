"""Columns whose rows hold different kinds of JSON value (GSM8K with one numeric `answer`,
Alpaca with `"output": 42`), settled before anything else reads them.

Readers keep such a column as tagged JSON text (`arrowtypes.JSON_FIELD_KEY`). Here the
kind most rows hold wins: rows of another kind are row failures naming the column as the
user wrote it (stage `read`), or, with `coerce`, numbers and booleans in a text column are
read as their text. The column is then decoded to its proper Arrow type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_json_field, json_kinds
from trlprep.io.jsontext import decode_json_texts

_NAMES = {
    "string": ("a string", "strings"),
    "number": ("a number", "numbers"),
    "bool": ("a boolean", "booleans"),
    "list": ("a list", "lists"),
    "object": ("an object", "objects"),
}
PREVIEW = 40


@dataclass
class Settled:
    """A table with its mixed-kind columns settled, and the rows that could not be."""

    table: pa.Table
    bad: np.ndarray  # per row: it holds a minority kind (and is to be set aside)
    reasons: np.ndarray  # per row: why (None where not bad)
    coerced: dict[str, int] = field(default_factory=dict)  # column -> values read as text


def settle_kinds(table: pa.Table, *, coerce: bool = False) -> Settled:
    """Settle every tagged (mixed-kind) column of `table`; see the module docstring."""
    n = table.num_rows
    bad = np.zeros(n, dtype=bool)
    reasons = np.full(n, None, dtype=object)
    coerced: dict[str, int] = {}
    if not any(is_json_field(f) for f in table.schema):
        return Settled(table, bad, reasons)
    for i, f in enumerate(table.schema):
        if not is_json_field(f):
            continue
        text = table.column(i).combine_chunks()
        kinds = json_kinds(text)
        counts = pc.value_counts(pc.filter(kinds, pc.not_equal(kinds, "null")))
        if len(counts) < 2:
            continue  # one kind (nested values that disagree): left as it is
        values = counts.field("values").to_pylist()
        major = values[int(np.argmax(counts.field("counts").to_numpy()))]
        other = np.asarray(
            pc.and_(pc.not_equal(kinds, major), pc.not_equal(kinds, "null")).to_numpy(
                zero_copy_only=False
            ),
            dtype=bool,
        )
        if coerce and major == "string":
            scalar = other & np.isin(
                np.asarray(kinds.to_numpy(zero_copy_only=False), dtype=object), ["number", "bool"]
            )
            if scalar.any():
                quoted = pc.binary_join_element_wise('"', text, '"', "")
                text = pc.if_else(pa.array(scalar), quoted, text)
                coerced[f.name] = int(scalar.sum())
                other &= ~scalar
        if other.any():
            idx = np.flatnonzero(other)
            shown = text.take(pa.array(idx)).to_pylist()
            row_kinds = kinds.take(pa.array(idx)).to_pylist()
            hint = "; pass --coerce to read numbers as text" if major == "string" else ""
            for j, value, kind in zip(idx, shown, row_kinds, strict=True):
                if reasons[j] is None:
                    value = value if len(value) <= PREVIEW else value[:PREVIEW] + "..."
                    reasons[j] = (
                        f"column {f.name!r} holds {_NAMES[kind][0]} ({value}) where the other "
                        f"rows hold {_NAMES[major][1]} (rule mixed-kind){hint}"
                    )
            bad |= other
            text = pc.if_else(pa.array(other), pa.scalar(None, text.type), text)
        decoded = decode_json_texts(f.name, text)
        if decoded is not None:
            new_field, arr = decoded
            table = table.set_column(i, new_field.with_metadata(None), arr)
        else:
            table = table.set_column(i, f, text)
    return Settled(table, bad, reasons, coerced)
