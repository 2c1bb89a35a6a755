"""Every public function takes every input kind the README lists (a path, a list of paths, a
glob, `datasets.Dataset` / `DatasetDict` / `IterableDataset`, `pyarrow.Table` /
RecordBatchReader, polars DataFrame / LazyFrame, pandas DataFrame, row dicts) on real
samples, and gives back the kind a user expects, nested messages kept."""

from __future__ import annotations

import json
import warnings

import pytest
from realdata.support import sample

import trlprep
from trlprep.importers import import_dataset

datasets = pytest.importorskip("datasets")
pa = pytest.importorskip("pyarrow")
pl = pytest.importorskip("polars")
pd = pytest.importorskip("pandas")

DPO = sample("dpo_demo")  # ShareGPT pairs: {from, value} turns, chosen/rejected one turn each
KTO = sample("kto_demo")  # messages + boolean label
GLAIVE = sample("glaive_toolcall")  # ShareGPT turns with function calls, a tools JSON column

# what each sample is converted to, and the layout it is imported from
CASES = {
    "dpo": (DPO, {"to": "unpaired", "from_": "sharegpt"}, "sharegpt"),
    "kto": (KTO, {"to": "pc"}, "map"),
    "glaive": (GLAIVE, {"to": "lm", "from_": "sharegpt"}, "sharegpt"),
}
KINDS = [
    "path", "paths", "glob", "Dataset", "DatasetDict", "IterableDataset", "Table",
    "RecordBatchReader", "polars", "LazyFrame", "pandas", "rows",
]  # fmt: skip


@pytest.fixture(scope="module")
def split_files(tmp_path_factory):
    """Each sample as two JSON files (its first and second half) in a folder of its own."""
    made = {}
    for name, (path, _, _) in CASES.items():
        rows = json.loads(path.read_text(encoding="utf-8"))
        folder = tmp_path_factory.mktemp(name)
        half = len(rows) // 2
        for part, chunk in (("part-0", rows[:half]), ("part-1", rows[half:])):
            (folder / f"{part}.json").write_text(json.dumps(chunk), encoding="utf-8")
        made[name] = folder
    return made


def _make(kind: str, name: str, folder):
    path = CASES[name][0]
    rows = json.loads(path.read_text(encoding="utf-8"))
    # glaive's `tools` holds JSON text, its turns' values text: one Arrow type each
    ds = datasets.Dataset.from_list(rows, on_mixed_types="use_json")
    table = pa.Table.from_pylist(rows)
    return {
        "path": lambda: str(path),
        "paths": lambda: [folder / "part-0.json", str(folder / "part-1.json")],
        "glob": lambda: str(folder / "part-*.json"),
        "Dataset": lambda: ds,
        "DatasetDict": lambda: datasets.DatasetDict({"train": ds}),
        "IterableDataset": lambda: ds.to_iterable_dataset(),
        "Table": lambda: table,
        "RecordBatchReader": lambda: table.to_reader(max_chunksize=7),
        "polars": lambda: pl.from_arrow(table),
        "LazyFrame": lambda: pl.from_arrow(table).lazy(),
        "pandas": lambda: pd.DataFrame(rows),
        "rows": lambda: rows,
    }[kind]()


# the kind each input kind's converted rows come back as
BACK = {
    "path": pa.Table, "paths": pa.Table, "glob": pa.Table, "Dataset": datasets.Dataset,
    "DatasetDict": datasets.DatasetDict, "IterableDataset": datasets.IterableDataset,
    "Table": pa.Table, "RecordBatchReader": pa.Table, "polars": pl.DataFrame,
    "LazyFrame": pl.LazyFrame, "pandas": pd.DataFrame, "rows": list,
}  # fmt: skip


