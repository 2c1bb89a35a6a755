"""`convert --explain` with `--chat-template` on standard text already rendered with a chat
template says the refusal a run gives (was: the plain "this data is standard text", with
`--conversational` offered, which would template the text twice)."""

from __future__ import annotations

import json

import pytest
from realdata.support import run

ROWS = [
    {"text": "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n"},
    {"text": "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\nCiao<|im_end|>\n"},
]


@pytest.fixture
def rendered(tmp_path):
    path = tmp_path / "rendered.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def test_explain_says_the_refusal_a_run_gives(rendered, tmp_path):
    ran = run("convert", rendered, "--chat-template", "chatml", "-o", tmp_path / "o.jsonl")
    explained = run("convert", rendered, "--chat-template", "chatml", "--explain")
    assert ran.exit_code == explained.exit_code == 2
    said = " ".join(explained.output.split())
    assert "this data is standard text and the text is already rendered with a chat " in said
    assert "template (it holds `<|im_start|>`)" in said
    assert "--conversational would make it messages and template it twice" in said
    assert " ".join(ran.output.split()) == said
    assert not (tmp_path / "o.jsonl").exists()


def test_explain_on_plain_text_keeps_the_plain_refusal(tmp_path):
    path = tmp_path / "plain.jsonl"
    path.write_text(json.dumps({"text": "just text"}) + "\n")
    res = run("convert", path, "--chat-template", "chatml", "--explain")
    assert res.exit_code == 2
    assert "already rendered" not in res.output
    assert "this data is standard text" in res.output


def test_the_ray_engine_gives_the_same_refusal(rendered, tmp_path):
    pytest.importorskip("ray")
    res = run("convert", rendered, "--engine", "ray", "--chat-template", "chatml",
              "-o", tmp_path / "o.jsonl")  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "already rendered with a chat template" in " ".join(res.output.split())
