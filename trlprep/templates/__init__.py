"""Chat templates: load them (built-ins, files, tokenizers), render them in a sandbox exactly
as transformers does, and apply them to conversational datasets with TRL's per-type rules.
"""

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
