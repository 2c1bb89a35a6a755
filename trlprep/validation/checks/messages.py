"""Checks on message-list columns: roles, content (string or parts), system placement and
message field types (tool-call arguments: `toolcalls`), over the flattened messages of a
whole record batch.

Messages are checked as one flat array; a message's row is found from the list lengths,
and only for messages that break a rule (valid data never builds the per-message row
index). Roles read as Arrow dictionaries (Parquet role columns are) are looked up once per
distinct role.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_layout, list_lengths, to_numpy_bool
from trlprep.columns.arrowtypes import is_list, is_string
from trlprep.columns.placeholders import PLACEHOLDERS
from trlprep.columns.textparts import MARK, flagged_text
from trlprep.columns.unmarked import string_messages
from trlprep.registry import MESSAGE_FIELD_TYPES
from trlprep.validation.checks.common import BatchSink
from trlprep.validation.checks.msgarrays import (
    Owners,
    distinct,
    empty_and_space,
    null_mask,
    struct_field,
)
from trlprep.validation.checks.parts import check_parts
from trlprep.validation.checks.rolecodes import EMPTY, NO_ROLE, ROLE_CODES, Roles, role_codes
from trlprep.validation.checks.text import Scan, check_text, placeholders
from trlprep.validation.checks.toolcalls import check_tool_arguments, flag_missing_content
from trlprep.validation.rolemap import role_map_hint
from trlprep.validation.rules import ALLOWED_ROLES
from trlprep.wording import article


@dataclass
class MessagesInfo:
    """Per-row facts about a message column that cross-column rules need."""

    lengths: np.ndarray
    first_role: np.ndarray  # ROLE_CODES of the first message's mapped role (NO_ROLE, EMPTY)
    last_role: np.ndarray
    images: np.ndarray  # image parts per row (bare and inline)
    # image parts holding their image inline (`{"type": "image", "image": URL}`, OpenAI's
    # `image_url`) per row: they need no `images` entry
    inline_images: np.ndarray | None = None
    placeholders: np.ndarray | None = None  # `<image>` in string contents per row
    # `<video>` / `<audio>` in string contents per row, by kind (none without strings)
    marks: dict[str, np.ndarray] = field(default_factory=dict)
    # video / audio parts per row (`VIDEO_AUDIO_PARTS`), for the kinds the column holds
    media: dict[str, np.ndarray] = field(default_factory=dict)
    # per row: a user message whose content is a string (where media given with no
    # placeholder are placed, `columns.unmarked`)
    string_user: np.ndarray | None = None


_EXPECTED_FIELD = {
    "string": is_string,
    "number": lambda t: pa.types.is_integer(t) or pa.types.is_floating(t),
    "array": lambda t: is_list(t),
}


def _written_roles(raw: pa.Array) -> list[str]:
    """The distinct role strings of `raw` (a dictionary's values, when encoded)."""
    if pa.types.is_dictionary(raw.type):
        raw = raw.dictionary
    if not is_string(raw.type):
        return []
    return [r for r in pc.unique(raw.cast(pa.string())).to_pylist() if r is not None]


def check_messages(
    arr: pa.Array, column: str, sink: BatchSink, role_map: dict[str, str]
) -> MessagesInfo:
    """Roles, content (string or parts), system placement and message field types."""
    n = len(arr)
    lengths, starts = list_layout(arr)
    nonempty = lengths > 0
    all_nonempty = bool(nonempty.all())
    if not all_nonempty:
        no_messages = ~nonempty
        if arr.null_count:
            no_messages &= to_numpy_bool(arr.is_valid())
        sink.flag("empty-messages", column, no_messages)
    msgs = pc.list_flatten(arr)
    m = len(msgs)
    owners = Owners(lengths)
    msg_null = null_mask(msgs)
    if msgs.null_count:
        sink.flag(
            "invalid-message",
            column,
            owners.rows(msg_null),
            message=f"column {column!r}: a message is null",
        )
    present = ~msg_null

    # roles, after the role map
    roles = role_codes(struct_field(msgs, "role"), m, role_map)
    if role_map:  # a key no message has is refused once the whole input is read
        sink.roles_seen.update(_written_roles(roles.raw))
    bad_role = np.zeros(m, dtype=bool) if roles.absent(NO_ROLE) else roles.where(NO_ROLE)
    if msgs.null_count:
        bad_role &= present
    if bad_role.any():
        seen = distinct(roles.raw, bad_role)
        at = np.flatnonzero(bad_role)  # each role said of the rows holding it
        sink.flag_values(
            "unknown-role",
            column,
            roles.raw.take(pa.array(at)),
            owners.parent[at],
            label=lambda v: "null" if v is None else repr(v),
            hint=role_map_hint([s.strip("'\"") for s in seen]),
        )
    first = last = np.full(n, EMPTY, dtype=np.int8)
    if m:
        k = int(lengths[0])
        if all_nonempty and m == n * k and (lengths == k).all():  # k messages in every row
            heads, tails = slice(0, m, k), slice(k - 1, m, k)
        elif all_nonempty:
            heads, tails = starts, starts + lengths - 1
        else:
            heads = np.minimum(starts, m - 1)
            tails = np.minimum(starts + lengths - 1, m - 1)
        first, last = roles.at(heads), roles.at(tails)
        system = ROLE_CODES["system"]
        if not roles.absent(system):
            late_system = roles.where(system)
            first_system = first == system
            if not all_nonempty:
                first_system &= nonempty
            if np.count_nonzero(late_system) > np.count_nonzero(first_system):
                late_system[starts[nonempty]] = False  # a list may start with a system turn
                sink.flag("system-not-first", column, owners.rows(late_system))
        if msgs.null_count:
            first = np.where(msg_null[heads], NO_ROLE, first).astype(np.int8)
            last = np.where(msg_null[tails], NO_ROLE, last).astype(np.int8)
        if not all_nonempty:
            first = np.where(nonempty, first, EMPTY).astype(np.int8)
            last = np.where(nonempty, last, EMPTY).astype(np.int8)

        _check_alternation(roles, starts, lengths, m, owners, column, sink)

    _check_message_fields(msgs, present, owners, column, sink)
    has_calls = _has_tool_calls(msgs)
    if has_calls is not None:
        check_tool_arguments(msgs, owners.parent, column, sink)
    scan: list[Scan] = []
    parts = _check_content(msgs, present, has_calls, owners, column, sink, scan) or {}
    per_row = {
        kind: np.bincount(owners.parent, weights=counts, minlength=n).astype(np.int64)
        for kind, counts in parts.items()
    }
    string_user = None
    if m:
        user = roles.where(ROLE_CODES["user"]) & string_messages(arr) & present
        string_user = owners.rows(user)
    return MessagesInfo(
        string_user=string_user,
        lengths=lengths,
        first_role=first,
        last_role=last,
        images=per_row.pop("image", np.zeros(n, np.int64)),
        inline_images=per_row.pop("inline image", None),
        placeholders=placeholders(scan[0], lambda: owners.parent, n) if scan else None,
        media=per_row,
        marks={
            k: placeholders(scan[0], lambda: owners.parent, n, PLACEHOLDERS[k])
            for k in ("video", "audio")
        }
        if scan
        else {},
    )


_TURNS = np.array([ROLE_CODES["user"], ROLE_CODES["assistant"]], np.int8)


def _check_alternation(
    roles: Roles, starts: np.ndarray, lengths: np.ndarray, m: int, owners, column, sink
) -> None:
    """Two consecutive user (or assistant) messages in one list: many templates refuse."""
    if m < 2:
        return
    codes = roles.at(slice(None))
    same = (codes[1:] == codes[:-1]) & np.isin(codes[1:], _TURNS)
    if not same.any():
        return
    repeat = np.zeros(m, dtype=bool)
    repeat[1:] = same
    repeat[starts[lengths > 0]] = False  # the first message of a list repeats nothing
    for c in np.unique(codes[repeat]):  # one flag per role: each detail at its first row
        r = ALLOWED_ROLES[c]
        sink.flag(
            "role-alternation",
            column,
            owners.rows(repeat & (codes == c)),
            message=f"column {column!r}: two consecutive messages have the same role",
            details=[f"{r} after {r}"],
        )


def _has_tool_calls(msgs: pa.Array) -> np.ndarray | None:
    """Messages with tool calls (None: no message has any)."""
    calls = struct_field(msgs, "tool_calls")
    if calls is None or pa.types.is_null(calls.type):
        return None
    if is_list(calls.type):
        return list_lengths(calls) > 0
    return to_numpy_bool(calls.is_valid())


def _check_message_fields(msgs, present, owners: Owners, column, sink) -> None:
    for name, kind in MESSAGE_FIELD_TYPES.items():
        values = struct_field(msgs, name)
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
            bad = present & Owners(list_lengths(values)).rows(to_numpy_bool(items.is_null()))
        else:
            continue
        if bad.any():
            sink.flag(
                "invalid-message",
                column,
                owners.rows(bad),
                details=[f"{name} must be {article(kind)}" + (" of objects" * (kind == "array"))],
            )


def _check_content(
    msgs, present, has_calls, owners: Owners, column, sink, scan: list[Scan]
) -> dict[str, np.ndarray] | None:
    """Check message content; returns the media parts per message by kind (`image`, and
    `VIDEO_AUDIO_PARTS`' kinds), for the kinds it holds (None: content is not parts).

    String content is scanned for special tokens and NUL; its `Scan` goes into `scan` (for
    parts, the strings of messages whose content was a string: `<image>` placeholders)."""
    content = struct_field(msgs, "content")
    no_images = None
    needs = present if has_calls is None else present & ~has_calls  # must carry content
    if content is None or pa.types.is_null(content.type):
        flag_missing_content(msgs, needs, owners, column, sink)
        return no_images
    t = content.type
    null = null_mask(content)
    if content.null_count:
        flag_missing_content(msgs, needs & null, owners, column, sink)
    if is_string(t):
        scan.append(Scan(content))
        check_text(scan[0], owners.rows, column, sink, "a message's content", True)
        empty, space = empty_and_space(content)
        sink.flag(
            "empty-string",
            column,
            owners.rows(needs & empty),
            message=f"column {column!r}: a message's content is empty",
        )
        sink.flag(
            "whitespace-only",
            column,
            owners.rows(present & space),
            message=f"column {column!r}: a message's content holds only whitespace or zero-width "
            "characters",
        )
        return no_images
    if is_list(t) and (pa.types.is_struct(t.value_type) or pa.types.is_null(t.value_type)):
        nparts = list_lengths(content)
        sink.flag("missing-content", column, owners.rows(needs & ~null & (nparts == 0)))
        was_string = None
        if msgs.type.get_field_index(MARK) >= 0:  # strings among parts: placeholders count
            scan.append(Scan(flagged_text(msgs)))  # (their text was checked as a part's)
            was_string = to_numpy_bool(pc.fill_null(struct_field(msgs, MARK), False))
        return check_parts(content, present, owners, column, sink, needs, was_string)
    wrong = present & ~null
    if is_list(t):  # an empty list is no content (not a wrong kind of content)
        empty = list_lengths(content) == 0
        sink.flag("missing-content", column, owners.rows(needs & ~null & empty))
        wrong &= ~empty
    sink.flag("content-type", column, owners.rows(wrong), details=[f"content is {t}"])
    return no_images
