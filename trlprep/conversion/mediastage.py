"""The media stages a conversion runs before its route: `<image>`/`<video>`/`<audio>`
placeholders made media parts, and images held inline in message parts moved to an
`images` column (`--inline-media move`) or, kept, said to be where TRL does not read them."""

from __future__ import annotations

import pyarrow as pa

from trlprep.errors import RowFailures, warn_user


def media_parts(table: pa.Table) -> pa.Table:
    """`<image>` / `<video>` / `<audio>` placeholders of rows with images / videos / audios
    made media parts (TRL's vision format)."""
    from trlprep.columns.placeholders import map_placeholders

    out, bad, reasons = map_placeholders(table)
    if len(bad):
        raise RowFailures(bad.tolist(), reasons, stage="media placeholders")
    return out


def say_inline_images(table: pa.Table) -> None:
    """A warning where images held inline in message parts stay there (`--inline-media
    keep`): TRL's vision trainers read images from an `images` column."""
    from trlprep.columns.inlinemedia import inline_columns
    from trlprep.converters.base import ConversionWarning

    if inline_columns(table):
        warn_user(
            "images held inline in message parts are kept there (their URLs or paths in the "
            "parts); TRL's vision trainers read images from an images column: "
            "--inline-media move puts them there",
            ConversionWarning,
        )


def inline_images(table: pa.Table) -> pa.Table:
    """Images, videos and audios held inline in message parts moved to `images`, `videos`
    and `audios` (`--inline-media move`)."""
    from trlprep.columns.inlinemedia import move_inline_media

    out, bad, reasons = move_inline_media(table)
    if len(bad):
        raise RowFailures(bad.tolist(), reasons, stage="inline media")
    return out


__all__ = ["inline_images", "media_parts", "say_inline_images"]
