"""Chat templates: load them (built-ins, files, tokenizers), render them in a sandbox exactly
as transformers does, and apply them to conversational datasets with TRL's per-type rules.

The names below load on first use: a command that renders no template (a plain `convert`)
imports no template machinery, Jinja included, by reading `trlprep.templates.options`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the module defining it
_PUBLIC = {
    "apply_chat_template": "api",
    "apply_chat_template_with_report": "api",
    "maybe_apply_chat_template": "api",
    "BUILTINS": "builtins",
    "Builtin": "builtins",
    "get_builtin": "builtins",
    "list_builtins": "builtins",
    "Plan": "rules",
    "plan_for": "rules",
    "load_template": "sources",
    "load_tokenizer": "sources",
    "TemplateReport": "table",
    "render_table": "table",
    "ChatTemplate": "template",
    "RenderError": "template",
    "TemplateSecurityError": "template",
    "TokenizeReport": "tokenize",
    "tokenize_table": "tokenize",
}

__all__ = [
    "BUILTINS",
    "Builtin",
    "ChatTemplate",
    "Plan",
    "RenderError",
    "TemplateReport",
    "TemplateSecurityError",
    "TokenizeReport",
    "apply_chat_template",
    "apply_chat_template_with_report",
    "get_builtin",
    "list_builtins",
    "load_template",
    "load_tokenizer",
    "maybe_apply_chat_template",
    "plan_for",
    "render_table",
    "tokenize_table",
]

if TYPE_CHECKING:
    from trlprep.templates.api import (
        apply_chat_template,
        apply_chat_template_with_report,
        maybe_apply_chat_template,
    )
    from trlprep.templates.builtins import BUILTINS, Builtin, get_builtin, list_builtins
    from trlprep.templates.rules import Plan, plan_for
    from trlprep.templates.sources import load_template, load_tokenizer
    from trlprep.templates.table import TemplateReport, render_table
    from trlprep.templates.template import ChatTemplate, RenderError, TemplateSecurityError
    from trlprep.templates.tokenize import TokenizeReport, tokenize_table


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'trlprep.templates' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"trlprep.templates.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
