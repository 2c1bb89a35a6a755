"""`trlprep import`: writes the landing type, reports rejected rows, explains, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
from conftest import needs_shared
from typer.testing import CliRunner

import trlprep.api as api
from trlprep.cli import app

FIX = Path(__file__).parent / "fixtures" / "importers"


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_import_stop_exits_1_naming_the_line(tmp_path):
    out = tmp_path / "hh.parquet"
    res = _run("import", str(FIX / "hh.jsonl"), "--from", "hh", "-o", str(out))
    assert res.exit_code == 1
    assert "hh.jsonl:5" in res.output and "ends with an empty Assistant turn" in res.output
    assert "--on-error skip" in res.output
    assert not out.exists()


def test_import_skip_writes_output_and_rejects(tmp_path):
    out = tmp_path / "hh.parquet"
    res = _run(
        "import", str(FIX / "hh.jsonl"), "--from", "hh", "-o", str(out), "--on-error", "skip"
    )
    assert res.exit_code == 0, res.output
    assert "7 rows in, 3 rejected, 4 converted -> 4 rows out" in res.output
    table = pq.read_table(out)
    assert table.num_rows == 4
    assert api.validate(table, type="implicit", format="conversational").valid
    rejects = [
        json.loads(line) for line in (tmp_path / "hh.rejects.jsonl").read_text().splitlines()
    ]
    assert [r["line"] for r in rejects] == [5, 6, 7]
    assert rejects[1]["record"]["chosen"].startswith("Transcript 12")
    assert all(r["reason"] for r in rejects)


def test_import_explicit_rejects_file_and_jsonl_output(tmp_path):
    out, rej = tmp_path / "lm.jsonl", tmp_path / "bad.jsonl"
    res = _run(
        "import",
        str(FIX / "sharegpt_bad.jsonl"),
        "--from",
        "sharegpt",
        "-o",
        str(out),
        "--on-error",
        "skip",
        "--rejects",
        str(rej),
    )
    assert res.exit_code == 0, res.output
    assert len(out.read_text().splitlines()) == 2
    assert len(rej.read_text().splitlines()) == 4


def test_import_detects_the_layout(tmp_path):
    out = tmp_path / "pc.parquet"
    res = _run("import", str(FIX / "alpaca.json"), "-o", str(out), "--conversational")
    assert res.exit_code == 0, res.output
    assert "alpaca -> prompt-completion (conversational)" in res.output
    assert pq.read_table(out).num_rows == 4


def test_import_explain_writes_nothing(tmp_path):
    res = _run("import", str(FIX / "ranked.jsonl"), "--from", "ranked", "--explain")
    assert res.exit_code == 0, res.output
    assert "lands on: preference (standard)" in res.output
    assert (
        "import: 4 rows in, 3 imported (one row per pair (best-vs-rest)), 1 cannot be "
        "imported, 1 not paired (no error)" in res.output
    )
    said = "note: the run stops at line 3, the row that cannot be imported, and writes nothing"
    assert said in res.output
    assert "fewer than two completions" in res.output and "(ties)" in res.output
    assert list(tmp_path.iterdir()) == []


def test_import_map_and_map_role(tmp_path):
    out = tmp_path / "lm.parquet"
    res = _run(
        "import",
        str(FIX / "mapped_roles.jsonl"),
        "--from",
        "map",
        "--map",
        "messages=dialog",
        "--map-role",
        "human=user,bot=assistant",
        "-o",
        str(out),
    )
    assert res.exit_code == 0, res.output
    roles = [[m["role"] for m in r] for r in pq.read_table(out).column("messages").to_pylist()]
    assert roles == [["user", "assistant"], ["user", "assistant"]]


def test_import_usage_errors(tmp_path):
    src = str(FIX / "hh.jsonl")
    out = str(tmp_path / "o.parquet")
    for args, text in [
        (("--from", "nope", "-o", out), "unknown layout"),
        (("--from", "hh"), "missing output"),
        (("--from", "hh", "-o", out, "--rejects", "r.jsonl"), "--rejects needs --on-error skip"),
        (("--from", "hh", "-o", out, "--on-error", "ignore"), "--on-error"),
        (("--from", "map", "--map", "prompt=nope", "-o", out), "no column 'nope'"),
        (("--from", "ranked", "--pairing", "random", "-o", out), "--pairing"),
        (("-o", out), "cannot tell the layout"),
    ]:
        res = _run("import", src if "-o" not in args[:1] else str(FIX / "mapped.jsonl"), *args)
        assert res.exit_code == 2, (args, res.output)
        assert text in res.output, (args, res.output)
        assert "Traceback" not in res.output


def test_import_real_hh(tmp_path):
    shared = needs_shared()
    src = tmp_path / "hh.jsonl.gz"
    shutil.copy(shared / "data" / "real" / "hh-rlhf-harmless-base-test.jsonl.gz", src)
    out = tmp_path / "hh.parquet"
    res = _run("import", str(src), "--from", "hh", "-o", str(out), "--on-error", "skip")
    assert res.exit_code == 0, res.output
    rejected = (tmp_path / "hh.rejects.jsonl").read_text().splitlines()
    assert pq.read_table(out).num_rows + len(rejected) == 2312
