"""Whether a render kept the reasoning of every assistant message it was given.

A template may leave reasoning out of the text it renders, as its model's own render does:
a template with no reasoning field (Llama 3, Qwen 2.5: `reasoning_content` is not read),
Qwen3-style templates (the reasoning of turns before the last user message is dropped, and
of content holding several `<think>` blocks only the first block and the text after the
last `</think>` are kept). The render stays the original's; the rows it happens on are
counted, so that what the model is not trained on is said, not silent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from trlprep.templates.template import REASONING_FIELDS

_THINK = re.compile(r"</?think>")


def reasoning_left_out(values: Any, rendered: str) -> bool:
    """Whether an assistant message of `values` (a row's message lists) holds reasoning (a
    reasoning field, or `<think>` blocks in its content) that `rendered` does not hold
    whole: the reasoning's text, or a piece of the content around its blocks."""
    for value in values:
        if not isinstance(value, list):
            continue
        for message in value:
            if isinstance(message, Mapping) and message.get("role") == "assistant":
                if any(piece not in rendered for piece in _pieces(message)):
                    return True
    return False


def _pieces(message: Mapping) -> list[str]:
    """The stripped texts of `message`'s reasoning field and, where its content holds
    `<think>` tags, of the pieces of content between them (none without reasoning)."""
    out = []
    reasoning = next((message[k] for k in REASONING_FIELDS if message.get(k) is not None), None)
    if isinstance(reasoning, str) and reasoning.strip():
        out.append(reasoning.strip())
    content = message.get("content")
    if isinstance(content, list):
        texts = [p for p in content if isinstance(p, Mapping) and p.get("type") == "text"]
        content = "".join(p.get("text") or "" for p in texts)
    if isinstance(content, str) and "think>" in content:
        out.extend(p.strip() for p in _THINK.split(content) if p.strip())
    return out
