"""`report`'s examples of conversations with no chat template are the messages as JSON,
escaped once: a LaTeX `\\bullet` in a message reads `\\\\bullet` in JSON, not four backslashes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from trlprep.cli import app


def test_unrendered_messages_are_shown_as_json_escaped_once(tmp_path):
    path = tmp_path / "p.jsonl"
    content = "A list: $\\bullet$ one\nand two"
    path.write_text(json.dumps({"prompt": [{"role": "user", "content": content}]}) + "\n")
    res = CliRunner().invoke(app, ["report", str(path), "--examples", "1"])
    assert res.exit_code == 0, res.output
    shown = json.dumps([{"role": "user", "content": content}], ensure_ascii=False)
    assert f"prompt     {shown}" in res.stdout
    assert "\\\\\\\\bullet" not in res.stdout


def test_rendered_text_is_still_escaped_on_one_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"text": "one\ntwo \\x"}) + "\n")
    res = CliRunner().invoke(app, ["report", str(path), "--examples", "1"])
    assert res.exit_code == 0, res.output
    assert repr("one\ntwo \\x") in res.stdout
