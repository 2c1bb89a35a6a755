"""`<image>`, `<video>` and `<audio>` placeholders in string content -> TRL's vision format,
as whole Arrow columns.

LLaVA and LLaMA-Factory (`mllm_demo.json`, `mllm_video_demo.json`, `mllm_audio_demo.json`)
hold the media beside the conversation (`images`, `videos`, `audios`) and mark where each
goes with `<image>` / `<video>` / `<audio>` in the text. TRL's vision format gives content as
a list of parts instead: each placeholder becomes `{"type": "image"}` (`"video"`, `"audio"`)
where it stood, the text around it `{"type": "text", "text": ...}` parts (empty pieces left
out), and a content without placeholder one text part. A placeholder is mapped only where
the data has its medium's column (`registry.MEDIA_COLUMNS`): without a `videos` column,
`<video>` is text (HTML, say). Rows whose placeholders of a kind do not number as many as
their media of that kind are reported, not mapped.

Which string contents become parts follows TRL: beside an `image` / `images` column every
one (TRL takes such data as vision data, and `prepare_multimodal_messages` makes each
string a text part); beside `videos` / `audios` alone only those holding a placeholder,
the others kept strings (flagged, `columns.textparts`), since TRL passes a video or audio
dataset's messages to the template as written. JSON Lines outputs write them back as
strings; `templates.inputs.prepare` renders by the same rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import json_list_lengths, list_lengths
from trlprep.columns.arrowtypes import is_json_field, is_list
from trlprep.columns.mediacolumns import single_media_counts
from trlprep.columns.textparts import (
    flagged_text,
    has_marks,
    parts_content,
    string_content,
    strings_as_parts,
)
from trlprep.registry import MEDIA_COLUMNS, SINGLE_MEDIA_COLUMNS
from trlprep.wording import plural

PLACEHOLDER = "<image>"
# the placeholder of each medium (the kinds of `registry.MEDIA_COLUMNS`)
PLACEHOLDERS: dict[str, str] = {"image": "<image>", "video": "<video>", "audio": "<audio>"}


def media_counts(table: pa.Table) -> dict[str, np.ndarray]:
    """Per medium whose column `table` has (`image`, `video`, `audio`): its entries per row,
    summed over its columns (`media_entries`)."""
    out: dict[str, np.ndarray] = {}
    for kind, names in MEDIA_COLUMNS.items():
        for name in names:
            if name not in table.column_names:
                continue
            k = media_entries(table.schema.field(name), table.column(name))
            if k is not None:
                out[kind] = k if kind not in out else out[kind] + k
    return out


def media_entries(field: pa.Field, col: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Per row, the entries media column `field` (`col`) holds, as validate reads them (list
    lengths, of JSON text too; an `image` / `video` column 1 per path, or its list's length;
    null counts 0); None for a column of nulls or of no shape counted (`videos` / `audios`
    count as lists only)."""
    if pa.types.is_null(col.type):
        return None
    if field.name in SINGLE_MEDIA_COLUMNS:
        k = single_media_counts(field, col)
    elif is_list(col.type):
        k = list_lengths(col)
    elif is_json_field(field):
        k = json_list_lengths(col)  # lists of different shapes (a video's frames)
    else:
        return None
    return np.asarray(k, np.int64)


def image_counts(table: pa.Table) -> np.ndarray | None:
    """Images per row (`images` list lengths plus 1 for an `image`), None without them."""
    return media_counts(table).get("image")


def counted(kind: str, placeholders: int, parts: int, *, with_placeholders: bool = True) -> str:
    """What a count of `kind` media counted, in words: placeholders, parts or both
    (`with_placeholders=False`: only parts were counted)."""
    mark = f"`{PLACEHOLDERS[kind]}` placeholder"
    holders = plural(placeholders, mark)
    if not with_placeholders:
        return plural(parts, f"{kind} part")
    if placeholders and parts:
        return f"{holders} and {plural(parts, f'{kind} part')}"
    if parts:
        return plural(parts, f"{kind} part")
    if placeholders:
        return holders
    return f"no {mark} or {kind} part"


def counted_images(placeholders: int, parts: int, *, with_placeholders: bool = True) -> str:
    """`counted` for images."""
    return counted("image", placeholders, parts, with_placeholders=with_placeholders)


def held(kind: str, n: int) -> str:
    """`n` media of `kind` the row has, naming the column beyond images (`1 video (column
    videos)`)."""
    return plural(n, kind) + ("" if kind == "image" else f" (column {kind}s)")


