"""`--coerce` for a dataset type's boolean columns: an unpaired-preference `label` and a
stepwise-supervision `labels` list holding 0/1 or "true"/"false" are read as booleans.

Read as booleans: integers 0 and 1 (floats 0.0 and 1.0 too: pandas writes an integer
column with nulls as floats), strings "true"/"false" in any case and "0"/"1". Booleans and
nulls stay as they are. Any other value (2, -1, 0.5, "yes", an object) leaves its row bad,
with a reason naming the column and the value (rule `label-type` / `labels-type`).
Typed columns are read with Arrow compute; a column of several kinds (tagged JSON text,
`trlprep.io.kinds`) is read once per distinct value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths
from trlprep.columns.arrowtypes import is_json_field, is_list, is_string
from trlprep.registry import TYPES, Kind

_TRUE = ["true", "1"]
_FALSE = ["false", "0"]
PREVIEW = 40
READ_AS = '0/1 and "true"/"false"'
COERCE_LABELS_HINT = (  # where a command stops on labels that are no booleans
    'labels of 0/1 or "true"/"false": `--coerce` reads them as booleans (trlprep convert, '
    "import, train); `trlprep validate --coerce` lists the rows it cannot read"
)


def _label_kinds() -> dict[str, Kind]:
    out = {}
    for t in TYPES.values():
        for f in t.all_formats:
            for c in t.columns_in(f):
                if c.kind in (Kind.LABEL, Kind.LABELS):
                    out[c.name_in(f)] = c.kind
    return out


LABEL_KINDS = _label_kinds()  # column name -> Kind.LABEL (a boolean) | Kind.LABELS (a list)


@dataclass
class ReadLabels:
    """A boolean column read from 0/1 and "true"/"false" values (see the module docstring)."""

    field: pa.Field
    values: pa.Array  # bool or list<bool>; null in bad rows
    bad: np.ndarray  # per row: it holds a value with no boolean reading
    reasons: np.ndarray  # per row: why (None where not bad)
    count: int  # values read as booleans (booleans already are not counted)
    per_row: np.ndarray  # per row: its values read as booleans (0 in bad rows)


def read_labels(
    field: pa.Field, column: pa.Array | pa.ChunkedArray, as_name: str | None = None
) -> ReadLabels:
    """Read the label column `field` (`label`: booleans, `labels`: lists of booleans; or
    the column `as_name`, where --map renames `field` to it) as booleans; see the module
    docstring."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    many = LABEL_KINDS.get(as_name or field.name) is Kind.LABELS
    if is_json_field(field):
        values, bad, per_row = _from_json(column, many)
    elif many and is_list(column.type):
        values, bad, per_row = _list(column)
    elif many and not pa.types.is_null(column.type):
        values, bad, per_row = _whole_rows_bad(column, pa.list_(pa.bool_()))
    else:
        values, bad, read = _scalar(column)
        per_row = read.astype(np.int64)
    reasons = np.full(len(column), None, dtype=object)
    if bad.any():
        idx = np.flatnonzero(bad)
        shown = _shown(field, column, idx)
        rule = "labels-type" if many else "label-type"
        need = "lists of booleans are" if many else "a boolean is"
        for j, value in zip(idx, shown, strict=True):
            reasons[j] = (
                f"column {field.name!r} holds {value} where {need} needed (rule {rule}); "
                f"--coerce reads only {READ_AS} as booleans"
            )
    field = field.with_type(values.type).with_metadata(None)
    return ReadLabels(field, values, bad, reasons, int(per_row.sum()), per_row)


def _scalar(arr: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Booleans of a typed scalar array, the rows with no boolean reading, the rows read."""
    t = arr.type
    none = np.zeros(len(arr), bool)
    if pa.types.is_boolean(t):
        return arr, none, none
    if pa.types.is_null(t):
        return arr.cast(pa.bool_()), none, none
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        true = pc.equal(arr, pa.scalar(1, t))
        ok = pc.is_in(arr, pa.array([0, 1], t))
    elif is_string(t):
        low = pc.utf8_lower(arr)
        true = pc.is_in(low, pa.array(_TRUE))
        ok = pc.is_in(low, pa.array(_TRUE + _FALSE))
    else:
        values, bad, _ = _whole_rows_bad(arr, pa.bool_())
        return values, bad, none
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
    good = np.asarray(pc.fill_null(ok, False).to_numpy(zero_copy_only=False), bool)
    values = pc.if_else(pa.array(good), true, pa.scalar(None, pa.bool_()))
    return values, valid & ~good, valid & good


def _whole_rows_bad(arr: pa.Array, t: pa.DataType) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    bad = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
    return pa.nulls(len(arr), t), bad, np.zeros(len(arr), np.int64)


def _list(arr: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Lists of booleans from typed lists; a row is bad when one of its values is; the
    values read per row."""
    flat = pc.list_flatten(arr)
    parents = np.asarray(pc.list_parent_indices(arr).to_numpy(zero_copy_only=False), np.int64)
    values, bad_flat, read = _scalar(flat)
    bad = np.zeros(len(arr), bool)
    bad[parents[bad_flat]] = True
    # a refused row's values are not counted
    count = np.bincount(parents[read & ~bad[parents]], minlength=len(arr)).astype(np.int64)
    lengths = list_lengths(arr)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), pa.int32())
    out = pa.ListArray.from_arrays(offsets, values, mask=pc.or_(arr.is_null(), pa.array(bad)))
    return out, bad, count


_BAD = object()


def _boolean(value: Any) -> Any:
    """The boolean reading of one decoded JSON value (None: null; _BAD: none)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return {0: False, 1: True}.get(value, _BAD)
    if isinstance(value, str):
        low = value.lower()
        return True if low in _TRUE else False if low in _FALSE else _BAD
    return _BAD


def _from_json(text: pa.Array, many: bool) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Booleans (lists of them) from tagged JSON text, one parse per distinct value."""
    distinct = pc.unique(text)
    read, bad_values, counts = [], [], []
    for t in distinct.to_pylist():
        v = None if t is None else json.loads(t)
        if many:
            items = [_boolean(x) for x in v] if isinstance(v, list) else [_BAD]
            if v is None:
                items = None
            is_bad = items is not None and any(x is _BAD for x in items)
            read.append(None if is_bad else items)
            listed = v if isinstance(v, list) and not is_bad else ()
            counts.append(sum(x is not None and type(x) is not bool for x in listed))
        else:
            b = _boolean(v)
            is_bad = b is _BAD
            read.append(None if is_bad else b)
            counts.append(0 if is_bad or v is None or isinstance(v, bool) else 1)
        bad_values.append(is_bad)
    typed = pa.array(read, pa.list_(pa.bool_()) if many else pa.bool_())
    index = pc.index_in(text, distinct)
    where = np.asarray(pc.fill_null(index, 0).to_numpy(), np.int64)  # a null text: no value
    valid = np.asarray(text.is_valid().to_numpy(zero_copy_only=False), bool)
    bad = np.asarray(bad_values, bool)[where] & valid
    return typed.take(index), bad, np.asarray(counts, np.int64)[where] * valid


def _shown(field: pa.Field, column: pa.Array, idx: np.ndarray) -> list[str]:
    """The bad rows' values as JSON text (cut at PREVIEW characters)."""
    raw = column.take(pa.array(idx)).to_pylist()
    texts = [
        v if is_json_field(field) else json.dumps(v, ensure_ascii=False, default=str) for v in raw
    ]
    return [t if len(t) <= PREVIEW else t[:PREVIEW] + "..." for t in texts]
