"""Media held inline in message parts: which parts hold them, how many per row, and media
moved to TRL's vision layout, as whole Arrow columns.

transformers' chat format (`{"type": "image", "image": URL}`, `"url"`, `"path"`; `video`,
`audio`) and OpenAI's (`{"type": "image_url", "image_url": {"url": URL}}`) put each medium
in its part; TRL's vision trainers read images from an `images` column and bare
`{"type": "image"}` parts. `move_inline_media` makes each inline image, video or audio part
a bare one and puts its URL or path in the row's `images`, `videos` or `audios` (TRL has
no video or audio column: LLaMA-Factory's names), in the order the parts stand (prompt
first). Rows that cannot be moved exactly are reported, not moved: a row whose media column
holds entries already (which part each entry belongs to cannot be told), whose sequences
(chosen, rejected) hold different inline media, or whose inline part names no URL or path
(OpenAI's `input_audio` data).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths, relist
from trlprep.columns.arrowtypes import is_list, is_messages, is_string
from trlprep.columns.placeholders import sequences
from trlprep.columns.textparts import parts_content
from trlprep.wording import plural

IMAGES = "images"
# the column each medium moved out of its parts goes to: TRL's `images`; TRL has no video or
# audio column, so LLaMA-Factory's `videos` / `audios`, the columns trlprep counts bare video
# and audio parts against
MEDIA_COLUMN: dict[str, str] = {"image": IMAGES, "video": "videos", "audio": "audios"}
UNNAMED_AUDIO = (
    " (OpenAI's input_audio holds the audio's data itself, and the audios column holds URLs "
    "or paths: write it to a file and name its path, or pass --inline-media keep)"
)

# Image part types, and the keys that hold an image inline in the part itself:
# transformers' chat format (`image`, `url`, `path`), OpenAI's (`image_url`)
IMAGE_PARTS: tuple[str, ...] = ("image", "image_url", "input_image")
INLINE_IMAGE_KEYS: tuple[str, ...] = ("image", "url", "path", "image_url")


# Video and audio parts holding their medium inline (transformers' `video` / `audio`,
# `url`, `path`; OpenAI's `input_audio` data)
INLINE_MEDIA_KEYS: dict[str, tuple[str, ...]] = {
    "image": INLINE_IMAGE_KEYS,
    "video": ("video", "url", "path", "video_url"),
    "audio": ("audio", "url", "path", "audio_url", "input_audio"),
}


# Part types of each medium (transformers' and OpenAI's names)
MEDIA_PARTS: dict[str, tuple[str, ...]] = {
    "image": IMAGE_PARTS,
    "video": ("video", "video_url"),
    "audio": ("audio", "audio_url", "input_audio"),
}


def inline_image_parts(parts: pa.Array) -> np.ndarray:
    """Per content part (a flat struct array): an image part holding its image inline."""
    return inline_parts(parts, IMAGE_PARTS, INLINE_IMAGE_KEYS)


def inline_parts(parts: pa.Array, types: tuple[str, ...], keys: tuple[str, ...]) -> np.ndarray:
    """Per content part: a part of one of `types` holding its medium under one of `keys`."""
    t = parts.type
    if len(parts) == 0 or not pa.types.is_struct(t) or t.get_field_index("type") < 0:
        return np.zeros(len(parts), dtype=bool)
    kinds = pc.struct_field(parts, "type")
    if not is_string(kinds.type):
        return np.zeros(len(parts), dtype=bool)
    image = pc.fill_null(pc.is_in(kinds, pa.array(types, kinds.type)), False)
    held = np.zeros(len(parts), dtype=bool)
    for key in keys:
        if t.get_field_index(key) >= 0 and not pa.types.is_null(t.field(key).type):
            held |= np.asarray(pc.struct_field(parts, key).is_valid(), dtype=bool)
    return held & np.asarray(image.to_numpy(zero_copy_only=False), dtype=bool)


def inline_images_per_row(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Image parts holding their image inline, per row of a messages column (zeros when
    its content is not parts)."""
    return inline_media_per_row(arr, "image")


