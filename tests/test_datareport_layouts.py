"""`trlprep report` reads a public layout (ShareGPT preference JSON, Alpaca, glaive tool
calls) as `trlprep convert` reads it, from a file or an in-memory table: the rows it
reports are the converted rows, and the report names the layout."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import trlprep
from trlprep.cli import app

REAL = Path(__file__).resolve().parents[1] / "tests" / "realdata"
CASES = [
    ("dpo_demo/dpo_en_demo.json", "sharegpt", "preference", 30),
    ("alpaca_demo/alpaca_en_demo.json", "alpaca", "prompt-completion", 150),
    ("glaive_toolcall/glaive_toolcall_en_demo.json", "sharegpt", "language-modeling", 50),
]


@pytest.mark.parametrize(("name", "layout", "type", "rows"), CASES)
def test_report_reads_a_layout_as_convert_does(name, layout, type, rows):
    src = REAL / name
    res = CliRunner().invoke(app, ["report", str(src), "--format", "json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert (got["report"]["layout"], got["report"]["type"]) == (layout, type)
    assert got["rows"]["in"] == rows and got["validation"]["valid"]
    text = CliRunner().invoke(app, ["report", str(src), "--format", "text"])
    assert text.exit_code == 0
    assert f"read as the {layout} layout" in text.output
    assert "mix standard text and conversational" not in text.output


def test_report_of_a_table_reads_the_layout_as_the_file():
    src = REAL / "dpo_demo/dpo_en_demo.json"
    table = pa.Table.from_pylist(json.loads(src.read_text()))
    from_table = trlprep.report(table).to_dict()
    from_file = trlprep.report(str(src)).to_dict()
    assert from_table["report"]["layout"] == "sharegpt"
    for key in ("conversation", "duplicates", "rows"):
        assert from_table[key] == from_file[key], key


def test_data_of_a_trl_type_is_reported_as_it_is():
    """KTO-style messages + label rows are a TRL type: no layout is read."""
    res = CliRunner().invoke(
        app, ["report", str(REAL / "kto_demo/kto_en_demo.json"), "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["report"]["layout"] is None


def test_report_of_a_layout_names_input_rows_and_file_lines_as_validate_does():
    """HH transcripts: 4 rows the import refuses, and imported rows after them with
    same-role turns. The report names every one by its input row and file line, as
    `validate --from hh` does, not by its place among the imported rows; the refused rows
    are its validation's `import-failed` error too (was: "valid" beside them)."""
    src = str(REAL / "hh_rlhf/harmless-base-test.sample.jsonl")
    res = CliRunner().invoke(app, ["report", src, "--from", "hh", "--format", "json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    val = CliRunner().invoke(app, ["validate", src, "--from", "hh", "--format", "json"])
    said = json.loads(val.output)["issues"]
    assert [(i["rule"], i["column"], i["count"]) for i in got["validation"]["issues"]] == [
        (i["rule"], i["column"], i["count"]) for i in said
    ]
    assert got["validation"]["valid"] is False and got["summary"]["validation_errors"] == 1
    want = {i["column"]: i for i in said if i["rule"] != "import-failed"}
    issues = {i["column"]: i for i in got["validation"]["issues"] if i["rule"] != "import-failed"}
    assert set(issues) == set(want) == {"chosen", "rejected"}
    for column, issue in issues.items():
        assert issue["lines"] == want[column]["lines"] and issue["lines"]
        assert issue["rows"] == want[column]["rows"]
        assert [x - 1 for x in issue["lines"]] == issue["rows"]  # one row a line here
    failed = next(i for i in said if i["rule"] == "import-failed")
    refused = next(i for i in got["validation"]["issues"] if i["rule"] == "import-failed")
    assert refused["lines"] == failed["lines"][:3] and refused["message"] == failed["message"]
    rejected = got["rows"]["rejected_examples"]
    assert [e["line"] for e in rejected] == failed["lines"][:3] and rejected
    assert all(e["stage"] == "import" and e["row"] == e["line"] - 1 for e in rejected)
    flagged = [e for e in got["examples"] if e.get("flagged")]
    assert flagged and all(e["row"] == e["line"] - 1 for e in got["examples"])
    assert flagged[0]["line"] == issues["chosen"]["lines"][0]
    text = CliRunner().invoke(app, ["report", src, "--from", "hh"]).output
    assert "(lines 152, 153, 156, 157, 159, ...)" in text
    assert "4 x import: chosen: ends with an empty Assistant turn" in text
    assert "(e.g. line 87, line 151, line 154)" in text
