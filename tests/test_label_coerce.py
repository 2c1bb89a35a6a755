"""`--coerce` reads labels of 0/1 and "true"/"false" as booleans (`trlprep.io.labels`): an
unpaired-preference `label`, a stepwise `labels` list, a KTO `label` beside `messages`;
other values are rejected by line; without --coerce the hints say what --coerce does."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import trlprep
from trlprep.cli import app
from trlprep.columns.arrowtypes import JSON_FIELD_KEY
from trlprep.io.labels import read_labels

KTO = Path(__file__).parent / "realdata" / "kto_demo" / "kto_en_demo.json"
KTO01 = [
    {"prompt": "Hi", "completion": "Hello", "label": 1},
    {"prompt": "Yo", "completion": "go away", "label": 0},
]


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def _flat(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- the reading itself


@pytest.mark.parametrize(
    "values,want,bad",
    [
        (pa.array([1, 0, None], pa.int64()), [True, False, None], []),
        (pa.array([1, 2, -1, 0], pa.int8()), [True, None, None, False], [1, 2]),
        (pa.array([1.0, 0.0, 0.5]), [True, False, None], [2]),
        (pa.array(["TRUE", "false", "1", "0", "yes"]), [True, False, True, False, None], [4]),
        (pa.array([True, None]), [True, None], []),
    ],
)
def test_read_labels_typed(values, want, bad):
    got = read_labels(pa.field("label", values.type), values)
    assert got.values.to_pylist() == want
    assert got.values.type == pa.bool_()
    assert list(got.bad.nonzero()[0]) == bad
    assert all(("rule label-type" in r) == (i in bad) for i, r in enumerate(got.reasons) if r)


def test_read_labels_lists_and_json_text():
    lists = pa.array([[1, 0], None, [1, 2], []], pa.list_(pa.int64()))
    got = read_labels(pa.field("labels", lists.type), lists)
    assert got.values.to_pylist() == [[True, False], None, None, []]
    assert list(got.bad.nonzero()[0]) == [2] and got.count == 2
    assert got.values.type == pa.list_(pa.bool_())
    assert "column 'labels' holds [1, 2] where lists of booleans are needed" in got.reasons[2]
    text = pa.array(["true", "1", '"FALSE"', "2", None, '"yes"'])  # a column of several kinds
    field = pa.field("label", pa.string(), metadata={JSON_FIELD_KEY: "1"})
    got = read_labels(field, text)
    assert got.values.to_pylist() == [True, True, False, None, None, None]
    assert list(got.bad.nonzero()[0]) == [3, 5] and got.count == 2
    assert not got.field.metadata and got.field.type == pa.bool_()


# ---------------------------------------------------------------- the commands


def test_convert_coerce_reads_zero_one_labels(tmp_path):
    src, out = _jsonl(tmp_path / "kto01.jsonl", KTO01), tmp_path / "o.jsonl"
    res = _run("convert", src, "--to", "unpaired-preference", "-o", str(out))
    assert res.exit_code == 1 and not out.exists()
    assert '"true"/"false": `--coerce` reads them as booleans' in _flat(res.stderr)
    res = _run("convert", src, "--to", "unpaired-preference", "-o", str(out), "--coerce")
    assert res.exit_code == 0, res.output
    assert [r["label"] for r in _read(out)] == [True, False]
    assert 'note: column \'label\': 2 values (0/1 and "true"/"false") read as booleans' in (
        res.stderr
    )


def test_validate_hint_is_accurate(tmp_path):
    res = _run("validate", _jsonl(tmp_path / "kto01.jsonl", KTO01))
    assert res.exit_code == 1
    assert "`trlprep validate --coerce` checks the rows as `trlprep convert --coerce`" in _flat(
        res.output
    )
    bad = [{**KTO01[0], "label": 2}]
    res = _run("validate", _jsonl(tmp_path / "kto2.jsonl", bad))
    assert res.exit_code == 1
    assert '`--coerce` reads only 0/1 and "true"/"false" as booleans' in _flat(res.output)


def test_other_values_are_rejected_by_line_every_row_accounted_for(tmp_path):
    rows = [{"prompt": f"p{i}", "completion": f"c{i}", "label": v} for i, v in
            enumerate([1, "TRUE", 2, False, "yes", "0", -1, 0.5])]  # fmt: skip
    src, out = _jsonl(tmp_path / "in.jsonl", rows), tmp_path / "o.jsonl"
    res = _run("convert", src, "-o", str(out), "--coerce")
    assert res.exit_code == 1 and not out.exists()
    assert "in.jsonl:3: read: column 'label' holds 2 where a boolean is needed" in res.stderr
    res = _run("convert", src, "-o", str(out), "--coerce", "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert [r["label"] for r in _read(out)] == [True, True, False, False]
    rejects = _read(tmp_path / "o.rejects.jsonl")
    assert [r["line"] for r in rejects] == [3, 5, 7, 8]
    assert {r["stage"] for r in rejects} == {"read"}
    assert "8 rows in, 4 rejected, 4 converted -> 4 rows out" in res.stderr


def test_stepwise_labels(tmp_path):
    rows = [
        {"prompt": "q", "completions": ["a", "b"], "labels": [1, 0]},
        {"prompt": "r", "completions": ["c"], "labels": [0]},
    ]
    src, out = _jsonl(tmp_path / "in.jsonl", rows), tmp_path / "o.jsonl"
    res = _run("convert", src, "-o", str(out), "--coerce")
    assert res.exit_code == 0, res.output
    assert [r["labels"] for r in _read(out)] == [[True, False], [False]]
    assert "column 'labels': 3 values" in res.stderr


def test_kto_demo_messages_with_zero_one_labels(tmp_path):
    """The real KTO demo (messages + label) with its labels written as 0/1: --coerce gives
    the rows the boolean file gives, byte for byte."""
    rows = json.loads(KTO.read_text(encoding="utf-8"))
    src = _jsonl(tmp_path / "kto01.jsonl", [{**r, "label": int(r["label"])} for r in rows])
    assert "hint: labels of 0/1" in _run("detect", _jsonl(tmp_path / "k.jsonl", KTO01)).output
    res = _run("detect", src)
    assert "--coerce reads them as booleans and the rows as unpaired preference" in _flat(
        res.output
    )
    want, got = tmp_path / "want.jsonl", tmp_path / "got.jsonl"
    assert _run("convert", str(KTO), "--to", "unpaired-preference", "-o", str(want)).exit_code == 0
    res = _run("convert", src, "--to", "unpaired-preference", "-o", str(got), "--coerce")
    assert res.exit_code == 0, res.output
    assert got.read_bytes() == want.read_bytes()


def test_python_api_coerce(tmp_path):
    src = _jsonl(tmp_path / "kto01.jsonl", KTO01)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = trlprep.convert(src, to="unpaired-preference", coerce=True)
    assert out.column("label").to_pylist() == [True, False]
    assert any("read as booleans" in str(w.message) for w in caught)
    rows = pa.table({"prompt": ["a", "b"], "completion": ["c", "d"], "label": ["True", "0"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = trlprep.convert(rows, to="unpaired-preference", coerce=True)
    assert out.column("label").to_pylist() == [True, False]


def test_prm800k_import_is_unchanged_by_coerce(tmp_path):
    """PRM800K's -1/0/1 ratings are its importer's (`--neutral`), not --coerce's."""
    src = Path(__file__).parent / "realdata" / "prm800k_openr" / "prm800k.jsonl"
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert _run("convert", str(src), "-o", str(a)).exit_code == 0
    res = _run("convert", str(src), "-o", str(b), "--coerce")
    assert res.exit_code == 0, res.output
    assert a.read_bytes() == b.read_bytes() and "read as booleans" not in res.stderr


