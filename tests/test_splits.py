"""Inputs of several splits: a `DatasetDict.save_to_disk` folder, a Hub-style folder of
`train`/`test` files, a `datasets.DatasetDict`. `--split NAME` (`split=` in Python) picks
one; without it the only split, else `train` is read and the log says so; several splits
and no `train` is a usage error listing them (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import trlprep
from trlprep.cli import app
from trlprep.errors import UsageError

datasets = pytest.importorskip("datasets")

TRAIN = [
    {"prompt": "The sky is", "completion": " blue."},
    {"prompt": "Grass is", "completion": " green."},
    {"prompt": "The sun is", "completion": " yellow."},
]
TEST = [{"prompt": "Snow is", "completion": " white."}]


def _splits(folder: Path, kind: str, names: tuple[str, str] = ("train", "test")) -> Path:
    """TRAIN and TEST under the split `names`, as a save_to_disk folder or Hub-style files."""
    parts = dict(zip(names, (TRAIN, TEST), strict=True))
    if kind == "disk":
        dd = datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in parts.items()})
        dd.save_to_disk(str(folder))
        return folder
    (folder / "data").mkdir(parents=True)
    for name, rows in parts.items():
        pq.write_table(
            pa.Table.from_pylist(rows), folder / "data" / f"{name}-00000-of-00001.parquet"
        )
    return folder


def _cli(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def _note(path: Path, names: str) -> str:
    return f"note: {path} holds the splits {names}: reading 'train' (--split NAME reads another)"


@pytest.mark.parametrize("kind", ["disk", "hub"])
def test_commands_say_which_split_they_read_and_take_split(tmp_path, kind):
    src = _splits(tmp_path / "in", kind)
    names = "train, test" if kind == "disk" else "test, train"  # the folder's own order
    for command in ("detect", "validate"):
        res = _cli(command, src)
        assert res.exit_code == 0, res.output
        assert _note(src, names) in res.output
        assert "3 rows" in res.output or "rows           3" in " ".join(res.output.split())
        res = _cli(command, src, "--split", "test")
        assert res.exit_code == 0 and "holds the splits" not in res.output
    out = tmp_path / "o.jsonl"
    res = _cli("convert", src, "--to", "lm", "-o", out)
    assert res.exit_code == 0 and _note(src, names) in res.output
    assert len(out.read_text().splitlines()) == len(TRAIN)
    res = _cli("convert", src, "--to", "lm", "-o", out, "--overwrite", "--split", "test")
    assert res.exit_code == 0, res.output
    assert [json.loads(x)["text"] for x in out.read_text().splitlines()] == ["Snow is white."]


@pytest.mark.parametrize("kind", ["disk", "hub"])
def test_several_splits_without_train_are_a_usage_error_listing_them(tmp_path, kind):
    src = _splits(tmp_path / "in", kind, ("validation", "test"))
    for args in (["detect"], ["validate"], ["convert", "--to", "lm", "-o", tmp_path / "o.jsonl"]):
        res = _cli(args[0], src, *args[1:])
        assert res.exit_code == 2, res.output
        assert "validation" in res.output and "test" in res.output and "--split" in res.output
    res = _cli("validate", src, "--split", "validation")
    assert res.exit_code == 0 and "3 rows" in res.output


def test_python_api_takes_split_of_a_dataset_dict():
    dd = datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(TRAIN), "test": datasets.Dataset.from_list(TEST)}
    )
    assert set(trlprep.detect(dd)) == {"train", "test"}  # every split, by name
    assert trlprep.detect(dd, split="test").num_rows == 1
    assert trlprep.validate(dd, split="test").num_rows == 1
    out = trlprep.convert(dd, "lm", split="test")
    assert isinstance(out, datasets.Dataset) and out["text"] == ["Snow is white."]
    with pytest.raises(UsageError, match="no split 'valid'") as e:
        trlprep.convert(dd, "lm", split="valid")
    assert e.value.hint == "available: train, test"


def test_train_data_of_a_folder_says_the_split_read(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from train_support import make_tokenizer
    from trlprep.trainers.algorithms import get_algorithm
    from trlprep.trainers.data import prepare

    src = _splits(tmp_path / "in", "disk")
    a, tok, logs = get_algorithm("sft"), make_tokenizer(), []

    def prep(**kw):
        logs.clear()
        kw = dict(max_length=64, algo="sft", options=a.make_options({}), log=logs.append, **kw)
        return prepare(str(src), a.layout, a.accepts, tok, **kw)

    assert len(prep().rows["ids"]) == 3
    assert f"data: {_note(src, 'train, test')}" in logs
    assert len(prep(split="test").rows["ids"]) == 1
    assert not [x for x in logs if "holds the splits" in x]
    prep(training=False)
    assert logs[0].endswith("(--eval-split NAME reads another)")


@pytest.mark.parametrize("kind", ["disk", "hub"])
def test_python_api_on_a_folder_of_splits_says_which_it_read(tmp_path, kind):
    """From Python, a folder of several splits read as its `train` split says so, as the CLI
    does: in the detection's and the report's notes, and as a warning of convert."""
    src = _splits(tmp_path / "in", kind)
    note = "holds the splits"
    said = "reading 'train' (split='NAME' reads another)"
    det = trlprep.detect(src)
    assert det.num_rows == len(TRAIN) and any(note in n and said in n for n in det.notes)
    report = trlprep.validate(src)
    assert report.num_rows == len(TRAIN) and any(note in n for n in report.notes)
    with pytest.warns(UserWarning, match=note):
        out = trlprep.convert(src, to="lm")
    assert out.num_rows == len(TRAIN)
    assert not any(note in n for n in trlprep.detect(src, split="test").notes)
    assert not any(note in n for n in trlprep.validate(src, split="test").notes)
