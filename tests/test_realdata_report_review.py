"""`trlprep report` on the real samples, read as a reviewer reads it: every figure it
prints is the data's, and nothing it counts goes unaccounted for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from realdata.support import run

import trlprep
from trlprep.wording import plural

REAL = Path(__file__).resolve().parent / "realdata"
HH = REAL / "hh_rlhf" / "harmless-base-test.sample.jsonl"
pytestmark = pytest.mark.usefixtures("tokenizer_loaded_here")


@pytest.fixture(scope="module")
def hh():
    return trlprep.report(HH, layout="hh")


def test_rows_refused_at_import_are_all_accounted_for(hh):
    """HH's 4 rows ending on an empty Assistant turn (lines 87, 151, 154, 155): the report
    names the first and says how many more it does not list (it said '4 rows failed' over
    3 lines, the 4th unmentioned)."""
    rows = hh.data["rows"]
    assert rows["rejected"] == 4 and rows["rejected_by_stage"] == {"import": 4}
    listed = [e["line"] for e in rows["rejected_examples"]]
    assert listed == [87, 151, 154]
    text = hh.to_text()
    assert "4 rows failed at import" in text
    assert "and 1 more row not listed (`trlprep validate` lists each)" in text
    assert "and 1 more row not listed" in hh.to_html()


def test_identical_pairs_are_counted_without_a_tokenizer(tmp_path):
    """Chosen equal to rejected is a text comparison: the report says it (text, HTML, JSON)
    and `--fail-if 'identical_pairs > 0'` holds without a tokenizer (it was a usage error,
    'measured in tokens: pass --tokenizer')."""
    lines = HH.read_text().splitlines()
    row = json.loads(lines[1])
    row["rejected"] = row["chosen"]
    lines[1] = json.dumps(row)
    (same := tmp_path / "hh_same_pair.jsonl").write_text("\n".join(lines) + "\n")
    for path, n in ((HH, 0), (same, 1)):
        rep = trlprep.report(path)
        assert rep.data["duplicates"]["identical_pairs"] == n
        assert rep.value("identical_pairs") == n
        assert f"{plural(n, 'pair')} with chosen = rejected" in rep.to_text()
        assert f'data-key="duplicates.identical_pairs">{n}<' in rep.to_html()
        res = run("report", path, "-f", "json", "--fail-if", "identical_pairs > 0")
        assert res.exit_code == n, res.output
    assert "fail-if: identical_pairs = 1 (> 0)" in res.stderr


def test_identical_pairs_not_said_of_data_without_pairs():
    rep = trlprep.report(REAL / "kto_demo" / "kto_en_demo.json")
    assert "identical_pairs" not in rep.data["duplicates"]
    assert "chosen = rejected" not in rep.to_text()
