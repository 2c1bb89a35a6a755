"""Media given beside a conversation with no placeholder and no media part: one media part
per entry placed at the start of the first user message whose content is a string, as
whole Arrow columns.

Where: TRL's `prepare_multimodal_messages` (trl/data_utils.py), which SFTTrainer's
`DataCollatorForVisionLanguageModeling` calls on `messages` (or on `prompt`) and DPOTrainer's
and KTOTrainer's collators on `prompt` with the row's images, makes string contents text
parts and gives the first user message whose content is a string one `{"type": "image"}`
part per image, before its text; other counts raise. ms-swift (`Template._add_default_tags`,
swift/template/base.py) prepends the missing `<image>` / `<audio>` / `<video>` tags to the
first message after the system one, and torchtune (`InputOutputToMessages`,
`ShareGPTToMessages`, torchtune/data/_messages.py) puts its one image before the first user
message's text: they agree on the place. TRL places images only; videos and audios are placed
the same way, in ms-swift's order when a row lacks several kinds (videos, audios, images).

A medium is placed only in rows where no sequence (`placeholders.sequences`) holds a
placeholder or part of it: a row with some, in another number, keeps the count rule. The
marks are written into the string (`<image>` ...), and `placeholders.map_placeholders` then
makes them parts like any other placeholder.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import relist
from trlprep.columns.textparts import MARK, has_marks, parts_content, string_content

# ms-swift's order: each kind's tags are prepended in turn (image, audio, video)
ORDER: tuple[str, ...] = ("video", "audio", "image")


def _messages(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def string_messages(arr: pa.Array) -> np.ndarray:
    """Per message of a messages array: its content is a string (flagged text,
    `textparts.MARK`, in a column of parts), as TRL's `isinstance(content, str)` reads it."""
    msgs = pc.list_flatten(arr)
    if msgs.type.get_field_index("content") < 0:
        return np.zeros(len(msgs), bool)
    if string_content(arr.type):
        return np.asarray(pc.struct_field(msgs, "content").is_valid(), bool)
    if has_marks(arr.type):
        flag = pc.fill_null(pc.struct_field(msgs, MARK), False)
        return np.asarray(flag.to_numpy(zero_copy_only=False), bool)
    return np.zeros(len(msgs), bool)


def _string_users(arr: pa.Array) -> np.ndarray:
    """Per message of a messages array: a user message whose content is a string."""
    msgs = pc.list_flatten(arr)
    if msgs.type.get_field_index("role") < 0:
        return np.zeros(len(msgs), bool)
    user = pc.fill_null(pc.equal(pc.struct_field(msgs, "role").cast(pa.string()), "user"), False)
    return np.asarray(user.to_numpy(zero_copy_only=False), bool) & string_messages(arr)


