"""The Python API's dataset kinds: each goes to Arrow and comes back as the same kind."""

from __future__ import annotations

import datasets
import polars as pl
import pyarrow as pa
import pytest

import trlprep
from trlprep.columns.arrowtypes import ValueKind, value_kind
from trlprep.errors import UsageError
from trlprep.io.adapters import as_input, is_dataset_dict, map_splits


def _m(role, content):
    return {"role": role, "content": content}


ROWS = [
    {
        "prompt": [_m("user", "What color is the sky?")],
        "chosen": [_m("assistant", "It is blue.")],
        "rejected": [_m("assistant", "It is green.")],
        "score": 1.0,
    },
    {
        "prompt": [_m("system", "Be brief."), _m("user", "Où est le soleil ?")],
        "chosen": [_m("assistant", "Au centre.")],
        "rejected": [_m("assistant", "Dans la mer.")],
        "score": None,
    },
    {
        "prompt": [_m("user", "2 + 2?")],
        "chosen": [_m("assistant", "4")],
        "rejected": [_m("assistant", "5")],
        "score": 0.25,
    },
]
COLUMNS = {k: [r[k] for r in ROWS] for k in ROWS[0]}


def _table() -> pa.Table:
    return pa.Table.from_pylist(ROWS)


def _round_trip(data):
    inp = as_input(data)
    assert inp.table.to_pylist() == ROWS
    return inp.restore(inp.table)


def test_pyarrow_table_and_record_batch():
    t = _table()
    back = _round_trip(t)
    assert isinstance(back, pa.Table) and back.equals(t)
    rb = t.to_batches()[0]
    back = _round_trip(rb)
    assert isinstance(back, pa.RecordBatch) and back.equals(rb)


def test_list_of_dicts_and_dict_of_columns():
    assert _round_trip([dict(r) for r in ROWS]) == ROWS
    assert _round_trip({k: list(v) for k, v in COLUMNS.items()}) == COLUMNS


def test_polars_dataframe_and_lazyframe():
    df = pl.DataFrame(ROWS)
    back = _round_trip(df)
    assert isinstance(back, pl.DataFrame) and back.equals(df)
    back = _round_trip(df.lazy())
    assert isinstance(back, pl.LazyFrame) and back.collect().equals(df)


def test_pandas_dataframe():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(ROWS)
    back = _round_trip(df)
    assert isinstance(back, pd.DataFrame)
    assert list(back.columns) == list(df.columns)
    assert (
        back["prompt"].map(list).map(lambda ms: [dict(m) for m in ms]).tolist() == COLUMNS["prompt"]
    )
    assert back["score"].isna().tolist() == [False, True, False]


def test_pandas_column_of_mixed_kinds_is_tagged():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"prompt": ["plain", [_m("user", "Hi")]]})
    inp = as_input(df)
    assert value_kind(inp.table.schema.field("prompt")) is ValueKind.MIXED


def test_datasets_dataset_keeps_kind_split_and_features():
    ds = datasets.Dataset.from_list(ROWS, split="train")
    back = _round_trip(ds)
    assert isinstance(back, datasets.Dataset)
    assert back.to_list() == ROWS
    assert back.features == ds.features
    assert str(back.split) == "train"


@pytest.mark.parametrize("view", ["filter", "select", "shuffle"])
def test_datasets_views_with_an_indices_mapping(view):
    ds = datasets.Dataset.from_list(ROWS * 2)
    if view == "filter":
        sub = ds.filter(lambda r: r["score"] is not None)
        expected = [r for r in ROWS * 2 if r["score"] is not None]
    elif view == "select":
        sub = ds.select([4, 0])
        expected = [(ROWS * 2)[4], ROWS[0]]
    else:
        sub = ds.shuffle(seed=0)
        expected = sub.to_list()
    assert sub._indices is not None
    inp = as_input(sub)
    assert inp.table.to_pylist() == expected
    assert inp.restore(inp.table).to_list() == expected


def test_dataset_dict_each_split():
    dd = datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(ROWS), "test": datasets.Dataset.from_list(ROWS[:1])}
    )
    assert is_dataset_dict(dd) and not is_dataset_dict(dd["train"])
    out = map_splits(dd, lambda d: as_input(d).restore(as_input(d).table.slice(0, 1)))
    assert isinstance(out, datasets.DatasetDict)
    assert {k: v.num_rows for k, v in out.items()} == {"train": 1, "test": 1}
    sizes = map_splits(dd, lambda d: as_input(d).table.num_rows)
    assert sizes == {"train": 3, "test": 1}
    assert as_input(dd, split="test").table.num_rows == 1
    assert as_input(dd).table.num_rows == 3  # `train`, as its save_to_disk folder reads
    other = datasets.DatasetDict({"valid": dd["train"], "test": dd["test"]})
    with pytest.raises(UsageError, match=r"several splits \(valid, test\)") as e:
        as_input(other)
    assert "split=NAME" in e.value.hint
    with pytest.raises(UsageError, match="no split 'valid'"):
        as_input(dd, split="valid")


