"""Checks on content given as parts: known part types, text parts' text, and the media
parts (image, video, audio; inline or bare) each message holds, counted for the cross-column
media rules."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths, to_numpy_bool
from trlprep.columns.arrowtypes import is_string
from trlprep.columns.inlinemedia import IMAGE_PARTS, INLINE_MEDIA_KEYS, inline_parts
from trlprep.columns.textops import blank
from trlprep.registry import PART_TYPES
from trlprep.validation.checks.msgarrays import Owners, struct_field
from trlprep.validation.checks.text import Scan, check_text

# Part types counted against a `videos` / `audios` column (image parts: `image` only, as the
# image-count rule has always counted them)
VIDEO_AUDIO_PARTS: dict[str, tuple[str, ...]] = {
    "video": ("video", "video_url"),
    "audio": ("audio", "audio_url", "input_audio"),
}


_BLANK = "holds only whitespace or zero-width characters"


def _no_text(parts: pa.Array, where: np.ndarray) -> str:
    """How text parts without text are described: LLaMA-Factory v1's parts hold `value`."""
    value = struct_field(parts, "value")
    if (
        value is not None
        and is_string(value.type)
        and (where & to_numpy_bool(value.is_valid())).any()
    ):
        return (
            "text part without text: it holds `value`, LLaMA-Factory's v1 layout "
            "(--from llamafactory-v1)"
        )
    return "text part without text"


def check_parts(
    content,
    present,
    owners: Owners,
    column,
    sink,
    needs: np.ndarray | None = None,
    was_string: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Parts: known types, text parts' text; `needs`: per message, it must carry content (a
    message with tool calls may have an empty text part, as it may have `""`);
    `was_string`: per message, its content was a string (made a text part to sit beside
    parts), said as the user wrote it."""
    m = len(content)
    parts = pc.list_flatten(content)
    # part -> message -> row
    pmsg = Owners(list_lengths(content)).parent
    rows = Owners(owners.lengths, parent=owners.parent[pmsg])  # part -> row, via its message
    live = present[pmsg]
    p_null = to_numpy_bool(parts.is_null())
    ptype = struct_field(parts, "type")
    if ptype is None or not is_string(ptype.type):
        ptype = pa.nulls(len(parts), pa.string())
    known = to_numpy_bool(pc.is_in(ptype, pa.array(PART_TYPES)))
    bad = live & (p_null | ~known)
    if bad.any():
        sink.flag("invalid-part", column, rows.rows(bad))
        typed = np.flatnonzero(bad & ~p_null)  # each type said of the rows holding it
        sink.flag_values(
            "invalid-part",
            column,
            ptype.take(pa.array(typed)),
            rows.parent[typed],
            label=lambda v: "type null" if v is None else f"type {v!r}",
        )
    is_text = live & to_numpy_bool(pc.equal(ptype, "text"))
    text = struct_field(parts, "text")
    if text is None or pa.types.is_null(text.type):
        sink.flag("invalid-part", column, rows.rows(is_text), details=[_no_text(parts, is_text)])
    elif not is_string(text.type):
        sink.flag(
            "invalid-part",
            column,
            rows.rows(live & to_numpy_bool(text.is_valid())),
            details=["text must be a string"],
        )
    else:
        check_text(Scan(text), rows.rows, column, sink, "a text part")
        t_null = to_numpy_bool(text.is_null())
        sink.flag(
            "invalid-part",
            column,
            rows.rows(is_text & t_null),
            details=[_no_text(parts, is_text & t_null)],
        )
        empty = to_numpy_bool(pc.equal(pc.binary_length(text), 0))
        if needs is not None:
            empty &= needs[pmsg]
        space = to_numpy_bool(blank(text))
        string = np.zeros(len(parts), bool) if was_string is None else was_string[pmsg]
        said = (("a message's content", string), ("a text part", ~string))
        for rule, hit, what in (("empty-string", empty, "is empty"),
                                ("whitespace-only", space, _BLANK)):  # fmt: skip
            for whose, mine in said:
                sink.flag(
                    rule,
                    column,
                    rows.rows(is_text & hit & mine),
                    message=f"column {column!r}: {whose} {what}",
                )
    out = {}
    for kind, types in (("image", IMAGE_PARTS), *VIDEO_AUDIO_PARTS.items()):
        hit = live & to_numpy_bool(pc.is_in(ptype, pa.array(types)))
        if hit.any():
            inline = hit & inline_parts(parts, types, INLINE_MEDIA_KEYS[kind])
            if kind == "image":
                out[kind] = np.bincount(pmsg[hit], minlength=m).astype(np.int64)
                if inline.any():
                    out["inline image"] = np.bincount(pmsg[inline], minlength=m).astype(np.int64)
            elif (hit & ~inline).any():  # a video or audio held inline needs no entry
                out[kind] = np.bincount(pmsg[hit & ~inline], minlength=m).astype(np.int64)
    return out