def mismatch(kind: str, placeholders: int, parts: int, n: int) -> str:
    """The reason a row whose placeholders and parts of `kind` differ from its `n` media of
    that kind fails, naming what was counted."""
    return f"the conversation holds {counted(kind, placeholders, parts)} but the row has " + held(
        kind, n
    )


def split_text(content: str, kinds: Iterable[str]) -> list[dict]:
    """One string content as parts: the placeholders of `kinds` made media parts, the text
    around them text parts (the per-row twin of what `map_placeholders` does)."""
    marks = [PLACEHOLDERS[k] for k in kinds]
    if not any(m in content for m in marks):
        return [{"type": "text", "text": content}]
    pieces = re.split(f"({_pattern(marks)})", content)
    parts: list[dict] = []
    for k, piece in enumerate(pieces):
        if k % 2:
            parts.append({"type": piece[1:-1]})
        elif piece:
            parts.append({"type": "text", "text": piece})
    return parts


def _pattern(marks: Iterable[str]) -> str:
    return "|".join(re.escape(m) for m in marks)


def sequences(columns: Iterable[str]) -> list[tuple[str, ...]]:
    """The conversations of a row that each go with all of the row's media: the prompt
    followed by each other column (`prompt`+`chosen`, `prompt`+`rejected`), else each column
    alone (`chosen`, `rejected` of implicit-prompt pairs). TRL renders each of them with
    the row's images, so each must hold one placeholder (or part) per medium, as validate
    counts them."""
    columns = list(columns)
    others = [c for c in columns if c != "prompt"]
    if "prompt" in columns:
        return [("prompt", c) for c in others] or [("prompt",)]
    return [(c,) for c in others]


def _string_messages(table: pa.Table) -> list[str]:
    """Messages columns whose contents are strings (all, or in some messages: flagged
    parts, `columns.textparts`)."""
    return [f.name for f in table.schema if string_content(f.type) or has_marks(f.type)]


def _message_columns(table: pa.Table) -> list[str]:
    """Messages columns whose contents are strings or parts."""
    return [f.name for f in table.schema if string_content(f.type) or parts_content(f.type)]


