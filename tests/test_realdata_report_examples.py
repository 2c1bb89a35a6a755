"""`report --examples N` on real samples: the rendered rows are in the JSON report and in the
text summary, and unrendered conversations are shown as their JSON (never Python reprs)."""

from __future__ import annotations

import json

from realdata.support import run, sample

KTO = sample("kto_demo")
RLVR = sample("open_instruct_rlvr")


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


def test_text_report_shows_the_rendered_examples():
    args = ("--map", "prompt=messages,completion=ground_truth", "--conversational")
    res = run("report", RLVR, *args, "--chat-template", "chatml", "--examples", "2")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    at = lines.index(
        "examples (rendered as trained; * = in the loss; -o report.html shows them whole):"
    )
    assert lines[at + 1 : at + 7] == [
        "  line 1:",
        "    prompt     '<|im_start|>user\\nWhat is 1 + 2?<|im_end|>\\n<|im_start|>assistant\\n'",
        "   *completion '3<|im_end|>\\n'",
        "  line 2:",
        "    prompt     '<|im_start|>user\\nWhat is 2 + 3?<|im_end|>\\n<|im_start|>assistant\\n'",
        "   *completion '5<|im_end|>\\n'",
    ]
    res = run("report", RLVR, *args, "--chat-template", "chatml", "--examples", "0")
    assert "examples (" not in res.output
