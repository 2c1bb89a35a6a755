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
    names = "train, test"  # the folder's own order; files' splits in `datasets`' order
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


def _shards(folder: Path, splits: dict[str, int]) -> Path:
    """Hub shards `{split}-00000-of-00001.parquet` in `folder`, `n` rows of each split
    (each row's prompt names its split)."""
    folder.mkdir(parents=True)
    for name, n in splits.items():
        rows = [{"prompt": f"{name} {i}", "completion": " c"} for i in range(n)]
        pq.write_table(pa.Table.from_pylist(rows), folder / f"{name}-00000-of-00001.parquet")
    return folder


def _prompts(out: Path) -> list[str]:
    return [json.loads(x)["text"].removesuffix(" c") for x in out.read_text().splitlines()]


def test_a_shard_of_any_split_name_is_its_own_split_never_read_with_another(tmp_path):
    """`foo-00000-of-00001.parquet` beside `test-00000-of-00001.parquet`: two splits (foo was
    read with test before, as one dataset); neither is train, so none is read unnamed."""
    src = _shards(tmp_path / "in", {"foo": 3, "test": 2})
    for args in (["detect"], ["validate"], ["convert", "--to", "lm", "-o", tmp_path / "x.jsonl"]):
        res = _cli(args[0], src, *args[1:])
        assert res.exit_code == 2, res.output
        assert f"{src} holds the splits test, foo" in res.output and "--split" in res.output
    out = tmp_path / "o.jsonl"
    for split, n in (("foo", 3), ("test", 2)):
        res = _cli("convert", src, "--to", "lm", "--split", split, "-o", out, "--overwrite")
        assert res.exit_code == 0, res.output
        assert _prompts(out) == [f"{split} {i}" for i in range(n)]
    res = _cli("detect", src, "--split", "bar")
    assert res.exit_code == 2 and "splits there: test, foo" in res.output


def test_hub_split_names_read_as_datasets_names_them(tmp_path):
    """UltraFeedback-binarized-like shards: `train_prefs` is no `train` (the two were read as
    one `train` before, and `--split train_prefs` found no file)."""
    src = _shards(tmp_path / "in" / "data", {"train_prefs": 3, "test_prefs": 2, "train_sft": 4})
    src = src.parent
    res = _cli("detect", src)
    assert res.exit_code == 2, res.output
    assert "holds the splits test_prefs, train_prefs, train_sft" in res.output
    out = tmp_path / "o.jsonl"
    res = _cli("convert", src, "--to", "lm", "--split", "train_prefs", "-o", out)
    assert res.exit_code == 0, res.output
    assert _prompts(out) == ["train_prefs 0", "train_prefs 1", "train_prefs 2"]
    res = _cli("detect", src, "--split", "train")
    assert res.exit_code == 2 and "no file names carry the split 'train'" in res.output
    from trlprep.datareport.splits import split_names

    assert split_names(str(src)) == ["test_prefs", "train_prefs", "train_sft"]


def test_train_beside_another_split_reads_train_naming_the_others(tmp_path):
    src = _shards(tmp_path / "in", {"foo": 3, "train": 2, "validation": 1})
    out = tmp_path / "o.jsonl"
    res = _cli("convert", src, "--to", "lm", "-o", out)
    assert res.exit_code == 0, res.output
    assert _prompts(out) == ["train 0", "train 1"]
    assert _note(src, "train, validation, foo") in res.output
    from trlprep.datareport.splits import split_names

    assert split_names(str(src)) == ["train", "validation", "foo"]


def test_files_of_no_split_beside_a_split_are_left_out_and_said(tmp_path):
    """As `datasets` reads a folder: `train.jsonl` is the split, `extra.jsonl` is left out (it
    was read with train, unsaid); named as paths, both are read."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TRAIN))
    (src / "extra.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TEST))
    note = (
        f"note: {src}: reading 1 data file; left out a file whose name carries no split "
        "beside files that do (extra.jsonl: name it as a path to read it)"
    )
    out = tmp_path / "o.jsonl"
    res = _cli("convert", src, "--to", "lm", "-o", out)
    assert res.exit_code == 0, res.output
    assert " ".join(note.split()) in " ".join(res.output.split())
    assert len(out.read_text().splitlines()) == len(TRAIN)
    res = _cli("detect", src)
    assert res.exit_code == 0 and "left out a file whose name carries no split" in res.output
    det = trlprep.detect(str(src))
    assert det.num_rows == len(TRAIN) and any("extra.jsonl: name it" in n for n in det.notes)
    res = _cli("convert", src / "train.jsonl", src / "extra.jsonl", "--to", "lm", "-o", out,
               "--overwrite")  # fmt: skip
    assert res.exit_code == 0 and "left out" not in res.output, res.output
    assert len(out.read_text().splitlines()) == len(TRAIN) + len(TEST)
    (src / "test.jsonl").write_text((src / "extra.jsonl").read_text())  # the files read: said
    said = f"note: {src}: reading 1 data file; left out a file whose name carries no split"
    res = _cli("detect", src)
    assert res.exit_code == 0 and said in res.output and _note(src, "train, test") in res.output
    res = _cli("report", src)  # every split, one report each
    assert res.exit_code == 0, res.output
    assert said.replace("1 data file", "2 data files") in res.output


def test_train_data_of_a_folder_says_the_files_left_out(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from train_support import make_tokenizer
    from trlprep.trainers.algorithms import get_algorithm
    from trlprep.trainers.data import prepare

    src = tmp_path / "in"
    src.mkdir()
    (src / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TRAIN))
    (src / "extra.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TEST))
    a, logs = get_algorithm("sft"), []
    got = prepare(
        str(src), a.layout, a.accepts, make_tokenizer(), max_length=64, algo="sft",
        options=a.make_options({}), log=logs.append,
    )  # fmt: skip
    assert len(got.rows["ids"]) == len(TRAIN)
    assert [x for x in logs if "left out" in x] == [
        f"data: note: {src}: reading 1 data file; left out a file whose name carries no split "
        "beside files that do (extra.jsonl: name it as a path to read it)"
    ]
