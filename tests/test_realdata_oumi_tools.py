"""Real Oumi tool-calling examples (oumi-ai/oumi
`data/dataset_examples/tool_calling_oumi_format.jsonl`): `tool` results with an `id`, after
assistant turns that wrote no call, and a `metadata` object.

Read as conversational language modeling, `validate` warning that each result answers no
call (`tool-result-without-call`; was: valid, nothing said); the turn before the last answer
(a tool result) ends the prompt of prompt-completion rows; the renders equal the original
templates' where these render a tool turn, and templates that refuse it refuse each row with
their own message.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import (
    counts,
    original_render,
    original_template_args,
    records,
    rows_of,
    run,
    sample,
    train_one_step,
    without_nulls,
)

DATA = sample("oumi_tool_calling")


def test_detect_reads_conversations_with_tool_turns():
    res = run("detect", DATA)
    assert res.exit_code == 0, res.output
    assert "language-modeling" in res.output and "conversational" in res.output
    assert "assistant, system, tool, user" in res.output
    assert "extra columns  metadata" in res.output


def test_validate_warns_that_each_result_answers_no_call():
    """Before: "valid: 6 rows", nothing said of the missing calls."""
    res = run("validate", DATA)
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "warning: tool-result-without-call (messages): 6 rows, lines 1, 2, 3, 4, 5" in said
    assert "hint tool-result-without-call: add the assistant's tool_calls" in said
    assert "valid: 6 rows of language-modeling (conversational); 1 warning" in said


def test_prompt_completion_ends_the_prompt_on_the_tool_result(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", DATA, "--to", "prompt-completion", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (6, 0, 6, 6)
    rows = rows_of(out)
    first = records(DATA)[0]["messages"]
    assert rows[0]["prompt"][:2] == first[:2]
    assert first[2] == {"role": "tool", "id": "call_abc123", "content": first[2]["content"]}
    # Oumi's `id` on a tool message is the call it answers: written as `tool_call_id`
    assert rows[0]["prompt"][2] == {
        "role": "tool", "content": first[2]["content"], "tool_call_id": "call_abc123"
    }  # fmt: skip
    assert without_nulls(rows[0]["completion"]) == [first[3]]
    described = "Multi-tool example - file write and code execution"
    assert rows[3]["metadata"] == {"description": described}
    assert [m["role"] for m in rows[3]["prompt"]] == [
        "system", "user", "assistant", "tool", "assistant", "tool"
    ]  # fmt: skip


@pytest.mark.parametrize("template", ["qwen2_5", "qwen3", "llama3_1"])
def test_renders_equal_the_original_template(tmp_path, template):
    out = tmp_path / "out.jsonl"
    res = run("convert", DATA, *original_template_args(template), "-o", out, "--num-proc", "1")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (6, 0, 6, 6)
    got = rows_of(out)
    for i, record in enumerate(records(DATA)):
        assert got[i]["text"] == original_render(template, record["messages"]), i
    assert "<tool_response>" in got[0]["text"] or "ipython" in got[0]["text"]


def test_gpt_oss_refuses_each_result_with_no_call_in_its_own_words(tmp_path):
    out = tmp_path / "out.jsonl"
    res = run("convert", DATA, *original_template_args("gptoss"), "--on-error", "skip",
              "-o", out)  # fmt: skip
    assert res.exit_code == 1
    said = " ".join(res.output.split())
    refused = (
        "6 x chat template: messages: gptoss.jinja raised: Message has tool role, but there "
        "was no previous assistant message with a tool call!"
    )
    assert refused in said
    reasons = [json.loads(x)["reason"] for x in (tmp_path / "out.rejects.jsonl").open()]
    assert len(reasons) == 6 and all("no previous assistant message with a tool call" in r
                                     for r in reasons)  # fmt: skip


def test_sft_trains_one_step_on_the_rendered_tool_turns(tmp_path):
    pytest.importorskip("torch")
    res, metrics = train_one_step("sft", DATA, tmp_path / "sft", template="qwen2_5")
    assert res.exit_code == 0, res.output
    assert "trained 1 step" in res.output
    assert metrics is not None and metrics["loss"] > 0


def test_tool_messages_name_their_call_in_tool_call_id_with_from_or_without(tmp_path):
    """Every message written with the keys it had (was: `"id": null` on every message)."""
    for given in ((), ("--from", "oumi")):
        out = tmp_path / f"out{len(given)}.jsonl"
        res = run("convert", DATA, *given, "-o", out)
        assert res.exit_code == 0, res.output
        assert counts(res.output) == (6, 0, 6, 6)
        for raw, row in zip(records(DATA), rows_of(out), strict=True):
            want = [
                {("tool_call_id" if k == "id" else k): v for k, v in m.items()}
                for m in raw["messages"]
            ]
            assert row["messages"] == want


def test_gemma_names_the_function_a_result_answers_from_its_id(tmp_path):
    """Diffusion Gemma's original template matches a result's `tool_call_id` to the call
    before it to name the function (was: `response:unknown`, Oumi's `id` unread)."""
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}  # fmt: skip
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "id": "call_1", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny."},
    ]
    src = tmp_path / "oumi.jsonl"
    src.write_text(json.dumps({"messages": messages}) + "\n")
    out = tmp_path / "out.jsonl"
    res = run("convert", src, "--from", "oumi", *original_template_args("diffusion_gemma"),
              "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    want = [dict(m) for m in messages]
    want[2] = {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    text = rows_of(out)[0]["text"]
    assert text == original_render("diffusion_gemma", want)
    assert "response:get_weather{" in text
