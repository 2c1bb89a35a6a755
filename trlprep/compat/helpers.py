"""The rest of TRL 1.x's public data helpers (`trl.data_utils`) under TRL's names and
signatures, so `from trlprep import ...` replaces `from trl.data_utils import ...`:
`is_conversational_from_value`, `prepare_multimodal_messages`,
`prepare_multimodal_messages_vllm`, `pack_dataset`, `truncate_dataset`,
`get_dataset_column_names`, `common_prefix_length`; and `map_iterable`, which runs an Arrow
table -> table function lazily over a `datasets.IterableDataset` (the TRL helpers in
`compat.dataset` use it for streamed datasets).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from trlprep.errors import UsageError, warn_user
from trlprep.io.adapters import as_input, is_dataset_dict, map_splits

_ROLES = ("system", "user", "assistant", "tool")


# ---------------------------------------------------------------- streamed datasets


def is_iterable_dataset(data: Any) -> bool:
    """True for a `datasets.IterableDataset` or `IterableDatasetDict`."""
    if type(data).__module__.split(".")[0] != "datasets":
        return False
    import datasets

    return isinstance(data, (datasets.IterableDataset, datasets.IterableDatasetDict))


def map_iterable(data: Any, fn: Callable[[pa.Table], pa.Table], **map_kwargs: Any) -> Any:
    """`fn` applied lazily to each Arrow batch of an IterableDataset (to each split of an
    IterableDatasetDict): nothing is read until the result is iterated, and rows come back in
    the input's format. `batch_size` (default 1000, as `datasets`) is the only map keyword
    used; the others TRL forwards (`num_proc`, `desc`) mean nothing for a stream."""
    import datasets

    if isinstance(data, datasets.IterableDatasetDict):
        return datasets.IterableDatasetDict(
            {k: map_iterable(v, fn, **map_kwargs) for k, v in data.items()}
        )
    formatting = data._formatting  # the caller's format, restored on the result
    kwargs = {"batch_size": map_kwargs["batch_size"]} if map_kwargs.get("batch_size") else {}
    mapped = data.with_format("arrow").map(fn, batched=True, **kwargs)
    if formatting is None or formatting.format_type is None:
        return mapped.with_format(None)
    out = mapped.with_format(formatting.format_type)
    out._formatting = formatting
    return out


# ---------------------------------------------------------------- examples


def is_conversational_from_value(example: Any) -> bool:
    """True when the `conversations` of `example` (one example or a dataset) holds
    ShareGPT-style messages (`from`/`value` keys).

    On a dataset, decided from the schema of its `conversations` column. Difference from
    TRL: an empty `conversations` list is False (TRL raises `IndexError`).
    """
    if isinstance(example, Mapping) and not is_dataset_dict(example):
        value = example.get("conversations")
        if not (isinstance(value, list) and value and isinstance(value[0], list)):  # one example
            first = value[0] if isinstance(value, list) and value else None
            return isinstance(first, Mapping) and "from" in first and "value" in first
    if is_dataset_dict(example):
        example = next(iter(example.values()))
    table = as_input(example).table
    if "conversations" not in table.column_names:
        return False
    t = table.schema.field("conversations").type
    if not (pa.types.is_list(t) or pa.types.is_large_list(t)):
        return False
    v = t.value_type
    return pa.types.is_struct(v) and all(v.get_field_index(k) >= 0 for k in ("from", "value"))


def prepare_multimodal_messages(
    messages: list[dict[str, Any]], images: list | None = None
) -> list[dict[str, Any]]:
    """`messages` with every `content` as a list of typed parts, and `images` placed in the
    image parts (as TRL): string contents become `[{"type": "text", "text": ...}]`, the first
    user message with a string content gets one `{"type": "image"}` part per image before its
    text, and unfilled image parts (no `image` key) are filled in order. The input is not
    modified. Raises ValueError on a role other than system/user/assistant/tool, or when the
    unfilled image parts and the images differ in number.
    """
    images = list(images or [])
    out: list[dict[str, Any]] = []
    placed = False
    for message in messages:
        role = message["role"]
        if role not in _ROLES:
            raise ValueError(f"Invalid role in message: {role}. Expected one of {_ROLES}.")
        content = message.get("content")
        if isinstance(content, str):
            parts = [{"type": "text", "text": content}]
            if role == "user" and not placed:
                parts = [{"type": "image"} for _ in images] + parts
                placed = True
            message = {**message, "content": parts}
        out.append(message)

    def slots(m: dict[str, Any]) -> list[int]:
        if m["role"] == "tool" or not m.get("content"):
            return []
        return [i for i, p in enumerate(m["content"]) if p["type"] == "image" and "image" not in p]

    wanted = sum(len(slots(m)) for m in out)
    if wanted != len(images):
        raise ValueError(
            f"Number of images provided ({len(images)}) does not match number of image "
            f"placeholders ({wanted})."
        )
    queue = iter(images)
    for k, m in enumerate(out):
        found = slots(m)
        if found:
            parts = list(m["content"])
            for i in found:
                parts[i] = {**parts[i], "image": next(queue)}
            out[k] = {**m, "content": parts}
    return out


def prepare_multimodal_messages_vllm(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A deep copy of `messages` with image parts as vLLM takes them (`{"type": "image_pil",
    "image_pil": IMAGE}` instead of `{"type": "image", "image": IMAGE}`)."""
    messages = copy.deepcopy(messages)
    for message in messages:
        if isinstance(message.get("content"), list):
            for part in message["content"]:
                if part.get("type") == "image":
                    part["type"] = "image_pil"
                    part["image_pil"] = part.pop("image", None)
    return messages


