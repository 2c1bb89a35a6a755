"""`trlprep report` on the real samples, read as a reviewer reads it: every figure it
prints is the data's, and nothing it counts goes unaccounted for."""

from __future__ import annotations

from pathlib import Path

import pytest

import trlprep

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