def _strings(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Per message of a messages column: its content as the string it was (null for parts)."""
    flat = pc.list_flatten(arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr)
    if string_content(arr.type):
        return pc.struct_field(flat, "content").cast(pa.string())
    return flagged_text(flat)


def placeholder_columns(table: pa.Table, marks: Iterable[str] = (PLACEHOLDER,)) -> list[str]:
    """Messages columns whose string contents hold one of `marks`."""
    marks = list(marks)
    out = []
    for name in _string_messages(table) if marks else ():
        contents = _strings(table.column(name))
        hit = (
            pc.match_substring(contents, marks[0])
            if len(marks) == 1
            else pc.match_substring_regex(contents, _pattern(marks))
        )
        if pc.any(pc.fill_null(hit, False)).as_py():
            out.append(name)
    return out


def placeholder_counts(table: pa.Table, columns: list[str], mark: str = PLACEHOLDER) -> np.ndarray:
    """Per row, the `mark` placeholders in the string contents of `columns`."""
    total = np.zeros(table.num_rows, np.int64)
    for c in columns:
        total += _marks(table.column(c), mark)
    return total


def _marks(arr: pa.Array | pa.ChunkedArray, mark: str) -> np.ndarray:
    """Per row of a messages column, the `mark` placeholders in its string contents (those
    among parts too, flagged)."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    n = pc.fill_null(pc.count_substring(_strings(arr), mark), 0)
    parent = np.asarray(pc.list_parent_indices(arr).to_numpy(zero_copy_only=False))
    per = np.asarray(n.to_numpy(zero_copy_only=False), np.int64)
    return np.bincount(parent, weights=per, minlength=len(arr)).astype(np.int64)


def shown_counts(arr: pa.Array | pa.ChunkedArray, kind: str) -> np.ndarray:
    """Per row of a messages column, the `kind` media it shows, as validate counts them: its
    parts standing for an entry of the media column (`part_counts`) and its placeholders
    (`<image>`) in string contents, those among parts too."""
    return part_counts(arr, kind) + _marks(arr, PLACEHOLDERS[kind])


def part_counts(arr: pa.Array | pa.ChunkedArray, kind: str) -> np.ndarray:
    """Per row of a messages column, its `kind` parts that stand for an entry of the row's
    media column (inline ones hold their medium: not counted), as validate counts them."""
    from trlprep.columns.inlinemedia import INLINE_MEDIA_KEYS, MEDIA_PARTS, inline_parts

    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    n = len(arr)
    if not parts_content(arr.type):
        return np.zeros(n, np.int64)
    content = pc.struct_field(pc.list_flatten(arr), "content")
    parts = pc.list_flatten(content)
    if not len(parts) or parts.type.get_field_index("type") < 0:
        return np.zeros(n, np.int64)
    types = pc.struct_field(parts, "type").cast(pa.string())
    hit = np.asarray(pc.fill_null(pc.is_in(types, pa.array(MEDIA_PARTS[kind])), False), bool)
    hit &= ~inline_parts(parts, MEDIA_PARTS[kind], INLINE_MEDIA_KEYS[kind])
    if not hit.any():
        return np.zeros(n, np.int64)
    msg = np.asarray(pc.list_parent_indices(content).to_numpy(zero_copy_only=False))
    row = np.asarray(pc.list_parent_indices(arr).to_numpy(zero_copy_only=False))
    return np.bincount(row[msg[hit]], minlength=n).astype(np.int64)


def map_placeholders(table: pa.Table) -> tuple[pa.Table, np.ndarray, list[str]]:
    """`table` with the placeholders of its messages columns made media parts, for each
    medium whose column the table has (`<video>` beside `videos`, ...), in messages whose
    content is a string, also where other messages of the row hold parts. Beside a media
    column every string content becomes parts, in rows with no placeholder too (TRL's
    vision format), so that whether a batch holds a placeholder does not decide its
    content kind: a file read in chunks converts as read whole.

    Returns (table, failing row positions, a reason per failing row); the table is unchanged
    when it has no media column. Failing rows: rows holding a placeholder whose placeholders
    plus parts of a medium, in a sequence, differ from the row's media of it (a row of parts
    alone is left to validation, which names the rule).
    """
    media = media_counts(table)
    # every string content beside a media column, not only the columns holding a
    # placeholder: a batch holding none would keep strings where the others give parts
    columns = _string_messages(table) if media else []
    if not columns:
        return table, np.zeros(0, np.int64), []
    seqs = sequences(_message_columns(table))
    wrong = np.zeros(table.num_rows, bool)
    why: dict[str, list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]] = {}
    names = set().union(*seqs)
    found = {k: {c: placeholder_counts(table, [c], PLACEHOLDERS[k]) for c in names} for k in media}
    # only a row holding a placeholder is this stage's to refuse: parts alone are
    # validation's (rule image-count / media-count, as validate says them)
    marked = sum(n for by_column in found.values() for n in by_column.values()) > 0
    from trlprep.columns.inlinemedia import inline_media_per_row

    for k, n in media.items():
        parts = {c: part_counts(table.column(c), k) for c in names}
        inline = {c: inline_media_per_row(table.column(c), k) for c in names}
        for seq in seqs:
            count = sum(found[k][c] for c in seq)
            shown = sum(parts[c] for c in seq)
            # a sequence giving the medium inline and no placeholder of it: the inline media
            # stage moves it, or says why it cannot (its column holding entries too)
            moved = (sum(inline[c] for c in seq) > 0) & (count == 0)
            off = (count + shown != n) & marked & ~moved
            if off.any():
                label = "+".join(seq) if len(seqs) > 1 else ""
                why.setdefault(k, []).append((label, count, shown, off))
                wrong |= off
    bad = np.flatnonzero(wrong)
    reasons = [
        "; ".join(
            (f"{label}: " if label else "")
            + mismatch(k, int(count[r]), int(shown[r]), int(media[k][r]))
            for k, failing in why.items()
            for label, count, shown, off in failing
            if off[r]
        )
        for r in bad
    ]
    from trlprep.columns.placeholderparts import as_parts, marked_parts

    vision = "image" in media  # TRL's vision data: an `image` / `images` column
    for c in columns:
        i = table.schema.get_field_index(c)
        arr = table.column(c).combine_chunks()
        kinds = list(media)
        if vision:
            mapped = as_parts(arr, kinds) if string_content(arr.type) else marked_parts(arr, kinds)
        else:  # TRL passes the strings of video / audio data as they are
            flagged = strings_as_parts(arr) if string_content(arr.type) else arr
            mapped = marked_parts(flagged, kinds, marked_only=True)
        table = table.set_column(i, c, mapped)
    return table, bad, reasons


__all__ = [
    "PLACEHOLDER",
    "PLACEHOLDERS",
    "counted",
    "counted_images",
    "held",
    "image_counts",
    "map_placeholders",
    "media_counts",
    "media_entries",
    "mismatch",
    "part_counts",
    "placeholder_columns",
    "placeholder_counts",
    "sequences",
    "shown_counts",
    "split_text",
]
