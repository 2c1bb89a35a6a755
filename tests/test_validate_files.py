"""validate over several files: every message about rows names each row's file and line
(text, JSON and GitHub reports; duplicates name both rows' files; broken lines too)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.realdata.support import run

A = [{"prompt": "Hi", "completion": "Hello"}, {"prompt": "Q", "completion": ""}]
B = [{"prompt": "Hi", "completion": "Hello"}, {"prompt": "X", "completion": "Y"}]


def _files(tmp_path: Path, bad_line: bool = False) -> tuple[str, str]:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in A))
    b.write_text("".join(json.dumps(r) + "\n" for r in B) + ("{broken\n" if bad_line else ""))
    return str(a), str(b)


def test_text_report_names_the_file_of_every_row_and_of_the_repeated_row(tmp_path):
    a, b = _files(tmp_path)
    res = run("validate", a, b)
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())  # wrapped to the width
    assert f"{b}:1 repeats {a}:1" in text
    assert "line 1 repeats line 1" not in text
    assert f"duplicate-row: 1 row, {b}:1" in text
    assert f"empty-string (completion): 1 row, {a}:2" in text


def test_json_report_gives_each_example_its_file(tmp_path):
    a, b = _files(tmp_path)
    got = json.loads(run("validate", a, b, "--format", "json").output)
    issues = {i["rule"]: i for i in got["issues"]}
    dup = issues["duplicate-row"]
    assert (dup["rows"], dup["lines"], dup["files"]) == ([2], [1], [b])
    assert f"{b}:1 repeats {a}:1" in dup["message"]
    empty = issues["empty-string"]
    assert (empty["lines"], empty["files"]) == ([2], [a])


def test_github_report_names_files_of_duplicates_and_broken_lines(tmp_path):
    a, b = _files(tmp_path, bad_line=True)
    for extra in ((), ("--on-bad-lines", "skip")):
        res = run("validate", a, b, "--format", "github", *extra)
        lines = res.output.splitlines()
        bad = next(x for x in lines if "invalid-line" in x)
        assert bad.startswith(f"::error file={b},line=3,"), bad
        assert "(at " not in bad  # the annotation itself says where
        dup = next(x for x in lines if "duplicate-row" in x)
        assert dup.startswith(f"::warning file={b},line=1,") and f"{b}:1 repeats {a}:1" in dup
    got = json.loads(run("validate", a, b, "--format", "json", "--on-bad-lines", "skip").output)
    bad = next(i for i in got["issues"] if i["rule"] == "invalid-line")
    assert (bad["lines"], bad["files"]) == ([3], [b])


def test_rows_of_several_parquet_files_are_named_by_file_and_row(tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(pa.Table.from_pylist(A), a)
    pq.write_table(pa.Table.from_pylist(B), b)
    text = " ".join(run("validate", a, b).output.split())
    assert f"{b} row 0 repeats {a} row 0" in text
    assert f"duplicate-row: 1 row, {b} row 0" in text


def test_one_file_keeps_its_plain_lines(tmp_path):
    a, _ = _files(tmp_path)
    Path(a).write_text("".join(json.dumps(r) + "\n" for r in A + A[:1]))
    got = json.loads(run("validate", a, "--format", "json").output)
    dup = next(i for i in got["issues"] if i["rule"] == "duplicate-row")
    assert "files" not in dup and "(line 3 repeats line 1)" in dup["message"]
