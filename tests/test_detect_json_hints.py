"""`detect --json` carries the advice `detect` prints as text: each problem's hint, every
note (the `--map label=COLUMN --coerce` advice for a 0/1 column), the layout line's."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from trlprep.cli import app

ALPACA = Path(__file__).parent / "realdata" / "alpaca_demo" / "alpaca_en_demo.json"


def _both(path: str) -> tuple[str, dict]:
    text = CliRunner().invoke(app, ["detect", path])
    got = CliRunner().invoke(app, ["detect", path, "--json"])
    assert text.exit_code == got.exit_code, (text.output, got.output)
    return text.output, json.loads(got.output)


def _said(text: str, prefix: str) -> list[str]:
    """The text output's lines that start with `prefix`, the prefix cut (a wrapped line
    joined: the text is printed without wrapping)."""
    return [x.strip()[len(prefix) :] for x in text.splitlines() if x.strip().startswith(prefix)]


def test_problem_hint_of_zero_one_labels(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(
        pa.table({"prompt": ["a", "b"], "completion": ["x", "y"], "label": [1, 0]}), path
    )
    text, got = _both(str(path))
    hints = _said(text, "hint: ")
    assert hints and "`--coerce` reads them as booleans" in hints[0]
    assert [p.get("hint") for p in got["problems"]] == hints
    assert "`trlprep validate --coerce`" in got["problems"][0]["hint"]


def test_map_label_coerce_advice_in_the_notes(tmp_path):
    path = tmp_path / "pc.jsonl"
    rows = [{"prompt": f"q{i}", "completion": "a", "thumbs_up": i % 2} for i in range(4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    text, got = _both(str(path))
    notes = _said(text, "note: ")
    assert any("`--map label=thumbs_up --coerce`" in n for n in notes)
    assert got["notes"] == notes and not got["problems"]


def test_layout_line_advice():
    text, got = _both(str(ALPACA))
    (line,) = _said(text, "layout: ")
    assert got["layout"] == "alpaca" and line == f"alpaca ({got['layout_hint']})"
    assert "--from alpaca" in got["layout_hint"]
