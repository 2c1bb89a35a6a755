"""`trlprep validate`: exit codes, the three outputs, options, and a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import EXAMPLES, _m, needs_shared
from typer.testing import CliRunner

from trlprep.cli import app

runner = CliRunner()


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.fixture
def good(tmp_path) -> str:
    return write_jsonl(tmp_path / "good.jsonl", [EXAMPLES[("preference", "conversational")]])


@pytest.fixture
def bad(tmp_path) -> str:
    rows = [
        {"prompt": [_m("human", "Hi")], "completion": [_m("gpt", "Hello")]},
        {"prompt": [_m("user", "Hi")], "completion": [_m("assistant", "")]},
        {"prompt": [_m("user", "Hi")], "completion": [_m("assistant", "Fine.")]},
        {"prompt": [_m("user", "Hi")], "completion": [_m("assistant", "Fine.")]},
    ]
    return write_jsonl(tmp_path / "bad.jsonl", rows)


def test_valid_file_exits_0(good):
    res = runner.invoke(app, ["validate", good])
    assert res.exit_code == 0, res.output
    assert "valid: 1 row of preference (conversational)" in res.output


def test_invalid_file_exits_1_with_every_issue(bad):
    res = runner.invoke(app, ["validate", bad])  # not a terminal: one block per issue
    assert res.exit_code == 1
    for text in ("error: unknown-role", "error: empty-string", "line 2", "INVALID"):
        assert text in res.output
    assert "--role-map human=user" in res.output


def test_json_output(bad):
    res = runner.invoke(app, ["validate", bad, "--format", "json"])
    assert res.exit_code == 1
    d = json.loads(res.output)
    assert (d["valid"], d["type"], d["format"], d["num_rows"]) == (
        False,
        "prompt-completion",
        "conversational",
        4,
    )
    by_rule = {(i["rule"], i["column"]): i for i in d["issues"]}
    empty = by_rule[("empty-string", "completion")]
    assert (empty["severity"], empty["count"], empty["rows"], empty["lines"]) == (
        "error",
        1,
        [1],
        [2],
    )
    assert by_rule[("duplicate-row", None)]["lines"] == [4]
    assert all(i["message"] and i["hint"] for i in d["issues"])


def test_github_output(bad):
    res = runner.invoke(app, ["validate", bad, "--format", "github"])
    assert res.exit_code == 1
    lines = res.output.splitlines()
    assert f"::error file={bad},line=2,title=trlprep empty-string::" in "\n".join(lines)
    assert any(x.startswith(f"::warning file={bad},line=4,") for x in lines)
    assert lines[-1].startswith("INVALID")


def test_role_map_and_strict(bad, tmp_path):
    res = runner.invoke(
        app, ["validate", bad, "--role-map", "human=user,gpt=assistant", "--format", "json"]
    )
    rules = {i["rule"] for i in json.loads(res.output)["issues"]}
    assert "unknown-role" not in rules and "empty-string" in rules
    warn_only = write_jsonl(tmp_path / "w.jsonl", [{"text": "a"}, {"text": "a"}])
    assert runner.invoke(app, ["validate", warn_only]).exit_code == 0
    assert runner.invoke(app, ["validate", warn_only, "--strict"]).exit_code == 1


def test_max_errors(tmp_path):
    path = write_jsonl(tmp_path / "e.jsonl", [{"text": ""}] * 12)
    res = runner.invoke(app, ["validate", path, "--max-errors", "3", "--format", "json"])
    by_rule = {i["rule"]: i for i in json.loads(res.output)["issues"]}
    i = by_rule["empty-string"]
    assert (i["count"], i["rows"], i["lines"]) == (12, [0, 1, 2], [1, 2, 3])
    assert (by_rule["duplicate-row"]["count"], by_rule["duplicate-row"]["rows"]) == (11, [1, 2, 3])


def test_type_and_format_options(good):
    res = runner.invoke(app, ["validate", good, "--type", "pref", "--format", "conversational"])
    assert res.exit_code == 0
    res = runner.invoke(app, ["validate", good, "--type", "unpaired", "--format", "json"])
    assert res.exit_code == 1
    issues = json.loads(res.output)["issues"]
    assert {(i["rule"], i["column"]) for i in issues} >= {
        ("missing-column", "completion"),
        ("missing-column", "label"),
    }
    res = runner.invoke(app, ["validate", good, "--data-format", "standard", "--format", "json"])
    assert res.exit_code == 1
    assert {i["rule"] for i in json.loads(res.output)["issues"]} == {"wrong-type"}


@pytest.mark.parametrize(
    "args",
    [
        ["--type", "nope"],
        ["--format", "weird"],
        ["--type", "pref", "--data-format", "tokenized"],
        ["--format", "xml"],
        ["--role-map", "human"],
        ["--input-format", "nope"],
    ],
)
def test_usage_errors_exit_2(good, args):
    res = runner.invoke(app, ["validate", good, *args])
    assert res.exit_code == 2, res.output
    assert "error" in res.output
    assert "Traceback" not in res.output


def test_io_errors_exit_2(tmp_path):
    res = runner.invoke(app, ["validate", str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 2
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a"}\n{"text": \n{"text": "b"}\n[2]\n')
    # a broken line is invalid data: exit 1, in every output mode, with its line
    res = runner.invoke(app, ["validate", str(broken)])
    assert res.exit_code == 1
    assert "invalid-line" in res.output and "line 2" in res.output
    res = runner.invoke(app, ["validate", str(broken), "--format", "json"])
    assert res.exit_code == 1
    report = json.loads(res.stdout)
    assert [(i["rule"], i["lines"]) for i in report["issues"]] == [("invalid-line", [2])]
    res = runner.invoke(app, ["validate", str(broken), "--format", "github"])
    assert res.exit_code == 1
    assert "::error file=" in res.stdout and "line=2,title=trlprep invalid-line" in res.stdout
    # --on-bad-lines skip reads the rest and reports every skipped line
    res = runner.invoke(
        app, ["validate", str(broken), "--format", "json", "--on-bad-lines", "skip"]
    )
    assert res.exit_code == 1
    report = json.loads(res.stdout)
    assert report["num_rows"] == 2 and report["type"] == "language-modeling"
    assert [(i["rule"], i["lines"]) for i in report["issues"]] == [
        ("invalid-line", [2]),
        ("invalid-line", [4]),
    ]


def test_reading_stopped_at_a_bad_line_checks_and_counts_the_rows_before_it(tmp_path):
    cut = tmp_path / "cut.jsonl"  # an interrupted download: the last line cut mid-object
    cut.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "c", "compl')
    res = runner.invoke(app, ["validate", str(cut), "--format", "json"])
    assert res.exit_code == 1, res.output
    report = json.loads(res.stdout)
    assert report["num_rows"] == 1 and report["type"] == "prompt-completion"
    assert [(i["rule"], i["lines"]) for i in report["issues"]] == [("invalid-line", [2])]
    res = runner.invoke(app, ["validate", str(cut)])
    assert "INVALID: 1 row of prompt-completion (standard); 1 error" in res.output
    assert "reading stopped at line 2" in res.output

    shards = tmp_path / "shards"  # several files: the files after the stop are not read
    shards.mkdir()
    good = '{"prompt": "a", "completion": "b"}\n'
    (shards / "1.jsonl").write_text(good)
    (shards / "2.jsonl").write_text(good + "{broken\n" + good)
    (shards / "3.jsonl").write_text(good + "[1]\n")
    res = runner.invoke(app, ["validate", str(shards)])
    assert res.exit_code == 1, res.output
    flat = " ".join(res.output.split())
    assert "INVALID: 2 rows of prompt-completion (standard)" in flat
    assert f"reading stopped at {shards / '2.jsonl'}:2;" in flat
    assert f"shard {shards / '3.jsonl'}: not read (reading stopped before it)" in flat


def test_split_and_input_format(tmp_path):
    import datasets

    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list([{"text": "a"}]),
            "test": datasets.Dataset.from_list([{"text": ""}]),
        }
    )
    folder = tmp_path / "dd"
    dd.save_to_disk(str(folder))
    assert runner.invoke(app, ["validate", str(folder), "--split", "train"]).exit_code == 0
    assert runner.invoke(app, ["validate", str(folder), "--split", "test"]).exit_code == 1
    odd = tmp_path / "rows.txt"
    odd.write_text('{"text": "a"}\n')
    result = runner.invoke(app, ["validate", str(odd)])  # plain text: each line a `text` row
    assert result.exit_code == 0 and "the lines look like JSON objects" in result.output
    assert "--input-format jsonl" in result.output
    assert runner.invoke(app, ["validate", str(odd), "--input-format", "jsonl"]).exit_code == 0


def test_parquet_has_rows_not_lines(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"prompt": ["a", ""], "completion": ["b", "c"]}), path)
    res = runner.invoke(app, ["validate", str(path), "--format", "json"])
    assert res.exit_code == 1
    (i,) = json.loads(res.output)["issues"]
    assert i["rows"] == [1] and "lines" not in i


def test_real_subprocess(bad, good):
    env = {**os.environ, "COLUMNS": "120"}
    cmd = [sys.executable, "-m", "trlprep", "validate"]
    proc = subprocess.run([*cmd, bad, "--format", "json"], capture_output=True, text=True, env=env)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["valid"] is False
    proc = subprocess.run([*cmd, good], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "valid: 1 row of" in proc.stdout


def test_real_hh_rlhf_sample():
    shared = needs_shared()
    path = shared / "data" / "real" / "hh-rlhf-harmless-base-test.jsonl.gz"
    if not path.exists():
        pytest.skip("hh-rlhf sample is absent")
    res = runner.invoke(app, ["validate", str(path), "--format", "json"])
    d = json.loads(res.output)
    assert (d["type"], d["format"], d["num_rows"]) == ("preference-implicit", "standard", 2312)
    assert res.exit_code == (0 if d["valid"] else 1)
    assert not [i for i in d["issues"] if i["severity"] == "error"]
