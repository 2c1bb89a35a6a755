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
) -> None:
    """Give `tokenizer` (saved with the model) the template the data was rendered with:
    `chat_template` (None: its own) with `template_kwargs` as its defaults; said in `log`,
    with the `tools` it does not keep (a caller passes its own at inference)."""
    if chat_template is None and not template_kwargs:
        return  # the tokenizer's own template, as the data was rendered
    from trlprep.templates.kwargdefaults import with_kwarg_defaults
    from trlprep.templates.sources import load_template

    src = chat_template if chat_template is not None else tokenizer
    template = load_template(src, tokenizer=tokenizer, template_kwargs=template_kwargs)
    source = with_kwarg_defaults(template.source, template_kwargs)
    own = getattr(tokenizer, "chat_template", None)
    if chat_template is None and isinstance(own, dict):  # named templates: the default one
        source = {**own, "default": source}
    tokenizer.chat_template = source
    if not template_kwargs:
        return
    from trlprep.trainers.render_words import kwargs_text

    said = (
        f"note: the chat template saved with the model renders with --template-kwarg "
        f"{kwargs_text(template_kwargs)} unless told otherwise, as the data was rendered "
        "(transformers keeps no template kwargs beside a tokenizer, so they are written into "
        "the template as its defaults; a caller's own kwargs still win over them, special "
        "tokens excepted)"
    )
    if tools:
        said += (
            "; the --tools are not saved in it: pass them at inference (train_config.json "
            "lists them)"
        )
    log(in_callers_words(said))


__all__ = ["keep_chat_template"]
