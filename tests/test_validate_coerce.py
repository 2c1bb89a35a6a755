"""`validate --coerce` checks the rows as `convert --coerce` reads them: labels of 0/1 and
"true"/"false" as booleans, numbers among text as text, every other value an error on the
rows convert rejects (streamed JSONL, a whole table, `--map`, the Python API; Ray in
tests/test_ray_inputs.py)."""

from __future__ import annotations

import json
import re
import tempfile
import warnings
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import trlprep
from trlprep.cli import app

KTO = Path(__file__).parent / "realdata" / "kto_demo" / "kto_en_demo.json"
VALUES = [1, "TRUE", 2, False, "yes", "0", -1, 0.5]


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _rows(values, column: str = "label") -> list[dict]:
    return [{"prompt": f"p{i}", "completion": f"c{i}", column: v} for i, v in enumerate(values)]


def _error_lines(report: dict) -> list[int]:
    return sorted(x for i in report["issues"] if i["severity"] == "error" for x in i["lines"])


def _rejected_lines(rejects: Path) -> list[int]:
    return sorted(json.loads(x)["line"] for x in rejects.read_text().splitlines())


def test_streamed_jsonl_errors_on_the_rows_convert_rejects(tmp_path):
    src = _jsonl(tmp_path / "in.jsonl", _rows(VALUES))
    res = _run("validate", src, "--coerce", "--format", "json")
    assert res.exit_code == 1, res.output
    report = json.loads(res.output)
    assert [(i["rule"], i["column"], i["count"]) for i in report["issues"]] == [
        ("label-type", "label", 4)
    ]
    assert report["issues"][0]["message"] == (
        "column 'label' holds 2, \"yes\", -1, 0.5 where a boolean is needed"
    )
    said = 'column \'label\': 3 values (0/1 and "true"/"false") read as booleans (--coerce)'
    assert said in report["notes"]  # 1, "TRUE", "0" (False is one already), as convert says
    out = tmp_path / "o.jsonl"
    conv = _run("convert", src, "-o", str(out), "--coerce", "--on-error", "skip")
    assert conv.exit_code == 0, conv.output
    assert f"note: {said}" in conv.output
    assert _error_lines(report) == _rejected_lines(tmp_path / "o.rejects.jsonl") == [3, 5, 7, 8]
    # the rows that read are valid: no other issue (no null-value on the refused rows)
    ok = _jsonl(tmp_path / "ok.jsonl", _rows([v for v in VALUES if v not in (2, "yes", -1, 0.5)]))
    res = _run("validate", ok, "--coerce")
    assert res.exit_code == 0, res.output
    assert "valid: 4 rows of unpaired-preference (standard)" in res.output
    res = _run("validate", ok)  # without --coerce the hint says what it does
    assert res.exit_code == 1
    assert "`trlprep validate --coerce` checks the rows" in _flat(res.output)


def test_whole_table_kto_demo_with_zero_one_labels(tmp_path):
    """The real KTO demo (a JSON array: read whole) with its labels as 0/1."""
    rows = json.loads(KTO.read_text(encoding="utf-8"))
    src = tmp_path / "kto01.json"
    src.write_text(json.dumps([{**r, "label": int(r["label"])} for r in rows]))
    res = _run("validate", str(src), "--coerce", "--type", "unpaired-preference")
    assert res.exit_code == 0, res.output
    assert f'column \'label\': {len(rows)} values (0/1 and "true"/"false") read as booleans' in (
        _flat(res.output)
    )
    assert f"valid: {len(rows)} rows of unpaired-preference (conversational)" in res.output
    want = _run("validate", str(KTO), "--type", "unpaired-preference")
    assert want.exit_code == 0 and f"valid: {len(rows)} rows" in want.output
    res = _run("validate", str(src))  # valid as language modeling: detect's advice said
    assert res.exit_code == 0 and "language-modeling (conversational)" in res.output
    assert "--coerce reads them as booleans and the rows as unpaired preference" in _flat(
        res.output
    )
    res = _run("validate", str(src), "--coerce")
    assert res.exit_code == 0 and "unpaired-preference (conversational)" in res.output
    assert "holds no booleans" not in res.output


def test_numbers_among_text_read_as_text(tmp_path):
    rows = [{"prompt": "What is 6*7?", "completion": 42}] + [
        {"prompt": f"q{i}", "completion": f"a{i}"} for i in range(3)
    ]
    src = _jsonl(tmp_path / "in.jsonl", rows)
    res = _run("validate", src)
    assert res.exit_code == 1 and "mixed-kind" in res.output
    res = _run("validate", src, "--coerce")
    assert res.exit_code == 0, res.output
    assert "column 'completion': 1 value of another kind (numbers, booleans) read as text" in (
        _flat(res.output)
    )
    rows[2]["completion"] = ["a list"]  # never read as text: an error, on convert's row
    src = _jsonl(tmp_path / "list.jsonl", rows)
    report = json.loads(_run("validate", src, "--coerce", "--format", "json").output)
    assert [(i["rule"], i["lines"]) for i in report["issues"]] == [("mixed-kind", [3])]
    conv = _run("convert", src, "-o", str(tmp_path / "o.jsonl"), "--coerce", "--on-error", "skip")
    assert conv.exit_code == 0, conv.output
    assert _rejected_lines(tmp_path / "o.rejects.jsonl") == [3]