def test_path_and_arrow_stream_objects(tmp_path):
    path = tmp_path / "d.parquet"
    import pyarrow.parquet as pq

    pq.write_table(_table(), path)
    for p in (path, str(path)):
        back = _round_trip(p)
        assert isinstance(back, pa.Table)
    reader = pa.RecordBatchReader.from_batches(_table().schema, _table().to_batches())
    assert isinstance(_round_trip(reader), pa.Table)


def test_mixed_rows_come_back_as_given():
    rows = [{"prompt": "plain"}, {"prompt": [_m("user", "Hi")]}, {"prompt": None}]
    inp = as_input(rows)
    assert value_kind(inp.table.schema.field("prompt")) is ValueKind.MIXED
    assert inp.restore(inp.table) == rows
    cols = {"prompt": [r["prompt"] for r in rows]}
    assert as_input(cols).restore(as_input(cols).table) == cols


def test_a_dict_of_scalars_is_one_example_given_back_as_one():
    inp = as_input({"a": 1})
    assert inp.table.num_rows == 1 and inp.restore(inp.table) == {"a": 1}


@pytest.mark.parametrize(
    "data, message",
    [
        ([1, 2], "row dicts"),
        ({"a": [1, 2], "b": [1]}, "different lengths"),
        (object(), "unsupported dataset kind object"),
        (pl.Series([1]), "unsupported dataset kind polars.Series"),
    ],
)
def test_unsupported_inputs(data, message):
    with pytest.raises(trlprep.TrlprepError, match=message):
        as_input(data)


def test_an_iterable_dataset_is_read_whole_and_comes_back_as_one():
    ds = datasets.Dataset.from_list(ROWS)
    inp = as_input(ds.to_iterable_dataset())
    assert inp.table.to_pylist() == ds.to_list()
    back = inp.restore(inp.table)
    assert isinstance(back, datasets.IterableDataset)
    assert list(back) == ds.to_list() and back.features == ds.features


@pytest.mark.parametrize(
    "make",
    [
        lambda: ROWS,
        lambda: COLUMNS,
        lambda: pa.Table.from_pylist(ROWS),
        lambda: pl.DataFrame(ROWS),
        lambda: datasets.Dataset.from_list(ROWS),
    ],
    ids=["rows", "columns", "arrow", "polars", "dataset"],
)
def test_detect_accepts_every_kind(make):
    det = trlprep.detect(make())
    assert (det.type.name, det.format.value, det.num_rows) == ("preference", "conversational", 3)


def test_pandas_results_hold_python_lists_as_records_do():
    """Arrow's to_pandas gives numpy arrays in nested cells, which `json.dumps` refuses."""
    import json

    pd = pytest.importorskip("pandas")
    from trlprep.api import convert

    messages = [{"role": "user", "content": "Hi"}]
    df = pd.DataFrame([{"prompt": messages, "completion": [{"role": "assistant", "content": "Yo"}],
                        "tags": ["a", "b"], "n": 3}])  # fmt: skip
    out = convert(df, "prompt-completion")
    assert type(out["prompt"].iloc[0]) is list and out["prompt"].iloc[0] == messages
    assert list(out.columns) == ["prompt", "completion", "tags", "n"]
    assert json.loads(json.dumps(out.to_dict("records")))[0]["tags"] == ["a", "b"]


def test_dataset_features_of_carried_columns_come_back():
    datasets = pytest.importorskip("datasets")
    from trlprep.api import convert

    features = datasets.Features({name: datasets.Value("string") for name in
                                  ("prompt", "chosen", "rejected")})  # fmt: skip
    features["level"] = datasets.ClassLabel(names=["easy", "hard"])
    row = {"prompt": "The sky is", "chosen": " blue.", "rejected": " green.", "level": 1}
    ds = datasets.Dataset.from_list([row], features=features, split="train")
    out = convert(ds, "unpaired-preference")
    assert out.features["level"] == features["level"] and out.split == "train"
    assert out["level"] == [1, 1]
