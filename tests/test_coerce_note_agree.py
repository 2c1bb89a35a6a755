"""`validate --coerce` and `convert --coerce --on-error skip` say the same booleans note:
validate counts the values read as booleans only in the rows without errors (the rows
convert keeps), on a small file and on a real KTO sample."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from trlprep.cli import app

REAL = Path(__file__).parent / "realdata" / "kto_demo" / "kto_en_demo.json"


def _notes(args: list[str]) -> list[str]:
    res = CliRunner().invoke(app, args)
    return [x.strip() for x in res.output.splitlines() if "read as booleans" in x]


def _both(src: Path, out: Path) -> tuple[list[str], list[str]]:
    validated = _notes(["validate", str(src), "--coerce"])
    converted = _notes(["convert", str(src), "-o", str(out), "--coerce", "--on-error", "skip"])
    return validated, converted


def test_small_file_notes_agree(tmp_path):
    rows = [
        {"prompt": "p1", "completion": None, "label": 1},  # null completion: an error
        {"prompt": "p2", "completion": "c2", "label": 0},
        {"prompt": "p3", "completion": "c3", "label": 2},  # no boolean reading
        {"prompt": "p4", "completion": "c4", "label": True},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    validated, converted = _both(src, tmp_path / "out.jsonl")
    assert converted and "1 value " in converted[0], converted
    assert validated == converted


def test_real_kto_sample_notes_agree(tmp_path):
    rows = json.loads(REAL.read_text())[:20]
    for r in rows:
        r["label"] = int(r["label"])
    rows[3]["messages"] = None  # one invalid row: its label is not counted
    src = tmp_path / "kto.json"
    src.write_text(json.dumps(rows, indent=1))
    validated, converted = _both(src, tmp_path / "out.jsonl")
    assert converted and "19 values " in converted[0], converted
    assert validated == converted
