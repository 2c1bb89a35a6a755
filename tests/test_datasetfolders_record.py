"""The tokenisation record a `datasets.Dataset` keeps in its `DatasetInfo.description`
(`io.datasetfolders`) is read back for the rows it was written for and their subsets, not
for a dataset that `concatenate_datasets` merged with rows never tokenised by trlprep."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

datasets = pytest.importorskip("datasets")

from trlprep.io.datasetfolders import META_KEY, dataset_table  # noqa: E402
from trlprep.io.diskwriter import to_dataset  # noqa: E402

RECORD = {"tokenize": {"version": 1, "type": "language-modeling", "max_length": 4}}


def _tokenised(n: int) -> pa.Table:
    table = pa.table({"text": [f"t{i}" for i in range(n)], "input_ids": [[i, 1] for i in range(n)]})
    return table.replace_schema_metadata({META_KEY: json.dumps(RECORD).encode()})


def _record(ds) -> dict | None:
    raw = (dataset_table(ds).schema.metadata or {}).get(META_KEY)
    return None if raw is None else json.loads(raw)


def test_a_record_is_not_read_for_rows_merged_in_by_concatenate_datasets(tmp_path):
    ds = to_dataset(_tokenised(4))
    assert _record(ds) == RECORD
    plain = datasets.Dataset.from_list(
        [{"text": "other", "input_ids": [7, 7, 7, 7, 7]}], features=ds.features
    )  # ids made elsewhere, cut otherwise
    merged = datasets.concatenate_datasets([ds, plain])
    assert merged.info.description == ds.info.description  # datasets keeps it
    assert _record(merged) is None  # was RECORD: claimed for the plain row too
    assert _record(datasets.concatenate_datasets([plain, ds])) is None
    assert _record(datasets.concatenate_datasets([ds, ds])) is None
    for subset in (ds.select([2, 0]), ds.filter(lambda r: r["text"] != "t1"),
                   ds.train_test_split(test_size=0.5, seed=0)["test"]):  # fmt: skip
        assert _record(subset) == RECORD
        subset.save_to_disk(str(tmp_path / "s"))
        assert _record(datasets.load_from_disk(str(tmp_path / "s"))) == RECORD
    ds.save_to_disk(str(tmp_path / "whole"))
    assert _record(datasets.load_from_disk(str(tmp_path / "whole"))) == RECORD


def test_a_description_written_before_row_counts_still_reads():
    table = _tokenised(3)
    old = json.dumps({"trlprep": RECORD})  # no "rows": what earlier versions wrote
    ds = datasets.Dataset(table.replace_schema_metadata(None),
                          info=datasets.DatasetInfo(description=old))  # fmt: skip
    assert _record(ds) == RECORD