def test_map_label_column_agrees_with_convert(tmp_path):
    values = [1, 0, "true", 2, "x", 0]
    src = _jsonl(tmp_path / "in.jsonl", _rows(values, "ok"))
    res = _run("validate", src, "--map", "label=ok", "--coerce", "--format", "json")
    assert res.exit_code == 1, res.output
    report = json.loads(res.output)
    assert {i["rule"] for i in report["issues"]} == {"import-failed"}
    assert any("(imported as 'label'): 4 values" in n for n in report["notes"])
    conv = _run("convert", src, "--map", "label=ok", "-o", str(tmp_path / "o.jsonl"),
                "--coerce", "--on-error", "skip")  # fmt: skip
    assert conv.exit_code == 0, conv.output
    assert _error_lines(report) == _rejected_lines(tmp_path / "o.rejects.jsonl") == [4, 5]


def test_python_api_path_and_table(tmp_path):
    src = _jsonl(tmp_path / "in.jsonl", _rows([1, "false", 2]))
    report = trlprep.validate(src, coerce=True)
    assert not report.valid and report.issue("label-type").lines == [3]
    assert any("2 values" in n and "read as booleans" in n for n in report.notes)
    assert not trlprep.validate(src).issue("label-type").lines == [3]  # all three, without
    table = pa.table({"prompt": list("abcde"), "completion": list("vwxyz"),
                      "label": [1, 0, 1, 7, 0]})  # fmt: skip
    from trlprep.validation.validate import validate_table

    report = validate_table(table, coerce=True, batch_rows=2)  # several batches: summed
    assert report.issue("label-type").rows == [3]
    assert any("column 'label': 4 values" in n for n in report.notes)
    assert trlprep.validate(table.slice(0, 3), coerce=True).valid


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from([0, 1, True, "true", "FALSE", "1", 2, -1, "yes", 0.5]),
                min_size=1, max_size=10))  # fmt: skip
def test_property_validate_and_convert_agree(values):
    """The lines validate --coerce calls errors are the lines convert --coerce rejects."""
    with tempfile.TemporaryDirectory() as tmp:
        src = _jsonl(Path(tmp) / "in.jsonl", _rows(values))
        report = trlprep.validate(src, coerce=True, type="unpaired-preference", max_errors=20)
        errors = sorted(x for i in report.issues if i.severity.value == "error" for x in i.lines)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                trlprep.convert(src, to="unpaired-preference", coerce=True, on_error="skip")
            except trlprep.DataError:  # every row rejected
                assert errors == list(range(1, len(values) + 1))
                return
    rejected = [
        line
        for w in caught
        if getattr(w.message, "rejects", None) is not None
        for line in w.message.rejects.column("line").to_pylist()
    ]
    assert errors == sorted(rejected)
    assert report.valid == (not rejected)


def test_from_layout_numbers_read_as_text_as_convert(tmp_path):
    """Real Alpaca rows, one `output` a number (read as text) and one a list (refused):
    validate --from alpaca --coerce errors on convert's rejected line, with its note."""
    src = Path(__file__).parent / "realdata" / "alpaca_demo" / "alpaca_en_demo.json"
    rows = json.loads(src.read_text(encoding="utf-8"))[:20]
    rows[3]["output"], rows[5]["output"] = 42, ["x"]
    path = _jsonl(tmp_path / "alpaca.jsonl", rows)
    res = _run("validate", path, "--from", "alpaca", "--format", "json")
    assert _error_lines(json.loads(res.output)) == [4, 6]  # without --coerce: both
    res = _run("validate", path, "--from", "alpaca", "--coerce", "--format", "json")
    report = json.loads(res.output)
    out = tmp_path / "o.jsonl"
    conv = _run("convert", path, "--from", "alpaca", "-o", str(out), "--coerce",
                "--on-error", "skip")  # fmt: skip
    assert conv.exit_code == 0, conv.output
    assert _error_lines(report) == _rejected_lines(tmp_path / "o.rejects.jsonl") == [6]
    said = "column 'output': 1 value of another kind (numbers, booleans) read as text (--coerce)"
    assert said in report["notes"] and f"note: {said}" in conv.output


def test_validate_says_boolean_as_convert_does(tmp_path):
    """validate named the kind `bool` where convert's read stage says `boolean`."""
    src = tmp_path / "mix.jsonl"
    _jsonl(src, [{"prompt": "a", "completion": "b"}, {"prompt": True, "completion": "c"}])
    checked = _flat(_run("validate", str(src)).output)
    converted = _flat(_run("convert", str(src), "-o", str(tmp_path / "o.jsonl")).output)
    assert "holds a boolean" in checked and "holds a boolean (true)" in converted
    assert "1 row holds boolean" in checked
    assert not re.search(r"\bbool\b", checked)
    labels = tmp_path / "labels.jsonl"
    _jsonl(labels, [{"prompt": "a", "completion": "b", "label": x} for x in (True, 1)])
    detected = _flat(_run("detect", str(labels)).output)
    assert "1 row holds number, expected boolean" in detected
