"""A chat template ready to render: its Jinja text, its special tokens and where it came from.

`ChatTemplate.render` reproduces `tokenizer.apply_chat_template(messages, tokenize=False)`
of transformers for one conversation: keys whose value is None are dropped from each
message, reasoning fields are aliased (`reasoning_content`/`thinking`/`reasoning`),
special tokens are passed as template variables (explicit kwargs win), and
`continue_final_message` leaves the last message open with the same marker technique.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trlprep.errors import DataError, InputError, UsageError
from trlprep.templates.sandbox import (
    SecurityError,
    TemplateError,
    compile_template,
    render_compiled,
)

_CONTINUE_TAG = "CONTINUE_FINAL_MESSAGE_TAG "
REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")
_REASONING = frozenset(REASONING_FIELDS)


class RenderError(DataError):
    """A chat template failed on some input (its own message is kept); exit code 1."""


class TemplateSecurityError(InputError):
    """A chat template tried to reach outside the sandbox."""


@dataclass(frozen=True)
class ChatTemplate:
    """A Jinja chat template with the special-token variables it renders with."""

    source: str
    name: str = "chat template"
    special_tokens: Mapping[str, str] = field(default_factory=dict)
    origin: str = "string"  # builtin | file | tokenizer | string

    def __post_init__(self) -> None:
        compile_template(self.source, self.name)  # fail early on syntax errors

    @property
    def bos_token(self) -> str | None:
        return self.special_tokens.get("bos_token")

    @property
    def eos_token(self) -> str | None:
        return self.special_tokens.get("eos_token")

    @property
    def has_generation_markers(self) -> bool:
        import re

        return re.search(r"\{%-?\s*generation\s*-?%\}", self.source) is not None

    def with_tokens(self, **tokens: str) -> ChatTemplate:
        """A copy with some special tokens replaced."""
        return dataclasses.replace(self, special_tokens={**self.special_tokens, **tokens})

    def render(
        self,
        messages: list[Mapping[str, Any]],
        *,
        tools: list[Any] | None = None,
        documents: list[Mapping[str, Any]] | None = None,
        add_generation_prompt: bool = False,
        continue_final_message: bool | str = False,
        trusted: bool = False,
        **kwargs: Any,
    ) -> str:
        """Render one conversation to text, as `tokenizer.apply_chat_template(tokenize=False)`.

        `trusted=True` skips converting inputs to plain JSON values (for callers that already
        did, such as the table renderer).
        """
        if not messages:
            raise RenderError(f"{self.name}: cannot apply a chat template to an empty conversation")
        if continue_final_message and add_generation_prompt:
            raise UsageError(
                "continue_final_message and add_generation_prompt cannot be used together"
            )
        if trusted:  # plain dicts already, without None values
            chat = list(messages)
        else:
            chat = [{k: v for k, v in m.items() if v is not None} for m in messages]
        if tools is not None:
            tools = [_tool_schema(t) for t in tools]
        template_kwargs = {**self.special_tokens, **kwargs}
        if not trusted:
            chat = to_plain(chat)
            tools = to_plain(tools)
            documents = to_plain(documents)
            template_kwargs = to_plain(template_kwargs)
            for m in chat:
                if not isinstance(m, dict):
                    raise RenderError(f"chat messages must be dicts, got {m!r}")
        chat = _alias_reasoning(chat)
        final_text = None
        if continue_final_message:
            chat, final_text = self._open_final_message(chat, continue_final_message)
        try:
            variables = {
                "messages": chat,
                "tools": tools,
                "documents": documents,
                "add_generation_prompt": add_generation_prompt,
                **template_kwargs,
            }
            text = render_compiled(compile_template(self.source, self.name), variables)
        except SecurityError as e:
            raise TemplateSecurityError(
                f"{self.name}: the chat template tried to reach outside the sandbox: {e}",
                hint="this template is unsafe; use another one",
            ) from None
        except TemplateError as e:
            raise RenderError(f"{self.name} raised: {e.message or e}") from None
        except Exception as e:  # templates fail with plain Python errors too (str + None ...)
            raise RenderError(f"{self.name} failed: {type(e).__name__}: {e}") from None
        if final_text is not None:
            text = _close_final_message(text, final_text, self.name)
        return text

    def _open_final_message(self, chat: list[dict], which: bool | str) -> tuple[list[dict], str]:
        key = which if isinstance(which, str) else "content"
        last = dict(chat[-1])
        final = last.get(key)
        if final is None:
            raise RenderError(
                f'continue_final_message is set but the final message has no "{key}" to continue'
            )
        fields = [key]
        if key in REASONING_FIELDS:
            fields = [f for f in REASONING_FIELDS if last.get(f) == final]
        if not any(f in self.source for f in fields):
            raise RenderError(
                f'{self.name}: continue_final_message is set to "{key}" but the template never '
                "reads that field"
            )
        if isinstance(final, (list, tuple)):
            parts = [dict(p) if isinstance(p, Mapping) else p for p in final]
            for part in reversed(parts):
                if isinstance(part, dict) and "text" in part:
                    final = part["text"]
                    part["text"] = part["text"] + _CONTINUE_TAG
                    break
            else:
                raise RenderError(
                    "continue_final_message is set but the final message has no text to continue"
                )
            last[key] = parts
        else:
            for f in fields:
                last[f] = last[f] + _CONTINUE_TAG
        return [*chat[:-1], last], final


def _close_final_message(text: str, final: str, name: str) -> str:
    if final.strip() not in text or _CONTINUE_TAG.strip() not in text:
        raise RenderError(
            f"{name}: continue_final_message is set but the template does not render the final "
            "message unchanged, so it cannot be left open",
            hint="the template deletes or rewrites part of the last assistant message",
        )
    at = text.rindex(_CONTINUE_TAG.strip())
    if text[at : at + len(_CONTINUE_TAG)] == _CONTINUE_TAG:
        return text[:at]
    return text[:at].rstrip()  # the template trimmed the message's trailing space


def _alias_reasoning(chat: list[dict]) -> list[dict]:
    if all(type(m) is dict and _REASONING.isdisjoint(m) for m in chat):
        return chat
    out = []
    for m in chat:
        if isinstance(m, dict):
            r = next((m[k] for k in REASONING_FIELDS if m.get(k) is not None), None)
            if r is not None:
                m = {"thinking": r, **m, "reasoning_content": r}
        out.append(m)
    return out


def _tool_schema(tool: Any) -> Any:
    if isinstance(tool, Mapping):
        return tool
    if inspect.isfunction(tool) or inspect.ismethod(tool):
        from transformers.utils import get_json_schema

        return get_json_schema(tool)
    raise UsageError(
        "a tool must be a JSON schema (dict) or a function with type hints, "
        f"got {type(tool).__name__}"
    )


def to_plain(value: Any) -> Any:
    """Rebuild `value` from plain JSON types; other objects become inert "<TypeName>" strings.

    Templates only test media keys for presence, so images and arrays inside content parts
    render the same while the sandbox never sees their methods.
    """
    t = type(value)
    if value is None or t in (str, int, float, bool):
        return value
    if t is dict:
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if t is list:
        return [to_plain(v) for v in value]
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, Mapping):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(to_plain(v) for v in value)
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, np.generic):
        return to_plain(value.item())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if callable(getattr(value, "model_dump", None)):
        return to_plain(value.model_dump())
    return f"<{t.__name__}>"


ToolsArg = list[Mapping[str, Any] | Callable[..., Any]] | None
