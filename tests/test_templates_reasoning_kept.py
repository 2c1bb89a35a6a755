"""Renders that leave an assistant message's reasoning out of the text are counted and said in
a warning (`templates/reasoningkept.py`); the text itself stays the template's own."""

from __future__ import annotations

import warnings

import pytest

import trlprep
from trlprep.templates.reasoningkept import reasoning_left_out

QUESTION = {"role": "user", "content": "What is 2+2?"}


def _warned(rows: list[dict], template: str) -> tuple[list[dict], list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = trlprep.convert(rows, chat_template=template)
    return list(out), [str(w.message) for w in caught if "reasoning" in str(w.message)]


def test_a_reasoning_field_a_template_never_renders_is_said():
    answer = {"role": "assistant", "content": "4", "reasoning_content": "Two and two make four."}
    plain = {"role": "assistant", "content": "4", "reasoning_content": None}
    rows = [{"messages": [QUESTION, answer]}, {"messages": [QUESTION, plain]}] * 2
    out, said = _warned(rows, "qwen2.5")  # a built-in the string-column renderer takes
    assert out[0]["text"].endswith("<|im_start|>assistant\n4<|im_end|>\n")
    assert len(said) == 1 and said[0].startswith("2 rows hold assistant reasoning"), said
    assert "qwen2.5 leaves out of the text" in said[0]
    _, said = _warned([{"messages": [QUESTION, plain]}] * 3, "qwen2.5")
    assert said == []


def test_think_blocks_rendered_as_written_are_not_said():
    answer = {"role": "assistant", "content": "<think>\nTwo and two.\n</think>\n\n4"}
    out, said = _warned([{"messages": [QUESTION, answer]}], "chatml")
    assert "<think>\nTwo and two.\n</think>\n\n4<|im_end|>" in out[0]["text"]
    assert said == []


@pytest.mark.parametrize(
    ("content", "reasoning", "rendered", "left_out"),
    [
        ("<think>\nA\n</think>\n\nB", None, "<think>\nA\n</think>\n\nB", False),
        ("<think>\nA\n</think>\n\nB", None, "B", True),
        ("<think>A</think> call <think>C</think> B", None, "<think>\nA\n</think>\n\nB", True),
        ("B", "A", "<think>\nA\n</think>\n\nB", False),
        ("B", "A", "B", True),
        ("B", "  ", "B", False),  # blank reasoning: nothing to keep
        ("B", None, "", False),  # no reasoning: never counted
    ],
)
def test_each_piece_of_the_reasoning_must_be_in_the_render(content, reasoning, rendered, left_out):
    message = {"role": "assistant", "content": content, "reasoning_content": reasoning}
    assert reasoning_left_out([[QUESTION, message]], rendered) is left_out
    assert reasoning_left_out([[{**message, "role": "user"}]], "") is False  # users' own text
