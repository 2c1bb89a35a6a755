"""`report --examples N` on real samples: unrendered conversations are shown as their JSON
(never Python reprs)."""

from __future__ import annotations

import json

from realdata.support import run, sample

KTO = sample("kto_demo")


def test_unrendered_messages_are_json_in_the_examples(tmp_path):
    out = tmp_path / "rep.json"
    res = run("report", KTO, "--examples", "1", "-o", out)
    assert res.exit_code == 0, res.output
    parts = json.loads(out.read_text())["examples"][0]["parts"]
    row = json.loads(KTO.read_text())[0]
    assert [p["role"] for p in parts] == ["prompt", "completion"]
    assert json.loads(parts[0]["text"]) == row["messages"][:-1]
    assert json.loads(parts[1]["text"]) == row["messages"][-1:]
    assert "{'content'" not in parts[0]["text"]
