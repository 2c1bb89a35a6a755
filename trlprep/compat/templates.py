"""TRL's chat-template helpers as TRL 1.x calls them: `apply_chat_template(example,
processing_class, tools=None, **template_kwargs)` and `maybe_apply_chat_template(...)`.

TRL renamed their `tokenizer` argument `processing_class` in 1.3; both keywords are accepted
(the second positional argument is either). One example, a dataset of any kind
(`trlprep.templates`), or a `datasets.IterableDataset`, templated lazily batch by batch.
"""

from __future__ import annotations

from typing import Any

from trlprep.compat.helpers import is_iterable_dataset, map_iterable


def _processing_class(processing_class: Any, tokenizer: Any) -> Any:
    if processing_class is not None and tokenizer is not None:
        raise TypeError("pass processing_class or tokenizer, not both (they are the same)")
    if processing_class is None and tokenizer is None:
        raise TypeError("apply_chat_template needs processing_class (a tokenizer or template)")
    return processing_class if processing_class is not None else tokenizer


def _templated_stream(
    dataset: Any, source: Any, tools: list | None, kwargs: dict[str, Any], *, maybe: bool
) -> Any:
    from trlprep.detection.detect import is_conversational_table
    from trlprep.io.jsonext import decode_json_extensions
    from trlprep.templates import load_template
    from trlprep.templates.api import apply_chat_template_with_report

    template = load_template(source, template_kwargs=kwargs)

    def render(table: Any) -> Any:
        table = decode_json_extensions(table)  # datasets' `Json` messages: read as messages
        if maybe and not is_conversational_table(table):
            return table
        return apply_chat_template_with_report(table, template, tools, num_proc=1, **kwargs)[0]

    return map_iterable(dataset, render)


def _template_kwargs(given: dict[str, Any]) -> dict[str, Any]:
    """The template kwargs of a call: `template_kwargs={...}` (the keyword
    `trlprep.convert` takes) merged with the loose ones, which win."""
    from collections.abc import Mapping

    merged = given.get("template_kwargs")
    if not isinstance(merged, Mapping):
        return given
    return {**merged, **{k: v for k, v in given.items() if k != "template_kwargs"}}


def apply_chat_template(
    example: Any,
    processing_class: Any = None,
    tools: list | None = None,
    *,
    tokenizer: Any = None,
    num_proc: int | None = None,
    **template_kwargs: Any,
) -> Any:
    """Render a conversational example or dataset with a chat template, as TRL's
    `apply_chat_template`.

    `example`: one example dict or a dataset of any kind `trlprep.convert` takes (an
    IterableDataset is rendered lazily, batch by batch). `processing_class` (or
    `tokenizer=`): a tokenizer, a built-in template name (`"chatml"`, `"qwen2.5"` ...), a
    .jinja file or a tokenizer folder (see `trlprep.templates.apply_chat_template` for the
    differences from TRL). `tools`: tool schemas for rows without their own `tools`.
    `**template_kwargs` are passed to the template (`enable_thinking=False`; a
    `template_kwargs={...}` dict too, as `trlprep.convert` takes them). `num_proc`:
    processes that render.

    Returns the rendered example (`prompt`/`completion`, `chosen`/`rejected` or `text` as
    strings) or dataset, as the input's kind.
    """
    from trlprep.templates import apply_chat_template as apply

    template_kwargs = _template_kwargs(template_kwargs)
    source = _processing_class(processing_class, tokenizer)
    if is_iterable_dataset(example):
        return _templated_stream(example, source, tools, template_kwargs, maybe=False)
    return apply(example, source, tools, num_proc=num_proc, **template_kwargs)


def maybe_apply_chat_template(
    example: Any,
    processing_class: Any = None,
    tools: list | None = None,
    *,
    tokenizer: Any = None,
    num_proc: int | None = None,
    **template_kwargs: Any,
) -> Any:
    """`apply_chat_template` when the example or dataset is conversational; else unchanged
    (an IterableDataset is checked batch by batch, as it is read). `processing_class` (or
    `tokenizer`), `tools`, `num_proc` and `**template_kwargs` as `apply_chat_template`
    takes them. Returns the rendered (or unchanged) example or dataset, as the input's
    kind."""
    from trlprep.templates import maybe_apply_chat_template as maybe_apply

    template_kwargs = _template_kwargs(template_kwargs)
    source = _processing_class(processing_class, tokenizer)
    if is_iterable_dataset(example):
        return _templated_stream(example, source, tools, template_kwargs, maybe=True)
    from trlprep.io.adapters import as_given

    example = as_given(example)  # a stream read once, looked at before it is worked on
    return maybe_apply(example, source, tools, num_proc=num_proc, **template_kwargs)


__all__ = ["apply_chat_template", "maybe_apply_chat_template"]
