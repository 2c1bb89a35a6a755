"""`trlprep validate`: --format picks the report, -o writes it to a file, old spellings warn;
an empty dataset is an error unless --allow-empty (issue 13, defect 6 and CLI conventions)."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES
from typer.testing import CliRunner

import trlprep
from trlprep.cli import app

runner = CliRunner()


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.fixture
def bad(tmp_path) -> str:
    return write_jsonl(tmp_path / "bad.jsonl", [{"text": ""}, {"text": "ok"}])


def test_format_json_and_github(bad):
    r = runner.invoke(app, ["validate", bad, "--format", "json"])
    assert r.exit_code == 1 and json.loads(r.stdout)["valid"] is False
    r = runner.invoke(app, ["validate", bad, "-f", "github"])
    assert r.exit_code == 1 and r.stdout.startswith("::error file=")


def test_o_writes_the_report_to_a_file(bad, tmp_path):
    out = tmp_path / "report.json"
    r = runner.invoke(app, ["validate", bad, "-o", str(out)])
    assert r.exit_code == 1
    assert json.loads(out.read_text())["issues"][0]["rule"] == "empty-string"
    assert "INVALID: 2 rows" in r.stdout and str(out) in r.stdout
    txt = tmp_path / "report.txt"
    r = runner.invoke(app, ["validate", bad, "-o", str(txt)])
    assert "error: empty-string" in txt.read_text()
    gh = tmp_path / "ann.txt"
    runner.invoke(app, ["validate", bad, "--format", "github", "-o", str(gh)])
    assert gh.read_text().startswith("::error ")


def test_report_file_cannot_be_the_input(bad):
    r = runner.invoke(app, ["validate", bad, "-o", bad])
    assert r.exit_code == 2 and "the output is the input" in r.output


def test_old_spellings_still_work_with_a_warning(bad, tmp_path):
    r = runner.invoke(app, ["validate", bad, "--output", "json"])
    assert r.exit_code == 1
    assert json.loads(r.stdout)["valid"] is False
    assert "deprecated" in r.stderr and "--format json" in r.stderr
    conv = write_jsonl(tmp_path / "c.jsonl", [EXAMPLES[("language-modeling", "conversational")]])
    r = runner.invoke(app, ["validate", conv, "--format", "standard", "--format", "json"])
    r = runner.invoke(app, ["validate", conv, "-f", "standard"])
    assert r.exit_code == 1 and "--data-format standard" in r.stderr
    r = runner.invoke(app, ["validate", conv, "--data-format", "conversational"])
    assert r.exit_code == 0, r.output


def test_unknown_report_format_is_a_usage_error(bad):
    r = runner.invoke(app, ["validate", bad, "--format", "xml"])
    assert r.exit_code == 2 and "use one of: text, json, github" in r.output


@pytest.mark.parametrize("content", ["", "\n\n"])
def test_empty_dataset_is_an_error_unless_allowed(tmp_path, content):
    path = tmp_path / "empty.jsonl"
    path.write_text(content)
    r = runner.invoke(app, ["validate", str(path)])
    assert r.exit_code == 1 and "empty-dataset" in r.output and "--allow-empty" in r.output
    r = runner.invoke(app, ["validate", str(path), "--allow-empty"])
    assert r.exit_code == 0, r.output
    assert not trlprep.validate([]).valid
    assert trlprep.validate([], allow_empty=True).valid
