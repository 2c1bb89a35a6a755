"""The Python API's single-example renders place media given with no placeholder as a
dataset's rows are placed, and say so as they do (a Python warning): ms-swift's real
`multi_modal_2.jsonl` rows (images beside a question that marks no place), each as one
conversational example, rendered with Qwen2.5-VL's original template."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from realdata.support import original_render, template_file

import trlprep
from trlprep.compat.helpers import prepare_multimodal_messages

MULTI_MODAL_2 = Path(__file__).parent / "realdata" / "swift_llm_data" / "multi_modal_2.jsonl"


def _examples() -> list[dict]:
    rows = [json.loads(x) for x in MULTI_MODAL_2.read_text(encoding="utf-8").splitlines()]
    return [
        {
            "prompt": [{"role": "user", "content": r["query"]}],
            "completion": [{"role": "assistant", "content": r["response"]}],
            "images": r["images"],
        }
        for r in rows
        if r.get("images")
    ]


def _rendered(example: dict, template) -> tuple[dict, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = trlprep.apply_chat_template(example, template)
    return got, [str(w.message) for w in caught]


@pytest.mark.parametrize("apply", ["apply_chat_template", "maybe_apply_chat_template"])
def test_one_example_is_placed_and_said_as_rows_are(apply):
    template = template_file("qwen2_5_vl")
    example = _examples()[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = getattr(trlprep, apply)(example, template)
    said = [str(w.message) for w in caught]
    assert said == [
        "the example: images given with no `<image>` placeholder or image part were placed "
        "at the start of the first user message, as TRL's prepare_multimodal_messages does "
        "(write `<image>` where each stands to place them elsewhere)"
    ]
    prompt = prepare_multimodal_messages(example["prompt"], images=example["images"])
    assert got["prompt"] == original_render("qwen2_5_vl", prompt, add_generation_prompt=True)


def test_an_example_with_its_placeholder_is_not_said():
    template = template_file("qwen2_5_vl")
    example = _examples()[0]
    example["prompt"][0]["content"] = "<image>" + example["prompt"][0]["content"]
    placed, _ = _rendered(_examples()[0], template)
    marked, said = _rendered(example, template)
    assert said == [] and marked == placed