def common_prefix_length(ids: Sequence[Any], other_ids: Sequence[Any]) -> int:
    """How many leading items `ids` and `other_ids` share."""
    n = 0
    for a, b in zip(ids, other_ids, strict=False):
        if a != b:
            break
        n += 1
    return n


def get_dataset_column_names(dataset: Any) -> list[str]:
    """The column names of a dataset; for an IterableDataset without declared features, the
    keys of its first row (as TRL)."""
    if is_iterable_dataset(dataset):
        if is_dataset_dict(dataset):
            dataset = next(iter(dataset.values()))
        names = dataset.column_names
        return list(names) if names is not None else list(next(iter(dataset)).keys())
    if hasattr(dataset, "column_names") and not isinstance(dataset, Mapping):
        names = dataset.column_names
        return list(next(iter(names.values())) if isinstance(names, dict) else names)
    if is_dataset_dict(dataset):
        return get_dataset_column_names(next(iter(dataset.values())))
    return list(as_input(dataset).table.column_names)


# ---------------------------------------------------------------- packing and truncation


def _restore_format(result: Any, original: Any, added: Sequence[str] = ()) -> Any:
    """A `datasets.Dataset` result in the format the caller's dataset had (TRL keeps it)."""
    fmt = getattr(original, "format", None)
    if not isinstance(fmt, dict) or not hasattr(result, "set_format"):
        return result
    if fmt.get("type") is None and fmt.get("columns") is None:
        return result
    columns = fmt.get("columns")
    if columns is not None:
        columns = [c for c in columns if c in result.column_names] + [
            c for c in added if c not in columns
        ]
    result.set_format(
        type=fmt.get("type"),
        columns=columns,
        output_all_columns=fmt.get("output_all_columns", False),
        **fmt.get("format_kwargs", {}),
    )
    return result


def pack_dataset(
    dataset: Any,
    seq_length: int,
    strategy: str = "bfd",
    map_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Pack the token-id rows of a dataset into rows of at most `seq_length` tokens, with
    TRL's strategies (`strategy`: `bfd`, `bfd_split`, `wrapped`) and a `seq_lengths` column.

    Every list column as long as `input_ids` row by row is packed alongside it; other columns
    are left out, with a warning. A `datasets.Dataset` keeps its format.

    Differences from TRL: a whole dataset is packed at once (TRL packs each `map` batch of
    1,000 rows apart), so bins fill better; an IterableDataset is packed lazily batch by batch,
    as TRL; `wrapped` adds `seq_lengths` too (the pieces of each sequence in a row).

    `map_kwargs`: `datasets.map`'s keywords, as TRL takes them (`batch_size` sets the
    batches of an IterableDataset). Returns the packed rows as the input's kind.
    """
    from trlprep.columns.pack import STRATEGIES, pack_table

    if strategy not in STRATEGIES:
        raise ValueError(f"Invalid packing strategy '{strategy}', must be one of {STRATEGIES}.")
    ids = "input_ids"

    def pack(table: pa.Table) -> pa.Table:
        column = ids if ids in table.column_names else table.column_names[0]
        packed, report = pack_table(table, seq_length, strategy, ids_column=column)
        if report.dropped_columns:
            warn_user(
                "pack_dataset left out columns that are not token lists as long as "
                f"{column!r}: {', '.join(report.dropped_columns)}",
            )
        return packed

    if is_iterable_dataset(dataset):
        return map_iterable(dataset, pack, **(map_kwargs or {}))

    def one(d: Any) -> Any:
        inp = as_input(d)
        return _restore_format(inp.restore(pack(inp.table)), d, ["seq_lengths"])

    return map_splits(dataset, one)


def truncate_dataset(
    dataset: Any, max_length: int, map_kwargs: dict[str, Any] | None = None
) -> Any:
    """Every list column cut to its first `max_length` items (as TRL 1.x's
    `truncate_dataset`: token ids, masks and any other list column alike). `map_kwargs`:
    `datasets.map`'s keywords, as TRL takes them. Returns the rows as the input's kind."""
    import pyarrow.compute as pc

    if max_length < 0:
        raise UsageError("max_length must be at least 0")

    def cut(table: pa.Table) -> pa.Table:
        columns = []
        for col in table.columns:
            if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
                col = pc.list_slice(col, 0, max_length)
            columns.append(col)
        return pa.Table.from_arrays(columns, names=table.column_names)

    if is_iterable_dataset(dataset):
        return map_iterable(dataset, cut, **(map_kwargs or {}))

    def one(d: Any) -> Any:
        inp = as_input(d)
        return _restore_format(inp.restore(cut(inp.table)), d)

    return map_splits(dataset, one)


__all__ = [
    "common_prefix_length",
    "get_dataset_column_names",
    "is_conversational_from_value",
    "pack_dataset",
    "prepare_multimodal_messages",
    "prepare_multimodal_messages_vllm",
    "truncate_dataset",
]