def inline_media_per_row(arr: pa.Array | pa.ChunkedArray, medium: str) -> np.ndarray:
    """Parts of `medium` (image, video, audio) holding it inline, per row of a messages
    column (zeros when its content is not parts)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    if not parts_content(arr.type):
        return np.zeros(n, np.int64)
    msgs = pc.list_flatten(arr)
    content = pc.struct_field(msgs, "content")
    parts = pc.list_flatten(content)
    hit = inline_parts(parts, MEDIA_PARTS[medium], INLINE_MEDIA_KEYS[medium])
    if not hit.any():
        return np.zeros(n, np.int64)
    msg_of_part = np.asarray(pc.list_parent_indices(content).to_numpy(zero_copy_only=False))
    row_of_msg = np.asarray(pc.list_parent_indices(arr).to_numpy(zero_copy_only=False))
    return np.bincount(row_of_msg[msg_of_part[hit]], minlength=n).astype(np.int64)


def inline_columns(table: pa.Table, medium: str = "image") -> list[str]:
    """Messages columns holding a part of `medium` with its medium inline."""
    return [
        f.name
        for f in table.schema
        if is_messages(f.type)
        and parts_content(f.type)
        and inline_media_per_row(table.column(f.name), medium).any()
    ]


def media_columns_of(schemas: list[pa.Schema]) -> dict[str, list[str]]:
    """Per medium, the messages columns whose content parts have a key that may hold it
    inline in some of `schemas` (the batches of one input): which media its rows may hold,
    not which they do (a `path` key may hold any)."""
    out: dict[str, list[str]] = {}
    for name, part in _part_types(schemas):
        for medium, keys in INLINE_MEDIA_KEYS.items():
            names = out.setdefault(medium, [])
            if name not in names and any(part.get_field_index(k) >= 0 for k in keys):
                names.append(name)
    return {m: names for m, names in out.items() if names}


def _part_types(schemas: list[pa.Schema]) -> Iterator[tuple[str, pa.StructType]]:
    """(column, its content parts' struct type) of each messages column of parts."""
    for schema in schemas:
        for f in schema:
            if is_messages(f.type) and parts_content(f.type):
                yield f.name, f.type.value_type.field("content").type.value_type


def unmovable_media(schemas: list[pa.Schema]) -> dict[str, list[str]]:
    """Per medium, the part keys under which messages columns of `schemas` (the batches of
    one input) hold it inline as something no URL or path names (OpenAI's `input_audio`
    data, an image's bytes): parts its column, which holds URLs or paths, cannot take."""
    out: dict[str, list[str]] = {}
    for _, part in _part_types(schemas):
        for medium, keys in INLINE_MEDIA_KEYS.items():
            for key in keys:
                i = part.get_field_index(key)
                if i < 0 or _names_reference(part.field(i).type):
                    continue
                names = out.setdefault(medium, [])
                if key not in names:
                    names.append(key)
    return out


def _names_reference(t: pa.DataType) -> bool:
    """Whether a part key of type `t` holds a URL or path `_ref` reads (or nothing)."""
    if pa.types.is_null(t) or is_string(t):
        return True
    url = t.get_field_index("url") if pa.types.is_struct(t) else -1
    return url >= 0 and is_string(t.field(url).type)


def _ref(parts: pa.Array, key: str) -> pa.Array | None:
    """The URL or path under `key` of each part (a string, or an object's `url`)."""
    t = parts.type
    if t.get_field_index(key) < 0:
        return None
    value = pc.struct_field(parts, key)
    if is_string(value.type):
        return value.cast(pa.string())
    if pa.types.is_struct(value.type) and value.type.get_field_index("url") >= 0:
        url = pc.struct_field(value, "url")
        return url.cast(pa.string()) if is_string(url.type) else None
    return None


def _moved(arr: pa.Array, medium: str = "image") -> tuple[pa.Array, pa.Array, np.ndarray]:
    """(messages with inline `medium` parts made bare, each row's references to them in
    order, per row: a part held its medium but no URL or path names it)."""
    n = len(arr)
    keys = INLINE_MEDIA_KEYS[medium]
    msgs = pc.list_flatten(arr)
    content = pc.struct_field(msgs, "content")
    parts = pc.list_flatten(content)
    hit = inline_parts(parts, MEDIA_PARTS[medium], keys)
    refs = pa.nulls(len(parts), pa.string())
    for key in keys:
        got = _ref(parts, key)
        if got is not None:
            refs = pc.coalesce(refs, got)
    msg_of_part = np.asarray(pc.list_parent_indices(content).to_numpy(zero_copy_only=False))
    row_of_msg = np.asarray(pc.list_parent_indices(arr).to_numpy(zero_copy_only=False))
    rows = row_of_msg[msg_of_part[hit]] if hit.any() else np.zeros(0, np.int64)
    picked = refs.filter(pa.array(hit))
    unnamed = np.zeros(n, dtype=bool)
    if picked.null_count:
        unnamed[rows[np.asarray(picked.is_null(), dtype=bool)]] = True
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))]).astype(np.int32)
    per_row = pa.ListArray.from_arrays(pa.array(offsets), picked)

    mask = pa.array(hit)
    fields, children = [], []
    for k, f in enumerate(parts.type):
        child = parts.field(k)
        if f.name == "type":
            child = pc.if_else(mask, pa.scalar(medium, child.type), child)
        elif f.name in keys:
            child = pc.if_else(mask, pa.scalar(None, child.type), child)
            if child.null_count == len(child):
                continue  # held only moved media: no key left to mislead a template
        fields.append(pa.field(f.name, child.type))
        children.append(child)
    pmask = parts.is_null() if parts.null_count else None
    new_parts = pa.StructArray.from_arrays(children, fields=fields, mask=pmask)
    new_content = relist(content, new_parts)
    mfields, mchildren = [], []
    for k, f in enumerate(msgs.type):
        child = new_content if f.name == "content" else msgs.field(k)
        mfields.append(pa.field(f.name, child.type) if f.name == "content" else f)
        mchildren.append(child)
    mmask = msgs.is_null() if msgs.null_count else None
    new_msgs = pa.StructArray.from_arrays(mchildren, fields=mfields, mask=mmask)
    return relist(arr, new_msgs), per_row, unnamed


