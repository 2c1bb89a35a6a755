"""Real tool-calling samples trained with `--tools` (`tools=`): train renders each row as
`trlprep convert` does with the same tools (a row's own `tools` wins), and as the original
template renders it. xtuner's Qwen3.5 rows (6 of 12 without tools) are trained one step
through the command; glaive (ShareGPT), ToolBench (legacy `functions`) and BFCL (prompts whose
schemas are left out, for GRPO) are prepared as train prepares them, with no model."""

from __future__ import annotations

import json

import pytest
from realdata.support import TINY_MODEL, original_render, rows_of, run, sample, template_file

pytest.importorskip("torch")
pytest.importorskip("transformers")

from trlprep.trainers.algorithms import get_algorithm  # noqa: E402
from trlprep.trainers.data import prepare  # noqa: E402

# a tool none of the samples offers: where it shows, --tools gave it
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TINY_MODEL)


def _sft_ids(data, tok, template, **kw) -> list[list[int]]:
    a = get_algorithm("sft")
    prepared = prepare(
        str(data), a.layout, a.accepts, tok, algo="sft", max_length=None, chat_template=template,
        options=a.make_options({"assistant_only_loss": False}), tools=[WEATHER], **kw,
    )  # fmt: skip
    return prepared.rows["ids"]


def _convert(data, template, tok=None, **kw) -> list[dict]:
    from trlprep.api import convert

    made = convert(
        str(data), chat_template=template, tokenizer=tok, tokenize=tok is not None,
        tools=[WEATHER], **kw,
    )  # fmt: skip
    return made.to_pylist()


def test_xtuner_one_step_sft_with_tools_renders_as_convert_and_the_original(tok, tmp_path):
    template = template_file("qwen2_5")
    data = sample("xtuner_qwen35_toolcalls")
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([WEATHER]))
    res = run(
        "train", "--algo", "sft", "--model", TINY_MODEL, "--data", data, "--chat-template",
        template, "--tools", tools, "--output-dir", tmp_path / "o", "--max-steps", 1,
        "--batch-size", 2, "--max-length", 4096, "--no-progress",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (
        "data: language-modeling (chat template applied with 1 tool (get_weather) for rows "
        "without their own): 12 rows in"
    ) in res.output
    assert "trained 1 step" in res.output
    assert json.loads((tmp_path / "o" / "train_config.json").read_text())["tools"] == [WEATHER]

    raw = rows_of(data)
    texts = [r["text"] for r in _convert(data, template)]
    for row, text in zip(raw, texts, strict=True):  # a row's own tools win over --tools
        assert text == original_render(
            "qwen2_5", row["messages"], tools=row.get("tools") or [WEATHER]
        )
    assert sum('"get_weather"' in t and "get_current_temperature" not in t for t in texts) == 6
    ids = [r["input_ids"] for r in _convert(data, template, tok)]
    assert _sft_ids(data, tok, template) == ids


def test_glaive_rows_keep_their_own_tools_and_train_as_convert(tok):
    """29 rows list their functions, 21 an empty list: a row's own `[]` wins too (no tools),
    in train as in convert."""
    template = template_file("qwen2_5")
    data = sample("glaive_toolcall")
    texts = [r["text"] for r in _convert(data, template, from_="sharegpt")]
    assert len(texts) == 50 and sum("<tools>" in t for t in texts) == 29
    assert not any('"get_weather"' in t for t in texts)
    made = _convert(data, template, tok, from_="sharegpt")
    assert _sft_ids(data, tok, template, data_layout="sharegpt") == [r["input_ids"] for r in made]


def test_toolbench_trajectories_train_as_convert_with_the_same_tools(tok):
    template = template_file("qwen2_5")
    data = sample("toolbench_trajectories")
    made = _convert(data, template, tok)
    assert len(made) == 34
    assert _sft_ids(data, tok, template) == [r["input_ids"] for r in made]


def test_bfcl_prompts_without_their_schemas_get_the_tools_for_grpo(tok, tmp_path):
    template = template_file("qwen2_5")
    raw = rows_of(sample("bfcl"))
    flat = tmp_path / "prompts.jsonl"
    flat.write_text(
        "".join(json.dumps({"id": r["id"], "prompt": r["question"][0]}) + "\n" for r in raw)
    )
    a = get_algorithm("grpo")
    logs: list[str] = []
    prepared = prepare(
        str(flat), a.layout, a.accepts, tok, algo="grpo", options=a.make_options({}),
        chat_template=template, max_length=None, tools=[WEATHER], log=logs.append,
    )  # fmt: skip
    assert logs[0] == (
        "data: prompt-only (chat template applied with 1 tool (get_weather) for rows without "
        "their own): 60 rows in"
    )
    made = _convert(flat, template, tok)
    assert prepared.rows["prompt"] == [r["prompt_ids"] for r in made]
    for r, text in zip(raw, prepared.rows["prompt_text"], strict=True):
        want = original_render(
            "qwen2_5", r["question"][0], tools=[WEATHER], add_generation_prompt=True
        )
        assert text == want
