"""Column checks for one record batch: strings, message lists, steps, labels and token ids.

Every check works on whole Arrow columns (flattened messages and content parts with their
parent row indices, reduced back to rows with numpy) and reports offending rows to a
`BatchSink` under a rule id from `trlprep.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.arrowtypes import is_list, is_string
from trlprep.registry import MESSAGE_FIELD_TYPES, PART_TYPES
from trlprep.rules import ALLOWED_ROLES, role_map_hint

MAX_DETAILS = 5


@dataclass
class _Flag:
    mask: np.ndarray
    message: str | None = None
    hint: str | None = None
    details: dict[str, None] = field(default_factory=dict)


class BatchSink:
    """Collects the rows each (rule, column) flags in one batch; flushed once per batch."""

    def __init__(self, num_rows: int) -> None:
        self.num_rows = num_rows
        self.flags: dict[tuple[str, str | None], _Flag] = {}

    def flag(
        self,
        rule: str,
        column: str | None,
        where: np.ndarray,
        *,
        message: str | None = None,
        hint: str | None = None,
        details: list[str] | tuple[str, ...] = (),
    ) -> np.ndarray:
        """Mark rows (a boolean mask or row indices) as breaking `rule`; returns the mask."""
        if where.dtype != bool:
            mask = np.zeros(self.num_rows, dtype=bool)
            mask[where] = True
        else:
            mask = where
        if not mask.any():
            return mask
        f = self.flags.get((rule, column))
        if f is None:
            f = self.flags[(rule, column)] = _Flag(mask.copy(), message, hint)
        else:
            f.mask |= mask
            f.message = f.message or message
            f.hint = f.hint or hint
        for d in details:
            if len(f.details) < MAX_DETAILS:
                f.details.setdefault(d, None)
        return mask


def to_numpy_bool(arr: pa.Array | pa.ChunkedArray, null: bool = False) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, null).to_numpy(zero_copy_only=False), dtype=bool)


def list_lengths(arr: pa.Array) -> np.ndarray:
    """Per-row list length, 0 for null lists."""
    return np.asarray(
        pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False), dtype=np.int64
    )


def _row_mask(parent: np.ndarray, item_mask: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[parent[item_mask]] = True
    return out


def _distinct(values: pa.Array, mask: np.ndarray, limit: int = MAX_DETAILS) -> list[str]:
    picked = pc.unique(values.filter(pa.array(mask)))
    return ["null" if v is None else repr(v) for v in picked.to_pylist()[:limit]]


def _field(struct: pa.Array, name: str) -> pa.Array | None:
    if not pa.types.is_struct(struct.type) or struct.type.get_field_index(name) < 0:
        return None
    return pc.struct_field(struct, name)


# ---------------------------------------------------------------- strings


def check_strings(arr: pa.Array, column: str, sink: BatchSink, what: str = "text") -> None:
    """Standard-format text: empty is an error, whitespace-only a warning (nulls checked apart)."""
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
        to_numpy_bool(pc.utf8_is_space(arr)),
        message=f"column {column!r}: the {what} holds only whitespace",
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
        _row_mask(parent, to_numpy_bool(pc.utf8_is_space(items)), n),
        message=f"column {column!r}: a step holds only whitespace",
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


# ---------------------------------------------------------------- messages


@dataclass
class MessagesInfo:
    """Per-row facts about a message column that cross-column rules need."""

    lengths: np.ndarray
    first_role: np.ndarray  # ROLE_CODES of the first message's mapped role (NO_ROLE, EMPTY)
    last_role: np.ndarray
    images: np.ndarray  # {"type": "image"} parts per row


# roles as small ints: index in ALLOWED_ROLES; NO_ROLE for unknown/missing, EMPTY for no message
ROLE_CODES: dict[str, int] = {r: i for i, r in enumerate(ALLOWED_ROLES)}
NO_ROLE, EMPTY = -1, -2


_EXPECTED_FIELD = {
    "string": is_string,
    "number": lambda t: pa.types.is_integer(t) or pa.types.is_floating(t),
    "array": lambda t: is_list(t),
}


def _apply_role_map(roles: pa.Array, role_map: dict[str, str]) -> pa.Array:
    if not role_map:
        return roles
    keys = pa.array(list(role_map), pa.string())
    values = pa.array(list(role_map.values()), pa.string())
    idx = pc.index_in(roles, keys)
    return pc.if_else(pc.is_null(idx), roles, values.take(idx))


def check_messages(
    arr: pa.Array, column: str, sink: BatchSink, role_map: dict[str, str]
) -> MessagesInfo:
    """Roles, content (string or parts), system placement and message field types."""
    n = len(arr)
    lengths = list_lengths(arr)
    sink.flag("empty-messages", column, (lengths == 0) & to_numpy_bool(arr.is_valid()))
    msgs = pc.list_flatten(arr)
    m = len(msgs)
    parent = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False).astype(np.int64)
    starts = np.cumsum(lengths) - lengths
    pos = np.arange(m, dtype=np.int64) - starts[parent]
    msg_null = to_numpy_bool(msgs.is_null())
    sink.flag(
        "invalid-message",
        column,
        _row_mask(parent, msg_null, n),
        message=f"column {column!r}: a message is null",
    )
    present = ~msg_null

    # roles, after the role map
    role = _field(msgs, "role")
    if role is None or not is_string(role.type):
        mapped = pa.nulls(m, pa.string())
        raw = mapped
    else:
        raw = role.cast(pa.string())
        mapped = _apply_role_map(raw, role_map)
    codes = pc.index_in(mapped, pa.array(ALLOWED_ROLES, pa.string()))
    codes = np.asarray(pc.fill_null(codes, NO_ROLE).to_numpy(zero_copy_only=False), np.int8)
    bad_role = present & (codes == NO_ROLE)
    if bad_role.any():
        seen = _distinct(raw, bad_role)
        sink.flag(
            "unknown-role",
            column,
            _row_mask(parent, bad_role, n),
            hint=role_map_hint([s.strip("'\"") for s in seen]),
            details=seen,
        )
    sink.flag(
        "system-not-first",
        column,
        _row_mask(parent, (codes == ROLE_CODES["system"]) & (pos > 0), n),
    )

    _check_message_fields(msgs, present, parent, column, sink)
    has_calls = _has_tool_calls(msgs)
    images = _check_content(msgs, present, has_calls, parent, column, sink)

    nonempty = lengths > 0
    codes = np.where(msg_null, NO_ROLE, codes).astype(np.int8)
    if m:
        first = np.where(nonempty, codes[np.minimum(starts, m - 1)], EMPTY)
        last = np.where(nonempty, codes[np.minimum(starts + lengths - 1, m - 1)], EMPTY)
    else:
        first = last = np.full(n, EMPTY, dtype=np.int8)
    return MessagesInfo(
        lengths=lengths,
        first_role=first,
        last_role=last,
        images=np.bincount(parent, weights=images, minlength=n).astype(np.int64)
        if m
        else np.zeros(n, np.int64),
    )


def _has_tool_calls(msgs: pa.Array) -> np.ndarray:
    calls = _field(msgs, "tool_calls")
    if calls is None or pa.types.is_null(calls.type):
        return np.zeros(len(msgs), dtype=bool)
    if is_list(calls.type):
        return list_lengths(calls) > 0
    return to_numpy_bool(calls.is_valid())


def _check_message_fields(msgs, present, parent, column, sink) -> None:
    for name, kind in MESSAGE_FIELD_TYPES.items():
        values = _field(msgs, name)
        if values is None or pa.types.is_null(values.type):
            continue
        ok = _EXPECTED_FIELD[kind](values.type)
        if kind == "array" and ok:
            ok = pa.types.is_struct(values.type.value_type) or pa.types.is_null(
                values.type.value_type
            )
        if not ok:
            bad = present & to_numpy_bool(values.is_valid())
        elif kind == "array":  # a null item inside tool_calls
            items = pc.list_flatten(values)
            owner = pc.list_parent_indices(values).to_numpy(zero_copy_only=False)
            bad = present & _row_mask(owner, to_numpy_bool(items.is_null()), len(values))
        else:
            continue
        if bad.any():
            sink.flag(
                "invalid-message",
                column,
                _row_mask(parent, bad, sink.num_rows),
                details=[f"{name} must be a {kind}" + (" of objects" if kind == "array" else "")],
            )


def _check_content(msgs, present, has_calls, parent, column, sink) -> np.ndarray:
    """Check message content; returns the number of image parts per message."""
    n, m = sink.num_rows, len(msgs)
    content = _field(msgs, "content")
    no_images = np.zeros(m, dtype=np.int64)
    needs = present & ~has_calls  # messages that must carry content
    if content is None or pa.types.is_null(content.type):
        sink.flag("missing-content", column, _row_mask(parent, needs, n))
        return no_images
    t = content.type
    null = to_numpy_bool(content.is_null())
    sink.flag("missing-content", column, _row_mask(parent, needs & null, n))
    if is_string(t):
        empty = to_numpy_bool(pc.equal(pc.binary_length(content), 0))
        sink.flag(
            "empty-string",
            column,
            _row_mask(parent, needs & empty, n),
            message=f"column {column!r}: a message's content is empty",
        )
        sink.flag(
            "whitespace-only",
            column,
            _row_mask(parent, present & to_numpy_bool(pc.utf8_is_space(content)), n),
            message=f"column {column!r}: a message's content holds only whitespace",
        )
        return no_images
    if is_list(t) and (pa.types.is_struct(t.value_type) or pa.types.is_null(t.value_type)):
        nparts = list_lengths(content)
        sink.flag("missing-content", column, _row_mask(parent, needs & ~null & (nparts == 0), n))
        return _check_parts(content, present, parent, column, sink)
    wrong = present & ~null
    if is_list(t):  # an empty list is no content (not a wrong kind of content)
        empty = list_lengths(content) == 0
        sink.flag("missing-content", column, _row_mask(parent, needs & ~null & empty, n))
        wrong &= ~empty
    sink.flag("content-type", column, _row_mask(parent, wrong, n), details=[f"content is {t}"])
    return no_images


def _check_parts(content, present, parent, column, sink) -> np.ndarray:
    n, m = sink.num_rows, len(content)
    parts = pc.list_flatten(content)
    # part -> message -> row
    pmsg = pc.list_parent_indices(content).to_numpy(zero_copy_only=False).astype(np.int64)
    prow = parent[pmsg]
    live = present[pmsg]
    p_null = to_numpy_bool(parts.is_null())
    ptype = _field(parts, "type")
    if ptype is None or not is_string(ptype.type):
        ptype = pa.nulls(len(parts), pa.string())
    known = to_numpy_bool(pc.is_in(ptype, pa.array(PART_TYPES)))
    bad = live & (p_null | ~known)
    if bad.any():
        sink.flag(
            "invalid-part",
            column,
            _row_mask(prow, bad, n),
            details=[f"type {v}" for v in _distinct(ptype, bad & ~p_null)],
        )
    is_text = live & to_numpy_bool(pc.equal(ptype, "text"))
    text = _field(parts, "text")
    if text is None or pa.types.is_null(text.type):
        sink.flag(
            "invalid-part", column, _row_mask(prow, is_text, n), details=["text part without text"]
        )
    elif not is_string(text.type):
        sink.flag(
            "invalid-part",
            column,
            _row_mask(prow, live & to_numpy_bool(text.is_valid()), n),
            details=["text must be a string"],
        )
    else:
        t_null = to_numpy_bool(text.is_null())
        sink.flag(
            "invalid-part",
            column,
            _row_mask(prow, is_text & t_null, n),
            details=["text part without text"],
        )
        empty = to_numpy_bool(pc.equal(pc.binary_length(text), 0))
        sink.flag(
            "empty-string",
            column,
            _row_mask(prow, is_text & empty, n),
            message=f"column {column!r}: a text part is empty",
        )
        sink.flag(
            "whitespace-only",
            column,
            _row_mask(prow, is_text & to_numpy_bool(pc.utf8_is_space(text)), n),
            message=f"column {column!r}: a text part holds only whitespace",
        )
    is_image = live & to_numpy_bool(pc.equal(ptype, "image"))
    return np.bincount(pmsg[is_image], minlength=m).astype(np.int64)
