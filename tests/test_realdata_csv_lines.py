"""A real CSV (a TruthfulQA answer review) whose quoted values hold line breaks: every
command names its rows by the line their record starts on, as Python's `csv.reader`
counts lines (CRLF records, bare LF and empty lines inside values)."""

from __future__ import annotations

import csv
import json

from realdata.support import HERE, counts, run

from trlprep.io.readers import read

REVIEW = HERE / "truthfulqa_multi_review" / "en.first40.csv"
ANTES = "prompt=question,completion=antes"  # empty in 29 of the 40 records


def _csv_reader_lines() -> list[int]:
    """The line `csv.reader` starts each data record on."""
    with REVIEW.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        found, line = [], 0
        for record in reader:
            if record:
                found.append(line + 1)
            line = reader.line_num
    return found[1:]


def test_rows_are_named_by_the_line_csv_reader_starts_them_on():
    lines = read(REVIEW).lines.tolist()
    assert len(lines) == 40
    assert lines == _csv_reader_lines()
    assert lines[:6] == [2, 11, 16, 21, 32, 38]


def test_rejects_and_issues_name_those_lines(tmp_path):
    expected = _csv_reader_lines()
    out = tmp_path / "pc.jsonl"
    res = run("convert", REVIEW, "--map", ANTES, "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (40, 29, 11, 11)
    rejects = [json.loads(x) for x in out.with_name("pc.rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [expected[r["row"]] for r in rejects]
    assert rejects[0]["line"] == 2 and rejects[0]["record"]["id"] == "114__gemma-2-27b-it"
    res = run("validate", REVIEW, "--map", ANTES, "--format", "json")
    (failed,) = [i for i in json.loads(res.output)["issues"] if i["rule"] == "import-failed"]
    assert failed["count"] == 29
    assert failed["lines"] == [expected[r] for r in failed["rows"]]


def test_yes_no_labels_are_refused_naming_the_line(tmp_path):
    mapping = "prompt=question,completion=model_answer,label=truthfulness"
    res = run("convert", REVIEW, "--map", mapping, "--coerce", "-o", tmp_path / "u.jsonl")
    assert res.exit_code == 1
    text = " ".join(res.output.split())
    assert f"{REVIEW}:2: " in text and 'holds "no" where a boolean is needed' in text
