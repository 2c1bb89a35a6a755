"""TRL's dataset helpers under TRL's names and signatures, for one example or a whole dataset.

Each function takes a single example dict (as TRL's do, e.g. inside `dataset.map`) or a
whole dataset (`datasets.Dataset`/`DatasetDict`, `pyarrow.Table`, `polars.DataFrame`, a
list of row dicts), and returns the same kind. Whole datasets go through trlprep's
vectorised conversions (`trlprep.converters`), not a per-row map. A `datasets.IterableDataset`
(or `IterableDatasetDict`) gives back an IterableDataset mapped lazily, batch by batch, with
the same conversions: nothing is read until it is iterated.

Where TRL has a defect, these do the right thing instead; every difference is listed in
the function's docstring under "Differences from TRL".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from trlprep.columns.arrowtypes import is_messages
from trlprep.compat.helpers import is_iterable_dataset, map_iterable
from trlprep.converters.base import ConversionWarning, ConvertOptions
from trlprep.converters.implicit import implicit_to_preference
from trlprep.converters.prefix import split_point_messages, split_point_str
from trlprep.converters.sides import named_pairs
from trlprep.converters.unpairing import implicit_to_unpaired, preference_to_unpaired
from trlprep.errors import DataError, UsageError, warn_user
from trlprep.io.adapters import as_given, as_input, is_dataset_dict, map_splits
from trlprep.registry import Format

CONTENT_KEYS = ("prompt", "chosen", "rejected", "completion", "messages")
CHATML_KEYS = ("prompt", "completion", "chosen", "rejected", "messages", "conversations")


# ---------------------------------------------------------------- telling examples from datasets


def _is_message_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict)


def is_example(data: Any, key: str | None = None) -> bool:
    """A mapping holding one example (not a dict of columns, not a DatasetDict).

    `datasets.Dataset.map` passes examples as `LazyRow` mappings, not dicts.
    """
    if not isinstance(data, Mapping) or is_dataset_dict(data):
        return False
    keys = [key] if key else [k for k in CHATML_KEYS if k in data]
    for k in keys:
        v = data.get(k)
        if isinstance(v, str) or _is_message_list(v) or v == []:
            return True
        if isinstance(v, list):
            return False
    return not all(isinstance(v, list) for v in data.values())


def _table_format(table: pa.Table, column: str) -> Format:
    conversational = is_messages(table.schema.field(column).type)
    return Format.CONVERSATIONAL if conversational else Format.STANDARD


# ---------------------------------------------------------------- is_conversational


def is_conversational(example: Any) -> bool:
    """True when an example (or a dataset) holds messages rather than plain text.

    Differences from TRL: the keys are looked at in a fixed order (`prompt`, `chosen`,
    `rejected`, `completion`, `messages`; TRL picks one arbitrarily from a set), the first
    one holding text or a non-empty list decides, and an empty message list does not raise
    `IndexError`. A whole dataset is decided from its schema.
    """
    if is_example(example):
        for key in CONTENT_KEYS:
            value = example.get(key)
            if isinstance(value, str):
                return False
            if isinstance(value, list) and value:
                return isinstance(value[0], dict) and "role" in value[0]
        return False
    from trlprep.detection.detect import is_conversational_table

    if is_iterable_dataset(example):  # decided from its first row, as TRL's trainers do
        if is_dataset_dict(example):
            example = next(iter(example.values()))
        first = next(iter(example.with_format(None)), None)
        return first is not None and is_conversational(dict(first))
    if is_dataset_dict(example):
        example = next(iter(example.values()))
    return is_conversational_table(as_input(example).table)


# ---------------------------------------------------------------- prompt extraction


def _no_prompt(policy: str) -> None:
    msg = "chosen and rejected share no prompt (no common first message or text)"
    if policy == "error":
        raise DataError(msg, hint="fix the example, or pass no_prompt='warn'")
    warn_user(msg + "; the prompt is empty", ConversionWarning)


def _extract_example(example: dict, split_mode: str, no_prompt: str) -> dict:
    chosen, rejected = example["chosen"], example["rejected"]
    if isinstance(chosen, str) and isinstance(rejected, str):
        k = split_point_str(chosen, rejected, split_mode)
    elif isinstance(chosen, list) and isinstance(rejected, list):
        k = split_point_messages(chosen, rejected)
    else:
        raise DataError(
            "chosen and rejected must both be strings or both be message lists",
            hint="convert the example to one format",
        )
    if k == 0:
        _no_prompt(no_prompt)
    return {"prompt": chosen[:k], "chosen": chosen[k:], "rejected": rejected[k:]}


def _extract_table(data: Any, split_mode: str, no_prompt: str, *, maybe: bool) -> Any:
    inp = as_input(data)
    table = inp.table
    names = table.column_names
    if "chosen" not in names or "rejected" not in names:
        if maybe:
            return data
        raise _needs_pairs("extract_prompt", names)
    fmt = _table_format(table, "chosen")
    if "prompt" in names:
        if maybe and (_table_format(table, "prompt") is fmt):
            return data
        table = table.drop_columns(["prompt"])
    opts = ConvertOptions(split_mode=split_mode, no_prompt=no_prompt)
    return inp.restore(implicit_to_preference(table, fmt, opts))


def extract_prompt(example: Any, *, split_mode: str = "word", no_prompt: str = "error") -> Any:
    """Split the prompt shared by `chosen` and `rejected` out of both.

    On one example, returns `{"prompt", "chosen", "rejected"}` like TRL (so that
    `dataset.map(extract_prompt)` works); on a dataset, returns the dataset with the prompt
    extracted in every row (other columns kept; an existing `prompt` column is replaced).
    The prompt is the longest common prefix: whole leading messages in conversational
    format; in standard format, text cut at a word boundary (`split_mode="word"`) or at the
    first differing character (`split_mode="char"`, as TRL), then moved before a space it
    ends on, so completions start with the space (`"The sky is"`, `" blue."`).

    Differences from TRL:
    - when one side is a prefix of the other, or both are equal, the prompt ends at the last
      turn boundary (`"\\n\\nAssistant:"`) or word boundary (conversational: before the last
      shared assistant turn) so both completions hold text, and a `DataError` when there is
      none (`split_mode="char"`: TRL's cut, the shared text less its last character);
    - a difference at the very first character never takes TRL's `chosen[idx - 1]` branch,
      which reads the last character and, when it is a space, puts all but that character
      into the prompt;
    - empty strings give an empty prefix instead of TRL's `UnboundLocalError`;
    - a pair sharing no prompt at all (conversational: different first messages) raises a
      `DataError` (`no_prompt="warn"` keeps the empty prompt with a warning; on datasets
      `no_prompt="drop"` drops those rows) instead of silently returning an empty prompt;
    - by default a standard-format prompt never ends mid-word: TRL cuts
      `"The sky is blue"` / `"The sky is black"` into `"The sky is b"` + `"lue"`/`"lack"`;
      here the prompt is `"The sky is"` (`split_mode="char"` gives TRL's cut).
    """
    if is_example(example, "chosen"):
        return _extract_example(example, split_mode, no_prompt)
    if is_iterable_dataset(example):
        return map_iterable(
            example, lambda t: _extract_table(t, split_mode, no_prompt, maybe=False)
        )
    return map_splits(example, lambda d: _extract_table(d, split_mode, no_prompt, maybe=False))


def maybe_extract_prompt(
    example: Any, *, split_mode: str = "word", no_prompt: str = "error"
) -> Any:
    """Extract the prompt unless the example (dataset) already has an explicit one.

    As TRL: examples without `chosen` and `rejected` are returned as they are, and so are
    those with a `prompt` in the same format as `chosen`; a `prompt` in the other format
    (text next to conversational chosen/rejected) is replaced by the extracted one.
    The extraction is `extract_prompt`'s, with its differences from TRL, and takes its
    keywords (`split_mode`: `"word"` or `"char"`; `no_prompt`: `"error"`, `"warn"` or
    `"drop"`). Returns the example or dataset (the input's kind) with its prompt explicit.
    """
    if is_example(example):
        if "chosen" not in example or "rejected" not in example:
            return example
        if "prompt" in example and is_conversational(
            {"chosen": example["chosen"]}
        ) == is_conversational({"prompt": example["prompt"]}):
            return example
        return _extract_example(example, split_mode, no_prompt)
    if is_iterable_dataset(example):
        return map_iterable(example, lambda t: _extract_table(t, split_mode, no_prompt, maybe=True))
    example = as_given(example)  # a stream read once, looked at before it is worked on
    return map_splits(example, lambda d: _extract_table(d, split_mode, no_prompt, maybe=True))


# ---------------------------------------------------------------- unpairing


def _unpair_example(example: dict) -> list[dict]:
    pairs = named_pairs(list(example), ("prompt", "completion", "label"))
    sides = {s.chosen: s for s, why in pairs if why is None}
    gone = {"prompt", "chosen", "rejected", *(s.rejected for s in sides.values())}
    if "prompt" not in example:
        example = _extract_example(example, "word", "error")
    rows = []
    for side, label in (("chosen", True), ("rejected", False)):
        row = {"prompt": example["prompt"], "completion": example[side], "label": label}
        for k, v in example.items():  # a pair of side columns: the row's own side, as `X`
            if k in sides:
                row[sides[k].name] = example[sides[k].chosen if label else sides[k].rejected]
            elif k not in gone:
                row[k] = v
        rows.append(row)
    return rows


def _needs_pairs(function: str, names: list[str]) -> DataError:
    """The error for data without the `chosen` and `rejected` columns `function` works on."""
    return DataError(
        f"{function} needs `chosen` and `rejected` columns (the data has "
        f"{', '.join(names) or 'no columns'})",
        hint="pass preference pairs (chosen and rejected, with or without a prompt); "
        "trlprep.detect(DATA) says what the data is",
    )


def _unpair_table(data: Any, order: str, block_rows: int) -> Any:
    inp = as_input(data)
    table = inp.table
    if "chosen" not in table.column_names or "rejected" not in table.column_names:
        raise _needs_pairs("unpair_preference_dataset", table.column_names)
    fmt = _table_format(table, "chosen")
    opts = ConvertOptions(order=order, block_rows=block_rows if order == "blocks" else None)
    if "prompt" in table.column_names:
        return inp.restore(preference_to_unpaired(table, fmt, opts))
    return inp.restore(implicit_to_unpaired(table, fmt, opts))


def unpair_preference_dataset(
    dataset: Any,
    num_proc: int | None = None,
    desc: str | None = None,
    *,
    order: str = "interleaved",
    **map_kwargs: Any,
) -> Any:
    """Turn each (prompt, chosen, rejected) row into a chosen row labelled true and a
    rejected row labelled false, keeping the prompt and every extra column.

    Unpairing assumes every chosen completion is good and every rejected one bad, as TRL's
    guide warns: check that before training. `num_proc` and `desc` are accepted for
    compatibility and ignored (the work is one vectorised pass). One example dict gives a
    list of its two rows.

    Differences from TRL:
    - row order: by default each pair's two rows are adjacent (`order="interleaved"`);
      `order="blocks"` gives TRL's order, every chosen row then every rejected row per
      `datasets.map` batch (`batch_size`, default 1000, as TRL);
    - extra columns are duplicated onto both rows (TRL v0.17 fails on them), except a pair
      of one side's columns (`chosen_X` / `rejected_X`, `X_chosen` / `X_rejected`): each row
      gets its own completion's as `X` (TRL copies both onto both rows);
    - data without a `prompt` (implicit prompt) has its prompt extracted first, as the
      guide's recipe does, instead of becoming rows without a prompt.

    `map_kwargs`: `datasets.map`'s keywords, as TRL takes them (`batch_size`: the blocks of
    `order="blocks"`, and the batches of an IterableDataset). Returns the unpaired rows as
    the input's kind.
    """
    if order not in ("interleaved", "blocks"):
        raise UsageError(f"unknown order {order!r}", hint="use interleaved or blocks")
    if is_example(dataset, "chosen"):
        return _unpair_example(dataset)
    block_rows = int(map_kwargs.get("batch_size") or 1000)
    if is_iterable_dataset(dataset):  # lazily, one batch of `batch_size` rows at a time
        return map_iterable(dataset, lambda t: _unpair_table(t, order, block_rows), **map_kwargs)
    return map_splits(dataset, lambda d: _unpair_table(d, order, block_rows))


def maybe_unpair_preference_dataset(
    dataset: Any,
    num_proc: int | None = None,
    desc: str | None = None,
    *,
    order: str = "interleaved",
    **map_kwargs: Any,
) -> Any:
    """Unpair `dataset` if it has `chosen` and `rejected` columns; else return it as is.

    Takes the keywords of `unpair_preference_dataset` (`order`, `batch_size` among the
    `map_kwargs`; `num_proc` and `desc` ignored), which says the differences from TRL. Returns
    the unpaired (or unchanged) rows as the input's kind.
    """
    if is_example(dataset, "chosen"):
        return _unpair_example(dataset)
    if is_iterable_dataset(dataset):  # decided batch by batch: no row is read here
        block_rows = int(map_kwargs.get("batch_size") or 1000)

        def maybe(t: pa.Table) -> pa.Table:
            if "chosen" in t.column_names and "rejected" in t.column_names:
                return _unpair_table(t, order, block_rows)
            return t

        return map_iterable(dataset, maybe, **map_kwargs)
    dataset = as_given(dataset)  # a stream read once, looked at before it is worked on
    if isinstance(dataset, Mapping) and not is_dataset_dict(dataset):
        names = list(dataset)
    elif hasattr(dataset, "column_names"):
        names = dataset.column_names
        if isinstance(names, dict):  # DatasetDict
            names = next(iter(names.values()))
    else:
        names = as_input(dataset).table.column_names
    if "chosen" in names and "rejected" in names:
        return unpair_preference_dataset(dataset, num_proc, desc, order=order, **map_kwargs)
    return dataset


__all__ = [
    "extract_prompt",
    "is_conversational",
    "is_example",
    "maybe_extract_prompt",
    "maybe_unpair_preference_dataset",
    "unpair_preference_dataset",
]
