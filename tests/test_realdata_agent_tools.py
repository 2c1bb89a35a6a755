"""Real agent trajectories: ToolBench's ChatGPT trajectories in OpenAI's legacy function
calling (`function_call`, the `function` role, a `functions` column of bare schemas)."""

from __future__ import annotations

import json

import pytest
from realdata.support import counts, original_render, rows_of, run, sample

TOOLBENCH = sample("toolbench_trajectories")
RAW = rows_of(TOOLBENCH)


def legacy_as_tools(functions: list[dict]) -> list[dict]:
    """OpenAI's legacy `functions` as its `tools` (written here independently of trlprep)."""
    return [{"type": "function", "function": f} for f in functions]


def legacy_messages(record: dict) -> list[dict]:
    """A legacy record's messages as transformers wants them: `function_call` as one tool call
    with its arguments parsed, `function` turns as `tool` turns (name kept)."""
    out = []
    for m in record["messages"]:
        new = {"role": m["role"], "content": m["content"]}
        if m["role"] == "function":
            new = {"role": "tool", "content": m["content"], "name": m["name"]}
        if m.get("function_call"):
            fc = m["function_call"]
            fn = {"name": fc["name"], "arguments": json.loads(fc["arguments"])}
            new["tool_calls"] = [{"type": "function", "function": fn}]
        out.append(new)
    return out


def test_detect_reads_legacy_function_calling_as_the_openai_chat_layout():
    res = run("detect", TOOLBENCH)
    assert res.exit_code == 0, res.output
    assert "language-modeling (the openai-chat layout, imported as convert does)" in res.output
    assert "side columns   tools" in res.output
    assert "roles          assistant, system, tool, user" in res.output  # `function` -> tool


