"""Where each assistant message is in a rendered conversation, and which tokens are its own.

A message's span is its content, tool calls and the template's end-of-turn token, as TRL's
`{% generation %}` markers cover them (the whitespace a template writes after the
end-of-turn token is not the message's). Two exact ways to find the spans:

- a template with `{% generation %}` markers: the spans it marks (transformers'
  `render_jinja_template`, as `return_assistant_tokens_mask` reads them);
- any other template, by rendering prefixes: message `i` lies between
  `render(messages[:i], add_generation_prompt=True)` and `render(messages[:i+1])`, which
  holds only where each is a prefix of the next and of the whole render. A template that
  renders earlier turns otherwise in a longer conversation (Qwen3 drops their reasoning) is
  not prefix-stable: the row is refused (`RowError`), never guessed.

Tokens are marked as transformers marks them: every token overlapping a span.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trlprep.templates.rules import RowError, render_whole
from trlprep.templates.template import ChatTemplate, RenderError

MARKERS_HINT = (
    "use a chat template with {% generation %} markers around each assistant turn "
    "(transformers' return_assistant_tokens_mask reads them), or set these rows aside "
    "(--on-error skip)"
)


@dataclass(frozen=True)
class Span:
    """Characters [start, end) of the render that are assistant message `message`'s."""

    start: int
    end: int
    message: int | None  # its index in the conversation (None: a marked span not placed)


def assistant_spans(
    template: ChatTemplate,
    messages: list[Mapping[str, Any]],
    tools: list | None,
    kwargs: Mapping[str, Any],
    *,
    end_tokens: Sequence[str] = (),
    column: str = "messages",
) -> tuple[str, list[Span]]:
    """The conversation rendered whole and its assistant messages' spans (see the module
    doc); `end_tokens`: the tokenizer's special tokens, after which a span's trailing
    whitespace is cut. Raises RowError where the spans cannot be found exactly."""
    if template.has_generation_markers:
        return _marked(template, messages, tools, kwargs, column)
    full = render_whole(template, list(messages), tools, kwargs, trusted=True, column=column)
    specials = sorted({t for t in (*end_tokens, *template.special_tokens.values()) if t.strip()})
    spans = []
    last = len(messages) - 1
    for i, m in enumerate(messages):
        if m.get("role") != "assistant":
            continue
        if i == 0:
            raise RowError(
                "an assistant message opens the conversation: there is no prompt to render "
                "before it, so its tokens cannot be told from the template's",
                column,
                hint="start the conversation with a system or user message, or " + MARKERS_HINT,
            )
        head = _render(template, messages[:i], tools, kwargs, column, add_generation_prompt=True)
        if i == last:
            end = _closed_end(template, messages, full, tools, kwargs, specials)
        else:
            upto = _render(template, messages[: i + 1], tools, kwargs, column)
            end = _own_end(upto, full, specials) if upto.startswith(head) else None
        if end is None or not full.startswith(head) or end < len(head):
            raise RowError(
                f"message {i + 1} (assistant): the chat template {template.name} is not "
                "prefix-stable here (the conversation up to this message renders otherwise "
                "within the whole conversation, e.g. earlier turns' reasoning dropped), so its "
                "tokens cannot be found exactly",
                column,
                hint=MARKERS_HINT,
            )
        spans.append(Span(len(head), _trim(full, len(head), end, specials), i))
    return full, spans


def _own_end(upto: str, whole: str, specials: Sequence[str]) -> int | None:
    """Where `upto` (a shorter conversation's render) stops being `whole`'s start, once
    the special tokens and whitespace a template writes only at a conversation's end
    (Phi-3's EOS) are taken off its end; None if more than those differ."""
    while not whole.startswith(upto):
        kept = upto.rstrip()
        if kept == upto:
            kept = next((upto[: -len(t)] for t in specials if upto.endswith(t)), None)
            if kept is None:
                return None
        upto = kept
    return len(upto)


def _closed_end(template, messages, full, tools, kwargs, specials) -> int:
    """Where the last message's own text ends in `full`: before what the template writes
    only to close a conversation, seen against the conversation with one more user turn;
    the whole render where that does not tell (the probe fails or renders otherwise)."""
    probe = [*messages, {"role": "user", "content": "\u2026"}]
    try:
        longer = template.render(probe, tools=tools, trusted=True, **kwargs)
    except Exception:  # noqa: BLE001 - a template refusing the probe: nothing to cut
        return len(full)
    end = _own_end(full, longer, specials)
    return len(full) if end is None else end


def _render(template, messages, tools, kwargs, column, **mode) -> str:
    try:
        return template.render(list(messages), tools=tools, trusted=True, **mode, **kwargs)
    except RenderError as e:
        raise RowError(e.message, column, hint=e.hint, raised_by_template=True) from None


def _trim(text: str, start: int, end: int, specials: Sequence[str]) -> int:
    """`end`, less the whitespace after the span's last end-of-turn (special) token."""
    kept = text[start:end].rstrip()
    if len(kept) < end - start and any(kept.endswith(t) for t in specials):
        return start + len(kept)
    return end


def _marked(template, messages, tools, kwargs, column) -> tuple[str, list[Span]]:
    """The spans the template's `{% generation %}` markers mark (transformers' renderer),
    each placed on its assistant message where there is one per assistant message."""
    from transformers.utils.chat_template_utils import render_jinja_template

    try:
        texts, indices = render_jinja_template(
            conversations=[list(messages)],
            tools=tools,
            chat_template=template.source,
            return_assistant_tokens_mask=True,
            **{**template.special_tokens, **kwargs},
        )
    except Exception as e:  # noqa: BLE001 - the template's own error, on this row
        raise RowError(
            f"{template.name} failed: {type(e).__name__}: {e}", column, raised_by_template=True
        ) from None
    own = render_whole(template, list(messages), tools, kwargs, trusted=True, column=column)
    if texts[0] != own:
        raise RowError(
            "transformers renders this conversation otherwise than the template renders it "
            "here, so the marked spans cannot be placed on its text",
            column,
            hint="set these rows aside (--on-error skip)",
        )
    at = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    marked = [(s, e) for s, e in indices[0] if e > s]
    places: list[int | None] = at if len(at) == len(marked) else [None] * len(marked)
    return own, [Span(s, e, i) for (s, e), i in zip(marked, places, strict=True)]


def token_mask(offsets: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """1 for each token (character `offsets`, shape (n, 2)) overlapping one of `spans`, as
    transformers' `return_assistant_tokens_mask` marks them; 0 elsewhere."""
    mask = np.zeros(len(offsets), np.int8)
    if not spans or not len(offsets):
        return mask
    starts, ends = offsets[:, 0], offsets[:, 1]
    for s, e in spans:
        mask |= (ends > s) & (starts < e)
    return mask


__all__ = ["MARKERS_HINT", "Span", "assistant_spans", "token_mask"]
