"""Importers that make several rows of one say so beside the counts (rows in / out)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.conversion.ledger import Ledger
from trlprep.importers import ImportOptions, get_importer

REAL = Path(__file__).parent / "realdata"
PRM = REAL / "prm800k_openr" / "prm800k.jsonl"
SNI = REAL / "sni_task063" / "task063_first_i_elements.first12.jsonl"
OASST = REAL / "oasst_trees" / "en_100_tree.first20.jsonl"


def _cli(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize(
    "path, layout, said",
    [
        (PRM, "prm800k", "(import: 6 rows -> 37, one row per trajectory, as TRL's prm800k script)"),
        (SNI, "instances", "(import: 1 row -> 12, one row per instance)"),
        (OASST, "oasst", "(import: 20 rows -> 98, one row per thread)"),
        (OASST, "oasst-ranked", "(import: 20 rows -> 73, one row per pair (best-vs-rest))"),
    ],
)
def test_the_summary_says_how_rows_multiply(tmp_path, path, layout, said):
    res = _cli("convert", path, "--from", layout, "-o", tmp_path / "out.jsonl")
    assert res.exit_code == 0, res.output
    assert said in res.output


def test_explain_says_it_too():
    res = _cli("convert", PRM, "--from", "prm800k", "--explain")
    assert res.exit_code == 0, res.output
    assert (
        "import: 6 rows in, 37 imported (one row per trajectory, as TRL's prm800k script), "
        "0 cannot be imported" in res.output
    )


def test_one_row_per_row_says_nothing(tmp_path):
    res = _cli("convert", REAL / "hh_rlhf" / "harmless-base-test.sample.jsonl", "--from", "hh",
               "-o", tmp_path / "o.jsonl", "--on-error", "skip")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "159 converted -> 159 rows out -> " in res.output and "(import:" not in res.output


def test_expansion_phrases_follow_the_options():
    ranked = get_importer("ranked")
    assert ranked.expansion(ImportOptions()) == "one row per pair (best-vs-rest)"
    assert ranked.expansion(ImportOptions.make(threshold=3.0)) == (
        "one row per completion on either side of --threshold"
    )
    assert get_importer("alpaca").expansion(ImportOptions()) is None


def test_ledger_names_the_step_and_its_reason():
    ledger = Ledger(rows_in=2, rows_out=5)
    ledger.count_step("import", 2, 5)
    assert "(import: 2 rows -> 5)" in ledger.summary()
    ledger.expansions["import"] = "one row per instance"
    assert ledger.summary().endswith("(import: 2 rows -> 5, one row per instance)")
