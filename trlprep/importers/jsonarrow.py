"""JSON in and out of Arrow columns, as importers need it.

`to_json_text` writes nested Arrow values as compact JSON text, columnar, leaving out struct
fields that are null: Arrow gives every row of a struct column the union of all rows'
keys, so `{"city": "Paris"}` and `{"n": 1}` read back as `{"city": "Paris", "n": null}` and
`{"city": null, "n": 1}`; writing them without the null keys restores the originals (a key
that really held null is lost the same way; JSON text in string columns is kept as is).

`decode_json_column` parses a tagged JSON-text column (the readers' answer to rows whose
kinds disagree, such as tool-call arguments that are objects in some rows and strings in
others) once per distinct value, normalises each value in Python and types the result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths
from trlprep.columns.arrowtypes import is_list, is_string
from trlprep.columns.textops import join_lists
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.io.jsonencode import encode_json_texts
from trlprep.io.jsontext import dumps

_LS = pa.large_string()


def _join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation (null where any part is null)."""
    args = [pa.scalar(p, _LS) if isinstance(p, str) else p.cast(_LS) for p in parts]
    return pc.binary_join_element_wise(*args, pa.scalar("", _LS))


def parent_rows(lists: pa.Array) -> np.ndarray:
    """The row each element of a list column's values belongs to."""
    return np.asarray(pc.list_parent_indices(lists).to_numpy(zero_copy_only=False), np.int64)


row_lengths = list_lengths  # items per row of a list array (0 for null rows)


def lists_from(values: pa.Array, lengths: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """A list array of consecutive runs of `values` (`lengths` per row; `valid`: non-null)."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    mask = None if valid is None or valid.all() else pa.array(~valid)
    if offsets[-1] > np.iinfo(np.int32).max:
        return pa.LargeListArray.from_arrays(pa.array(offsets), values, mask=mask)
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values, mask=mask)


def to_json_text(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The compact JSON text of each value; null struct fields are left out (see module doc)."""
    arr = as_array(arr)
    t = arr.type
    if pa.types.is_dictionary(t):
        return to_json_text(arr.dictionary_decode())
    if pa.types.is_struct(t):
        # each present field as ',"key":value' (absent: ""), joined, first comma dropped;
        # binary_join_element_wise's null_handling="skip" loses rows (pyarrow 26)
        pieces = [
            pc.fill_null(_join("," + dumps(f.name) + ":", to_json_text(child)), "")
            for f, child in zip(t, arr.flatten(), strict=True)
        ]
        body = _join(*pieces) if pieces else pa.array([""] * len(arr), _LS)
        text = _join("{", pc.utf8_slice_codeunits(body, 1, np.iinfo(np.int32).max), "}")
    elif is_list(t):
        items = pc.fill_null(to_json_text(pc.list_flatten(arr)), "null")
        body = join_lists(arr, items, ",")
        text = _join("[", body, "]")
    else:
        text = encode_json_texts(arr)
    text = text.cast(pa.string())
    return pc.if_else(arr.is_valid(), text, pa.scalar(None, pa.string()))


def as_json_strings(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Strings stay as they are (JSON text already); any other value becomes its JSON text."""
    arr = as_array(arr)
    if is_string(arr.type):
        return arr.cast(pa.string())
    if pa.types.is_null(arr.type):
        return arr.cast(pa.string())
    return to_json_text(arr)


Normaliser = Callable[[Any], tuple[Any, str | None]]


def decode_json_column(
    arr: pa.Array | pa.ChunkedArray, name: str, normalise: Normaliser
) -> tuple[pa.Array, np.ndarray]:
    """Parse JSON texts once per distinct value; `normalise` returns (value, problem).

    Returns the typed values (null where a row is null or has a problem) and, per row,
    the problem (None where there is none).
    """
    arr = as_array(arr).cast(pa.string())
    n = len(arr)
    problems = np.full(n, None, dtype=object)
    distinct = pc.unique(arr.drop_null())
    values: list[Any] = []
    why: list[str | None] = []
    for text in distinct.to_pylist():
        try:
            value, problem = normalise(json.loads(text))
        except ValueError:
            value, problem = None, "not valid JSON"
        values.append(None if problem else value)
        why.append(problem)
    try:
        typed = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        raise DataError(
            "rows hold values whose fields differ in kind beyond what trlprep reconciles "
            "(for example message content that is text in some rows and a list in others)",
            column=name,
            hint="make the field uniform across rows; `trlprep detect` shows which rows differ",
        ) from None
    index = pc.index_in(arr, distinct)
    if any(w is not None for w in why):
        idx = index.to_numpy(zero_copy_only=False)
        present = ~np.isnan(idx) if idx.dtype.kind == "f" else np.ones(n, bool)
        per_row = np.array(why, dtype=object)
        problems[present] = per_row[idx[present].astype(np.int64)]
    return typed.take(index), problems
