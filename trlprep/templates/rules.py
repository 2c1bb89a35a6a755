"""Which parts of a row are rendered how, per dataset type, exactly as TRL's `apply_chat_template`.

- language modeling, implicit preference: each conversation rendered whole (`messages`
  becomes `text`), no generation prompt;
- prompt-only, stepwise: the prompt gets the generation prompt when its last turn is
  user or tool, is continued (left open) when it is assistant, and is an error otherwise;
  stepwise steps stay text;
- prompt-completion, explicit preference, unpaired: the prompt as above and prompt + X for
  each other conversation; X's text is the full render past the rendered prompt. When the
  prompt is not a prefix of a full render (templates that add `<think>` only to a
  generation prompt), the longest common prefix becomes the prompt, as in TRL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trlprep.registry import TYPES, DatasetType, Format, Kind, get_type, signature
from trlprep.templates.template import ChatTemplate, RenderError


@dataclass(frozen=True)
class Plan:
    """How one dataset type is templated."""

    dtype: DatasetType
    prompt: str | None  # the prompt column (conversational name), if the type has one
    continuations: tuple[str, ...]  # rendered after the prompt and split off it
    wholes: tuple[str, ...]  # rendered on their own
    out_names: dict[str, str]  # conversational column -> its standard name

    @property
    def content(self) -> tuple[str, ...]:
        return ((self.prompt,) if self.prompt else ()) + self.continuations + self.wholes


def plan_for(dtype: DatasetType | str) -> Plan:
    """The templating plan of a dataset type, read from the registry."""
    dtype = get_type(dtype)
    cols = [c for c in dtype.columns if c.kind is Kind.CONTENT]
    prompt = next((c for c in cols if c.role == "prompt"), None)
    others = tuple(c.name_in(Format.CONVERSATIONAL) for c in cols if c is not prompt)
    out = {c.name_in(Format.CONVERSATIONAL): c.name_in(Format.STANDARD) for c in cols}
    if prompt is None:
        return Plan(dtype, None, (), others, out)
    return Plan(dtype, prompt.name_in(Format.CONVERSATIONAL), others, (), out)


def type_of_keys(keys: Sequence[str]) -> DatasetType | None:
    """The type whose conversational columns are the largest subset of `keys` (as TRL keys)."""
    present = set(keys)
    best = None
    for t in TYPES.values():
        if not t.supports(Format.CONVERSATIONAL):
            continue
        sig = signature(t, Format.CONVERSATIONAL)
        if sig <= present and (
            best is None or len(sig) > len(signature(best, Format.CONVERSATIONAL))
        ):
            best = t
    return best


class RowError(Exception):
    """A row-level problem, located by the caller (row number, column)."""

    def __init__(
        self,
        message: str,
        column: str | None = None,
        hint: str | None = None,
        *,
        raised_by_template: bool = False,
    ):
        super().__init__(message)
        self.message = message
        self.column = column
        self.hint = hint
        self.raised_by_template = raised_by_template  # the template's own error on the row


def prompt_mode(prompt: list[Mapping[str, Any]], column: str = "prompt") -> dict[str, bool]:
    """add_generation_prompt / continue_final_message for a prompt, from its last role."""
    if not prompt:
        raise RowError("the prompt is an empty conversation", column)
    last = prompt[-1].get("role")
    if last in ("user", "tool"):
        return {"add_generation_prompt": True, "continue_final_message": False}
    if last == "assistant":
        return {"add_generation_prompt": False, "continue_final_message": True}
    raise RowError(
        f"the prompt's last message has role {last!r}",
        column,
        hint="a prompt must end with a user or tool turn (or an assistant turn to continue)",
    )


def render_prompt(
    template: ChatTemplate,
    prompt: list[Mapping[str, Any]],
    tools: list | None,
    kwargs: Mapping[str, Any],
    *,
    trusted: bool = False,
    column: str = "prompt",
) -> str:
    """The rendered prompt alone, with the generation prompt or the last turn left open."""
    prompt = as_messages(prompt, column)
    mode = prompt_mode(prompt, column)
    return _render(template, prompt, tools, kwargs, trusted, column, **mode)


def render_whole(
    template: ChatTemplate,
    messages: list[Mapping[str, Any]],
    tools: list | None,
    kwargs: Mapping[str, Any],
    *,
    trusted: bool = False,
    column: str = "messages",
) -> str:
    """A conversation rendered whole (no generation prompt)."""
    if not isinstance(messages, list) or not messages:
        raise RowError("the conversation is empty", column)
    return _render(template, messages, tools, kwargs, trusted, column)


def _render(template, messages, tools, kwargs, trusted, column, **mode) -> str:
    try:
        return template.render(messages, tools=tools, trusted=trusted, **mode, **kwargs)
    except RenderError as e:
        raise RowError(e.message, column, hint=e.hint, raised_by_template=True) from None


def split_after_prompt(prompt: str, fulls: Sequence[str]) -> tuple[str, list[str], bool]:
    """(prompt, the part of each full render after it, whether the prompt had to be shortened).

    The prompt is shortened to the longest common prefix of itself and every full render
    when it is not a prefix of one of them.
    """
    shortened = False
    for full in fulls:
        if not full.startswith(prompt):
            prompt = os.path.commonprefix([prompt, full])
            shortened = True
    n = len(prompt)
    return prompt, [full[n:] for full in fulls], shortened


def render_row(
    plan: Plan,
    template: ChatTemplate,
    row: Mapping[str, Any],
    tools: list | None,
    kwargs: Mapping[str, Any],
    *,
    prompt_text: str | None = None,
    trusted: bool = False,
) -> tuple[dict[str, str], bool]:
    """Render one row's conversations: ({standard column: text}, prompt shortened?).

    `prompt_text` is the already rendered prompt (rendered once per distinct prompt).
    """
    out: dict[str, str] = {}
    for col in plan.wholes:
        out[plan.out_names[col]] = render_whole(
            template, _messages(row, col), tools, kwargs, trusted=trusted, column=col
        )
    if plan.prompt is None:
        return out, False
    prompt = _messages(row, plan.prompt)
    if prompt_text is None:
        prompt_text = render_prompt(template, prompt, tools, kwargs, trusted=trusted)
    fulls = [
        render_whole(template, prompt + _messages(row, c), tools, kwargs, trusted=trusted, column=c)
        for c in plan.continuations
    ]
    prompt_text, parts, shortened = split_after_prompt(prompt_text, fulls)
    out[plan.out_names[plan.prompt]] = prompt_text
    for c, part in zip(plan.continuations, parts, strict=True):
        out[plan.out_names[c]] = part
    return out, shortened


def _messages(row: Mapping[str, Any], column: str) -> list:
    return as_messages(row.get(column), column)


def as_messages(value: Any, column: str) -> list:
    """`value` if it is a list of messages, else a RowError saying what it is."""
    if value is None:
        raise RowError("the value is missing (null)", column)
    if not isinstance(value, list) or (value and not isinstance(value[0], Mapping)):
        raise RowError(
            f"expected a list of messages, got {type(value).__name__}",
            column,
            hint="this column is not conversational; templates apply to message lists only",
        )
    return value
