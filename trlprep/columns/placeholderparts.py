"""String contents made parts around their `<image>` / `<video>` / `<audio>` placeholders,
as whole Arrow columns: each placeholder a media part where it stood, the text around it
text parts (empty pieces left out), a string without placeholder one text part. Used by
`placeholders.map_placeholders`, which decides which contents are made parts.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths, relist
from trlprep.columns.placeholders import PLACEHOLDERS, _pattern
from trlprep.columns.textparts import MARK, flagged_text

PART = pa.struct([("type", pa.string()), ("text", pa.string())])


def marked_parts(arr: pa.Array, kinds: list[str], marked_only: bool = False) -> pa.Array:
    """A messages array whose contents are parts, some flagged as strings: every flagged
    string split as `as_parts` splits string content, the flag cleared (every content is
    now parts, as a column of strings becomes); `marked_only`: only the strings holding a
    placeholder of `kinds`, the others kept flagged."""
    msgs = pc.list_flatten(arr)
    content = pc.struct_field(msgs, "content")
    flag = np.asarray(pc.fill_null(pc.struct_field(msgs, MARK), False), dtype=bool)
    text = flagged_text(msgs)
    strings = flag.copy()
    if marked_only:
        hit = np.zeros(len(msgs), dtype=bool)
        for k in kinds:
            hit |= np.asarray(pc.fill_null(pc.count_substring(text, PLACEHOLDERS[k]), 0)) > 0
        flag &= hit
        text = pc.if_else(pa.array(flag), text, pa.scalar(None, pa.string()))
    split = _split(text, kinds)  # null lists where the content was parts
    old_n = list_lengths(content)
    new_n = list_lengths(split)
    old_parts, new_parts = pc.list_flatten(content), pc.list_flatten(split)
    part_type = old_parts.type
    children = []
    for f in part_type:  # the split parts in the column's part type (other keys null)
        if f.name in ("type", "text"):
            children.append(pc.struct_field(new_parts, f.name).cast(f.type))
        else:
            children.append(pa.nulls(len(new_parts), f.type))
    new_parts = pa.StructArray.from_arrays(children, fields=list(part_type))
    # each message's parts: its own where it held parts, the split ones where a string
    old_msg = np.repeat(np.arange(len(msgs)), old_n)
    new_msg = np.repeat(np.arange(len(msgs)), new_n)
    keep = ~flag[old_msg]
    order = np.argsort(np.concatenate([old_msg[keep], new_msg]), kind="stable")
    values = pa.concat_arrays([old_parts.filter(pa.array(keep)), new_parts]).take(pa.array(order))
    lengths = np.where(flag, new_n, old_n)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
    parts = pa.LargeListArray.from_arrays(offsets, values, mask=content.is_null())
    parts = parts.cast(pa.list_(parts.type.value_field)) if len(values) < 2**31 else parts
    fields, children = [], []
    for k, f in enumerate(msgs.type):
        child = msgs.field(k)
        if f.name == "content":
            child, f = parts, pa.field("content", parts.type)
        elif f.name == MARK:  # the strings left as they were stay flagged
            child = pc.if_else(pa.array(strings & ~flag), True, pa.scalar(None, pa.bool_()))
        fields.append(f)
        children.append(child)
    out = pa.StructArray.from_arrays(children, fields=fields, mask=msgs.is_null())
    return relist(arr, out)


def as_parts(arr: pa.Array, kinds: list[str]) -> pa.Array:
    """A messages array with every string content made a list of parts."""
    flat = pc.list_flatten(arr)
    struct = flat.type
    content = pc.struct_field(flat, "content").cast(pa.string())
    parts = _split(content, kinds)
    fields, children = [], []
    for k, f in enumerate(struct):
        fields.append(pa.field("content", parts.type) if f.name == "content" else f)
        children.append(parts if f.name == "content" else pc.struct_field(flat, k))
    messages = pa.StructArray.from_arrays(children, fields=fields, mask=flat.is_null())
    return relist(arr, messages)


def _split(content: pa.Array, kinds: list[str]) -> pa.Array:
    """Each string as parts: text pieces around the media parts of the placeholders of
    `kinds` (`{"type": "image"}`, ...), in the order they stand (null stays null)."""

    filled = pc.fill_null(content, "")
    if len(kinds) == 1:  # one medium: a literal split, every placeholder of that kind
        pieces = pc.split_pattern(filled, PLACEHOLDERS[kinds[0]])
        marks = None
    else:
        import polars as pl  # only here: importing the module stays light

        pattern = _pattern(PLACEHOLDERS[k] for k in kinds)
        pieces = pc.split_pattern_regex(filled, pattern)
        # the placeholder before each piece but a string's first, in order
        marks = pl.Series(filled).str.extract_all(pattern).explode().drop_nulls()
    n_pieces = np.asarray(pc.list_value_length(pieces).to_numpy(zero_copy_only=False), np.int64)
    flat = pc.list_flatten(pieces)
    parent = np.repeat(np.arange(len(content)), n_pieces)
    starts = np.concatenate([[0], np.cumsum(n_pieces)[:-1]]).astype(np.int64)
    index = np.arange(len(flat)) - starts[parent] if len(flat) else np.zeros(0, np.int64)
    nonempty = np.asarray(pc.not_equal(flat, "").to_numpy(zero_copy_only=False), bool)
    alone = (n_pieces == 1)[parent]  # no placeholder: one text part, even an empty one
    keep_text = nonempty | alone
    has_media = index > 0
    # per piece: a media part (when not the first piece), then its text part (when kept)
    per_piece = has_media.astype(np.int64) + keep_text
    total = int(per_piece.sum())
    kinds_at = np.empty(total, dtype=object)
    take = np.full(total, -1, np.int64)
    at = np.concatenate([[0], np.cumsum(per_piece)[:-1]]).astype(np.int64)
    kinds_at[at[has_media]] = kinds[0] if marks is None else marks.str.strip_chars("<>").to_numpy()
    text_at = at + has_media
    kinds_at[text_at[keep_text]] = "text"
    take[text_at[keep_text]] = np.flatnonzero(keep_text)
    texts = flat.take(pa.array(take, mask=take < 0))
    types = pa.array(kinds_at, pa.string())
    parts = pa.StructArray.from_arrays([types, texts], fields=list(PART))
    per_row = np.bincount(parent, weights=per_piece, minlength=len(content)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int64)
    out = pa.LargeListArray.from_arrays(pa.array(offsets), parts, mask=content.is_null())
    return out.cast(pa.list_(out.type.value_field)) if len(parts) < 2**31 else out


__all__ = ["PART", "as_parts", "marked_parts"]