def moved_elsewhere(table: pa.Table, columns: dict[str, list[str]] | list[str]) -> pa.Table:
    """`table` as `move_inline_media` leaves the rows of `columns` (per medium; a list:
    images) that hold no inline medium of that kind when other rows of the input do (an
    engine moving block by block): the medium's keys they hold no value under left out of
    their parts, and an empty list per row in the medium's column."""
    by_medium = {"image": list(columns)} if isinstance(columns, list) else columns
    for medium, names in by_medium.items():
        for c in names:
            if c in table.column_names and not inline_media_per_row(table.column(c), medium).any():
                moved = _moved(table.column(c).combine_chunks(), medium)[0]
                table = table.set_column(table.schema.get_field_index(c), c, moved)
        name = MEDIA_COLUMN[medium]
        if names and name not in table.column_names:
            empty = pa.array([[]] * table.num_rows, pa.list_(pa.string()))
            table = table.append_column(name, empty)
    return table


def _joined(refs: list[pa.Array]) -> pa.Array:
    """Each row's references of several columns as one list, in column order."""
    if len(refs) == 1:
        return refs[0]
    lengths = sum(list_lengths(r) for r in refs)
    values, order = [], []
    for j, r in enumerate(refs):  # values sorted by (row, column), stable within a column
        parent = np.asarray(pc.list_parent_indices(r).to_numpy(zero_copy_only=False))
        values.append(pc.list_flatten(r))
        order.append(parent * len(refs) + j)
    flat = pa.concat_arrays(values)
    perm = np.argsort(np.concatenate(order), kind="stable")
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), flat.take(pa.array(perm)))


