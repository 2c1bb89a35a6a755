"""Hints that disagreed between commands: validate's `--coerce` for a text column holding
numbers (as convert says it), import's `--map` advice on a TRL type (as detect gives it),
`convert --explain` saying where the real run stops on rows the import refuses, and every
figure `report --fail-if` takes listed in its error."""

from __future__ import annotations

import json

import pytest
from realdata.support import run, sample

import trlprep
from trlprep.datareport.result import FIGURES, summary
from trlprep.io.kinds import COERCE_ADVICE, coerce_advice


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("odd", "said"),
    [
        (5, f"{COERCE_ADVICE} (as `trlprep convert --coerce` does), or make them strings"),
        (True, "pass --coerce to read booleans as text (as `trlprep convert --coerce` does)"),
    ],
)
def test_validate_hints_coerce_for_numbers_among_text_as_convert_does(tmp_path, odd, said):
    path = _jsonl(
        tmp_path / "pc.jsonl",
        [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": odd}],
    )
    res = run("validate", path)
    assert res.exit_code == 1
    assert f"hint mixed-kind: {said}" in " ".join(res.output.split())
    converted = run("convert", path, "-o", tmp_path / "out.jsonl")
    assert coerce_advice([type(odd).__name__.replace("int", "number")]) in " ".join(
        converted.output.split()
    )  # the same words
    assert run("validate", path, "--coerce").exit_code == 0  # and the flag does it


def test_validate_keeps_the_rules_hint_where_coerce_cannot_help(tmp_path):
    rows = [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": ["d"]}]
    report = trlprep.validate(_jsonl(tmp_path / "pc.jsonl", rows))
    (issue,) = [i for i in report.issues if i.rule == "mixed-kind"]
    assert "coerce" not in issue.hint


def test_validate_api_hint_names_the_keyword(tmp_path):
    rows = [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": 5}]
    report = trlprep.validate(_jsonl(tmp_path / "pc.jsonl", rows))
    (issue,) = [i for i in report.issues if i.rule == "mixed-kind"]
    assert issue.hint.startswith("pass coerce=True to read numbers as text")


@pytest.mark.parametrize(
    ("name", "advice"),
    [
        ("humaneval", "`--map completion=canonical_solution`"),
        ("xtuner_verl_gsm8k", "`--map completion=extra_info.answer --conversational`"),
    ],
)
def test_import_on_a_trl_type_gives_detects_map_advice(tmp_path, name, advice):
    data = sample(name)
    said = " ".join(run("import", data, "-o", tmp_path / "out.jsonl").output.split())
    assert "hint: nothing to import" in said
    assert advice in said and "(trlprep import DATA --map completion=" in said
    assert advice in " ".join(run("detect", data).output.split())  # detect's advice
    assert not (tmp_path / "out.jsonl").exists()


def test_import_on_a_trl_type_without_an_answer_column_gives_no_map(tmp_path):
    path = _jsonl(tmp_path / "p.jsonl", [{"prompt": "a", "chosen": "b", "rejected": "c"}])
    said = " ".join(run("import", path, "-o", tmp_path / "out.jsonl").output.split())
    assert "nothing to import" in said and "--map" not in said


def test_explain_says_where_the_run_stops_on_rows_the_import_refuses(tmp_path):
    hh = sample("hh_rlhf")
    said = run("convert", hh, "--from", "hh", "--explain").output
    assert "4 cannot be imported" in said
    assert (
        "note: the run stops at line 87, the first of these 4 rows, and writes nothing; pass "
        "--on-error skip to write the other rows" in said
    )
    skipped = run("convert", hh, "--from", "hh", "--explain", "--on-error", "skip").output
    assert "note: the run sets these 4 rows aside in the rejects file" in skipped
    assert "stops" not in skipped
    stopped = run("convert", hh, "--from", "hh", "-o", tmp_path / "o.jsonl")
    assert stopped.exit_code == 1 and ":87: import:" in stopped.output  # as it said


def test_every_summary_figure_is_a_fail_if_key():
    """`summary` of a report with every section gives exactly `FIGURES`."""
    full = {
        "rows": {"in": 2, "reported": 2, "rejected": 0},
        "truncation": {"limits": [{"max_length": 8, "truncated": 0, "truncated_share": 0.0}]},
        "lengths": {"sequence": {"max": 5, "p99": 5}},
        "duplicates": {"exact_rows": 0, "identical_pairs": 0},
        "text": {"by_role": {}},
        "preference": {"chosen_longer_share": 0.5, "identical_pairs": 0},
        "validation": {"valid": True, "errors": 0},
    }
    assert set(summary(full, 8)) == set(FIGURES)


def test_fail_if_error_lists_every_figure_with_truncated_share(tmp_path):
    path = _jsonl(tmp_path / "p.jsonl", [{"prompt": "a", "chosen": "b", "rejected": "c"}])
    res = run("report", path, "--fail-if", "truncated_shar > 0.1")
    assert res.exit_code == 2
    said = " ".join(res.output.split())
    assert "no figure named 'truncated_shar'" in said
    for key in FIGURES:
        assert f" {key}," in said or f" {key};" in said, key
    off = run("report", path, "--no-validate", "--fail-if", "valid < 1")
    assert off.exit_code == 2 and "'valid' comes from the validation" in off.output


def test_the_coerce_advice_names_what_the_rows_hold():
    assert coerce_advice(["number"]) == COERCE_ADVICE
    assert coerce_advice(["bool", "string"]) == "pass --coerce to read booleans as text"
    assert coerce_advice(["bool", "number"]) == (
        "pass --coerce to read numbers and booleans as text"
    )
