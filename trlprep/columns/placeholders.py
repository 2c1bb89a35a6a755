"""`<image>` placeholders in string content -> TRL's vision format, as whole Arrow columns.

LLaVA and LLaMA-Factory (`mllm_demo.json`) hold images beside the conversation (`images`)
and mark where each goes with `<image>` in the text. TRL's vision format gives content as a
list of parts instead: each placeholder becomes `{"type": "image"}` where it stood, the
text around it `{"type": "text", "text": ...}` parts (empty pieces left out), and a content
without placeholder one text part. Rows whose placeholders do not number as many as their
images are reported, not mapped.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list, is_messages, is_string
from trlprep.registry import IMAGE_COLUMNS
from trlprep.wording import plural

PLACEHOLDER = "<image>"
PART = pa.struct([("type", pa.string()), ("text", pa.string())])


# placeholders of other media beside the conversation (LLaMA-Factory's `mllm_video_demo.json`,
# `mllm_audio_demo.json`) and the columns holding those media: not mapped (TRL's vision
# format has image parts only), so rows holding them are reported, never silently rendered
MEDIA_PLACEHOLDERS = {"<video>": ("videos", "video"), "<audio>": ("audios", "audio")}


def media_marks(names: set[str] | list[str]) -> list[str]:
    """The `<video>`/`<audio>` placeholders whose medium has a column among `names`."""
    return [m for m, cols in MEDIA_PLACEHOLDERS.items() if set(names) & set(cols)]


def media_placeholders_in(arr: pa.Array | pa.ChunkedArray, marks: list[str]):
    """(a mask of the rows of messages `arr` whose string contents hold one of `marks`, the
    marks found); nothing for another column type or message contents that are parts."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    rows = np.zeros(len(arr), bool)
    found: list[str] = []
    if not marks or not is_messages(arr.type):
        return rows, found
    i = arr.type.value_type.get_field_index("content")
    if i < 0 or not is_string(arr.type.value_type.field(i).type):
        return rows, found
    contents = pc.struct_field(pc.list_flatten(arr), "content")
    parent = np.asarray(pc.list_parent_indices(arr).to_numpy(zero_copy_only=False))
    for mark in marks:
        hit = pc.fill_null(pc.match_substring(contents, mark), False)
        hit = np.asarray(hit.to_numpy(zero_copy_only=False), bool)
        if hit.any():
            rows[parent[hit]] = True
            found.append(mark)
    return rows, found


def media_placeholder_rows(table: pa.Table) -> tuple[np.ndarray, list[str]]:
    """(positions of the rows whose string message contents hold a `<video>`/`<audio>`
    placeholder while the table has that medium's column, the placeholders found)."""
    marks = media_marks(table.column_names)
    rows = np.zeros(table.num_rows, bool)
    found: list[str] = []
    for name in table.column_names if marks else ():
        hit, seen = media_placeholders_in(table.column(name), marks)
        rows |= hit
        found += [m for m in seen if m not in found]
    return np.flatnonzero(rows), found


def image_counts(table: pa.Table) -> np.ndarray | None:
    """Images per row (`images` list lengths plus 1 for an `image`), None without them."""
    counts = None
    for name in IMAGE_COLUMNS:
        if name not in table.column_names or pa.types.is_null(table.column(name).type):
            continue
        col = table.column(name)
        if is_list(col.type):
            k = pc.fill_null(pc.list_value_length(col), 0)
        else:
            k = pc.cast(col.is_valid(), pa.int64())
        k = np.asarray(k.to_numpy(), np.int64)
        counts = k if counts is None else counts + k
    return counts


def counted_images(placeholders: int, parts: int, *, with_placeholders: bool = True) -> str:
    """What an image count counted, in words: `<image>` placeholders, image parts or both
    (`with_placeholders=False`: only image parts were counted)."""
    holders = plural(placeholders, "`<image>` placeholder")
    if not with_placeholders:
        return plural(parts, "image part")
    if placeholders and parts:
        return f"{holders} and {plural(parts, 'image part')}"
    if parts:
        return plural(parts, "image part")
    if placeholders:
        return holders
    return "no `<image>` placeholder or image part"


def placeholder_columns(table: pa.Table) -> list[str]:
    """Messages columns whose string contents hold a placeholder."""
    out = []
    for f in table.schema:
        if not is_messages(f.type):
            continue
        struct = f.type.value_type
        i = struct.get_field_index("content")
        if i < 0 or not is_string(struct.field(i).type):
            continue
        contents = pc.struct_field(pc.list_flatten(table.column(f.name)), "content")
        if pc.any(pc.fill_null(pc.match_substring(contents, PLACEHOLDER), False)).as_py():
            out.append(f.name)
    return out


