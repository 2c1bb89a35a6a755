"""ms-swift's `alpaca.csv` read with `pandas.read_csv`: its `system` column (`00000` and
empty cells) becomes float64, which the alpaca import refuses. The error said only "must
hold text, not double"; it now says why a frame holds numbers there and what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from realdata.support import run

import trlprep
from trlprep.errors import DataError

CSV = Path(__file__).parent / "realdata" / "swift_llm_data" / "alpaca.csv"


def test_numbers_in_a_text_column_of_a_frame_say_to_read_it_as_text():
    pd = pytest.importorskip("pandas")
    with pytest.raises(DataError) as info:
        trlprep.convert(pd.read_csv(CSV), "pc", from_="alpaca")
    assert "column 'system': must hold text, not double" in str(info.value)
    assert "read the file with dtype=str" in info.value.hint


def test_read_as_text_the_frame_imports_as_the_cli_reads_the_file(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = trlprep.convert(pd.read_csv(CSV, dtype=str), "pc", from_="alpaca")
    res = run("convert", CSV, "--from", "alpaca", "--to", "pc", "-o", tmp_path / "o.jsonl")
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert frame.to_dict("records") == rows
    assert rows[0]["prompt"].startswith("00000\n\n### Instruction:\n11111")
