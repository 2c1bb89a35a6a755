"""Accept any dataset kind the Python API takes, work on Arrow, and give back the same kind.

Kinds: `datasets.Dataset` (a filtered or selected view included), `datasets.DatasetDict`
(each split, through `map_splits`), `datasets.IterableDataset` (read whole, as a
RecordBatchReader is; an IterableDataset comes back), `pyarrow.Table`, `pyarrow.RecordBatch`,
`polars.DataFrame`/`LazyFrame`, `pandas.DataFrame`, a list of row dicts, a dict of columns
or one example as a dict (`trlprep.io.dictinput`: given back as a dict), any object
exporting an Arrow stream, or a path (read with `trlprep.io.readers`; results come back as
a `pyarrow.Table`). Row dicts come back with every column and message field present
(null where a row had none), as Arrow stores them. Columns of `datasets`' `Json` type are
decoded on the way in (`trlprep.io.jsonext`); a Dataset that had `Json` features gets its
values of several kinds (and tool-call arguments) back as `Json`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from trlprep.columns.arrowtypes import is_json_field
from trlprep.columns.textparts import has_marks, restored, table_without_marks
from trlprep.errors import UsageError
from trlprep.io.dictinput import EXAMPLE, dict_kind, example_back
from trlprep.io.inputfiles import given_paths
from trlprep.io.jsonargs import decoded, has_tagged_arguments
from trlprep.io.jsonencode import has_struct
from trlprep.io.jsonext import at_entry, has_json_features, with_json_types
from trlprep.io.jsontext import (
    TOOLS,
    column_from_values,
    decode_json_texts,
    tools_names,
)
from trlprep.io.readers import Source, dataset_table, read, table_from_columns, table_from_records

_KINDS_HINT = (
    "pass a datasets.Dataset, pyarrow.Table, polars.DataFrame, pandas.DataFrame, "
    "a list of row dicts, a dict of columns, one example as a dict, a path or a list of paths"
)


@dataclass
class Input:
    """A dataset as Arrow plus how to turn an Arrow result back into the caller's kind."""

    source: Source
    restore: Callable[[pa.Table], Any]
    values_back: bool = False  # `restore` gives tagged JSON text back as the values it holds

    @property
    def table(self) -> pa.Table:
        return self.source.table


def _module(data: Any) -> str:
    return type(data).__module__.split(".")[0]


def is_dataset_dict(data: Any) -> bool:
    """True for a `datasets.DatasetDict` or `IterableDatasetDict` (without importing datasets)."""
    if _module(data) != "datasets":
        return False
    import datasets

    return isinstance(data, (datasets.DatasetDict, datasets.IterableDatasetDict))


def as_given(data: Any) -> Any:
    """`data` as a public function reads it: a list of paths as one dataset of those files
    (`trlprep.Inputs`), a RecordBatchReader read into a table (a stream is read once, and a
    function may look at its input before it works on it: `maybe_extract_prompt`), anything
    else as it is."""
    data = given_paths(data)
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    return data


def as_input(data: Any, *, split: str | None = None, input_format: str | None = None) -> Input:
    """Wrap `data` (any supported kind) as an `Input`.

    A `DatasetDict` needs `split`; use `map_splits` to process every split. A list of
    paths is one dataset of those files (`trlprep.Inputs`).
    """
    data = given_paths(data)
    if isinstance(data, (str, os.PathLike)):
        return Input(read(data, split=split, input_format=input_format), _identity)
    if isinstance(data, Source):  # a table already read, with its path and file lines
        return Input(data, _identity)
    inp = _input(data, split)
    before = inp.source.table.schema
    inp.source.table = at_entry(inp.source.table)  # datasets' `Json` values, `tools` structs
    settled = {
        f.name: f.type
        for f in before
        if f.name in tools_names() and not is_json_field(f) and has_struct(f.type)
        and is_json_field(inp.source.table.schema.field(f.name))
    }  # fmt: skip
    if settled:
        inp.restore = _tools_typed_back(inp.restore, settled)
    return inp


