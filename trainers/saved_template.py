"""The chat template saved with a trained model: the one its data was rendered with, so the
saved model renders conversations as it was trained on them (as TRL's SFT
`chat_template_path`), with the run's template kwargs written into it as its defaults
(`templates.kwargdefaults`: transformers keeps no template kwargs beside a tokenizer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trlprep.errors import in_callers_words


def keep_chat_template(
    tokenizer: Any,
    chat_template: Any,
    template_kwargs: dict[str, Any] | None,
    tools: list | None,
    log: Callable[[str], None] = lambda _: None,
    rendered_by: dict[str, Any] | None = None,
) -> None:
    """Give `tokenizer` (saved with the model) the template the data was rendered with:
    `chat_template` (None: its own) with `template_kwargs` as its defaults; said in `log`,
    with the `tools` it does not keep (a caller passes its own at inference).
    `rendered_by`: the template a tokenised file records (name, sha256): one the saved
    template is not is said, with the flag that saves it."""
    if chat_template is None and not template_kwargs and rendered_by is None:
        return  # the tokenizer's own template, as the data was rendered
    from trlprep.templates.kwargdefaults import with_kwarg_defaults
    from trlprep.templates.sources import NoTemplateError, load_template
    from trlprep.templates.tokenrecord import template_identity

    src = chat_template if chat_template is not None else tokenizer
    try:
        template = load_template(src, tokenizer=tokenizer, template_kwargs=template_kwargs)
    except NoTemplateError:  # a tokenised file rendered by a template the model lacks
        template = None
    own = template_identity(template)
    if rendered_by and (own is None or own["sha256"] != rendered_by.get("sha256")):
        name = rendered_by.get("name") or "another template"
        saved = "no chat template" if template is None else f"{template.name}'s chat template"
        log(
            in_callers_words(
                f"warning: the data's text was rendered by {name} (as its file records), and "
                f"the model is saved with {saved}: pass --chat-template {name} (the file it "
                "was rendered with) to save that one"
            )
        )
    if template is not None:
        source = with_kwarg_defaults(template.source, template_kwargs)
        held = getattr(tokenizer, "chat_template", None)
        if chat_template is None and isinstance(held, dict):  # named templates: the default
            source = {**held, "default": source}
        tokenizer.chat_template = source
    if template is not None and template_kwargs:
        from trlprep.trainers.render_words import kwargs_text

        log(
            in_callers_words(
                "note: the chat template saved with the model renders with the template kwargs "
                f"{kwargs_text(template_kwargs)} unless told otherwise, as the data was "
                "rendered (transformers keeps no template kwargs beside a tokenizer, so they "
                "are written into the template as its defaults; a caller's own kwargs still "
                "win over them, special tokens excepted)"
            )
        )
    if tools:
        from trlprep.trainers.render_words import tools_text

        log(
            "note: the chat template saved with the model holds no tools: pass the "
            f"{tools_text(tools)} the data was rendered with at inference, as the rows "
            "without their own got them"
        )


__all__ = ["keep_chat_template"]
