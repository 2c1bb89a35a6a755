"""Options given that no step of a conversion reads: said, one warning each, never ignored
silently (a user would believe `--split-turns all` split something).

Each step declares what it reads, next to itself: a conversion edge (`Edge.reads`,
`Edge.standard_reads`), a public layout's importer (`Importer.options_read`,
`options_used`), the chat template and tokenizer (`Render.options_used`). This module only
compares what was given with what the plan's steps read, and says where an option applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trlprep.errors import TrlprepWarning
from trlprep.registry import Format

# options only some steps read (the others, `--coerce`, `--allow-empty`, `--inline-media`,
# are read by every run; `--keep-empty-turns` and `--assistant-masks` are refused elsewhere)
EDGE_OPTIONS = ("separator", "step_separator", "split_turns", "label_merge", "split_mode")
EDGE_OPTIONS += ("order", "no_prompt")
RENDER_OPTIONS = ("tools", "template_kwargs", "max_length", "truncation")
LAYOUT_OPTIONS = ("pairing", "threshold", "margin", "neutral", "prompt_style")
CHECKED = EDGE_OPTIONS + RENDER_OPTIONS + LAYOUT_OPTIONS

# where a render option applies, in words (the render is one step, not a family of edges)
_RENDERING = {
    "tools": "rendering with a chat template (--chat-template, or --tokenize of "
    "conversational data)",
    "max_length": "token ids made with --tokenize",
    "truncation": "token ids made with --tokenize and cut to --max-length",
    "step_separator": "token ids of stepwise supervision made with --tokenize",
}
_RENDERING["template_kwargs"] = _RENDERING["tools"]
# a layout reads these unless another option is given
_UNLESS = {"pairing": "--threshold", "margin": "--threshold", "prompt_style": "--conversational"}
# options whose value is free text or a file: named without it
_UNSAID = ("separator", "step_separator", "tools", "template_kwargs")
_FLAGS = {"template_kwargs": "--template-kwarg"}


class UnreadOptionWarning(TrlprepWarning):
    """An option was given that no step of the conversion reads: it changed nothing."""


def flag(name: str) -> str:
    """The CLI flag of option `name` (`split_turns` -> `--split-turns`)."""
    return _FLAGS.get(name, "--" + name.replace("_", "-"))


def options_read(plan: Any, importer: Any = None, import_options: Any = None) -> set[str]:
    """The options of `CHECKED` that some step of `plan` (and the import before it) reads."""
    used = layout_reads(importer, import_options)
    for e in plan.steps:
        used.update(e.reads_in(plan.fmt))
    if plan.render is not None:
        used |= plan.render.options_used(plan.dst.name)
    return used


def layout_reads(importer: Any, import_options: Any = None) -> set[str]:
    """The options of `LAYOUT_OPTIONS` the import with `importer` (None: none) reads."""
    if importer is None:
        return set()
    from trlprep.importers import ImportOptions

    return importer.options_used(import_options or ImportOptions())


def unread_warnings(
    plan: Any,
    given: Mapping[str, Any],
    *,
    importer: Any = None,
    import_options: Any = None,
    name: str | None = None,
) -> list[str]:
    """One warning per option in `given` (option -> the value given) that no step of `plan`
    reads, naming the option, the route (`name`: the input, as the user named it) and
    where the option applies; written with CLI flags (the API says them as keywords)."""
    read = options_read(plan, importer, import_options)
    unread = {k: v for k, v in given.items() if k in CHECKED and k not in read}
    if not unread:
        return []
    route = f"{importer.name} -> " if importer is not None else ""
    route += str(plan.route) + (f" ({plan.fmt}, rendered)" if plan.template is not None else "")
    return said_unread(unread, f"{name}: {route}" if name else route)


def layout_unread_warnings(
    given: Mapping[str, Any],
    importer: Any,
    import_options: Any = None,
    *,
    doing: str,
    name: str | None = None,
) -> list[str]:
    """One warning per layout option in `given` (option -> the value given) that the import
    with `importer` (None: none) does not read, for a command that converts nothing after
    the import (`doing`: "validation", "report"); `name`: the input, as the user named it."""
    read = layout_reads(importer, import_options)
    unread = {k: v for k, v in given.items() if k in LAYOUT_OPTIONS and k not in read}
    route = f"the {importer.name} layout" if importer is not None else "no layout"
    return said_unread(unread, f"{name}: {route}" if name else route, doing)


def said_unread(unread: Mapping[str, Any], route: str, doing: str = "conversion") -> list[str]:
    """The warning of each option of `unread` (option -> value) that no step of `route` (in
    words) read; `doing`: what the command does ("conversion", "validation", "report")."""
    return [
        f"{_said(k, v)} is read by no step of this {doing} ({route}), so it changes "
        f"nothing: {flag(k)} applies to {applies_to(k)}"
        for k, v in unread.items()
    ]


def _said(name: str, value: Any) -> str:
    """The option as given: `--split-turns all`, `--margin`, `--separator`."""
    if name in _UNSAID or value is None or isinstance(value, bool):
        return flag(name)
    return f"{flag(name)} {value}"


def applies_to(name: str) -> str:
    """Where option `name` is read, from the steps' declarations."""
    from trlprep.conversion.graph import edges
    from trlprep.importers.registry import IMPORTERS

    anywhere = [f"{e.src} -> {e.dst}" for e in edges().values() if name in e.reads]
    standard = [f"{e.src} -> {e.dst}" for e in edges().values() if name in e.standard_reads]
    layouts = [i.name for i in IMPORTERS.values() if name in i.options_read]
    said = []
    if anywhere:
        said.append(", ".join(anywhere))
    if standard:
        said.append(f"{', '.join(standard)} (of {Format.STANDARD} text only)")
    if layouts:
        word = "layout" if len(layouts) == 1 else "layouts"
        named = f"the {_and(layouts)} {word} (--from {layouts[0]})"
        if name in _UNLESS:  # said of the layouts that read that option too (or of all)
            key = _UNLESS[name].removeprefix("--").replace("-", "_")
            reading = [i.name for i in IMPORTERS.values() if name in i.options_read]
            reading = [n for n in reading if key in IMPORTERS[n].options_read] or reading
            if len(reading) == len(layouts):
                named += f", without {_UNLESS[name]}"
            else:
                named = named[:-1] + f"; {_and(reading)} without {_UNLESS[name]})"
        said.append(named)
    if name in _RENDERING:
        said.append(_RENDERING[name])
    return "; ".join(said) or "no conversion"


def _and(names: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def warn_unread(
    plan: Any,
    given: Mapping[str, Any],
    *,
    importer: Any = None,
    import_options: Any = None,
    name: str | None = None,
) -> None:
    """`unread_warnings` raised as Python warnings (`warn_user`: the API's keywords)."""
    from trlprep.errors import warn_user

    for message in unread_warnings(
        plan, given, importer=importer, import_options=import_options, name=name
    ):
        warn_user(message, UnreadOptionWarning)


def given_import_options(opts: Any) -> dict[str, Any]:
    """The layout options of `ImportOptions` `opts` set away from their defaults (what an
    options object says was given)."""
    from trlprep.importers import ImportOptions

    if opts is None:
        return {}
    default = ImportOptions()
    return {k: getattr(opts, k) for k in LAYOUT_OPTIONS if getattr(opts, k) != getattr(default, k)}


__all__ = [
    "UnreadOptionWarning",
    "applies_to",
    "layout_reads",
    "layout_unread_warnings",
    "options_read",
    "said_unread",
    "unread_warnings",
    "warn_unread",
]