def move_inline_images(table: pa.Table) -> tuple[pa.Table, np.ndarray, list[str]]:
    """`move_inline_media` (the name it had when it moved images alone)."""
    return move_inline_media(table)


def move_inline_media(
    table: pa.Table, kept: tuple[str, ...] = ()
) -> tuple[pa.Table, np.ndarray, list[str]]:
    """`table` with inline image, video and audio parts (but those of the media `kept`) made
    bare (`{"type": "image"}`, `"video"`, `"audio"`) and their URLs or paths in `images`,
    `videos`, `audios` (see the module docstring). Returns (table, failing row positions, a
    reason per failing row); the caller sets the failing rows aside and runs it again (the
    table comes back unchanged when a row fails)."""
    out = table
    why: dict[int, list[str]] = {}
    for medium in MEDIA_COLUMN:
        if medium in kept:
            continue
        moved, bad, reasons = _move(out, medium)
        for r, reason in zip(bad.tolist(), reasons, strict=True):
            why.setdefault(r, []).append(reason)
        if not len(bad):
            out = moved
    if not why:
        return out, np.zeros(0, np.int64), []
    rows = sorted(why)
    return table, np.array(rows, np.int64), ["; ".join(why[r]) for r in rows]


def _move(table: pa.Table, medium: str) -> tuple[pa.Table, np.ndarray, list[str]]:
    """`move_inline_media` for one medium."""
    columns = inline_columns(table, medium)
    if not columns:
        return table, np.zeros(0, np.int64), []
    name = MEDIA_COLUMN[medium]
    n = table.num_rows
    moved, refs, unnamed = {}, {}, np.zeros(n, dtype=bool)
    for c in columns:
        moved[c], refs[c], miss = _moved(table.column(c).combine_chunks(), medium)
        unnamed |= miss
    seqs = [s for s in (tuple(c for c in seq if c in refs) for seq in sequences(columns)) if s]
    joined = [_joined([refs[c] for c in seq]) for seq in seqs]
    texts = [pc.binary_join(j, "\n") for j in joined]  # to compare the sequences' media
    differ = np.zeros(n, dtype=bool)
    for t in texts[1:]:
        differ |= ~np.asarray(pc.fill_null(pc.equal(t, texts[0]), False), dtype=bool)
    first = joined[0]
    count = list_lengths(first)
    has_inline = count > 0
    held = np.zeros(n, np.int64)
    old = table.column(name).combine_chunks() if name in table.column_names else None
    typed = old is None or pa.types.is_null(old.type)
    if old is not None and is_list(old.type):
        held = list_lengths(old)
        typed = is_string(old.type.value_type) or pa.types.is_null(old.type.value_type)
    beside = has_inline & (held > 0)
    wrong_kind = has_inline & ~typed
    bad = np.flatnonzero(beside | differ | unnamed | wrong_kind)
    reasons = []
    for r in bad:
        if unnamed[r]:
            reasons.append(
                f"an inline {medium} part names no URL or path"
                + (UNNAMED_AUDIO if medium == "audio" else "")
            )
        elif beside[r]:
            reasons.append(
                f"the row holds {plural(int(count[r]), medium)} inline in its message parts "
                f"and {int(held[r])} in its {name} column: which part an entry belongs to "
                "cannot be told"
            )
        elif wrong_kind[r]:
            reasons.append(f"its {name} column holds no URLs or paths ({medium} data?)")
        else:
            reasons.append(
                f"its sequences ({', '.join('+'.join(s) for s in seqs)}) hold different "
                f"inline {medium}s"
            )
    if len(bad):
        return table, bad, reasons
    for c in columns:
        table = table.set_column(table.schema.get_field_index(c), c, moved[c])
    if old is None:
        return table.append_column(name, first), bad, reasons
    values = pc.if_else(pa.array(has_inline), first, old.cast(first.type))
    return table.set_column(table.schema.get_field_index(name), name, values), bad, reasons
