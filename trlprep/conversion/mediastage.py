"""The media stages a conversion runs before its route: `<image>`/`<video>`/`<audio>`
placeholders made media parts, and images held inline in message parts moved to an
`images` column (`--inline-media move`) or, kept, said to be where TRL does not read them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.errors import RowFailures, warn_user


def media_parts(table: pa.Table) -> pa.Table:
    """`<image>` / `<video>` / `<audio>` placeholders of rows with images / videos / audios
    made media parts (TRL's vision format); media given with no placeholder or part placed
    at the start of the first user message first (`columns.unmarked`), said so."""
    from trlprep.columns.placeholders import map_placeholders
    from trlprep.columns.unmarked import place_unmarked

    table, placed = place_unmarked(table)
    out, bad, reasons = map_placeholders(table)
    if len(bad):
        raise RowFailures(bad.tolist(), reasons, stage="media placeholders")
    for kind, rows in placed.items():
        say_placed(kind, np.flatnonzero(rows))
    return out


def say_unrendered(table: pa.Table, columns: tuple[str, ...]) -> None:
    """A warning naming standard rows that give media and hold no placeholder of them in
    their text `columns`: nothing stands for them (`media-unrendered` in validate); and one
    naming those whose text holds placeholders, which only a processor whose own media
    token they are reads (`media-standard-text`)."""
    import pyarrow.compute as pc

    from trlprep.columns.arrowtypes import is_string
    from trlprep.columns.placeholders import PLACEHOLDERS, media_counts
    from trlprep.columns.standardmarks import standard_marks_hint, standard_marks_text
    from trlprep.converters.base import ConversionWarning
    from trlprep.converters.common import counted_rows_text

    texts = [table.column(c) for c in columns if c in table.column_names]
    texts = [t for t in texts if is_string(t.type)]
    if not texts:
        return
    for kind, n in media_counts(table).items():
        mark = PLACEHOLDERS[kind]
        marks = sum(
            np.asarray(pc.fill_null(pc.count_substring(t, mark), 0).to_numpy(), np.int64)
            for t in texts
        )
        marked = np.flatnonzero((n > 0) & (marks > 0))
        if len(marked):
            warn_user(
                f"{counted_rows_text(marked)}: {standard_marks_text(kind)}; "
                + standard_marks_hint(kind, tuple(columns) == ("text",)),
                ConversionWarning,
            )
        rows = np.flatnonzero((n > 0) & (marks == 0))
        if len(rows):
            warn_user(
                f"{counted_rows_text(rows)}: {kind}s given beside standard (string) text "
                f"with no `{mark}` placeholder: nothing in the text stands for them (TRL's "
                "trainers give it to the processor as it is); --conversational makes the "
                f"text messages and places the {kind}s at the start of the first user message, "
                "as TRL's prepare_multimodal_messages places images",
                ConversionWarning,
            )


def say_placed(kind: str, rows: np.ndarray) -> None:
    """The warning naming the rows whose `kind` media were placed (merged over batches)."""
    from trlprep.columns.unmarked import placed_text
    from trlprep.converters.base import ConversionWarning
    from trlprep.converters.common import counted_rows_text

    warn_user(f"{counted_rows_text(rows)}: {placed_text(kind)}", ConversionWarning)


# outputs whose content parts are one Arrow struct, every part holding every key
TYPED_OUTPUTS: dict[str, str] = {"parquet": "Parquet", "arrow": "Arrow", "disk": "save_to_disk"}


def inline_mode(given: str | None, output_kind: str, rendered: bool) -> tuple[str, bool]:
    """(`keep` or `move`, chosen by default): `given`, or where it is None, `move` for an
    output holding one struct per content part (Parquet, Arrow, save_to_disk) and for a
    rendered one (the render keeps no part, so media held inline would be lost), else
    `keep`."""
    if given is not None:
        return given, False
    if output_kind in TYPED_OUTPUTS or rendered:
        return "move", True
    return "keep", False


def _null_media_keys(table: pa.Table) -> list[tuple[str, str]]:
    """(column, key) of the media keys (`image`, `video`, ...) that content parts of a
    messages column hold as null beside parts holding them: one Arrow struct gives every
    part every key."""
    import pyarrow.compute as pc

    from trlprep.columns.inlinemedia import INLINE_MEDIA_KEYS
    from trlprep.columns.textparts import parts_content

    keys = dict.fromkeys(k for ks in INLINE_MEDIA_KEYS.values() for k in ks)
    out = []
    for f in table.schema:
        if not parts_content(f.type):
            continue
        part = f.type.value_type.field("content").type.value_type
        held = [k for k in keys if part.get_field_index(k) >= 0]
        if not held:
            continue
        parts = pc.list_flatten(pc.struct_field(pc.list_flatten(table.column(f.name)), "content"))
        for k in held:
            value = pc.struct_field(parts, k)
            if value.null_count > parts.null_count and value.null_count < len(parts):
                out.append((f.name, k))
    return out


def say_inline_images(table: pa.Table, output_kind: str = "") -> None:
    """A warning where images held inline in message parts stay there (`--inline-media
    keep`): TRL's vision trainers read images from an `images` column; and, for an output
    holding one struct per content part, that its other parts hold the media keys as null,
    which templates testing a key's presence read as media."""
    from trlprep.columns.inlinemedia import inline_columns
    from trlprep.converters.base import ConversionWarning

    if inline_columns(table):
        warn_user(
            "images held inline in message parts are kept there (their URLs or paths in the "
            "parts); TRL's vision trainers read images from an images column: "
            "--inline-media move puts them there",
            ConversionWarning,
        )
    if output_kind in TYPED_OUTPUTS:
        nulls: dict[str, list[str]] = {}
        for column, key in _null_media_keys(table):
            nulls.setdefault(column, []).append(key)
        for column, keys in nulls.items():
            held = ", ".join(f'"{k}": null' for k in keys)
            warn_user(
                f"column {column!r}: {TYPED_OUTPUTS[output_kind]} gives every content part "
                f"every key, so its text parts hold {held}, which templates that test a "
                f"key's presence ('{keys[0]}' in content: Qwen2.5-VL, Qwen3-VL, Qwen3.5) "
                "render as media when the file is loaded with datasets (as TRL loads it): "
                "--inline-media move leaves no such key; JSON Lines keeps each part's keys",
                ConversionWarning,
            )


MOVED = (
    "media held inline in message parts were moved to images / videos / audios columns, "
    'bare {{"type": "image"}} (video, audio) parts left where they stood (TRL\'s vision '
    "layout), as {output} outputs get them by default: one struct gives every content part "
    'every key, and a text part\'s "image": null reads as an image to templates that test '
    "'image' in content (Qwen2.5-VL, Qwen3-VL, Qwen3.5); --inline-media keep keeps them"
)

# `inline_images`' output kind for a rendered output (`--chat-template`, `--tokenize`)
RENDERED = "rendered"
MOVED_RENDERED = (
    "media held inline in message parts were moved to images / videos / audios columns "
    "before the render, bare parts left where they stood: the rendered text keeps no part, "
    "so their URLs or paths would be lost; --inline-media keep keeps them in the parts "
    "(and out of the output)"
)


KEPT = (
    "inline {medium} parts holding their {medium} as data that no URL or path names "
    "({keys}) are kept in their parts, in every row: {output} outputs move inline media to "
    "images / videos / audios by default, and the {column} column holds URLs or paths; "
    "--inline-media keep keeps every medium in its parts (this warning goes), "
    "--inline-media move refuses these rows; to move them, write each {medium} to a file "
    "and name its path in its part"
)


def unmovable_keys(schemas: list[pa.Schema]) -> tuple[str, ...]:
    """`medium:key` of the part keys under which `schemas` hold media inline as data that
    no URL or path names (`columns.inlinemedia.unmovable_media`)."""
    from trlprep.columns.inlinemedia import unmovable_media

    return tuple(f"{m}:{k}" for m, names in unmovable_media(schemas).items() for k in names)


def kept_by_default(options: Any, keys: tuple[str, ...]) -> Any:
    """`options` (`ConvertOptions`) with `kept_media` set to `keys` (`unmovable_keys` of the
    whole input) where `move` was chosen by default: a default must not refuse valid rows
    (`--inline-media move` given still refuses them)."""
    import dataclasses

    if options.inline_media != "move" or not options.moved_by_default or not keys:
        return options
    return dataclasses.replace(options, kept_media=tuple(dict.fromkeys(keys)))


def moving_whole(options: Any, keys: tuple[str, ...], held: Iterable[str]) -> Any:
    """`options` (`ConvertOptions`, `move`) of an input converted in chunks (or blocks):
    `kept_by_default(options, keys)`, with `media_columns` set to `held` (`medium:column`
    of the messages columns the whole input holds a medium inline in), but those of kept
    media: each chunk then gets the media columns the input moved whole gets."""
    import dataclasses

    options = kept_by_default(options, keys)
    kept = {k.split(":", 1)[0] for k in options.kept_media}
    columns = tuple(dict.fromkeys(c for c in held if c.split(":", 1)[0] not in kept))
    return dataclasses.replace(options, media_columns=columns)


def inline_images(
    table: pa.Table,
    output_kind: str = "",
    kept: tuple[str, ...] = (),
    columns: tuple[str, ...] = (),
) -> pa.Table:
    """Images, videos and audios held inline in message parts moved to `images`, `videos`
    and `audios` (`--inline-media move`), but the media of `kept` (`medium:key`, left
    inline by `kept_by_default`, said so); `output_kind`: moved by default for that output,
    said so. `columns` (`medium:column`, `moving_whole`): the media columns the whole input
    gets, given to a chunk holding none of a medium inline too (after the placeholder
    stage, as moving the input whole adds them: no placeholder is mapped beside them)."""
    from trlprep.columns.inlinemedia import MEDIA_COLUMN, inline_columns, move_inline_media
    from trlprep.converters.base import ConversionWarning

    media = tuple(dict.fromkeys(k.split(":", 1)[0] for k in kept))
    out, bad, reasons = move_inline_media(table, media)
    if len(bad):
        raise RowFailures(bad.tolist(), reasons, stage="inline media")
    if columns and out.num_rows:
        from trlprep.columns.inlinemedia import moved_elsewhere

        by_medium: dict[str, list[str]] = {}
        for c in columns:
            medium, name = c.split(":", 1)
            by_medium.setdefault(medium, []).append(name)
        out = moved_elsewhere(out, by_medium)
        # the columns added in the order moving the whole input adds them, whichever
        # media this chunk held inline (JSON Lines writes columns as they stand)
        added = [MEDIA_COLUMN[m] for m in MEDIA_COLUMN if MEDIA_COLUMN[m] in out.column_names]
        added = [c for c in added if c not in table.column_names]
        out = out.select([c for c in out.column_names if c not in added] + added)
    output = TYPED_OUTPUTS.get(output_kind, "these")
    moved = [m for m in MEDIA_COLUMN if m not in media]
    said = MOVED.format(output=output) if output_kind in TYPED_OUTPUTS else None
    if output_kind == RENDERED:
        said = MOVED_RENDERED
    if said and any(inline_columns(table, m) for m in moved):
        warn_user(said, ConversionWarning)
    for medium in media:
        if inline_columns(table, medium):
            keys = ", ".join(f'"{k.split(":", 1)[1]}"' for k in kept if k.startswith(medium + ":"))
            column = MEDIA_COLUMN[medium]
            said = KEPT.format(medium=medium, keys=keys, output=output, column=column)
            warn_user(said, ConversionWarning)
    return out


__all__ = [
    "RENDERED",
    "TYPED_OUTPUTS",
    "inline_images",
    "inline_mode",
    "kept_by_default",
    "media_parts",
    "moving_whole",
    "unmovable_keys",
    "say_inline_images",
    "say_placed",
    "say_unrendered",
]
