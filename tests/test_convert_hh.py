"""Standard-format HH-RLHF (real rows) through prompt extraction: every row converts."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import needs_shared
from typer.testing import CliRunner

from trlprep.cli import app

runner = CliRunner()


def _hh() -> Path:
    path = needs_shared() / "data" / "real" / "hh-rlhf-harmless-base-test.jsonl.gz"
    if not path.exists():
        pytest.skip("the HH-RLHF sample is absent")
    return path


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_hh_to_explicit_preference_keeps_every_row(tmp_path):
    src = _hh()
    out = tmp_path / "pref.jsonl"
    r = runner.invoke(app, ["convert", str(src), "--to", "preference", "-o", str(out)])
    assert r.exit_code == 0, r.output
    rows = _rows(out)
    with gzip.open(src, "rt") as f:
        assert len(rows) == sum(1 for _ in f) == 2312
    assert all(x["chosen"] and x["rejected"] and x["prompt"] for x in rows)
    # line 1610: "You're welcome." is a prefix of the chosen answer
    row = rows[1609]
    assert row["prompt"].endswith("\n\nHuman: Thanks.\n\nAssistant:")
    assert row["chosen"] == " You’re welcome.  I’d be happy to have this conversation again if"
    assert row["rejected"] == " You’re welcome."
    assert "line 1610: one of chosen and rejected is a prefix" in r.output


def test_hh_to_prompt_completion_warns_only_about_what_happened(tmp_path):
    out = tmp_path / "pc.jsonl"
    r = runner.invoke(app, ["convert", str(_hh()), "--to", "pc", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "empty completion" not in r.output
    # the empty final Assistant turns of HH (only whitespace left) are named, by input line
    assert "lines 87, 517, 926, 1104: the chosen completion is only whitespace" in r.output
    rows = _rows(out)
    assert len(rows) == 2312 and all(x["completion"] for x in rows)
    assert rows[1609]["completion"].startswith(" You’re welcome.  I’d be happy")
