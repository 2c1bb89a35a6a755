"""A chat template carrying the template kwargs it was rendered with as its own defaults, for
the template saved with a trained model: transformers keeps no template kwargs beside a
tokenizer (`apply_chat_template` passes only the special tokens and the caller's kwargs), so
a model trained on `enable_thinking=False` renders, or a template that needs a `bos_token`
the tokenizer lacks, would render otherwise once saved.

The defaults are Jinja `set` tags put before the template: a kwarg is set where the caller
gives none (`enable_thinking=True` at inference still wins); a special token (`bos_token`,
...) is set always, as the kwarg overrode the tokenizer's own token in training. The tags
render nothing, and an empty expression after them keeps `trim_blocks` from eating the
template's first newline.
"""

from __future__ import annotations

import json
import math
from typing import Any

from trlprep.errors import UsageError
from trlprep.templates.sources import TOKEN_VARS

_END = "{{- '' }}"  # an expression: trim_blocks removes no newline after it


def with_kwarg_defaults(source: str, template_kwargs: dict[str, Any] | None) -> str:
    """`source` with `template_kwargs` set as its defaults (see the module docstring); as it
    is without kwargs."""
    if not template_kwargs:
        return source
    tags = []
    for name, value in template_kwargs.items():
        tag = f"{{%- set {name} = {jinja_literal(value, name)} %}}"
        if name not in TOKEN_VARS:
            tag = f"{{%- if {name} is not defined %}}{tag}{{%- endif %}}"
        tags.append(tag)
    return "".join(tags) + _END + source


def sets_itself(source: str, name: str) -> bool:
    """Whether `source` (made by `with_kwarg_defaults`) sets `name` before its template."""
    head, found, _ = source.partition(_END)
    return bool(found) and f"{{%- set {name} = " in head


def jinja_literal(value: Any, name: str = "value") -> str:
    """`value` (JSON-like: text, numbers, booleans, None, lists, dicts) as a Jinja literal."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(jinja_literal(v, name) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{jinja_literal(str(k))}: {jinja_literal(v, name)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    raise UsageError(
        f"template kwarg {name}: {value!r} cannot be saved in the chat template",
        hint="give text, a number, true/false, or a list or mapping of them",
    )


__all__ = ["jinja_literal", "sets_itself", "with_kwarg_defaults"]
