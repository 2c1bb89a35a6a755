"""Prompt-completion rows with a true/false column under another name than `label`
(`thumbs_up`, `is_good` ...): detect names `--map label=COLUMN`, convert and train say it
before failing, and following it gives unpaired preference (rows: the KTO demo's
two-turn conversations, from tests/realdata)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.detection.besidehints import label_column
from trlprep.errors import UsageError

KTO = Path(__file__).parent / "realdata" / "kto_demo" / "kto_en_demo.json"


def _rows(column: str = "thumbs_up", as_int: bool = False) -> list[dict]:
    rows = []
    for r in json.loads(KTO.read_text(encoding="utf-8")):
        m = r["messages"]
        if len(m) == 2:
            label = int(r["label"]) if as_int else r["label"]
            rows.append({"prompt": m[0]["content"], "completion": m[1]["content"], column: label})
    return rows


def _write(tmp_path, rows) -> str:
    path = tmp_path / "kto.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("column", ["thumbs_up", "is_good", "desirable", "Good"])
def test_detect_names_the_label_column_and_following_it_gives_unpaired_preference(tmp_path, column):
    rows = _rows(column)
    data = _write(tmp_path, rows)
    res = _run("detect", data)
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "prompt-completion" in flat
    assert f"column '{column}' holds true/false values that may be each completion's label" in flat
    assert f"pass `--map label={column}`" in flat
    out = tmp_path / "out.jsonl"
    res = _run("convert", data, "--map", f"label={column}", "-o", str(out))
    assert res.exit_code == 0, res.output
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["label"] for r in got] == [r[column] for r in rows]
    assert {True, False} <= {r["label"] for r in got}
    assert res.stderr.count("unpaired-preference") >= 1


def test_zero_one_values_are_named_with_what_to_do_first(tmp_path):
    res = _run("detect", _write(tmp_path, _rows("good", as_int=True)))
    flat = " ".join(res.output.split())
    assert "column 'good' holds 0/1 values" in flat
    assert "pass `--map label=good --coerce`" in flat
    assert "--coerce reads 0/1 values as booleans" in flat


def test_following_the_zero_one_advice_gives_the_labels(tmp_path):
    rows = _rows("thumbs_up", as_int=True)
    data, out = _write(tmp_path, rows), tmp_path / "out.jsonl"
    res = _run("convert", data, "--map", "label=thumbs_up", "--coerce", "-o", str(out))
    assert res.exit_code == 0, res.output
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["label"] for r in got] == [r["thumbs_up"] == 1 for r in rows]
    assert {True, False} <= {r["label"] for r in got}
    flat = " ".join(res.stderr.split())
    said = f"column 'thumbs_up': {len(rows)} values"
    assert said in flat and "read as booleans (--coerce)" in flat
    # without --coerce the import refuses them, naming the column
    res = _run("convert", data, "--map", "label=thumbs_up", "-o", str(tmp_path / "o2.jsonl"))
    assert res.exit_code == 1
    assert "column 'thumbs_up' (imported as 'label') holds int64" in " ".join(res.stderr.split())


def test_a_mapped_label_with_no_boolean_reading_is_rejected_by_line(tmp_path):
    rows = _rows("thumbs_up", as_int=True)
    rows[2]["thumbs_up"] = 2
    data, out = _write(tmp_path, rows), tmp_path / "out.jsonl"
    args = ("convert", data, "--map", "label=thumbs_up", "--coerce", "-o", str(out))
    res = _run(*args)
    assert res.exit_code == 1 and not out.exists()
    assert "kto.jsonl:3" in res.stderr and "holds 2 where a boolean is needed" in res.stderr
    res = _run(*args, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    got = out.read_text().splitlines()
    rejects = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    assert len(got) + len(rejects) == len(rows)
    assert [(r["line"], r["stage"]) for r in rejects] == [(3, "read")]


def test_convert_and_train_to_unpaired_preference_say_it_before_failing(tmp_path):
    data = _write(tmp_path, _rows())
    res = _run("convert", data, "--to", "unpaired-preference", "-o", str(tmp_path / "o.jsonl"))
    assert res.exit_code == 2, res.output
    assert "`--map label=thumbs_up`" in " ".join(res.stderr.split())
    from trlprep.trainers.data_table import to_training_table

    with pytest.raises(UsageError, match="kto trains on unpaired-preference data") as e:
        to_training_table(data, ["unpaired-preference"], None, algo="kto")
    assert "`--map label=thumbs_up`" in e.value.hint


@pytest.mark.parametrize(
    "columns,expected",
    [
        ({"thumbs_up": [True, False]}, ("thumbs_up", "true/false values")),
        ({"flag": [True, None]}, ("flag", "true/false values")),  # the one boolean column
        ({"is_correct": [1, 0]}, ("is_correct", "0/1 values")),
        ({"liked": ["True", "false"]}, ("liked", "the text true/false")),
        ({"has_code": [True, False], "is_long": [False, True]}, None),  # which one?
        ({"has_code": [True, False], "good": [False, True]}, ("good", "true/false values")),
        ({"split": [0, 1]}, None),  # 0/1 under a name that is no label's
        ({"rating": [1, 5]}, None),
        ({"good": [None, None]}, None),
        ({"good": ["yes", "no"]}, None),
    ],
)
def test_label_column(columns, expected):
    head = pa.table({"prompt": ["a", "b"], "completion": ["c", "d"], **columns})
    assert label_column(head, list(columns)) == expected


def test_no_real_data_sample_gets_the_advice():
    realdata = Path(__file__).parent / "realdata"
    for path in [*realdata.glob("*/*.jsonl"), *realdata.glob("*/*.json")]:
        res = _run("detect", str(path))
        assert "--map label=" not in res.output, path
