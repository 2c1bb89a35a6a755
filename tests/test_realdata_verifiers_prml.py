"""Real verifiers rollouts with DeepSeek-R1-style reasoning in the content (PrimeIntellect-ai
verifiers, the PRML environment's `vf-eval` output of gpt-4.1-mini): a conversational
`prompt` beside a one-message `completion` holding `<think>` ... `</think>` then `<answer>`.

Renders equal the originals (every template of `../shared`: the sweep's `verifiers_prml`
case), the reasoning and answer stay in the completion on every conversion, and the masks
and the loss cover the whole `<think>` block. Record 10 holds two `<think>` blocks with a
tool call written as text between them: Qwen-style templates keep the first block and the
text after the last `</think>`, as the originals do, and 482 characters are not rendered;
that was silent and is now a warning naming what the model is not trained on.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import (
    TINY_MODEL,
    counts,
    original_render,
    original_template_args,
    rows_of,
    run,
    sample,
)

DATA = sample("verifiers_prml_think")
TWO_BLOCKS = 9  # record 10: `<think>` A `</think>` call `<think>` B `</think>` answer


def _src() -> list[dict]:
    return rows_of(DATA)


def _between_blocks(content: str) -> str:
    """The text from the first `</think>` to the end of the last one."""
    return content[content.index("</think>") + 8 : content.rindex("</think>") + 8]


def test_detect_and_validate_read_conversational_prompt_completion():
    res = run("detect", DATA)
    assert res.exit_code == 0, res.output
    assert "prompt-completion" in res.output and "conversational" in res.output
    assert "note: all 15 rows are prompt-completion (conversational)" in res.output
    res = run("validate", DATA)
    assert res.exit_code == 0, res.output
    assert "valid: 15 rows of prompt-completion (conversational)" in res.output


def test_qwen3_render_equals_the_original_and_says_what_it_leaves_out(tmp_path):
    out = tmp_path / "qwen3.jsonl"
    res = run("convert", DATA, *original_template_args("qwen3"), "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (15, 0, 15, 15)
    said = " ".join(res.output.split())
    assert "warning: 1 row holds assistant reasoning" in said, res.output
    assert "--split-turns all" in said and "one <think> block per answer" in said
    for got, src in zip(rows_of(out), _src(), strict=True):
        prompt = original_render("qwen3", src["prompt"], add_generation_prompt=True)
        full = original_render("qwen3", src["prompt"] + src["completion"])
        assert full.startswith(prompt)
        assert (got["prompt"], got["completion"]) == (prompt, full[len(prompt) :])
    got = rows_of(out)[TWO_BLOCKS]["completion"]
    content = _src()[TWO_BLOCKS]["completion"][0]["content"]
    assert len(_between_blocks(content)) == 482
    assert "<multi_tool_use.parallel" in content and "Sympy confirms" in content
    assert "<multi_tool_use.parallel" not in got and "Sympy confirms" not in got
    assert got.startswith("<think>\nWe are asked to show the equivalence")
    assert got.endswith("</answer><|im_end|>\n")


def test_templates_rendering_the_content_as_written_keep_both_blocks(tmp_path):
    out = tmp_path / "qwen25.jsonl"
    res = run("convert", DATA, *original_template_args("qwen2_5"), "-o", out)
    assert res.exit_code == 0, res.output
    assert "reasoning" not in res.output  # nothing left out: no warning
    got = rows_of(out)[TWO_BLOCKS]["completion"]
    content = _src()[TWO_BLOCKS]["completion"][0]["content"]
    assert got == content + "<|im_end|>\n"


def test_language_modeling_keeps_the_reasoning_and_the_answer_in_one_message(tmp_path):
    out = tmp_path / "lm.jsonl"
    res = run("convert", DATA, "--to", "language-modeling", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (15, 0, 15, 15)
    for got, src in zip(rows_of(out), _src(), strict=True):
        assert got["messages"] == src["prompt"] + src["completion"]
    assert rows_of(out)[0]["reward"] == _src()[0]["reward"]


def test_assistant_masks_cover_the_think_block_and_the_answer(tmp_path):
    pytest.importorskip("transformers")
    from transformers import AutoTokenizer

    lines = DATA.read_text(encoding="utf-8").splitlines(True)
    two = tmp_path / "two.jsonl"
    two.write_text(lines[0] + lines[TWO_BLOCKS])
    lm = tmp_path / "lm.jsonl"
    assert run("convert", two, "--to", "language-modeling", "-o", lm).exit_code == 0
    out = tmp_path / "tok.parquet"
    res = run(
        "convert", lm, *original_template_args("qwen3"), "--tokenizer", TINY_MODEL,
        "--tokenize", "--assistant-masks", "-o", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    tok = AutoTokenizer.from_pretrained(TINY_MODEL)
    for row, i in zip(rows_of(out), (0, TWO_BLOCKS), strict=True):
        src = _src()[i]
        masked = [t for t, m in zip(row["input_ids"], row["assistant_masks"], strict=True) if m]
        prompt = original_render("qwen3", src["prompt"], add_generation_prompt=True)
        full = original_render("qwen3", src["prompt"] + src["completion"])
        # the answer and its end-of-turn token, not the newline after it
        assert tok.decode(masked) == full[len(prompt) :].removesuffix("\n")


def test_sft_trains_one_step_on_the_completions(tmp_path):
    pytest.importorskip("torch")
    two = tmp_path / "two.jsonl"
    two.write_text("".join(DATA.read_text(encoding="utf-8").splitlines(True)[2:4]))
    res = run(
        "train", "--algo", "sft", "--model", TINY_MODEL, "--data", two,
        *original_template_args("qwen3"), "--output-dir", tmp_path / "sft", "--max-steps", 1,
        "--batch-size", 2, "--max-length", 2048,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "data: prompt-completion (chat template applied" in res.output
    assert "): 2 rows in; loss on the completion only" in res.output
    first = json.loads((tmp_path / "sft" / "metrics.jsonl").read_text().splitlines()[0])
    assert first["loss"] > 0