def placeholder_counts(table: pa.Table, columns: list[str]) -> np.ndarray:
    """Per row, the placeholders in the string contents of `columns`."""
    total = np.zeros(table.num_rows, np.int64)
    for c in columns:
        arr = table.column(c).combine_chunks()
        flat = pc.list_flatten(arr)
        n = pc.fill_null(pc.count_substring(pc.struct_field(flat, "content"), PLACEHOLDER), 0)
        parent = np.asarray(pc.list_parent_indices(arr).to_numpy(zero_copy_only=False))
        np.add.at(total, parent, np.asarray(n.to_numpy(zero_copy_only=False), np.int64))
    return total


def map_placeholders(table: pa.Table) -> tuple[pa.Table, np.ndarray, list[str]]:
    """`table` with the placeholders of its messages columns made image parts.

    Returns (table, failing row positions, a reason per failing row); the table is unchanged
    when it has no images column or no placeholder. Failing rows are left as they are.
    """
    images = image_counts(table)
    columns = placeholder_columns(table) if images is not None else []
    if not columns:
        return table, np.zeros(0, np.int64), []
    found = placeholder_counts(table, columns)
    bad = np.flatnonzero(found != images)
    reasons = [
        f"the conversation holds {counted_images(int(found[r]), 0)} but the row has "
        f"{plural(int(images[r]), 'image')}"
        for r in bad
    ]
    for c in columns:
        i = table.schema.get_field_index(c)
        table = table.set_column(i, c, _as_parts(table.column(c).combine_chunks()))
    return table, bad, reasons


def _as_parts(arr: pa.Array) -> pa.Array:
    """A messages array with every string content made a list of parts."""
    flat = pc.list_flatten(arr)
    struct = flat.type
    content = pc.struct_field(flat, "content").cast(pa.string())
    parts = _split(content)
    fields, children = [], []
    for k, f in enumerate(struct):
        fields.append(pa.field("content", parts.type) if f.name == "content" else f)
        children.append(parts if f.name == "content" else pc.struct_field(flat, k))
    messages = pa.StructArray.from_arrays(children, fields=fields, mask=flat.is_null())
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
    out = pa.LargeListArray.from_arrays(offsets, messages, mask=arr.is_null())
    return out.cast(pa.list_(out.type.value_field)) if len(messages) < 2**31 else out


def _split(content: pa.Array) -> pa.Array:
    """Each string as parts: text pieces around `{"type": "image"}` (null stays null)."""
    pieces = pc.split_pattern(pc.fill_null(content, ""), PLACEHOLDER)
    n_pieces = np.asarray(pc.list_value_length(pieces).to_numpy(zero_copy_only=False), np.int64)
    flat = pc.list_flatten(pieces)
    parent = np.repeat(np.arange(len(content)), n_pieces)
    starts = np.concatenate([[0], np.cumsum(n_pieces)[:-1]]).astype(np.int64)
    index = np.arange(len(flat)) - starts[parent] if len(flat) else np.zeros(0, np.int64)
    nonempty = np.asarray(pc.not_equal(flat, "").to_numpy(zero_copy_only=False), bool)
    alone = (n_pieces == 1)[parent]  # no placeholder: one text part, even an empty one
    keep_text = nonempty | alone
    has_image = index > 0
    # per piece: an image part (when not the first piece), then its text part (when kept)
    per_piece = has_image.astype(np.int64) + keep_text
    total = int(per_piece.sum())
    kinds = np.empty(total, dtype=object)
    take = np.full(total, -1, np.int64)
    at = np.concatenate([[0], np.cumsum(per_piece)[:-1]]).astype(np.int64)
    kinds[at[has_image]] = "image"
    text_at = at + has_image
    kinds[text_at[keep_text]] = "text"
    take[text_at[keep_text]] = np.flatnonzero(keep_text)
    texts = flat.take(pa.array(take, mask=take < 0))
    parts = pa.StructArray.from_arrays([pa.array(kinds, pa.string()), texts], fields=list(PART))
    per_row = np.bincount(parent, weights=per_piece, minlength=len(content)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int64)
    out = pa.LargeListArray.from_arrays(pa.array(offsets), parts, mask=content.is_null())
    return out.cast(pa.list_(out.type.value_field)) if len(parts) < 2**31 else out


__all__ = [
    "PLACEHOLDER",
    "counted_images",
    "image_counts",
    "map_placeholders",
    "placeholder_columns",
    "placeholder_counts",
]