VALUES = st.sampled_from([0, 1, True, False, "true", "FALSE", "True", "1", "0", 2, -1, "yes", 0.5])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(VALUES, min_size=1, max_size=12))
def test_property_coerced_labels(values):
    """Every row is accounted for (in = out + rejected) and each kept label is
    `value in (1, "true")` (any case; "1" too)."""
    rows = [{"prompt": f"p{i}", "completion": f"c{i}", "label": v} for i, v in enumerate(values)]
    ok = [v for v in values if _readable(v)]
    with tempfile.TemporaryDirectory() as tmp:
        src = _jsonl(Path(tmp) / "in.jsonl", rows)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                out = trlprep.convert(src, to="unpaired-preference", coerce=True, on_error="skip")
            except trlprep.DataError as e:  # nothing left: every row rejected
                assert not ok, e
                return
    got = out.column("label").to_pylist()
    want = [v == 1 if not isinstance(v, str) else v.lower() in ("true", "1") for v in ok]
    assert got == want
    rejected = sum(
        w.message.rejects.num_rows for w in caught if getattr(w.message, "rejects", None)
    )
    assert len(got) + rejected == len(values)


def _readable(v) -> bool:
    if isinstance(v, str):
        return v.lower() in ("true", "false", "1", "0")
    return v in (0, 1)  # True/False too, and 1.0/0.0


def test_train_data_coerce(tmp_path):
    """`train --coerce` reads the labels as convert does; without it the stop says to."""
    from trlprep.trainers.data_table import to_training_table

    from trlprep.cli.train_cmd import _specs, parse_args
    from trlprep.errors import DataError

    assert parse_args(["--coerce"], _specs(None))["coerce"] is True
    rows = [*KTO01, {**KTO01[0], "label": "yes"}, {**KTO01[1], "label": "FALSE"}]
    src = _jsonl(tmp_path / "kto.jsonl", rows)
    with pytest.raises(DataError, match="not uniform") as e:
        to_training_table(src, ["unpaired-preference"], None, algo="kto")
    assert "`--coerce` reads them as booleans (trlprep convert, import, train" in e.value.hint
    with pytest.raises(DataError, match='holds "yes" where a boolean is needed') as e:
        to_training_table(src, ["unpaired-preference"], None, algo="kto",
                          import_options={"coerce": True})  # fmt: skip
    assert e.value.line == 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        made = to_training_table(src, ["unpaired-preference"], None, algo="kto",
                                 import_options={"coerce": True}, on_error="skip")  # fmt: skip
    assert made.table.column("label").to_pylist() == [True, False, False]
    assert list(made.input_lines) == [1, 2, 4]
    left = [w.message.rejects for w in caught if getattr(w.message, "rejects", None)]
    assert [r.column("line").to_pylist() for r in left] == [[3]]
