"""Llama-Nemotron post-training rows (`--from nemotron`) and the later Nemotron
post-training layouts (`messages` + metadata), on rows written for these tests in the
datasets' published shapes (their cards and NeMo Curator's recipe for the dataset).

NVIDIA renders a row as `[system(system_prompt), *input, assistant(output)]`; the import
lands there as prompt-completion, and a render through the original Llama 3.1 template
equals transformers' on those messages.
"""

from __future__ import annotations

import json

from realdata.support import counts, original_render, original_template_args, rows_of, run

THINK = (
    "<think>\nThe user asks for the theorem: a right triangle, the squares of the sides.\n"
    "</think>\n\nIn a right triangle, a² + b² = c², c being the hypotenuse."
)
ON = {
    "input": [{"role": "user", "content": "Can you explain the Pythagorean theorem?"}],
    "output": THINK,
    "reasoning": "on",
    "system_prompt": "detailed thinking on",
    "category": "math",
    "license": "cc-by-4.0",
    "generator": "DeepSeek-R1",
    "used_in_training": "Ultra, Super, Nano",
    "version": "v1.1",
}
OFF = {
    "input": [
        {"role": "user", "content": "Name a prime."},
        {"role": "assistant", "content": "2."},
        {"role": "user", "content": "Another one?"},
    ],
    "output": "3.",
    "reasoning": "off",
    "system_prompt": "detailed thinking off",
    "category": "chat",
    "license": "cc-by-4.0",
    "generator": "Llama-3.3-70B-Instruct",
    "used_in_training": "Super",
    "version": "v1",
}


def _write(tmp_path, rows, name="n.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def _convert(tmp_path, src, *args, name="out.jsonl"):
    out = tmp_path / name
    return run("convert", src, "-o", out, *args), out


def test_detect_names_the_layout_and_convert_reads_it_without_from(tmp_path):
    src = _write(tmp_path, [ON, OFF])
    info = json.loads(run("detect", src, "--json").output)
    assert (info["type"], info["format"], info["layout"]) == (
        "prompt-completion",
        "conversational",
        "nemotron",
    )
    res, out = _convert(tmp_path, src)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 0, 2, 2)


def test_system_prompt_first_output_the_completion_metadata_kept(tmp_path):
    src = _write(tmp_path, [ON, OFF])
    res, out = _convert(tmp_path, src, "--from", "nemotron")
    assert res.exit_code == 0, res.output
    on, off = rows_of(out)
    assert on["prompt"] == [
        {"role": "system", "content": "detailed thinking on"},
        {"role": "user", "content": "Can you explain the Pythagorean theorem?"},
    ]
    assert on["completion"] == [{"role": "assistant", "content": THINK}]  # <think> kept
    assert off["prompt"] == [{"role": "system", "content": "detailed thinking off"}, *OFF["input"]]
    assert off["completion"] == [{"role": "assistant", "content": "3."}]
    kept = ("reasoning", "category", "license", "generator", "used_in_training", "version")
    assert {k: on[k] for k in kept} == {k: ON[k] for k in kept}
    assert "system_prompt" not in on and "input" not in on and "output" not in on
    assert run("validate", out).exit_code == 0


def test_renders_as_the_original_llama31_template(tmp_path):
    src = _write(tmp_path, [ON, OFF])
    res, out = _convert(tmp_path, src, "--from", "nemotron", *original_template_args("llama3_1"))
    assert res.exit_code == 0, res.output
    for text, row in zip(rows_of(out), (ON, OFF), strict=True):
        messages = [
            {"role": "system", "content": row["system_prompt"]},
            *row["input"],
            {"role": "assistant", "content": row["output"]},
        ]
        assert text["prompt"] + text["completion"] == original_render("llama3_1", messages)
        assert "detailed thinking" in text["prompt"]


def test_empty_system_prompt_and_null_output(tmp_path):
    blank = {**OFF, "system_prompt": ""}
    missing = {**ON, "output": None}
    src = _write(tmp_path, [blank, missing])
    res, out = _convert(tmp_path, src, "--from", "nemotron", "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 1, 1, 1)
    assert rows_of(out)[0]["prompt"] == OFF["input"]  # no empty system message
    rejects = rows_of(tmp_path / "out.rejects.jsonl")
    assert [(r["line"], r["reason"]) for r in rejects] == [(2, "output is null")]


def test_prompts_without_output_land_on_prompt_only(tmp_path):
    row = {k: v for k, v in ON.items() if k != "output"}
    src = _write(tmp_path, [row])
    res, out = _convert(tmp_path, src, "--from", "nemotron")
    assert res.exit_code == 0, res.output
    assert "prompt-only" in res.output
    assert rows_of(out)[0]["prompt"][0] == {"role": "system", "content": "detailed thinking on"}


def test_v1_rendered_text_input_is_refused_with_advice(tmp_path):
    row = {**ON, "input": "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"}
    src = _write(tmp_path, [row])
    res, _ = _convert(tmp_path, src, "--from", "nemotron")
    assert res.exit_code != 0
    assert "input" in res.output and "v1.1" in res.output


def test_nemotron_post_training_v1_messages_read_as_they_are(tmp_path):
    # Nemotron-Post-Training-Dataset-v1's tool_calling split: messages with OpenAI tool
    # calls (arguments as JSON text), reasoning and metadata columns: conversational LM
    row = {
        "uuid": "0b8c",
        "license": "CC BY 4.0",
        "generator": "Qwen3-235B-A22B",
        "version": "v1",
        "category": "tool_calling",
        "reasoning": "off",
        "messages": [
            {"role": "user", "content": "Weather in Oslo?", "tool_calls": []},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_0",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
        ],
        "metadata": '{"tools": []}',
    }
    src = _write(tmp_path, [row])
    info = json.loads(run("detect", src, "--json").output)
    assert (info["type"], info["format"], info["layout"]) == (
        "language-modeling",
        "conversational",
        None,
    )
    res, out = _convert(tmp_path, src)
    assert res.exit_code == 0, res.output
    got = rows_of(out)[0]
    assert got["messages"][1]["tool_calls"][0]["function"]["name"] == "weather"
    assert (got["uuid"], got["metadata"]) == ("0b8c", '{"tools": []}')
