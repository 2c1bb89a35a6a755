"""Options given to `train` that no step of its data's reading uses: said, one warning each
(an `UnreadOptionWarning`, as `trlprep convert` says them), never ignored silently."""

from __future__ import annotations

from typing import Any

from trlprep.trainers.data_rejects import train_words

from trlprep.conversion.unread import (
    LAYOUT_OPTIONS,
    UnreadOptionWarning,
    flag,
    layout_reads,
    said_unread,
)
from trlprep.errors import warn_user

# where --template-kwarg applies in train (convert's words name its --tokenize)
TEMPLATE_KWARGS_APPLY = (
    "conversational data, rendered with the chat template (the model's own, or --chat-template)"
)


def say_unread_layout(
    import_options: dict[str, Any] | None, layout: str | None, lands: str
) -> None:
    """A warning per layout option given (`--pairing`, `--neutral` ...) that the import of
    `layout` (None: none) does not read, in train's words."""
    from trlprep.importers import ImportOptions, get_importer

    given = {k: v for k, v in (import_options or {}).items() if k in LAYOUT_OPTIONS}
    if not given:
        return
    importer = get_importer(layout) if layout is not None else None
    read = layout_reads(importer, ImportOptions.make(**(import_options or {})))
    route = f"{importer.name} -> {lands}" if importer is not None else lands
    unread = {k: v for k, v in given.items() if k not in read}
    for message in said_unread(unread, route):
        warn_user(train_words(message), UnreadOptionWarning)


def say_unread_template_kwargs(
    template_kwargs: dict[str, Any] | None, data_type: str, format_: str, name: str | None
) -> None:
    """The warning for `template_kwargs` given for data no chat template renders (standard
    text or token ids of `data_type`, trained on as they are); `name`: the data, as given."""
    if template_kwargs:
        _say_unread_render_option("template_kwargs", data_type, format_, name)


def say_unread_tools(tools: list | None, data_type: str, format_: str, name: str | None) -> None:
    """The warning for `tools` given for data no chat template renders, as
    `say_unread_template_kwargs` says it."""
    if tools:
        _say_unread_render_option("tools", data_type, format_, name)


def _say_unread_render_option(option: str, data_type: str, format_: str, name: str | None) -> None:
    route = f"{data_type}, {format_}, trained on as it is"
    said = flag(option)
    warn_user(
        f"{said} is read by no step of this run ({f'{name}: ' if name else ''}{route}), so it "
        f"changes nothing: {said} applies to {TEMPLATE_KWARGS_APPLY}",
        UnreadOptionWarning,
    )


__all__ = ["say_unread_layout", "say_unread_template_kwargs", "say_unread_tools"]
