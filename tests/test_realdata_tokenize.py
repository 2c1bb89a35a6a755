"""Templating and tokenising real samples: nothing dropped in silence.

A row whose whole completion is truncated away trains on nothing; `convert --tokenize`
refuses it (stage `tokenize`, naming the row) or sets it aside with `--on-error skip`.
A template that drops tool calls or tools (Llama 3) is warned about; one that raises on a
tool-call turn (ChatML) says so, naming the row.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import counts, rows_of, run, sample

KTO = sample("kto_demo")
FASTCHAT = sample("fastchat_dummy")
MODEL = "examples/tiny-chat-model"


@pytest.fixture(scope="module")
def kto_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kto")
    common = (KTO, "--chat-template", "qwen2.5", "--tokenize", "--tokenizer", MODEL)
    stop = run("convert", *common, "--max-length", 512, "-o", tmp / "stop.jsonl")
    skip = run(
        "convert", *common, "--max-length", 512, "-o", tmp / "skip.jsonl", "--on-error", "skip"
    )
    return tmp, stop, skip


def test_kto_rows_cut_away_stop_the_run_naming_the_row(kto_runs):
    tmp, stop, _ = kto_runs
    assert stop.exit_code == 1, stop.output
    # row 1's (line 15) prompt (its first user turn and Qwen's default system turn): 3,378 tokens
    assert (
        "kto_en_demo.json:15: tokenize: the completion is cut away by --max-length 512 "
        "(prompt is 3,378 tokens) (16 more rows fail)"
    ) in stop.output
    assert "--truncation keep_end" in stop.output
    assert not (tmp / "stop.jsonl").exists()
    assert "Token indices sequence length" not in stop.output  # trlprep handles lengths


def test_kto_rows_cut_away_go_to_rejects_and_the_rest_train_on_something(kto_runs):
    tmp, _, skip = kto_runs
    assert skip.exit_code == 0, skip.output
    assert counts(skip.output) == (50, 17, 33, 33)
    out = rows_of(tmp / "skip.jsonl")
    assert all(r["completion_ids"] for r in out)
    assert all(len(r["prompt_ids"]) + len(r["completion_ids"]) <= 512 for r in out)
    rejects = [json.loads(x) for x in (tmp / "skip.rejects.jsonl").read_text().splitlines()]
    assert len(rejects) == 17 and {r["stage"] for r in rejects} == {"tokenize"}
    assert rejects[0]["row"] == 1 and "cut away by --max-length 512" in rejects[0]["reason"]
    assert "18 rows truncated to --max-length 512: the completion's end cut in 18 rows" in (
        skip.output
    )
    assert "Token indices sequence length" not in skip.output


def test_sharegpt_prompt_completion_with_a_short_max_length_refuses_every_row(tmp_path):
    out = tmp_path / "pc.jsonl"
    args = ("convert", FASTCHAT, "--from", "sharegpt", "--to", "pc", "--chat-template", "qwen2.5")
    r = run(*args, "--tokenize", "--tokenizer", MODEL, "--max-length", 40, "-o", out)
    assert r.exit_code == 1, r.output
    assert "json:2: tokenize: the completion is cut away by --max-length 40" in r.output
    assert "(149 more rows fail)" in r.output and not out.exists()
    # keep_end keeps each prompt's end: every row still has a completion to train on
    r = run(*args, "--tokenize", "--tokenizer", MODEL, "--max-length", 120,
            "--truncation", "keep_end", "-o", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert all(any(row["completion_mask"]) for row in rows_of(out))
    assert "rows truncated to --max-length 120: the prompt's start cut in" in r.output


GLAIVE = sample("glaive_toolcall")


def test_glaive_with_llama3_warns_that_tool_calls_and_tools_are_dropped(tmp_path):
    """Llama 3 renders tool-call turns empty and ignores tools, as its original does: said."""
    out = tmp_path / "l3.jsonl"
    r = run("convert", GLAIVE, "--from", "sharegpt", "--chat-template", "llama3", "-o", out)
    assert r.exit_code == 0, r.output
    assert "warning: 26 rows hold assistant tool calls that llama3 does not render" in r.output
    assert "warning: 29 rows give tools that llama3 ignores" in r.output
    assert r.output.count("llama3 does not render") == 1  # once, with the count
    r = run("convert", GLAIVE, "--from", "sharegpt", "--chat-template", "qwen2.5", "-o",
            tmp_path / "q.jsonl")  # fmt: skip
    assert r.exit_code == 0 and "warning" not in r.output, r.output


def test_glaive_with_chatml_says_it_cannot_render_tool_call_turns(tmp_path):
    r = run("convert", GLAIVE, "--from", "sharegpt", "--chat-template", "chatml", "-o",
            tmp_path / "c.jsonl")  # fmt: skip
    assert r.exit_code == 1
    assert (
        "glaive_toolcall_en_demo.json:2: chat template: messages: chatml cannot render "
        "tool-call turns: message 3 holds "
        "tool calls and no content (chatml raised: 'dict object' has no attribute 'content') "
        "(25 more rows fail)"
    ) in r.output
    assert "use a template that renders tool calls: --chat-template qwen2.5 (or llama3.1)" in (
        r.output
    )