def _tools_typed_back(
    restore: Callable[[pa.Table], Any], types: dict[str, pa.DataType]
) -> Callable[[pa.Table], Any]:
    """`restore` giving a `tools` column the caller passed as structs (`types`: its type by
    column) back as structs: same kind out as in (Arrow gives every row's schemas the keys
    of all rows again, null where a row has none)."""

    def back(t: pa.Table) -> Any:
        for given, typ in types.items():
            # a column renamed onto `tools` (`map={"tools": given}`) comes back as `tools`
            name = given if given in t.column_names else TOOLS
            if name not in t.column_names or not is_json_field(t.schema.field(name)):
                continue
            decoded = decode_json_texts(name, t.column(name), python_literals=False)
            if decoded is None:
                continue
            field, values = decoded
            try:
                typed = values.cast(typ)
                # a cast onto other keys gives nulls (legacy `functions` made `tools` wraps
                # each schema): only a cast that loses no value types them back
                if typed.cast(values.type).equals(values):
                    values, field = typed, pa.field(name, typ)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                pass  # the rows left hold fewer keys: typed as they are
            t = t.set_column(t.column_names.index(name), field, values)
        return restore(t)

    return back


def _input(data: Any, split: str | None) -> Input:
    mod = _module(data)
    if mod == "datasets":  # before dict: a DatasetDict is a dict
        return _datasets_input(data, split)
    if isinstance(data, pa.Table):
        return Input(Source(data), _identity)
    if isinstance(data, pa.RecordBatch):
        return Input(Source(pa.Table.from_batches([data])), _to_record_batch)
    if isinstance(data, list):
        if not all(isinstance(r, dict) for r in data):
            raise UsageError("a list dataset must hold row dicts", hint=_KINDS_HINT)
        rows = Source(table_from_records(data))
        return Input(rows, lambda t: _py_columns(t, rows=True), values_back=True)
    if isinstance(data, dict):
        if dict_kind(data) == EXAMPLE:  # `{"prompt": ..., "completion": ...}`: one example
            row = Source(table_from_records([data]))
            return Input(row, lambda t: example_back(_py_columns(t, rows=True)), values_back=True)
        columns = Source(table_from_columns(data))
        return Input(columns, lambda t: _py_columns(t, rows=False), values_back=True)
    if mod == "polars":
        return _polars_input(data)
    if mod == "pandas":
        return _pandas_input(data)
    if hasattr(data, "__arrow_c_stream__"):  # duckdb, pyarrow datasets, ...
        return Input(Source(pa.table(data)), _identity)
    raise UsageError(f"unsupported dataset kind {type(data).__name__}", hint=_KINDS_HINT)


def _identity(t: pa.Table) -> pa.Table:
    return table_without_marks(t)  # typed: every content of mixed kinds a list of parts


def _to_record_batch(t: pa.Table) -> pa.RecordBatch:
    t = table_without_marks(t)
    return pa.RecordBatch.from_arrays([c.combine_chunks() for c in t.columns], schema=t.schema)


def _py_columns(t: pa.Table, *, rows: bool) -> list[dict] | dict[str, list]:
    """Python rows or columns; tagged JSON-text columns give back the values they hold."""
    cols = {}
    for field, col in zip(t.schema, t.columns, strict=True):
        values = col.to_pylist()
        if is_json_field(field):
            values = [None if v is None else json.loads(v) for v in values]
        elif has_tagged_arguments(field.type):  # tool-call arguments: the user's values
            values = [decoded(v) for v in values]
        if has_marks(field.type):  # contents of mixed kinds: each as the user gave it
            values = [restored(v) for v in values]
        cols[field.name] = values
    if not rows:
        return cols
    names = list(cols)
    return (
        [dict(zip(names, r, strict=True)) for r in zip(*cols.values(), strict=True)]
        if (names)
        else [{} for _ in range(t.num_rows)]
    )