def _rows(result) -> list[dict]:
    """A result of any kind as Python rows."""
    if isinstance(result, datasets.DatasetDict):
        result = result["train"]
    if isinstance(result, (datasets.Dataset, datasets.IterableDataset)):
        return list(result)
    if isinstance(result, pl.LazyFrame):
        result = result.collect()
    if isinstance(result, (pl.DataFrame, pa.Table)):
        return result.to_dicts() if isinstance(result, pl.DataFrame) else result.to_pylist()
    if isinstance(result, pd.DataFrame):
        return result.to_dict("records")
    return result


def _quiet(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call()


@pytest.fixture(scope="module")
def from_paths():
    """What each function gives for each sample read from its path: the reference."""
    out = {}
    for name, (path, convert, layout) in CASES.items():
        mapped = {"map": "messages=messages"} if layout == "map" else {}
        out[name] = {
            "detect": _quiet(lambda p=path: trlprep.detect(p)),
            "convert": _quiet(lambda p=path, c=convert: trlprep.convert(p, **c)).to_pylist(),
            "import": _quiet(lambda p=path, m=mapped, lay=layout: import_dataset(p, lay, **m)),
        }
    return out


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_function_takes_every_kind(name, kind, split_files, from_paths):
    folder = split_files[name]
    path, convert, layout = CASES[name]
    ref = from_paths[name]
    make = lambda: _make(kind, name, folder)  # noqa: E731 - a fresh input per call (streams)

    det = _quiet(lambda: trlprep.detect(make()))
    det = det["train"] if isinstance(det, dict) else det
    assert (det.type, det.format, det.num_rows) == (
        ref["detect"].type, ref["detect"].format, ref["detect"].num_rows,
    )  # fmt: skip

    lay = {"from_": "sharegpt"} if layout == "sharegpt" else {}
    report = _quiet(lambda: trlprep.validate(make(), **lay))
    report = report["train"] if isinstance(report, dict) else report
    assert report.valid and report.num_rows == ref["detect"].num_rows

    out = _quiet(lambda: trlprep.convert(make(), **convert))
    assert isinstance(out, BACK[kind]), type(out)
    rows = _rows(out)
    assert len(rows) == len(ref["convert"]) and list(rows[0]) == list(ref["convert"][0])
    text = "prompt" if name != "glaive" else "messages"  # nested messages kept as messages
    assert rows[0][text][0]["role"] in ("system", "user")
    assert rows[0][text][0]["content"] == ref["convert"][0][text][0]["content"]

    mapped = {"map": "messages=messages"} if layout == "map" else {}
    imported = _quiet(lambda: import_dataset(make(), layout, **mapped))
    assert isinstance(imported, BACK[kind]), type(imported)
    assert len(_rows(imported)) == ref["import"].num_rows

    measured = _quiet(lambda: trlprep.report(make(), examples=0)).to_dict()
    assert measured["summary"]["rows"] == ref["detect"].num_rows


def test_a_dataset_comes_back_with_its_features():
    """convert(Dataset) gives a Dataset, an IterableDataset an IterableDataset over the same
    rows, both with the features the conversion gives (nested messages as lists of structs)."""
    rows = json.loads(DPO.read_text(encoding="utf-8"))
    ds = datasets.Dataset.from_list(rows)
    out = _quiet(lambda: trlprep.convert(ds, "unpaired", from_="sharegpt"))
    stream = _quiet(lambda: trlprep.convert(ds.to_iterable_dataset(), "unpaired", from_="sharegpt"))
    assert isinstance(stream, datasets.IterableDataset)
    assert stream.features == out.features and list(stream) == list(out)
    assert out.features["prompt"].feature["role"].dtype == "string"
    splits = datasets.IterableDatasetDict({"train": ds.to_iterable_dataset()})
    back = _quiet(lambda: trlprep.convert(splits, "unpaired", from_="sharegpt"))
    assert isinstance(back, datasets.IterableDatasetDict) and list(back["train"]) == list(out)


def test_a_record_batch_reader_is_read_once_by_functions_that_look_first():
    """maybe_* helpers look at the columns before they work: a stream was read twice (no rows
    left, or the emptied reader given back)."""
    pairs = _quiet(lambda: import_dataset(json.loads(DPO.read_text(encoding="utf-8")), "sharegpt"))
    table = pa.Table.from_pylist(pairs)
    unpaired = trlprep.maybe_unpair_preference_dataset(table.to_reader(max_chunksize=7))
    assert unpaired.num_rows == 2 * table.num_rows
    kept = trlprep.maybe_extract_prompt(table.to_reader(max_chunksize=7))
    assert isinstance(kept, pa.Table) and kept.num_rows == table.num_rows
    rendered = trlprep.maybe_apply_chat_template(table.to_reader(max_chunksize=7), "chatml")
    assert rendered.num_rows == table.num_rows and rendered.column("prompt").type == pa.string()
    rows = json.loads(KTO.read_text(encoding="utf-8"))
    measured = trlprep.report(pa.Table.from_pylist(rows).to_reader(max_chunksize=7), examples=0)
    assert measured.to_dict()["summary"]["rows"] == len(rows)  # was: "the dataset has no rows"


def test_a_list_of_paths_is_one_dataset(split_files):
    folder = split_files["kto"]
    paths = [folder / "part-0.json", folder / "part-1.json"]
    assert trlprep.read(paths).table.num_rows == 50
    assert trlprep.read([paths[0]]).table.num_rows == 25
    measured = trlprep.report(paths, examples=0).to_dict()
    assert measured["summary"]["rows"] == 50  # was: "PATH PATH: no such file or folder"
    assert measured["report"]["path"] == " ".join(str(p) for p in paths)
    # texts are no paths: said so (was "a list dataset must hold row dicts")
    with pytest.raises(trlprep.UsageError) as e:
        trlprep.detect(["How are you?", "Fine."])
    assert e.value.message == "a list of strings is read as paths, and 'How are you?' is no file"


# ---------------------------------------------------------------- help(): what, keywords, returns


# how a docstring names a parameter: `name`, `**name`, name= (the ones `...` taken as code)
SAID = [("`", "`"), ("`", "="), ("`**", "`"), ("", "=")]


def _documented():
    from trlprep.importers import import_dataset as imported

    names = [
        "convert", "detect", "validate", "report", "read", "write", "apply_chat_template",
        "maybe_apply_chat_template", "extract_prompt", "maybe_extract_prompt",
        "unpair_preference_dataset", "maybe_unpair_preference_dataset", "pack_dataset",
        "truncate_dataset",
    ]  # fmt: skip
    return {**{n: getattr(trlprep, n) for n in names}, "import_dataset": imported}


@pytest.mark.parametrize("name", sorted(_documented()))
def test_help_names_every_keyword_and_what_comes_back(name):
    import inspect

    func = _documented()[name]
    doc = inspect.getdoc(func)
    params = list(inspect.signature(func).parameters)[1:]  # after the data it works on
    said = [p for p in params if any(f"{a}{p}{b}" in doc for a, b in SAID)]
    assert said == params, doc
    assert "Returns" in doc or "returns" in doc, doc


def test_apply_chat_template_takes_template_kwargs_as_convert_does(tmp_path):
    template = tmp_path / "flag.jinja"
    template.write_text(
        "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}{% if short %}[short]{% endif %}"
    )
    example = {"prompt": [{"role": "user", "content": "hi"}]}
    loose = trlprep.apply_chat_template(example, str(template), short=True)
    as_dict = trlprep.apply_chat_template(example, str(template), template_kwargs={"short": True})
    assert loose == as_dict == {"prompt": "<user>hi<assistant>[short]"}
    plain = trlprep.maybe_apply_chat_template(example, str(template), template_kwargs={})
    assert plain == {"prompt": "<user>hi<assistant>"}
    # the loose keyword wins over the dict's, as a later keyword would
    said = trlprep.apply_chat_template(
        example, str(template), template_kwargs={"short": True}, short=False
    )
    assert said == plain
