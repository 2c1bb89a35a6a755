"""What a new user hit in the first hour, round two: help texts that name every choice."""

from __future__ import annotations

import typer

from trlprep.cli import app
from trlprep.importers import layout_names


def _option_help(command: str, flag: str) -> str:
    cmd = typer.main.get_command(app).commands[command]
    (param,) = [p for p in cmd.params if flag in getattr(p, "opts", ())]
    return param.help


def test_import_from_help_names_every_layout():
    said = _option_help("import", "--from")
    listed = said.removeprefix("Layout: ").split(" (detected")[0].split(" | ")
    assert listed == layout_names()  # swift and binarized were missing


def test_convert_of_question_answer_hints_the_map_not_a_layout(tmp_path):
    import json

    from typer.testing import CliRunner

    src = tmp_path / "qa.jsonl"
    src.write_text(json.dumps({"question": "2+2?", "answer": "4"}) + "\n")
    res = CliRunner().invoke(app, ["convert", str(src), "--to", "pc", "-o", str(tmp_path / "o")])
    assert res.exit_code == 1
    hint = res.output.split("hint:")[1]
    assert "pass `--map prompt=question,completion=answer`" in hint
    assert "--from LAYOUT" not in res.output  # no layout reads these columns
