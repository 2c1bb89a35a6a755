"""Real Functionary test conversations (MeetKai/functionary `tests/test_case.json`,
`tests/test_case_v1.json`): one conversation per file, written as one JSON object.

`test_case.json`: OpenAI tools with a built-in `{"type": "code_interpreter"}` beside two
function schemas, parallel calls with no `id`, `python` calls whose arguments are bare code,
`metainfo` / `metadata` objects on some messages. No template renders bare code as a call's
arguments, so the row is refused; the reasons now name the built-in tool (was: "item 2 is
not a function schema", nothing more) and the hints say what to do with each.
`test_case_v1.json`: OpenAI's legacy `functions` / `function_call` / `function` role, read
as the openai-chat layout; its schema's `required` names the function, not a property (kept
as written; `validate` warns, `required-not-property`: tests/test_tool_schema_contradictions.py);
renders equal the originals.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import (
    HERE,
    counts,
    original_render,
    original_template_args,
    rows_of,
    run,
    train_one_step,
    without_nulls,
)

TOOLS = HERE / "functionary_test_cases" / "test_case.json"
LEGACY = HERE / "functionary_test_cases" / "test_case_v1.json"


def _said(output: str) -> str:
    return " ".join(output.split())


def test_validate_names_the_built_in_tool_and_the_bare_code():
    """Before: "item 2 is not a function schema", and no word on what to do with either."""
    res = run("validate", TOOLS)
    assert res.exit_code == 1, res.output
    said = _said(res.output)
    assert (
        'item 2 is not a function schema: {"type": "code_interpreter"}, a built-in tool with '
        "no name or parameters" in said
    )
    assert 'built-in tools (`{"type": "code_interpreter"}`) have no schema' in said
    assert "error: invalid-arguments (messages): 1 row" in said
    assert "\"l=[int('0'),int('1'),int('2')" in said
    bare = 'code written bare, as code-interpreter calls write it, in an object such as {"code"'
    assert bare in said
    assert "INVALID: 1 row of language-modeling (conversational); 2 errors" in said


def test_convert_refuses_the_row_and_writes_nothing(tmp_path):
    out = tmp_path / "out.jsonl"
    res = run("convert", TOOLS, "-o", out)
    assert res.exit_code == 1, res.output
    assert "rule invalid-arguments" in res.output
    assert not out.exists()


def test_skipping_sets_the_row_aside_with_its_reason(tmp_path):
    out = tmp_path / "out.jsonl"
    res = run("convert", TOOLS, "--on-error", "skip", "-o", out)
    assert res.exit_code == 1, res.output  # the one row refused: nothing left to write
    said = _said(res.output)
    assert "row 0: every row was rejected (1)" in said and "(rule invalid-arguments)" in said
    assert not out.exists()
    # the rejects file named where it is (was: "the rejects file lists every row", no path)
    rejects = tmp_path / "out.rejects.jsonl"
    assert f"the rejects file {rejects} lists every row and why" in said
    (rejected,) = rows_of(rejects)
    assert "invalid-arguments" in json.dumps(rejected)


def test_legacy_functions_read_as_openai_chat(tmp_path):
    det = run("detect", LEGACY)
    assert det.exit_code == 0, det.output
    assert "--from openai-chat" in det.output
    out = tmp_path / "lm.jsonl"
    res = run("convert", LEGACY, "--from", "openai-chat", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (1, 0, 1, 1)
    row = rows_of(out)[0]
    src = json.loads(LEGACY.read_text())
    assert [m["role"] for m in row["messages"]] == [
        "user", "assistant", "user", "assistant", "tool", "assistant", "tool", "assistant"
    ]  # fmt: skip
    call = row["messages"][3]["tool_calls"][0]["function"]
    assert call == src["messages"][3]["function_call"]  # arguments kept as written
    assert row["tools"][0]["function"] == src["functions"][0]
    assert row["tools"][0]["function"]["parameters"]["required"] == ["get_car_price"]


def test_legacy_prompt_completion_ends_on_the_last_tool_result(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", LEGACY, "--from", "openai-chat", "--to", "prompt-completion", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (1, 0, 1, 1)
    row = rows_of(out)[0]
    assert row["prompt"][-1]["role"] == "tool"
    assert without_nulls(row["completion"])[0]["content"].startswith("No, the car Tang")


def _as_called(row: dict) -> list[dict]:
    """The messages with each call's JSON-text arguments as the object transformers wants."""
    msgs = without_nulls(row["messages"])
    for m in msgs:
        for c in m.get("tool_calls") or []:
            c["function"]["arguments"] = json.loads(c["function"]["arguments"])
    return msgs


@pytest.mark.parametrize("template", ["qwen2_5", "qwen3", "llama3_1", "gptoss", "glm4moe"])
def test_legacy_renders_equal_the_original_template(tmp_path, template):
    ref, out = tmp_path / "ref.jsonl", tmp_path / "out.jsonl"
    assert run("convert", LEGACY, "--from", "openai-chat", "-o", ref).exit_code == 0
    args = original_template_args(template)
    res = run("convert", LEGACY, "--from", "openai-chat", *args, "-o", out, "--num-proc", "1")
    assert res.exit_code == 0, res.output
    row = rows_of(ref)[0]
    want = original_render(template, _as_called(row), tools=row["tools"])
    assert rows_of(out)[0]["text"] == want
    assert "get_car_price" in want


def test_legacy_trains_one_sft_step(tmp_path):
    pytest.importorskip("torch")
    data = tmp_path / "lm.jsonl"
    assert run("convert", LEGACY, "--from", "openai-chat", "-o", data).exit_code == 0
    res, first = train_one_step("sft", data, tmp_path / "sft", template="qwen2_5")
    assert res.exit_code == 0, res.output
    assert first is not None and first["loss"] > 0


def test_report_counts_the_legacy_calls_and_names_the_refused_row():
    legacy = run("report", LEGACY, "--from", "openai-chat")
    assert legacy.exit_code == 0, legacy.output
    assert "8 turns per row" in legacy.output and "2 tool calls" in legacy.output
    refused = _said(run("report", TOOLS).output)
    assert "1 row failed at validation" in refused
    assert "invalid-tools, 1 row" in refused and "a built-in tool with no name" in refused
