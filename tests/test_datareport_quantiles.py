"""The report's quantiles are nearest-rank (pN: the smallest value N% of rows are at or
below), and where there are too few rows for one to differ from the max (p99 under 100
rows) the JSON names it (`quantiles_at_max`) and the text and HTML reports say so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import trlprep
from trlprep.datareport.figures import QUANTILES, at_max_note, length_stats

TINY = Path(__file__).resolve().parent.parent / "examples" / "tiny-chat-model"


@pytest.mark.parametrize("n", [1, 2, 5, 9, 10, 30, 99, 100, 101, 1000, 1237])
def test_quantiles_are_the_nearest_rank(n):
    values = np.random.default_rng(n).integers(0, 5000, n)
    got = length_stats(values)
    for name, pct in QUANTILES.items():
        assert got[name] == int(np.quantile(values, pct / 100, method="inverted_cdf")), name
    assert (got["min"], got["max"], got["total"]) == (values.min(), values.max(), values.sum())
    at_max = [name for name, pct in QUANTILES.items() if n < 100 / (100 - pct)]
    assert got["quantiles_at_max"] == at_max


def test_p99_of_100_rows_is_not_the_max():
    """1..100: 99 rows are at or below 99 (polars' "higher" said 100); of 30 rows p90 is the
    27th (higher: the 28th)."""
    got = length_stats(np.arange(1, 101))
    assert (got["p50"], got["p90"], got["p99"], got["max"]) == (50, 90, 99, 100)
    assert got["quantiles_at_max"] == [] and at_max_note(got) is None
    got = length_stats(np.arange(1, 31))
    assert (got["p90"], got["p99"], got["quantiles_at_max"]) == (27, 30, ["p99"])
    assert at_max_note(got) == (
        "p99 is the max with 30 rows: a nearest-rank p99 can be below the max only from 100 rows"
    )
    assert at_max_note(length_stats(np.arange(5))).startswith("p90 and p99 are the max with 5")


def _report(tmp: Path, n: int):
    path = tmp / f"pc{n}.jsonl"
    rows = [{"prompt": "Say " + "a " * i, "completion": "b " * (i % 17 + 1)} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return trlprep.report(path, tokenizer=str(TINY), examples=0, validate=False)


def test_every_rendering_says_p99_is_the_max_under_100_rows(tmp_path):
    few, many = _report(tmp_path, 30), _report(tmp_path, 100)
    seq = few.value("lengths.sequence")
    assert seq["p99"] == seq["max"] and seq["quantiles_at_max"] == ["p99"]
    assert json.loads(few.to_json())["lengths"]["prompt"]["quantiles_at_max"] == ["p99"]
    note = "p99 is the max with 30 rows: a nearest-rank p99 can be below the max only from 100"
    assert f"note: {note}" in few.to_text()
    assert "P" + note[1:] in few.to_html()
    seq = many.value("lengths.sequence")
    assert seq["p99"] < seq["max"] and seq["quantiles_at_max"] == []
    assert "nearest-rank" not in many.to_text() and "nearest-rank" not in many.to_html()
