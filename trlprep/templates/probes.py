"""What a chat template renders, found once per template by rendering probe conversations:
the roles whose content it renders when given as a list of text parts (`parts_roles`),
and whether it renders an assistant turn's tool calls and the `tools` it is given
(`tool_support`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from trlprep.templates.template import ChatTemplate, RenderError

PROBE_TEXT = "trlprep-probe-4f1c"
PROBE_ROLES = ("system", "user", "assistant", "tool")
PROBE_TOOL = "trlprep_probe_tool_4f1c"
TOOL_TEMPLATES = "qwen2.5, llama3.1"  # built-ins that render tool calls and tools
_REPR = re.compile(r"""['"]type['"]\s*:""")


@dataclass(frozen=True)
class ToolSupport:
    """What a template does with tool calls and tools (found by rendering probes)."""

    calls: bool  # an assistant turn's tool calls appear in the render (no tools given)
    calls_with_tools: bool  # ... when the conversation is given tools
    tools: bool  # the tools given appear in the render

    def renders_calls(self, with_tools: bool) -> bool:
        return self.calls_with_tools if with_tools else self.calls


def tool_support(template: ChatTemplate) -> ToolSupport:
    """Whether `template` renders tool calls and tools: probe conversations whose call and
    tool carry a unique name, rendered once per template; the name must appear."""
    return _tool_support(template.source, tuple(sorted(template.special_tokens.items())))


@lru_cache(maxsize=64)
def _tool_support(source: str, tokens: tuple) -> ToolSupport:
    template = ChatTemplate(source, special_tokens=dict(tokens))
    tool = {
        "type": "function",
        "function": {
            "name": PROBE_TOOL,
            "description": "probe",
            "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}},
        },
    }
    call = {"type": "function", "function": {"name": PROBE_TOOL, "arguments": {"x": 1}}}

    def shows(chat: list, tools: list | None, gen: bool) -> bool:
        try:
            text = template.render(chat, tools=tools, add_generation_prompt=gen, trusted=True)
        except Exception:  # noqa: BLE001 - a template that refuses the probe does not render it
            return False
        return PROBE_TOOL in text

    user = {"role": "user", "content": "x"}
    turns = (
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "assistant", "tool_calls": [call]},
    )
    return ToolSupport(
        calls=any(shows([user, t], None, False) for t in turns),
        calls_with_tools=any(shows([user, t], [tool], False) for t in turns),
        tools=shows([user], [tool], True),
    )


def parts_roles(template: ChatTemplate) -> frozenset[str]:
    """The roles whose content the template renders right when given as a list of text parts.

    A role qualifies when a probe conversation with that role's content as one text part
    renders the text without a Python or JSON dump of the part.
    """
    return _parts_roles(template.source, tuple(sorted(template.special_tokens.items())))


@lru_cache(maxsize=64)
def _parts_roles(source: str, tokens: tuple) -> frozenset[str]:
    template = ChatTemplate(source, special_tokens=dict(tokens))
    ok = set()
    for role in PROBE_ROLES:
        parts = _probe(template, role, [{"type": "text", "text": PROBE_TEXT}])
        if parts is None or PROBE_TEXT not in parts:
            continue
        plain = _probe(template, role, PROBE_TEXT)
        baseline = len(_REPR.findall(plain)) if plain is not None else 0
        if len(_REPR.findall(parts)) <= baseline:
            ok.add(role)
    return frozenset(ok)


def parts_only_roles(template: ChatTemplate) -> frozenset[str]:
    """The roles whose content the template renders only when given as parts: a string
    content renders without its text (Idefics3 iterates it character by character) or
    raises (LLaVA-Next reads `content[0]['text']`), while one text part renders it."""
    return _parts_only_roles(template.source, tuple(sorted(template.special_tokens.items())))


@lru_cache(maxsize=64)
def _parts_only_roles(source: str, tokens: tuple) -> frozenset[str]:
    template = ChatTemplate(source, special_tokens=dict(tokens))
    parts = _parts_roles(source, tokens)
    out = set()
    for role in parts:
        plain = _probe(template, role, PROBE_TEXT)
        if plain is None or PROBE_TEXT not in plain:
            out.add(role)
    return frozenset(out)


def _probe(template: ChatTemplate, role: str, content: Any) -> str | None:
    if role == "user":
        chat, gen = [{"role": "user", "content": content}], True
    elif role == "system":
        chat, gen = [{"role": "system", "content": content}, {"role": "user", "content": "x"}], True
    elif role == "tool":
        chat, gen = (
            [
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": "y"},
                {"role": "tool", "content": content},
            ],
            True,
        )
    else:
        chat, gen = (
            [{"role": "user", "content": "x"}, {"role": "assistant", "content": content}],
            False,
        )
    try:
        return template.render(chat, add_generation_prompt=gen, trusted=True)
    except (RenderError, Exception):  # noqa: BLE001 - any failure means "not this way"
        return None


__all__ = [
    "PROBE_TEXT",
    "TOOL_TEMPLATES",
    "ToolSupport",
    "parts_only_roles",
    "parts_roles",
    "tool_support",
]
