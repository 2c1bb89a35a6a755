"""The templating and tokenising step of a conversion: which chat template and tokenizer,
loaded from what the user named, with the options they are applied with."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trlprep.errors import UsageError


@dataclass
class Render:
    """How the conversational result is rendered to text (and optionally tokenised)."""

    template: Any  # templates.ChatTemplate
    tools: list | None = None
    template_kwargs: dict[str, Any] = field(default_factory=dict)
    num_proc: int | None = None
    tokenizer: Any = None  # set to tokenise after templating
    max_length: int | None = None
    truncation: str = "keep_start"
    report: Any = None  # templates.TemplateReport, merged over batches
    token_report: Any = None  # templates.TokenizeReport, merged over batches
    token_record: dict[str, Any] | None = None  # the options the ids are cut with (tokenrecord)
    tokenizer_name: str | None = None  # as the user named it (Ray's workers: absolute paths)
    assistant_masks: bool = False  # TRL's `assistant_masks` beside conversations' ids

    @property
    def name(self) -> str:
        return getattr(self.template, "name", "") if self.template is not None else ""

    def options_used(self, dst: str) -> set[str]:
        """The options this step reads rendering and tokenising rows of type `dst` (an
        option given that no step reads is said to do nothing: `conversion.unread`)."""
        used = {"tools", "template_kwargs"} if self.template is not None else set()
        if self.tokenizer is not None:
            used |= {"max_length"} | ({"truncation"} if self.max_length is not None else set())
            used |= {"step_separator"} if dst == "stepwise-supervision" else set()
        return used


def make_render(
    *,
    chat_template: Any = None,
    tokenizer: Any = None,
    tools: list | None = None,
    template_kwargs: dict[str, Any] | None = None,
    num_proc: int | None = None,
    tokenize: bool = False,
    max_length: int | None = None,
    truncation: str = "keep_start",
    conversational: bool = True,
    as_given: Mapping[str, str] | None = None,
) -> Render | None:
    """The templating/tokenising step asked for, or None.

    Tokenising conversational data without `chat_template` uses the tokenizer's own
    template; `tokenizer` also supplies special tokens to a .jinja template.
    `as_given`: paths the template and tokenizer are loaded from -> the names the user gave
    them, which messages and the token record say (Ray's workers load by absolute paths).
    """
    if chat_template is None and not tokenize:
        if tokenizer is not None or max_length is not None:
            given = "--tokenizer" if max_length is None else "--max-length"
            raise UsageError(
                f"{given} takes effect only with --tokenize or --chat-template",
                hint="add --tokenize (token ids, truncated to --max-length) or --chat-template "
                "SRC (conversational data rendered as text), or leave " + given + " out",
            )
        return None
    from trlprep.templates import load_template
    from trlprep.templates.sources import load_template_and_tokenizer, load_tokenizer

    kwargs = dict(template_kwargs or {})
    template, tok = None, None
    if chat_template is not None:
        template, tok = load_template_and_tokenizer(chat_template, tokenizer, kwargs)
    if tokenize:
        tok = tok or (load_tokenizer(tokenizer) if tokenizer is not None else None)
        if tok is None:
            raise UsageError("--tokenize needs a tokenizer", hint="pass --tokenizer PATH_OR_ID")
        if template is None and conversational:
            template = load_template(tok, template_kwargs=kwargs)
    names = dict(as_given or {})
    if template is not None and getattr(template, "name", None) in names:
        template = dataclasses.replace(template, name=names[template.name])
    loaded = str(getattr(tok, "name_or_path", "") or "")
    return Render(
        template, tools, kwargs, num_proc, tok if tokenize else None, max_length, truncation,
        tokenizer_name=names.get(loaded),
    )  # fmt: skip


__all__ = ["Render", "make_render"]
