"""Accept any dataset kind the Python API takes, work on Arrow, and give back the same kind.

Kinds: `datasets.Dataset`, `datasets.DatasetDict` (each split), `pyarrow.Table`,
`pyarrow.RecordBatch`, `polars.DataFrame`, a list of row dicts, a dict of columns, or a
path (read with `trlprep.readers`; results come back as a `pyarrow.Table`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from trlprep.errors import UsageError
from trlprep.readers import Source, read, table_from_records


@dataclass
class Input:
    """A dataset as Arrow plus how to turn an Arrow result back into the caller's kind."""

    source: Source
    restore: Callable[[pa.Table], Any]

    @property
    def table(self) -> pa.Table:
        return self.source.table


def is_dataset_dict(data: Any) -> bool:
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a core dependency
        return False
    return isinstance(data, (datasets.DatasetDict, datasets.IterableDatasetDict))


def as_input(data: Any, *, split: str | None = None) -> Input:
    """Wrap `data` (any supported kind, not a DatasetDict) as an `Input`."""
    if isinstance(data, (str, os.PathLike)):
        return Input(read(data, split=split), lambda t: t)
    if isinstance(data, pa.Table):
        return Input(Source(data), lambda t: t)
    if isinstance(data, pa.RecordBatch):
        return Input(Source(pa.Table.from_batches([data])), lambda t: t)
    if isinstance(data, list):
        if not all(isinstance(r, dict) for r in data):
            raise UsageError("a list dataset must hold row dicts")
        return Input(Source(table_from_records(data)), lambda t: t.to_pylist())
    if isinstance(data, dict):
        if not all(isinstance(v, list) for v in data.values()):
            raise UsageError("a dict dataset must map column names to lists of values")
        n = {len(v) for v in data.values()}
        if len(n) > 1:
            raise UsageError("all columns of a dict dataset must have the same length")
        rows = [dict(zip(data, r, strict=True)) for r in zip(*data.values(), strict=True)]
        return Input(Source(table_from_records(rows)), lambda t: t.to_pydict())
    mod = type(data).__module__.split(".")[0]
    if mod == "polars":
        import polars as pl

        if isinstance(data, pl.LazyFrame):
            data = data.collect()
        return Input(Source(data.to_arrow()), lambda t: pl.from_arrow(t))
    if mod == "datasets":
        import datasets

        from trlprep.readers import _dataset_table

        if isinstance(data, datasets.Dataset):
            return Input(Source(_dataset_table(data)), lambda t: datasets.Dataset(t))
        if isinstance(data, datasets.IterableDataset):
            raise UsageError(
                "an IterableDataset cannot be processed in place",
                hint="pass the file path instead (trlprep streams files itself)",
            )
    if mod == "pandas":
        return Input(Source(pa.Table.from_pandas(data, preserve_index=False)), lambda t: t.to_pandas())
    raise UsageError(
        f"unsupported dataset kind {type(data).__name__}",
        hint="pass a datasets.Dataset, pyarrow.Table, polars.DataFrame, list of dicts or a path",
    )


def map_splits(data: Any, fn: Callable[[Any], Any]) -> Any:
    """Apply `fn` to each split of a DatasetDict (returning the same kind), else to `data`."""
    if is_dataset_dict(data):
        out = {name: fn(ds) for name, ds in data.items()}
        import datasets

        if all(isinstance(v, datasets.Dataset) for v in out.values()):
            return datasets.DatasetDict(out)
        return out
    return fn(data)
