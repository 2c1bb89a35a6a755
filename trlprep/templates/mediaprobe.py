"""Which video and audio parts a chat template renders, found by rendering probes.

Per medium (`video`, `audio`) and per role whose list content the template renders
(`probes.parts_roles`): a probe message holding one text part is rendered with and without
a `{"type": kind}` part before the text. A different render means the template renders
that part, unless the difference is the part printed as data (its JSON or Python repr,
as LFM2.5's template prints any part it does not know); the same render (it printed
nothing for it), such a dump, or an exception means it does not.
Rendered once per template (cached), in the template's sandbox, like the tool-call probe.
Rows holding parts a template does not render are counted (rendered: the model never sees
the medium) or, where the template raised, the row's error says so.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from trlprep.columns.arrowtypes import media_kind
from trlprep.templates.probes import _REPR, PROBE_TEXT, _probe, parts_roles
from trlprep.templates.rules import RowError
from trlprep.templates.template import ChatTemplate

MEDIA = ("video", "audio")


def media_roles(template: ChatTemplate) -> dict[str, frozenset[str]]:
    """Per medium (`video`, `audio`): the roles whose messages `template` renders a part of
    that medium for (see the module doc)."""
    return _media_roles(template.source, tuple(sorted(template.special_tokens.items())))


@lru_cache(maxsize=64)
def _media_roles(source: str, tokens: tuple) -> dict[str, frozenset[str]]:
    template = ChatTemplate(source, special_tokens=dict(tokens))
    text = {"type": "text", "text": PROBE_TEXT}
    out = {}
    for kind in MEDIA:
        shown = set()
        for role in parts_roles(template):
            without = _probe(template, role, [text])
            with_part = _probe(template, role, [{"type": kind}, text])
            if None in (without, with_part) or with_part == without:
                continue
            if len(_REPR.findall(with_part)) <= len(_REPR.findall(without)):
                shown.add(role)
        out[kind] = frozenset(shown)
    return out


def renders_bare_as_inline(template: ChatTemplate) -> bool:
    """Whether `template` renders a bare media part (`{"type": "image"}`) as it renders the
    same part holding its medium inline (`{"type": "image", "image": URL}`), for each of
    image, video and audio in a user message: then moving inline media to their columns
    leaves the render as it was (vision templates); not where the template prints the part
    as data (LFM2.5), URL included."""
    return _bare_as_inline(template.source, tuple(sorted(template.special_tokens.items())))


@lru_cache(maxsize=64)
def _bare_as_inline(source: str, tokens: tuple) -> bool:
    template = ChatTemplate(source, special_tokens=dict(tokens))
    text = {"type": "text", "text": PROBE_TEXT}
    for kind in ("image", *MEDIA):
        inline = {"type": kind, kind: "https://example.com/trlprep-probe"}
        if _probe(template, "user", [inline, text]) != _probe(
            template, "user", [{"type": kind}, text]
        ):
            return False
    return True


def unrendered(messages: Any, kind: str, roles: frozenset[str]) -> bool:
    """Whether `messages` hold a `kind` part in a message of a role not in `roles` (the
    roles the template renders such parts for)."""
    if not isinstance(messages, list):
        return False
    for m in messages:
        c = m.get("content") if isinstance(m, dict) else None
        if isinstance(c, list) and m.get("role") not in roles:
            if any(isinstance(p, dict) and media_kind(p) == kind for p in c):
                return True
    return False


def media_error(e: RowError, template: ChatTemplate, row: dict) -> RowError:
    """`e`, said as what it likely is when `template` raised on a row holding video or
    audio parts it does not render for their message's role (`row`: column -> messages)."""
    if not getattr(e, "raised_by_template", False):
        return e
    shown = media_roles(template)
    for column, messages in row.items():
        for i, m in enumerate(messages if isinstance(messages, list) else ()):
            c = m.get("content") if isinstance(m, dict) else None
            found = (media_kind(p) for p in c if isinstance(p, dict)) if isinstance(c, list) else ()
            role = m.get("role")
            kinds = [k for k in dict.fromkeys(found) if k in MEDIA and role not in shown[k]]
            if kinds:
                what = " and ".join(kinds)
                return RowError(
                    f"{e.message} (message {i} ({role}) has {what} parts, and "
                    f"{template.name} renders no {what} parts for {role} messages)",
                    column,
                    hint=f"use a chat template that renders {what} parts, or set these rows "
                    "aside (--on-error skip)",
                    raised_by_template=True,
                )
    return e
