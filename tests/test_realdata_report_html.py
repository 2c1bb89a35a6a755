"""The report on real samples, its page read back: each max length's rows cut before their
reasoning's end (Sky-T1 traces), the rows an import refused listed by reason (PandaLM ties
and empty answers, HH-RLHF's empty last turns in shards), and a validation verdict that
agrees with `trlprep validate` given the same options.

Before, the page showed no `reasoning_end_cut`, listed the first 5 refused rows where the
text listed every reason, and the report said "valid" beside rows its import refused
(`validate --from pandalm`: 3 errors, 1 warning).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import pytest
from realdata.support import TINY_MODEL, run, sample

import trlprep
from tests.test_datareport_html import figures_of

pytestmark = pytest.mark.usefixtures("tokenizer_loaded_here")
REAL = Path(__file__).resolve().parent / "realdata"
PANDALM = sample("pandalm_testset")
HH = sample("hh_rlhf")
SKY = sample("skythought_amc23")
SKY_SFT = {"layout": "generations", "map": "prompt=question,completions=code"}


def test_page_shows_each_limits_rows_cut_before_their_reasoning_end():
    rep = trlprep.report(SKY, tokenizer=TINY_MODEL, max_length=3000, **SKY_SFT)
    shown = figures_of(rep)
    limits = rep.data["truncation"]["limits"]
    cut = {lim["max_length"]: lim["reasoning_end_cut"] for lim in limits}
    assert cut[3000] == 2 and cut[8192] == 0  # the text report's figures
    for i, lim in enumerate(limits):
        assert shown[f"truncation.limits.{i}.reasoning_end_cut"] == str(lim["reasoning_end_cut"])
    html = rep.to_html()
    assert "<th>reasoning end cut</th>" in html
    warned = "warning: 2 rows cut to --max-length 3000 before the end of their reasoning"
    assert escape(warned) in html and "--max-length 5286 keeps these answers" in html
    assert warned in rep.to_text()  # the same words on the page and in the terminal


def test_page_lists_the_refused_rows_by_reason_as_the_text_does():
    rep = trlprep.report(PANDALM, layout="pandalm")
    shown = figures_of(rep)
    reasons = rep.data["rows"]["rejected_reasons"]
    assert [(r["stage"], r["count"]) for r in reasons] == [
        ("not paired", 28), ("import", 4), ("import", 3), ("import", 2)
    ]  # fmt: skip
    assert [shown[f"rows.rejected_reasons.{i}.count"] for i in range(4)] == ["28", "4", "3", "2"]
    html = rep.to_html()
    for r in reasons:
        places = ", ".join(f"line {e['line']}" for e in r["examples"])
        assert escape(r["reason"]) in html and f"<td>{places}</td>" in html
    assert "(e.g. line 218, line 230, line 302)" in rep.to_text()
    assert "<td>line 218, line 230, line 302</td>" in html
    assert "line 218 (import)" not in html  # (was: the first 5 refused rows, one a line)
    assert "more rows not listed" not in html  # every one of the 37 rows is in a reason


def test_validation_says_what_validate_says_of_the_refused_rows():
    res = run("report", PANDALM, "--from", "pandalm", "-f", "json")
    assert res.exit_code == 0, res.output  # no --fail-if: an invalid verdict fails nothing
    val = json.loads(res.stdout)["validation"]
    said = json.loads(run("validate", PANDALM, "--from", "pandalm", "-f", "json").stdout)
    assert (val["valid"], val["errors"], val["warnings"]) == (False, 3, 1)
    assert [(i["rule"], i["count"]) for i in val["issues"]] == [
        (i["rule"], i["count"]) for i in said["issues"]
    ]
    assert said["valid"] is False and said["counts"]["error"] == 3
    assert "checked_as" not in val  # --from named: the same flags
    text = " ".join(run("report", PANDALM, "--from", "pandalm").output.split())
    assert "validation: INVALID (3 kinds of error, 1 kind of warning)" in text
    assert "import-failed, 9 rows; import-not-paired, 28 rows: the rows left out above" in text
    assert "cannot be imported from the pandalm layout" not in text  # listed once, by reason
    res = run("report", PANDALM, "--from", "pandalm", "--fail-if", "validation_errors > 0")
    assert res.exit_code == 1 and "fail-if: validation_errors = 3" in res.output


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("pandalm_testset", "--from alpacafarm"),  # refused rows and ties
        ("glaive_toolcall", "--from sharegpt"),  # a warning
        ("prm800k_openr", "--from prm800k"),  # several rows of one
        ("oumi_dataset_examples/vision_language_dpo_format.jsonl", "--from prompt-answers"),
    ],
)
def test_a_layout_read_unnamed_names_the_validate_that_agrees(name, flags):
    """The report reads a public layout without --from, as convert does; `validate` alone
    checks the columns as they are (`unknown-type`): the report names the flags whose
    verdict it gives, and that verdict is validate's (rules and rows alike)."""
    path = REAL / name if "/" in name else sample(name)
    data = json.loads(run("report", path, "-f", "json").stdout)
    val = data["validation"]
    assert val["checked_as"] == flags
    said = json.loads(run("validate", path, *flags.split(), "-f", "json").stdout)
    assert (val["valid"], val["errors"], val["warnings"]) == (
        said["valid"], said["counts"]["error"], said["counts"]["warning"]
    )  # fmt: skip
    got = [(i["rule"], i["count"]) for i in val["issues"]]
    assert got == [(i["rule"], i["count"]) for i in said["issues"]]
    line = next(x for x in run("report", path).output.splitlines() if x.startswith("validation"))
    assert line.endswith(f", as `trlprep validate {flags}` says (the rows as imported)")


def test_shards_name_each_refused_rows_file_as_validate_does(tmp_path):
    lines = HH.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, part in enumerate((lines[:60], lines[60:120], lines[120:])):
        (tmp_path / f"part-{i}.jsonl").write_text("".join(part), encoding="utf-8")
    rep = trlprep.report(tmp_path, layout="hh", tokenizer=TINY_MODEL)
    said = trlprep.validate(tmp_path, from_="hh")
    val = rep.data["validation"]
    assert (
        (val["valid"], val["errors"], val["warnings"])
        == (False, 1, 2)
        == (said.valid, len(said.errors), len(said.warnings))
    )
    (failed,) = [i for i in val["issues"] if i["rule"] == "import-failed"]
    assert failed["count"] == 4 and failed["places"][0] == f"{tmp_path}/part-1.jsonl:27"
    shown = figures_of(rep)
    assert shown["rows.rejected_reasons.0.count"] == "4"
    assert f"<td>{tmp_path}/part-1.jsonl:27, " in rep.to_html()


def test_a_table_imported_in_memory_counts_its_refused_rows_as_validate_does():
    records = json.loads(PANDALM.read_text(encoding="utf-8"))
    rows = [
        {**r, "response1": str(r["response1"]), "response2": str(r["response2"])} for r in records
    ]  # fmt: skip  (the booleans as text: one kind per column)
    rep = trlprep.report(rows, from_="pandalm")
    assert rep.data["rows"]["rejected_by_stage"] == {"import": 3, "not paired": 28}
    assert [r["count"] for r in rep.data["rows"]["rejected_reasons"]] == [28, 3]
    said = trlprep.validate(rows, from_="pandalm")
    val = rep.data["validation"]
    assert (val["valid"], val["errors"], val["warnings"]) == (False, 1, 1)
    assert (said.valid, len(said.errors), len(said.warnings)) == (False, 1, 1)