def _datasets_input(data: Any, split: str | None) -> Input:
    import datasets

    from trlprep.io.diskwriter import to_dataset

    if isinstance(data, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        data = pick_split(data, split)
    if isinstance(data, datasets.IterableDataset):
        return _iterable_input(data)
    if isinstance(data, datasets.Dataset):
        name = str(data.split) if data.split is not None else None
        features = data.features
        json_values = has_json_features(features)

        def restore(t: pa.Table) -> Any:
            if json_values:  # values of several kinds given as `Json`: given back as `Json`
                t = with_json_types(t)
            return _with_features(to_dataset(t, split=name), features)

        return Input(Source(dataset_table(data)), restore, values_back=json_values)
    raise UsageError(f"unsupported dataset kind datasets.{type(data).__name__}", hint=_KINDS_HINT)


def _iterable_input(data: Any) -> Input:
    """A `datasets.IterableDataset` read whole, as a RecordBatchReader is (in Arrow batches,
    no per-row Python), given back as an IterableDataset over the result's rows."""
    from trlprep.io.diskwriter import to_dataset

    batches = [t for t in data.with_format("arrow").iter(batch_size=_STREAM_BATCH) if t.num_rows]
    if batches:
        table = pa.concat_tables(batches, promote_options="permissive")
    else:  # nothing to read: the declared columns, if any
        features = data.features
        table = features.arrow_schema.empty_table() if features is not None else pa.table({})
    table = table.replace_schema_metadata(None)  # the features are read off the data again
    features = data.features
    json_values = features is not None and has_json_features(features)

    def restore(t: pa.Table) -> Any:
        if json_values:
            t = with_json_types(t)
        ds = to_dataset(t)
        return (ds if features is None else _with_features(ds, features)).to_iterable_dataset()

    return Input(Source(table), restore, values_back=json_values)


# rows per Arrow batch taken from an IterableDataset (its own shards may be smaller)
_STREAM_BATCH = 10_000


def _polars_input(data: Any) -> Input:
    import polars as pl

    if isinstance(data, pl.LazyFrame):
        return Input(
            Source(data.collect().to_arrow()),
            lambda t: pl.from_arrow(table_without_marks(t)).lazy(),
        )
    if isinstance(data, pl.DataFrame):
        return Input(Source(data.to_arrow()), lambda t: pl.from_arrow(table_without_marks(t)))
    raise UsageError(f"unsupported dataset kind polars.{type(data).__name__}", hint=_KINDS_HINT)


def _pandas_input(data: Any) -> Input:
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise UsageError(f"unsupported dataset kind pandas.{type(data).__name__}", hint=_KINDS_HINT)
    try:
        table = pa.Table.from_pandas(data, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # a column mixing kinds (strings and message lists): tag it like the readers do
        table = table_from_columns({str(c): data[c].tolist() for c in data.columns})
    for name in tools_names() & set(table.column_names):
        if is_json_field(table.schema.field(name)):
            continue
        # Arrow gave every row's schemas every key of all rows: each row's own, as read
        field, arr = column_from_values(name, data[name].tolist())
        table = table.set_column(table.column_names.index(name), field, arr)
    return Input(Source(table), _to_pandas)


def _to_pandas(t: pa.Table) -> Any:
    """A DataFrame whose nested cells are Python lists and dicts, as a DataFrame built from
    records holds them (Arrow's `to_pandas` gives numpy arrays, which json cannot write)."""
    import pandas as pd

    nested = [f.name for f in t.schema if pa.types.is_nested(f.type) or is_json_field(f)]
    df = t.drop_columns(nested).to_pandas()
    if not nested:
        return df
    py = _py_columns(t.select(nested), rows=False)
    for name in nested:
        df[name] = pd.Series(py[name], dtype=object)
    return df[t.column_names]


def _with_features(ds: Any, features: Any) -> Any:
    """`ds` with the input's features (ClassLabel, ...) back on the columns that kept their
    Arrow type (a conversion hands the extra columns on unchanged)."""
    same = {
        name: feature
        for name, feature in features.items()
        if name in ds.features and ds.features[name] != feature
        and ds.data.schema.field(name).type == features.arrow_schema.field(name).type
    }  # fmt: skip
    if not same:
        return ds
    import datasets

    cast = ds.features.copy()
    cast.update(same)  # the same Arrow types: the features only (no pass over the rows)
    info = datasets.DatasetInfo(features=cast, description=ds.info.description)
    return datasets.Dataset(ds.data, info=info, split=ds.split)


def pick_split(data: Any, split: str | None) -> Any:
    """The split `split` of a DatasetDict; none named: its only split, else `train` (the rule
    of `save_to_disk` folders, `datasetfolders.default_split_name`); several and no `train`,
    or a split it lacks, is a UsageError listing them."""
    from trlprep.io.datasetfolders import pick_split as pick

    return pick(data, split, "the DatasetDict", flag="split=NAME")


def map_splits(data: Any, fn: Callable[[Any], Any], split: str | None = None) -> Any:
    """Apply `fn` to each split of a DatasetDict (returning the same kind), or to the split
    `split` only (returning its result); else to `data`."""
    if is_dataset_dict(data) and split is not None:
        return fn(pick_split(data, split))
    if is_dataset_dict(data):
        import datasets

        out = {name: fn(ds) for name, ds in data.items()}
        if all(isinstance(v, datasets.Dataset) for v in out.values()):
            return datasets.DatasetDict(out)
        if all(isinstance(v, datasets.IterableDataset) for v in out.values()):
            return datasets.IterableDatasetDict(out)
        return out
    return fn(data)
