"""`trlprep report` reads its input once: detection, validation and the measurements share
its batches (kept: memory, then a scratch file), with the figures and the validation that
reading it three more times gave."""

from __future__ import annotations

import collections
import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import trlprep.io.readers as readers
from trlprep.datareport import report
from trlprep.datareport.validating import validation
from trlprep.io import jsonl, keptbatches
from trlprep.io.agreeing import agreeing_batches


def _rows(n: int = 60) -> list[dict]:
    """Standard preference rows with defects the validation names: an empty answer, a
    duplicate row, chosen equal to rejected; `score` a number, then text."""
    rows = [
        {"prompt": f"Question {i}?", "chosen": f"Answer {i} " * (i % 7 + 1),
         "rejected": f"No {i}.", "score": i if i < n // 2 else f"s{i}"}
        for i in range(n)
    ]  # fmt: skip
    rows[3]["chosen"] = ""
    rows[5] = dict(rows[4])
    rows[8]["rejected"] = rows[8]["chosen"]
    return rows


def _write(tmp_path, kind: str) -> str:
    rows = _rows()
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if kind == "jsonl":
        (tmp_path / "d.jsonl").write_text(text)
        return str(tmp_path / "d.jsonl")
    if kind == "json":
        (tmp_path / "d.json").write_text(json.dumps(rows, indent=1))
        return str(tmp_path / "d.json")
    if kind == "shards":
        (tmp_path / "s").mkdir()
        for i in range(3):
            part = "".join(json.dumps(r) + "\n" for r in rows[i * 20 : (i + 1) * 20])
            (tmp_path / "s" / f"train-{i}.jsonl").write_text(part)
        return str(tmp_path / "s")
    table = pa.table({k: [str(r[k]) for r in rows] for k in ("prompt", "chosen", "rejected")})
    if kind == "csv":
        pacsv.write_csv(table, tmp_path / "d.csv")
        return str(tmp_path / "d.csv")
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=16)
    return str(tmp_path / "d.parquet")


@pytest.fixture
def reads(monkeypatch):
    """How many times each file is read (a stream of its batches begun)."""
    calls: collections.Counter = collections.Counter()
    inner = readers._batches

    def counted(path, *args, **kwargs):
        calls[path] += 1
        return inner(path, *args, **kwargs)

    monkeypatch.setattr(readers, "_batches", counted)
    return calls


@pytest.mark.parametrize("kind", ["jsonl", "json", "csv", "parquet", "shards"])
def test_each_file_read_once_and_validated_as_validate_does(tmp_path, reads, kind):
    path = _write(tmp_path, kind)
    rep = report(path).to_dict()
    assert reads and set(reads.values()) == {1}, dict(reads)
    assert len(reads) == (3 if kind == "shards" else 1)
    assert rep["validation"]["issues"], "defects the comparison below can see"
    assert rep["validation"] == validation(path, path, None, None, None)  # validate_path's
    assert rep["summary"]["rows"] == 60


def test_many_chunks_spilled_report_as_one_chunk_held(tmp_path, reads, monkeypatch):
    """JSON Lines parsed in many chunks whose kinds differ (`score`), kept on disk: the
    report equals the one of a single chunk kept in memory, and the scratch file goes."""
    path = _write(tmp_path, "jsonl")
    whole = report(path).to_json()
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 600)
    monkeypatch.setattr(keptbatches, "MEMORY_BUDGET", 0)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    reads.clear()
    assert report(path).to_json() == whole
    assert reads == {path: 1}
    assert not list(scratch.iterdir())


def test_kept_batches_dropped_when_the_report_stops(tmp_path, monkeypatch):
    """Tokenized rows are refused after the read: the batches kept on disk go too."""
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps({"input_ids": [1, 2, i]}) + "\n" for i in range(50)))
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 200)
    monkeypatch.setattr(keptbatches, "MEMORY_BUDGET", 0)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    from trlprep.errors import UsageError

    with pytest.raises(UsageError, match="already tokenized"):
        report(str(path))
    assert not list(scratch.iterdir())


def test_layout_read_once_through_its_import(tmp_path, reads):
    """The first batch decides the layout; the rows are imported once, then kept."""
    rows = [
        {"conversations": [{"from": "human", "value": f"Hi {i}"},
                           {"from": "gpt", "value": f"Hello {i}"}]}
        for i in range(10)
    ]  # fmt: skip
    path = tmp_path / "sg.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rep = report(str(path)).to_dict()
    assert rep["report"]["layout"] == "sharegpt"
    assert rep["summary"]["rows"] == 10
    assert reads == {str(path): 1}
    reads.clear()
    again = report(str(path), from_="sharegpt").to_dict()  # --from sharegpt
    # read unnamed, the report names the `validate --from` whose verdict it gives
    assert rep["validation"].pop("checked_as") == "--from sharegpt"
    assert again["validation"] == rep["validation"] and reads == {str(path): 1}


def test_every_row_refused_on_import_is_no_rows():
    """Axolotl's fixture whose every conversation lacks turns: the import refuses each
    row, counted on the one pass, and the report says so (not "no rows")."""
    from trlprep.errors import DataError

    path = (
        Path(__file__).parent / "realdata" / "axolotl_fixtures" / "conversation.missingturns.json"
    )
    with pytest.raises(DataError, match="the input's only row was refused") as caught:
        report(str(path))
    assert "line 1" in str(caught.value) or "row 0" in str(caught.value)


def test_again_keep_gives_the_batches_twice(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 600)
    path = _write(tmp_path, "jsonl")
    kept = agreeing_batches(path, replayable=True)
    first = [b.data.num_rows for b in kept]
    assert len(first) > 1
    again = [(b.offset, b.data.to_pylist()) for b in kept.again(keep=True)]
    last = [(b.offset, b.data.to_pylist()) for b in kept.again()]
    assert again == last and sum(len(rows) for _, rows in last) == 60
    with pytest.raises(RuntimeError, match="not kept"):
        list(kept.again())
