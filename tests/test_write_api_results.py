"""`trlprep.write` takes what the Python API's functions give back: `convert` returns the
caller's kind (rows, a dict of columns, a pandas or polars frame, a `datasets.Dataset` or
`DatasetDict`) and says "write it with trlprep.write(result, PATH)", but `write` took only
Arrow tables (an AttributeError on `.schema` for everything else). A stopped conversion told
API callers of "a rejects file" the API never writes."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

import trlprep
from trlprep.errors import UsageError

ROWS = [
    {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."},
    {"prompt": "Water is", "chosen": " wet.", "rejected": " dry."},
]
EXPECTED = [
    {"prompt": "The sky is", "completion": " blue.", "label": True},
    {"prompt": "The sky is", "completion": " green.", "label": False},
    {"prompt": "Water is", "completion": " wet.", "label": True},
    {"prompt": "Water is", "completion": " dry.", "label": False},
]


def _kinds():
    yield "rows", list(ROWS)
    yield "columns", {k: [r[k] for r in ROWS] for k in ROWS[0]}
    yield "arrow", pa.Table.from_pylist(ROWS)
    pd = pytest.importorskip("pandas")
    yield "pandas", pd.DataFrame(ROWS)
    pl = pytest.importorskip("polars")
    yield "polars", pl.DataFrame(ROWS)
    datasets = pytest.importorskip("datasets")
    yield "dataset", datasets.Dataset.from_list(ROWS)


def _rows(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_every_kind_convert_returns_is_written(tmp_path):
    for name, data in _kinds():
        out = trlprep.convert(data, "unpaired")
        path = tmp_path / f"{name}.jsonl"
        assert trlprep.write(out, path) == "jsonl"
        assert _rows(path) == EXPECTED, name


def test_conversational_rows_keep_their_string_contents(tmp_path):
    rows = [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    ]
    trlprep.write(trlprep.convert(rows, "pc"), tmp_path / "o.jsonl")
    assert _rows(tmp_path / "o.jsonl") == [
        {
            "prompt": [{"role": "user", "content": "hi"}],
            "completion": [{"role": "assistant", "content": "yo"}],
        }
    ]


def test_a_dataset_dict_is_written_split_by_split(tmp_path):
    datasets = pytest.importorskip("datasets")
    dd = datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(ROWS), "test": datasets.Dataset.from_list(ROWS[:1])}
    )
    out = trlprep.convert(dd, "unpaired")
    assert trlprep.write(out, f"{tmp_path}/shards/") == "parquet"
    names = sorted(p.name for p in (tmp_path / "shards").iterdir())
    assert names == ["test-00000-of-00001.parquet", "train-00000-of-00001.parquet"]
    assert trlprep.read(tmp_path / "shards", split="test").table.num_rows == 2


def test_something_else_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="unsupported dataset kind int"):
        trlprep.write(42, tmp_path / "o.jsonl")
    assert not (tmp_path / "o.jsonl").exists()


def test_a_stopped_conversion_says_what_the_api_does_not_a_rejects_file():
    rows = [{"prompt": "a", "completion": "x"}, {"prompt": "b", "completion": None}]
    with pytest.raises(trlprep.DataError) as info:
        trlprep.convert(rows, "lm")
    hint = info.value.hint
    assert "rejects file" not in hint and "nothing was written" not in hint
    assert hint == (
        "fix the rows, or pass on_error='skip' to get the other rows back (these are in the "
        "RejectedRowsWarning's .rejects table)"
    )
    with pytest.warns(trlprep.RejectedRowsWarning) as caught:
        back = trlprep.convert(rows, "lm", on_error="skip")
    assert back == [{"text": "ax"}]
    assert caught[0].message.rejects.num_rows == 1