def first_string_user(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per row of a messages column: the index (into its flattened messages) of its first
    user message whose content is a string, -1 where none is."""
    arr = _messages(arr)
    n = len(arr)
    out = np.full(n, -1, np.int64)
    hit = np.flatnonzero(_string_users(arr))
    if not len(hit):
        return out
    row = np.asarray(pc.list_parent_indices(arr).to_numpy(zero_copy_only=False), np.int64)[hit]
    first = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])  # hits come in message order
    out[row[first]] = hit[first]
    return out


def targets(columns: list[str]) -> list[str]:
    """The columns the media are placed in: the prompt where there is one (TRL gives the
    images to the prompt), else every conversation column (`messages`; `chosen` and
    `rejected` of implicit-prompt pairs, each rendered with the row's media)."""
    return ["prompt"] if "prompt" in columns else list(columns)


def unmarked(table: pa.Table) -> dict[str, np.ndarray]:
    """Per medium of `table`'s media columns: the rows to place it in (entries of it, no
    placeholder or part of it in any conversation, a user message with string content in
    each column it goes to)."""
    from trlprep.columns.inlinemedia import inline_media_per_row
    from trlprep.columns.placeholders import (
        PLACEHOLDERS,
        _message_columns,
        media_counts,
        part_counts,
        placeholder_counts,
    )

    media = media_counts(table)
    columns = _message_columns(table)
    if not media or not columns:
        return {}
    where = targets(columns)
    if not all(c in columns for c in where):
        return {}
    reachable = np.logical_and.reduce([first_string_user(table.column(c)) >= 0 for c in where])
    out: dict[str, np.ndarray] = {}
    for kind, n in media.items():
        none = (n > 0) & reachable
        for c in columns:
            col = table.column(c)
            none &= placeholder_counts(table, [c], PLACEHOLDERS[kind]) == 0
            none &= part_counts(col, kind) == 0
            if parts_content(col.type):
                none &= inline_media_per_row(col, kind) == 0
        if none.any():
            out[kind] = none
    return out


def place_unmarked(table: pa.Table) -> tuple[pa.Table, dict[str, np.ndarray]]:
    """`table` with the placeholders of the media `unmarked` finds written at the start of
    each target column's first user message with string content (`<image>` once per image,
    ...), and those rows per medium."""
    from trlprep.columns.placeholders import PLACEHOLDERS, _message_columns, media_counts

    found = unmarked(table)
    if not found:
        return table, found
    counts = media_counts(table)
    n = table.num_rows
    prefix = pa.repeat(pa.scalar("", pa.string()), n)
    for kind in ORDER:
        if kind in found:
            k = pa.array(np.where(found[kind], counts[kind], 0), pa.int64())
            marks = pc.binary_repeat(pa.repeat(pa.scalar(PLACEHOLDERS[kind]), n), k)
            prefix = pc.binary_join_element_wise(prefix, marks, "")
    for c in targets(_message_columns(table)):
        i = table.schema.get_field_index(c)
        arr = _messages(table.column(c))
        table = table.set_column(i, table.schema.field(i), _prepended(arr, prefix))
    return table, found


def placed_in_example(
    convs: dict[str, list], held: dict[str, int | None]
) -> tuple[dict[str, list], list[str]]:
    """(one example's conversations with the media of `held` (entries per kind, None: no
    such column) that none of them marks written before its first user message with string
    content, as `place_unmarked` writes them in a table (the per-example twin); the kinds
    placed, for `placed_text`)."""
    from trlprep.columns.placeholders import PLACEHOLDERS

    def marked(messages: list, kind: str) -> bool:
        mark = PLACEHOLDERS[kind]
        for m in messages:
            c = m.get("content") if isinstance(m, dict) else None
            if isinstance(c, str) and mark in c:
                return True
            if isinstance(c, list) and any(isinstance(p, dict) and p.get("type") in (
                kind, f"{kind}_url", f"input_{kind}") for p in c):  # fmt: skip
                return True
        return False

    kinds = [k for k in ORDER if held.get(k) and not any(marked(v, k) for v in convs.values())]
    prefix = "".join(PLACEHOLDERS[k] * held[k] for k in kinds)
    where = targets(list(convs))
    at = {c: _first_user_text(convs.get(c)) for c in where}
    if not prefix or any(i is None for i in at.values()):
        return convs, []
    out = dict(convs)
    for c, i in at.items():
        messages = list(out[c])
        messages[i] = {**messages[i], "content": prefix + messages[i]["content"]}
        out[c] = messages
    return out, kinds


def _first_user_text(messages: list | None) -> int | None:
    for i, m in enumerate(messages or ()):
        if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str):
            return i
    return None


def placed_text(kind: str) -> str:
    """What placing `kind` media given with no placeholder did (after the rows it names)."""
    from trlprep.columns.placeholders import PLACEHOLDERS

    how = (
        "as TRL's prepare_multimodal_messages does"
        if kind == "image"
        else "as ms-swift places them (TRL's prepare_multimodal_messages places images only)"
    )
    mark = PLACEHOLDERS[kind]
    return (
        f"{kind}s given with no `{mark}` placeholder or {kind} part were placed at the start "
        f"of the first user message, {how} (write `{mark}` where each stands to place them "
        "elsewhere)"
    )


def _prepended(arr: pa.Array, prefix: pa.Array) -> pa.Array:
    """`arr` with each row's `prefix` written before the string of its first user message
    with string content (rows with an empty prefix unchanged)."""
    at = first_string_user(arr)
    msgs = pc.list_flatten(arr)
    given = np.asarray(pc.greater(pc.binary_length(prefix), 0).to_numpy(zero_copy_only=False))
    rows = np.flatnonzero((at >= 0) & given)
    which = np.full(len(msgs), len(prefix), np.int64)  # past the end: the empty string
    which[at[rows]] = rows
    add = pa.concat_arrays([prefix, pa.array([""], pa.string())]).take(pa.array(which))
    content = pc.struct_field(msgs, "content")
    if string_content(arr.type):
        text = pc.binary_join_element_wise(add, content.cast(pa.string()), "")
        new_content = text.cast(content.type)
    else:  # a flagged message's string is its one text part
        parts = pc.list_flatten(content)
        owner = np.asarray(pc.list_parent_indices(content).to_numpy(zero_copy_only=False))
        old = pc.struct_field(parts, "text")
        text = pc.binary_join_element_wise(add.take(pa.array(owner)), old.cast(pa.string()), "")
        parts = _with_child(parts, "text", text.cast(old.type))
        new_content = relist(content, parts)
    return relist(arr, _with_child(msgs, "content", new_content))


def _with_child(struct: pa.Array, name: str, child: pa.Array) -> pa.StructArray:
    """A struct array with its field `name` replaced by `child` (nulls kept)."""
    fields = list(struct.type)
    children = [child if f.name == name else pc.struct_field(struct, f.name) for f in fields]
    mask = struct.is_null() if struct.null_count else None
    return pa.StructArray.from_arrays(children, fields=fields, mask=mask)


__all__ = [
    "ORDER",
    "first_string_user",
    "place_unmarked",
    "placed_in_example",
    "placed_text",
    "string_messages",
    "targets",
    "unmarked",
]
