"""Column checks for plain columns of one record batch: strings, steps, labels and token ids
(message lists: `trlprep.validation.checks.messages`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths, to_numpy_bool
from trlprep.columns.textops import blank
from trlprep.validation.checks.common import BatchSink


def _row_mask(parent: np.ndarray, item_mask: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[parent[item_mask]] = True
    return out


# ---------------------------------------------------------------- strings


def check_strings(arr: pa.Array, column: str, sink: BatchSink, what: str = "text") -> None:
    """Standard-format text: empty is an error, whitespace-only a warning (nulls checked apart)."""
    from trlprep.validation.checks.text import Scan, check_text

    check_text(Scan(arr), lambda mask: mask, column, sink, f"the {what}")
    lengths = pc.binary_length(arr)
    sink.flag(
        "empty-string",
        column,
        to_numpy_bool(pc.equal(lengths, 0)),
        message=f"column {column!r}: the {what} is empty",
    )
    sink.flag(
        "whitespace-only",
        column,
        to_numpy_bool(blank(arr)),
        message=f"column {column!r}: the {what} holds only whitespace or zero-width characters",
    )


def check_string_lists(arr: pa.Array, column: str, sink: BatchSink) -> None:
    """Stepwise completions: a non-empty list of non-empty strings."""
    n = len(arr)
    lengths = list_lengths(arr)
    sink.flag("empty-steps", column, (lengths == 0) & to_numpy_bool(arr.is_valid()))
    items = pc.list_flatten(arr)
    parent = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False)
    sink.flag(
        "null-value",
        column,
        _row_mask(parent, to_numpy_bool(items.is_null()), n),
        message=f"column {column!r}: a step is null",
    )
    blen = pc.binary_length(items)
    sink.flag(
        "empty-string",
        column,
        _row_mask(parent, to_numpy_bool(pc.equal(blen, 0)), n),
        message=f"column {column!r}: a step is empty",
    )
    sink.flag(
        "whitespace-only",
        column,
        _row_mask(parent, to_numpy_bool(blank(items)), n),
        message=f"column {column!r}: a step holds only whitespace or zero-width characters",
    )


def check_bool_lists(arr: pa.Array, column: str, sink: BatchSink) -> None:
    items = pc.list_flatten(arr)
    parent = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False)
    sink.flag(
        "null-value",
        column,
        _row_mask(parent, to_numpy_bool(items.is_null()), len(arr)),
        message=f"column {column!r}: a label is null",
    )


def check_tokens(ids: pa.Array, mask: pa.Array | None, sink: BatchSink) -> None:
    """input_ids: non-empty, non-negative; attention_mask: 0/1 and as long as input_ids."""
    n = len(ids)
    lengths = list_lengths(ids)
    valid = to_numpy_bool(ids.is_valid())
    items = pc.list_flatten(ids)
    parent = pc.list_parent_indices(ids).to_numpy(zero_copy_only=False)
    sink.flag("null-value", "input_ids", _row_mask(parent, to_numpy_bool(items.is_null()), n))
    negative = _row_mask(parent, to_numpy_bool(pc.less(items, 0)), n)
    sink.flag("invalid-tokens", "input_ids", ((lengths == 0) & valid) | negative)
    if mask is None:
        return
    mvalid = to_numpy_bool(mask.is_valid())
    bad_len = mvalid & valid & (list_lengths(mask) != lengths)
    mitems = pc.list_flatten(mask)
    mparent = pc.list_parent_indices(mask).to_numpy(zero_copy_only=False)
    not01 = ~to_numpy_bool(pc.is_in(mitems, pa.array([0, 1], mitems.type)))
    sink.flag("mask-mismatch", "attention_mask", bad_len | _row_mask(mparent, not01, n))
