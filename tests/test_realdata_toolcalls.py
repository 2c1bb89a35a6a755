"""Real tool calls: LLaMA-Factory's glaive sample (ShareGPT), the OpenAI cookbook's drone set.

Issue 11 item 1: tool-call arguments reach templates as objects (never as an escaped
string), and a render equals the model's original template given the same messages.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import (
    counts,
    original_render,
    original_template_args,
    rows_of,
    run,
    sample,
)

GLAIVE = sample("glaive_toolcall")
DRONE = sample("openai_drone_toolcalls")

# glaive row 11 (0-based), as a user would write it for transformers: arguments an object.
ROW11 = [
    {
        "role": "user",
        "content": "Hi, I need help with calculating the tip for my bill. "
        "The total bill amount is $100 and I want to give a 15% tip.",
    },
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "type": "function",
                "function": {
                    "name": "calculate_tip",
                    "arguments": {"bill_amount": 100, "tip_percentage": 15},
                },
            }
        ],
    },
    {"role": "tool", "content": '{"tip_amount": 15}'},
    {"role": "assistant", "content": "The tip amount for your bill is $15."},
]
TIP_TOOL = (
    '{"name": "calculate_tip", "description": "Calculate the tip amount for a bill", '
    '"parameters": {"type": "object", "properties": {"bill_amount": {"type": "number", '
    '"description": "The total bill amount"}, "tip_percentage": {"type": "number", '
    '"description": "The percentage of tip to be given"}}, '
    '"required": ["bill_amount", "tip_percentage"]}}'
)
QWEN_TOOLS_HEAD = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
)
QWEN_TOOLS_TAIL = (
    "\n</tools>\n\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
)
# Checked by hand against Qwen 2.5's template: tools in the system turn, the call as
# <tool_call> JSON with an OBJECT of arguments, the tool turn as a user <tool_response>.
QWEN_ROW11 = (
    QWEN_TOOLS_HEAD
    + TIP_TOOL
    + QWEN_TOOLS_TAIL
    + "<|im_start|>user\nHi, I need help with calculating the tip for my bill. The total bill "
    "amount is $100 and I want to give a 15% tip.<|im_end|>\n"
    '<|im_start|>assistant\n<tool_call>\n{"name": "calculate_tip", "arguments": '
    '{"bill_amount": 100, "tip_percentage": 15}}\n</tool_call><|im_end|>\n'
    '<|im_start|>user\n<tool_response>\n{"tip_amount": 15}\n</tool_response><|im_end|>\n'
    "<|im_start|>assistant\nThe tip amount for your bill is $15.<|im_end|>\n"
)
# Llama 3.1: tools (indented JSON) in the first user turn, the call as
# {"name": ..., "parameters": {...}}, the tool turn as `ipython` with its content tojson'ed.
LLAMA_ROW11 = (
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n"
    "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond "
    "with a JSON for a function call with its proper arguments that best answers the given "
    'prompt.\n\nRespond in the format {"name": function name, "parameters": dictionary of '
    "argument name and its value}.Do not use variables.\n\n"
    + json.dumps(json.loads(TIP_TOOL), indent=4)
    + "\n\nHi, I need help with calculating the tip for my bill. The total bill amount is $100 "
    "and I want to give a 15% tip.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    '{"name": "calculate_tip", "parameters": {"bill_amount": 100, "tip_percentage": 15}}'
    "<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n\n"
    '"{\\"tip_amount\\": 15}"<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n'
    "The tip amount for your bill is $15.<|eot_id|>"
)


def glaive_messages(record: dict) -> list[dict]:
    """One raw glaive record as transformers wants it (written here independently of trlprep)."""
    roles = {"human": "user", "gpt": "assistant", "observation": "tool"}
    out = []
    for turn in record["conversations"]:
        if turn["from"] == "function_call":
            call = json.loads(turn["value"])
            fn = {"name": call["name"], "arguments": call["arguments"]}
            out.append(
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"type": "function", "function": fn}],
                }
            )
        else:
            out.append({"role": roles[turn["from"]], "content": turn["value"]})
    return out


def _convert(tmp_path, src, *args):
    out = tmp_path / "out.jsonl"
    res = run("convert", src, "-o", out, *args)
    return res, out


# ---------------------------------------------------------------- glaive (ShareGPT)


def test_glaive_detect_reads_the_sharegpt_layout_as_convert_does():
    res = run("detect", GLAIVE)
    # raw ShareGPT is no TRL type, but `convert` reads the layout without --from: detect
    # says so (the type it lands on) and names the layout
    assert res.exit_code == 0, res.output
    assert "language-modeling (the sharegpt layout, imported as convert does)" in res.output
    assert "--from sharegpt" in res.output
    assert "no dataset type matches" not in res.output
    as_json = json.loads(run("detect", GLAIVE, "--json").output)
    assert as_json["type"] == "language-modeling" and as_json["columns_read_as"] is None
    assert as_json["layout"] == "sharegpt"


def test_glaive_import_keeps_arguments_and_validates(tmp_path):
    out = tmp_path / "lm.jsonl"
    res = run("import", GLAIVE, "--from", "sharegpt", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (50, 0, 50, 50)
    rows = rows_of(out)
    msgs = rows[11]["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool", "assistant"]
    fn = msgs[1]["tool_calls"][0]["function"]
    args = fn["arguments"]
    assert fn["name"] == "calculate_tip"
    # the user's value survives the round trip (stored as an object or as its JSON text)
    assert (json.loads(args) if isinstance(args, str) else args) == {
        "bill_amount": 100,
        "tip_percentage": 15,
    }
    assert msgs[2]["content"] == '{"tip_amount": 15}'
    assert json.loads(rows[11]["tools"]) == [json.loads(TIP_TOOL)]
    assert run("validate", out).exit_code == 0


@pytest.mark.parametrize("template,expected", [("qwen2.5", QWEN_ROW11), ("llama3.1", LLAMA_ROW11)])
def test_glaive_chat_template_renders_arguments_as_an_object(tmp_path, template, expected):
    res, out = _convert(tmp_path, GLAIVE, "--from", "sharegpt", "--chat-template", template)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (50, 0, 50, 50)
    text = rows_of(out)[11]["text"]
    assert '"arguments": "{' not in text and '"parameters": "{' not in text
    assert text == expected


@pytest.mark.parametrize("template,original", [("qwen2.5", "qwen2_5"), ("llama3.1", "llama3_1")])
def test_glaive_every_row_equals_the_original_template(tmp_path, template, original):
    records = json.loads(GLAIVE.read_text(encoding="utf-8"))
    # the hand-checked row is what the original template gives
    assert original_render(original, ROW11, tools=[json.loads(TIP_TOOL)]) == (
        QWEN_ROW11 if template == "qwen2.5" else LLAMA_ROW11
    )
    res, out = _convert(tmp_path, GLAIVE, "--from", "sharegpt", "--chat-template", template)
    assert res.exit_code == 0, res.output
    texts = [r["text"] for r in rows_of(out)]
    for i, rec in enumerate(records):
        tools = json.loads(rec["tools"]) or None
        assert texts[i] == original_render(original, glaive_messages(rec), tools=tools), i


def test_check_template_on_converted_output_blames_the_template_not_the_layout(tmp_path):
    # convert's output (messages + tools) also fits the openai-chat layout, but importing it
    # lands where it already is: check-template sent users round in circles with "convert
    # it first (--from openai-chat)" where the template cannot render tool calls
    res, out = _convert(tmp_path, GLAIVE, "--from", "sharegpt")
    assert res.exit_code == 0, res.output
    res = run("check-template", "--chat-template", "chatml", out)
    assert res.exit_code == 1, res.output
    assert "line 1: messages: chatml cannot render tool-call turns: message 3" in res.output
    assert "convert it first" not in res.output
    # raw HH transcripts still get the import advice (the layout lands elsewhere)
    res = run("check-template", "--chat-template", "chatml", sample("hh_rlhf"))
    assert "convert it first (`trlprep convert DATA --from hh -o OUT`" in res.output


def test_glaive_last_turn_becomes_the_completion(tmp_path):
    res, out = _convert(tmp_path, GLAIVE, "--from", "sharegpt", "--to", "prompt-completion")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (50, 0, 50, 50)
    row = rows_of(out)[11]
    assert [m["role"] for m in row["prompt"]] == ["user", "assistant", "tool"]
    assert row["prompt"][0]["content"] == ROW11[0]["content"]
    assert len(row["completion"]) == 1
    assert row["completion"][0]["role"] == "assistant"
    assert row["completion"][0]["content"] == "The tip amount for your bill is $15."


# ---------------------------------------------------------------- OpenAI fine-tuning JSONL

DRONE_SYSTEM = (
    "You are an intelligent AI that controls a drone. Given a command or request from the user,"
    "\ncall one of your functions to complete the request. If the request cannot be completed "
    "by your available functions, call the reject_request function.\nIf the request is "
    "ambiguous or unclear, reject the request."
)


def test_drone_detect_and_validate():
    det = run("detect", DRONE, "--json")
    assert det.exit_code == 0, det.output
    info = json.loads(det.output)
    assert (info["type"], info["format"], info["num_rows"]) == (
        "language-modeling",
        "conversational",
        6,
    )
    assert "tools" in info["side_columns"]
    # lines 3-6 hold double-encoded arguments, which every template renders as a string
    res = run("validate", DRONE)
    assert res.exit_code == 1
    assert "error: double-encoded-arguments (messages): 4 rows, lines 3, 4, 5, 6" in res.output


def test_drone_import_keeps_the_arguments_text(tmp_path):
    out = tmp_path / "lm.jsonl"
    res = run("import", DRONE, "--from", "openai-chat", "-o", out)
    assert res.exit_code == 1 and "double-encoded-arguments" in res.output  # lines 3-6
    res = run("import", DRONE, "--from", "openai-chat", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (6, 4, 2, 2)
    rows = rows_of(out)
    call = rows[0]["messages"][2]["tool_calls"][0]
    assert call["id"] == "call_id"
    assert call["function"]["name"] == "takeoff_drone"
    args = call["function"]["arguments"]
    assert (json.loads(args) if isinstance(args, str) else args) == {"altitude": 100}
    assert rows[0]["parallel_tool_calls"] is False  # extra column carried


def test_drone_import_keeps_the_tools_list(tmp_path):
    out = tmp_path / "lm.jsonl"
    res = run("import", DRONE, "--from", "openai-chat", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    tools = json.loads(DRONE.read_text().splitlines()[0])["tools"]
    assert rows_of(out)[0]["tools"] == tools


def test_drone_qwen_render_of_a_json_text_argument(tmp_path):
    # lines 3-6 hold double-encoded arguments (see the next test): skip them here
    res, out = _convert(
        tmp_path, DRONE, "--from", "openai-chat", "--chat-template", "qwen2.5", "--on-error", "skip"
    )
    assert res.exit_code == 0, res.output
    rows = rows_of(out)
    tools = json.loads(DRONE.read_text().splitlines()[0])["tools"]
    messages = [
        {"role": "system", "content": DRONE_SYSTEM},
        {"role": "user", "content": "Let's get the drone in the air, can you make it take off"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_id",
                    "type": "function",
                    "function": {"name": "takeoff_drone", "arguments": {"altitude": 100}},
                }
            ],
        },
    ]
    text = rows[0]["text"]
    # Qwen 2.5 puts the system message first, then the tools (hand-checked)
    assert text.startswith("<|im_start|>system\n" + DRONE_SYSTEM + "\n\n# Tools\n")
    assert text.endswith(
        "<|im_start|>user\nLet's get the drone in the air, can you make it take off<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>\n{"name": "takeoff_drone", "arguments": '
        '{"altitude": 100}}\n</tool_call><|im_end|>\n'
    )
    assert text == original_render("qwen2_5", messages, tools=tools)


def test_drone_double_encoded_arguments_are_not_silently_changed(tmp_path):
    """Lines 3-6: `arguments` is JSON text of a STRING (double-encoded), not of an object.

    Either the rows are refused (row errors naming lines 3-6, skippable), or they are
    repaired and the run says so, naming them; never an unexplained rewrite.
    """
    res, out = _convert(tmp_path, DRONE, "--from", "openai-chat", "--chat-template", "qwen2.5")
    if res.exit_code == 1:  # refused
        assert ":3:" in res.output and "arguments" in res.output and "3 more" in res.output
        assert not out.exists()
        res, out = _convert(
            tmp_path,
            DRONE,
            "--from",
            "openai-chat",
            "--chat-template",
            "qwen2.5",
            "--on-error",
            "skip",
        )
        assert res.exit_code == 0, res.output
        assert counts(res.output) == (6, 4, 2, 2)
        rejects = rows_of(tmp_path / "out.rejects.jsonl")
        assert [r["line"] for r in rejects] == [3, 4, 5, 6]
    else:  # repaired: said, with the lines
        assert res.exit_code == 0, res.output
        assert counts(res.output) == (6, 0, 6, 6)
        assert "arguments" in res.output and "line 3" in res.output, res.output
        texts = [r["text"] for r in rows_of(out)]
        assert texts[2].endswith(
            '{"name": "land_drone", "arguments": {"location": "current"}}\n</tool_call><|im_end|>\n'
        )
    assert all('\\"{' not in r["text"] for r in rows_of(out))


def test_glaive_prompt_completion_with_qwen_splits_after_the_tool_turn(tmp_path):
    res, out = _convert(
        tmp_path, GLAIVE, "--from", "sharegpt", "--to", "pc", "--chat-template", "qwen2.5"
    )
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (50, 0, 50, 50)
    row = rows_of(out)[11]
    cut = QWEN_ROW11.index("<|im_start|>assistant\nThe tip")
    head = len("<|im_start|>assistant\n")
    assert row["prompt"] == QWEN_ROW11[: cut + head]
    assert row["completion"] == QWEN_ROW11[cut + head :]
    assert row["completion"] == "The tip amount for your bill is $15.<|im_end|>\n"
    tools = [json.loads(TIP_TOOL)]
    prompt = original_render("qwen2_5", ROW11[:3], tools=tools, add_generation_prompt=True)
    assert row["prompt"] == prompt


def test_glaive_split_turns_with_cohere_keeps_every_turn_that_renders(tmp_path):
    """Cohere cannot print a tool call: one run (`--split-turns all --chat-template`) refuses
    those turns alone and writes what splitting into a file, then rendering it, writes."""
    template = original_template_args("cohere")
    one, split, two = (tmp_path / f"{n}.jsonl" for n in ("one", "split", "two"))
    turns = ["--to", "prompt-completion", "--split-turns", "all", "--on-error", "skip"]
    res = run("convert", GLAIVE, *turns, *template, "-o", one)
    assert res.exit_code == 0, res.output
    assert run("convert", GLAIVE, *turns, "-o", split).exit_code == 0
    res2 = run("convert", split, *template, "--on-error", "skip", "-o", two)
    assert res2.exit_code == 0, res2.output
    assert one.read_bytes() == two.read_bytes()
    assert counts(res.output) == (50, 0, 50, 87) and counts(res2.output) == (167, 80, 87, 87)
    said = " ".join(res.output.split())
    assert "50 rows -> 167, one per assistant turn; 80 turns of 26 rows refused)" in said
    assert "(e.g. turn 2 of line 2, turn 1 of line 121, turn 3 of line 121)" in said
    assert "cohere.jinja raised: 'dict object' has no attribute 'content'" in said
    refused = rows_of(tmp_path / "one.rejects.jsonl")
    assert [(r["line"], r["turn"]) for r in refused[:3]] == [(2, 2), (2, 3), (2, 4)]
    assert len(refused) == 80 and refused[0]["record"] == json.loads(GLAIVE.read_text())[0]