def test_convert_without_from_reads_function_call_and_functions(tmp_path):
    """Was: every row refused (`function` role unknown, tool-call turns with no content),
    and `functions` carried as an extra holding every row's parameter names as nulls."""
    out = tmp_path / "out.jsonl"
    res = run("convert", TOOLBENCH, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (34, 0, 34, 34)
    assert "read as the openai-chat layout" in res.output
    rows = rows_of(out)
    assert all(set(r) == {"messages", "tools"} for r in rows)
    # each row's own schemas, keys in the file's order, wrapped as OpenAI's `tools` are
    for raw, row in zip(RAW, rows, strict=True):
        assert json.dumps(row["tools"]) == json.dumps(legacy_as_tools(raw["functions"]))
    call, result, second = rows[1]["messages"][2:]
    assert call["role"] == "assistant" and call["content"] is None
    fn = {"name": "transitaires_for_transitaires", "arguments": "{}"}
    assert call["tool_calls"] == [{"type": "function", "function": fn}]
    assert result["role"] == "tool" and result["name"] == "transitaires_for_transitaires"
    assert result["content"].startswith('{"error": "", "response": "[{\\"id\\":\\"EKVF\\"')
    assert second["tool_calls"][0]["function"] == {
        "name": "transitaire_for_transitaires",
        "arguments": '{\n  "is_id": "ACT_AGENCE_CALEDONIENNE_DE_TRANSIT"\n}',
    }
    # a Thought beside the call keeps both (row 6: content and function_call)
    last = rows[5]["messages"][-1]
    assert last["content"].startswith("I'm sorry, but I couldn't find any information")
    assert last["tool_calls"][0]["function"]["name"] == "transitaires_for_transitaires"


def test_validate_checks_the_rows_as_imported():
    res = run("validate", TOOLBENCH, "--from", "openai-chat")
    assert res.exit_code == 0, res.output
    assert "valid: 34 rows of language-modeling (conversational); 1 warning" in res.output
    assert "role-alternation (messages): 3 rows, lines 12, 26, 27" in res.output
    plain = run("validate", TOOLBENCH)  # the columns as they are: said, and the way out named
    assert plain.exit_code == 1
    assert "`trlprep convert DATA --from openai-chat -o OUT`" in plain.output
    assert "it holds OpenAI's legacy function_call: --from openai-chat reads it" in " ".join(
        plain.output.split()
    )


def test_a_map_alone_names_the_layout_that_reads_function_call(tmp_path):
    """`--map tools=functions` imports with the map layout, which reads no function_call:
    the refusal said only "a message has no content and no tool_calls"."""
    res = run("convert", TOOLBENCH, "--map", "tools=functions", "-o", tmp_path / "o.jsonl")
    assert res.exit_code == 1
    assert (
        "toolbench_train_messages.jsonl:1: import: column 'messages': a message has no content "
        "and no tool_calls (it holds OpenAI's legacy function_call: --from openai-chat reads "
        "it as a tool call)" in res.output
    )
    res = run("convert", TOOLBENCH, "--from", "openai-chat", "--map", "tools=functions",
              "-o", tmp_path / "o.jsonl")  # fmt: skip
    assert res.exit_code == 0 and counts(res.output) == (34, 0, 34, 34), res.output


@pytest.mark.parametrize(
    ("template", "kwargs"),
    [("qwen2_5", {}), ("gptoss", {}), ("llama3_1", {"bos_token": "<|begin_of_text|>"})],
)
def test_renders_equal_the_original_templates(tmp_path, template, kwargs):
    """GPT-OSS reads `tool.function`: bare legacy schemas would make it raise on every row."""
    from realdata.support import TEMPLATES

    if not (TEMPLATES / f"{template}.jinja").exists():
        pytest.skip("../shared (original chat templates) is absent")
    out = tmp_path / "r.jsonl"
    extra = [a for k, v in kwargs.items() for a in ("--template-kwarg", f"{k}={v}")]
    res = run("convert", TOOLBENCH, "--chat-template", TEMPLATES / f"{template}.jinja",
              *extra, "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = rows_of(out)
    assert len(rows) == 34
    for raw, row in zip(RAW, rows, strict=True):
        want = original_render(
            template, legacy_messages(raw), tools=legacy_as_tools(raw["functions"]), **kwargs
        )
        assert row["text"] == want


def test_train_sft_on_the_trajectories(tmp_path):
    from realdata.support import TEMPLATES, TINY_MODEL

    if not (TEMPLATES / "qwen2_5.jinja").exists():
        pytest.skip("../shared (original chat templates) is absent")
    res = run(
        "train", "--algo", "sft", "--model", TINY_MODEL, "--data", TOOLBENCH,
        "--chat-template", TEMPLATES / "qwen2_5.jinja", "--output-dir", tmp_path / "o",
        "--max-steps", 1, "--batch-size", 2, "--max-length", 256,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "data: openai-chat layout -> language-modeling (chat template applied): 34 rows in" in (
        res.output
    )
    record = json.loads((tmp_path / "o/metrics.jsonl").read_text().splitlines()[0])
    assert record["loss"] > 0


def test_api_frame_gets_the_wrapped_tools_back():
    """A polars frame types `functions` as one struct; the `tools` made of it came back cast
    onto that struct, every value null (`{'name': None, ...}`), before the fix."""
    import polars as pl

    import trlprep

    out = trlprep.convert(pl.DataFrame(RAW))
    assert out.columns == ["messages", "tools"]
    got = out.row(1, named=True)["tools"]
    assert [t["type"] for t in got] == ["function"] * 3
    assert [t["function"]["name"] for t in got] == [
        "transitaire_for_transitaires", "transitaires_for_transitaires", "Finish",
    ]  # fmt: skip
    assert got[0]["function"]["parameters"]["required"] == ["is_id"]


# ---------------------------------------------------------------- xtuner's Qwen3.5 tool rows

XTUNER = sample("xtuner_qwen35_toolcalls")
XT = rows_of(XTUNER)


def test_xtuner_reads_as_it_is_and_is_valid():
    res = run("detect", XTUNER)
    assert res.exit_code == 0, res.output
    assert "side columns   tools" in res.output and "extra columns  id" in res.output
    res = run("validate", XTUNER)
    assert res.exit_code == 0, res.output
    assert "valid: 12 rows of language-modeling (conversational); 1 warning" in res.output


def test_xtuner_calls_to_a_function_not_offered_are_warned():
    """Every call names `get_weather`; the rows' tools offer only the temperature and the
    wind speed (a model trained on them learns to call what it was not given)."""
    res = run("validate", XTUNER)
    assert "warning: unknown-tool (messages): 6 rows, lines 7, 8, 9, 10, 11" in res.output
    assert "(calls 'get_weather')" in res.output
    # every call offered: no warning (checked as imported, where the calls and tools are)
    for other, layout in ((TOOLBENCH, "openai-chat"), (sample("glaive_toolcall"), "sharegpt")):
        res = run("validate", other, "--from", layout)
        assert res.exit_code == 0 and "unknown-tool" not in res.output, res.output


@pytest.mark.parametrize("template", ["qwen2_5", "qwen3", "qwen3_5_think", "qwen3_6", "glm4moe"])
def test_xtuner_renders_equal_the_original_templates(tmp_path, template):
    """Reasoning beside tool calls whose arguments are objects; Qwen3/3.5 drop the reasoning
    of turns before the last user turn, as the originals do."""
    from realdata.support import TEMPLATES

    if not (TEMPLATES / f"{template}.jinja").exists():
        pytest.skip("../shared (original chat templates) is absent")
    out = tmp_path / "r.jsonl"
    res = run("convert", XTUNER, "--chat-template", TEMPLATES / f"{template}.jinja", "-o", out)
    assert res.exit_code == 0, res.output
    rows = rows_of(out)
    assert len(rows) == 12
    for raw, row in zip(XT, rows, strict=True):
        assert row["text"] == original_render(template, raw["messages"], tools=raw.get("tools"))


def test_xtuner_gptoss_sets_aside_reasoning_beside_a_call(tmp_path):
    """GPT-OSS's own template raises on a call turn holding both content and reasoning."""
    from realdata.support import TEMPLATES

    if not (TEMPLATES / "gptoss.jinja").exists():
        pytest.skip("../shared (original chat templates) is absent")
    out = tmp_path / "g.jsonl"
    res = run("convert", XTUNER, "--chat-template", TEMPLATES / "gptoss.jinja", "-o", out,
              "--on-error", "skip")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (12, 3, 9, 9)
    assert "Cannot pass both content and thinking" in res.output
    rejected = [json.loads(x) for x in out.with_suffix(".rejects.jsonl").open()]
    assert [r["line"] for r in rejected] == [9, 11, 12]
    kept = [r for i, r in enumerate(XT) if i + 1 not in (9, 11, 12)]
    for raw, row in zip(kept, rows_of(out), strict=True):
        assert row["text"] == original_render("gptoss", raw["messages"], tools=raw.get("tools"))


def test_xtuner_prompt_completion_ends_on_the_last_answer(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", XTUNER, "--to", "prompt-completion", "-o", out)
    assert res.exit_code == 0, res.output
    row = rows_of(out)[10]  # two calls, each answered, then the answer
    assert [m["role"] for m in row["prompt"]] == [
        "system", "user", "assistant", "tool", "assistant", "tool",
    ]  # fmt: skip
    assert row["prompt"][4]["tool_calls"][0]["function"]["arguments"] == {"location": "shanghai"}
    answer = "基于我的观察，今天北京的天气是35度，上海的天气是25度。"
    # messages hold every key any message has (Arrow), null where a message had none
    assert [{k: v for k, v in m.items() if v is not None} for m in row["completion"]] == [
        {"role": "assistant", "content": answer}
    ]
    assert row["tools"] == XT[10]["tools"]


def test_train_with_a_template_that_cannot_render_calls_names_the_flag(tmp_path):
    """The tiny model's own template prints `content` only: the hint names --chat-template."""
    from realdata.support import TINY_MODEL

    res = run("train", "--algo", "sft", "--model", TINY_MODEL, "--data", TOOLBENCH,
              "--output-dir", tmp_path / "o", "--max-steps", 1)  # fmt: skip
    assert res.exit_code == 1
    assert "cannot render tool-call turns: message 2 holds tool calls and no content" in res.output
    assert "use a template that renders tool calls: --chat-template qwen2.5 (or llama3.1)" in (
        " ".join(res.output.split())
    )
