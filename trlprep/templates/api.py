"""`apply_chat_template` / `maybe_apply_chat_template`: TRL-compatible for one example dict,
and working on whole datasets (any kind `trlprep.io.adapters` accepts, DatasetDicts per split).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from trlprep.errors import DataError, UsageError, warn_user
from trlprep.io.adapters import as_input, is_dataset_dict, map_splits
from trlprep.registry import IMAGE_COLUMNS, TYPES, Format, Kind
from trlprep.templates.inputs import prepare_example, tool_call_error
from trlprep.templates.mediaprobe import media_error
from trlprep.templates.rules import RowError, plan_for, render_row, type_of_keys
from trlprep.templates.sources import load_template
from trlprep.templates.table import TemplateReport, render_table
from trlprep.templates.template import ChatTemplate

# every column name that can hold messages, in any type
_CONTENT_KEYS = frozenset(
    c.name_in(Format.CONVERSATIONAL)
    for t in TYPES.values()
    for c in t.columns
    if c.kind is Kind.CONTENT
)


def apply_chat_template(
    example_or_dataset: Any,
    tokenizer: Any,
    tools: list | None = None,
    *,
    num_proc: int | None = None,
    **template_kwargs: Any,
) -> Any:
    """Apply a chat template to a conversational example or dataset, as TRL does.

    `tokenizer`: a tokenizer or processor, a `ChatTemplate`, a built-in name, a .jinja file,
    a tokenizer folder or a Hub id. A single example dict gives back a dict of the rendered
    columns (TRL's keys: `messages` becomes `text`, plus the type's other columns such as
    `label`); a dataset gives back the same kind, every other column kept.
    """
    template = _template(tokenizer, template_kwargs)
    if _is_example(example_or_dataset):
        return _apply_example(example_or_dataset, template, tools, template_kwargs)
    return map_splits(
        example_or_dataset,
        lambda d: _warned(_apply_dataset(d, template, tools, template_kwargs, num_proc)),
    )


def maybe_apply_chat_template(
    example_or_dataset: Any,
    tokenizer: Any,
    tools: list | None = None,
    *,
    num_proc: int | None = None,
    **template_kwargs: Any,
) -> Any:
    """`apply_chat_template` when the example or dataset is conversational; else it unchanged."""
    from trlprep.compat.dataset import is_conversational

    if _is_example(example_or_dataset):
        if not is_conversational(example_or_dataset):
            return example_or_dataset
        return apply_chat_template(example_or_dataset, tokenizer, tools, **template_kwargs)

    def one(d: Any) -> Any:
        if not is_conversational(d):
            return d
        template = _template(tokenizer, template_kwargs)
        return _warned(_apply_dataset(d, template, tools, template_kwargs, num_proc))

    return map_splits(example_or_dataset, one)


def apply_chat_template_with_report(
    dataset: Any,
    tokenizer: Any,
    tools: list | None = None,
    *,
    num_proc: int | None = None,
    **template_kwargs: Any,
) -> tuple[Any, TemplateReport]:
    """`apply_chat_template` on one dataset (not a DatasetDict), with the templating report."""
    template = _template(tokenizer, template_kwargs)
    return _apply_dataset(dataset, template, tools, template_kwargs, num_proc)


def _warned(result: tuple[Any, TemplateReport]) -> Any:
    """The rendered dataset; what the template left out (tool calls, tools) warned once."""

    out, report = result
    for message in report.warnings():
        warn_user(message, UserWarning)
    return out


def _template(tokenizer: Any, template_kwargs: dict[str, Any]) -> ChatTemplate:
    return load_template(tokenizer, template_kwargs=template_kwargs)


def _is_example(data: Any) -> bool:
    if not isinstance(data, Mapping) or is_dataset_dict(data):
        return False
    for key in _CONTENT_KEYS:
        value = data.get(key)
        if isinstance(value, str):
            return True
        if isinstance(value, list):
            return not value or isinstance(value[0], Mapping)
    return True


def _apply_example(
    example: Mapping[str, Any], template: ChatTemplate, tools: list | None, kwargs: dict
) -> dict[str, Any]:
    dtype = type_of_keys(list(example))
    if dtype is None:
        raise UsageError(
            "cannot tell the dataset type from the keys " + ", ".join(sorted(example)),
            hint="a conversational example has messages, prompt[, completion[, label]], "
            "prompt/chosen/rejected or chosen/rejected",
        )
    plan = plan_for(dtype)
    row_tools = example.get("tools")
    if isinstance(row_tools, str):
        try:
            row_tools = json.loads(row_tools)
        except json.JSONDecodeError as e:
            raise DataError(f"not valid JSON: {e}", column="tools") from None
    row_kwargs = example.get("chat_template_kwargs") or {}
    try:
        example = prepare_example(example, plan.content, template, _image_count(example))
        texts, _ = render_row(
            plan, template, example, row_tools or tools or None, {**kwargs, **row_kwargs}
        )
    except RowError as e:
        content = {c: example.get(c) for c in plan.content}
        e = tool_call_error(e, template, content, bool(row_tools or tools))
        e = media_error(e, template, content)
        raise DataError(e.message, column=e.column, hint=e.hint) from None
    out: dict[str, Any] = {}
    for col in dtype.columns:
        if col.kind is Kind.CONTENT:
            out[col.name] = texts[col.name]
        elif col.name in example:
            out[col.name] = example[col.name]
    return out


def _image_count(example: Mapping[str, Any]) -> int | None:
    """Images of an example (`images` list, `image` value), None without such keys."""
    if not any(k in example for k in IMAGE_COLUMNS):
        return None
    n = 0
    for k in IMAGE_COLUMNS:
        v = example.get(k)
        n += len(v) if isinstance(v, list) else int(v is not None)
    return n


def _apply_dataset(
    data: Any,
    template: ChatTemplate,
    tools: list | None,
    kwargs: dict,
    num_proc: int | None,
) -> tuple[Any, TemplateReport]:
    inp = as_input(data)
    table = inp.table
    dtype = type_of_keys(table.column_names)
    if dtype is None:
        raise UsageError(
            "cannot tell the dataset type from the columns " + ", ".join(table.column_names)
        )
    table = _placed(table)
    out, report = render_table(
        table,
        dtype,
        template,
        tools=tools,
        template_kwargs=kwargs,
        num_proc=num_proc,
        lines=inp.source.lines,
    )
    return inp.restore(out), report


def _placed(table: Any) -> Any:
    """`table` with media given with no placeholder placed at the start of the first user
    message (`columns.unmarked`), as TRL's trainers place images, said so."""
    import numpy as np

    from trlprep.columns.unmarked import place_unmarked, placed_text
    from trlprep.errors import warn_user
    from trlprep.wording import plural

    table, placed = place_unmarked(table)
    for kind, rows in placed.items():
        warn_user(f"{plural(int(np.count_nonzero(rows)), 'row')}: {placed_text(kind)}")
    return table
