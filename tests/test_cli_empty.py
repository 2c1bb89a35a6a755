"""An empty dataset is an error in every command (exit 1, a stated reason) unless
--allow-empty (issue 13, defect 6)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from trlprep.cli import app

runner = CliRunner()
REASON = "the dataset has no rows"


@pytest.fixture(params=["", "\n\n"], ids=["no-bytes", "blank-lines"])
def empty(tmp_path, request) -> str:
    path = tmp_path / "empty.jsonl"
    path.write_text(request.param)
    return str(path)


@pytest.mark.parametrize(
    "args",
    [
        ["detect"],
        ["detect", "--json"],
        ["validate"],
        ["convert", "--to", "lm", "-o", "{tmp}/o.parquet"],
        ["convert", "--from", "pref", "--to", "unpaired", "-o", "{tmp}/o.jsonl"],
        ["import", "--from", "sharegpt", "-o", "{tmp}/o.parquet"],
        ["pack", "--seq-length", "8", "-o", "{tmp}/o.parquet"],
        ["check-template", "--chat-template", "chatml"],
    ],
)
def test_empty_is_exit_1_with_a_reason(empty, tmp_path, args):
    cmd = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = runner.invoke(app, [cmd[0], empty, *cmd[1:]])
    assert r.exit_code == 1, r.output
    said = " ".join(r.output.split())  # a long temporary path wraps the message
    assert REASON in said and "--allow-empty" in said
    assert not (tmp_path / "o.parquet").exists() and not (tmp_path / "o.jsonl").exists()


def test_allow_empty_detect_and_validate(empty):
    assert runner.invoke(app, ["detect", empty, "--allow-empty"]).exit_code == 0
    r = runner.invoke(app, ["detect", empty, "--allow-empty", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["num_rows"] == 0
    assert runner.invoke(app, ["validate", empty, "--allow-empty"]).exit_code == 0


def test_allow_empty_convert_writes_an_empty_output_of_the_target_type(empty, tmp_path):
    out = tmp_path / "o.parquet"
    r = runner.invoke(app, ["convert", empty, "--to", "unpaired", "-o", str(out), "--allow-empty"])
    assert r.exit_code == 0, r.output
    table = pq.read_table(out)
    assert table.num_rows == 0 and table.column_names == ["prompt", "completion", "label"]
    r = runner.invoke(app, ["convert", empty, "-o", str(tmp_path / "x.parquet"), "--allow-empty"])
    assert r.exit_code == 2 and "--to TYPE" in r.output


def test_allow_empty_pack_writes_an_empty_output(empty, tmp_path):
    out = tmp_path / "p.parquet"
    r = runner.invoke(app, ["pack", empty, "--seq-length", "8", "-o", str(out), "--allow-empty"])
    assert r.exit_code == 0, r.output
    assert pq.read_table(out).num_rows == 0


def test_allow_empty_import_advises_convert_not_a_to_option_it_lacks(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    out = tmp_path / "o.jsonl"
    args = ["import", str(empty), "--allow-empty", "-o", str(out)]  # no layout: no landing
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "trlprep convert DATA --from LAYOUT --to TYPE --allow-empty" in result.stderr
    assert "pass --to" not in result.stderr and not out.exists()


def test_allow_empty_with_a_layout_writes_its_landing_columns(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    for command, layout, columns in (
        ("convert", "alpaca", ["prompt", "completion"]),
        ("import", "hh", ["chosen", "rejected"]),
    ):
        out = tmp_path / f"{layout}.parquet"
        args = [command, str(empty), "--from", layout, "--allow-empty", "-o", str(out)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        table = pq.read_table(out)
        assert table.num_rows == 0 and table.column_names == columns
    assert pa.types.is_list(table.schema.field("chosen").type)  # hh lands conversational
