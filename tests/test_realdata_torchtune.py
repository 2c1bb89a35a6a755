"""Real test data of pytorch/torchtune (`tests/assets`): ShareGPT chat, instruct columns and a
visual question with its image beside the text; and, on rows written for the tests (the
real files are CC BY-NC and CC BY-SA), the shapes of its Alpaca file (a rendered `text`
beside the Alpaca columns) and its Stack Exchange Paired file (`response_j` / `response_k`)."""

from __future__ import annotations

import json

import pytest
from realdata.support import HERE, counts, original_render, rows_of, run

DATA = HERE / "torchtune_assets"
CHAT, INSTRUCT, VQA = DATA / "chat_tiny.json", DATA / "instruct_tiny.json", DATA / "vqa_tiny.json"
PAIRED = "--map prompt=question,chosen=response_j,rejected=response_k"


def _said(res) -> str:
    return " ".join(res.output.split())


def _write(path, rows: list[dict]):
    path.write_text(json.dumps(rows, indent=4), encoding="utf-8")
    return path


def test_chat_array_reads_as_sharegpt_and_renders_as_the_original(tmp_path):
    out = tmp_path / "lm.jsonl"
    res = run("convert", CHAT, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (1, 0, 1, 1)
    messages = rows_of(out)[0]["messages"]
    assert messages == [
        {"role": "system", "content": "You are an AI assistant."},
        {"role": "user", "content": "What is the meaning of life?"},
        {"role": "assistant", "content": "The meaning of life is 42."},
        {"role": "user", "content": "That's ridiculous."},
        {"role": "assistant", "content": "I agree."},
    ]
    from realdata.support import original_template_args

    rendered = tmp_path / "r.jsonl"
    res = run("convert", CHAT, *original_template_args("qwen2_5"), "-o", rendered)
    assert res.exit_code == 0, res.output
    assert rows_of(rendered)[0]["text"] == original_render("qwen2_5", messages)


def test_instruct_columns_are_named_by_detect_and_map(tmp_path):
    res = run("detect", INSTRUCT)
    assert "pass `--map prompt=instruction,completion=response`" in _said(res), res.output
    out = tmp_path / "pc.jsonl"
    res = run("convert", INSTRUCT, "--map", "prompt=instruction,completion=response", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 0, 2, 2)
    assert rows_of(out)[0] == {
        "prompt": "What time is it in London?",
        "completion": "It is 10:00 AM in London",
    }


VQA_MAP = ["--map", "prompt=input,completion=output"]


def test_a_visual_question_made_conversational_gets_its_image_before_the_question(tmp_path):
    out = tmp_path / "c.jsonl"
    res = run("convert", VQA, *VQA_MAP, "--conversational", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (1, 0, 1, 1)
    said = _said(res)
    assert "1 row (line 2): images given with no `<image>` placeholder or image part" in said
    (row,) = rows_of(out)
    # torchtune's InputOutputToMessages puts its image there too
    assert row["prompt"] == [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": "What is presented on image?"}],
        }
    ]
    assert row["image"] == "tests/assets/rgb_pytorch.png"


def test_the_placed_image_renders_as_the_original_template(tmp_path):
    from realdata.support import original_template_args

    from trlprep import prepare_multimodal_messages

    out = tmp_path / "r.jsonl"
    args = [*VQA_MAP, "--conversational", *original_template_args("qwen2_5_vl")]
    res = run("convert", VQA, *args, "-o", out)
    assert res.exit_code == 0, res.output
    (got,) = rows_of(out)
    prompt = [{"role": "user", "content": "What is presented on image?"}]
    prompt = prepare_multimodal_messages(prompt, images=["tests/assets/rgb_pytorch.png"])
    assert got["prompt"] == original_render("qwen2_5_vl", prompt, add_generation_prompt=True)
    assert "<|vision_start|><|image_pad|><|vision_end|>What is presented" in got["prompt"]


def test_standard_text_beside_an_image_is_said_to_leave_it_out(tmp_path):
    res = run("validate", VQA, *VQA_MAP)
    assert res.exit_code == 0, res.output
    text = _said(res)
    assert "warning: media-unrendered: 1 row, line 2" in text
    assert "hint media-unrendered: pass --conversational" in text
    res = run("convert", VQA, *VQA_MAP, "-o", tmp_path / "s.jsonl")
    assert res.exit_code == 0, res.output
    # was: converted with nothing said, the image reaching no template
    said = _said(res)
    assert "1 row (line 2): images given beside standard (string) text with no `<image>`" in said
    assert "--conversational makes the text messages" in _said(res)


# Stanford Alpaca as torchtune's `alpaca_tiny.json` and the Hub's tatsu-lab/alpaca hold it
ALPACA_ROW = {
    "instruction": "Name a prime number.",
    "input": "",
    "output": "7",
    "text": "Below is an instruction that describes a task. Write a response that "
    "appropriately completes the request.\n\n### Instruction:\nName a prime number.\n\n"
    "### Response:\n7",
}


def test_a_rendered_text_beside_the_alpaca_columns_is_not_advised_as_a_completion(tmp_path):
    path = _write(tmp_path / "alpaca.json", [ALPACA_ROW, {**ALPACA_ROW, "output": "11"}])
    res = run("detect", path)
    assert res.exit_code == 0, res.output
    text = _said(res)
    assert "type language-modeling" in text
    # was: `--map prompt=instruction,completion=text`, a completion repeating its prompt
    assert "completion=text" not in text
    assert (
        "column 'text' holds each row's 'instruction' (the prompt rendered with its answer): as "
        "it is, the data is language modeling on 'text'; for prompt-completion (SFT on the "
        "answer only) pass `--from alpaca`" in text
    )
    res = run("convert", path, "--to", "prompt-completion", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2, res.output
    assert "pass `--from alpaca`" in _said(res)
    out = tmp_path / "pc.jsonl"
    res = run("convert", path, "--from", "alpaca", "-o", out)
    assert res.exit_code == 0, res.output
    row = rows_of(out)[0]
    # Stanford's train.py joins prompt and output with nothing between; the Hub's text a newline
    assert row["prompt"] + "\n" + row["completion"] == ALPACA_ROW["text"]


def test_a_text_answering_a_separate_prompt_keeps_the_completion_advice(tmp_path):
    rows = [{"instruction": "Name a prime.", "text": "7"}, {"instruction": "Hi", "text": "Hello"}]
    res = run("detect", _write(tmp_path / "gen.json", rows))
    assert "`--map prompt=instruction,completion=text`" in _said(res), res.output


@pytest.mark.parametrize("command", ["detect", "validate", "check-template"])
def test_stack_exchange_pairs_are_named_as_preference(tmp_path, command):
    rows = [
        {"question": "How do I undo a commit?", "response_j": "git revert", "response_k": "rm"},
        {"question": "Tabs or spaces?", "response_j": "Spaces, per PEP 8.", "response_k": "Yes"},
    ]
    path = _write(tmp_path / "se.json", rows)
    args = ["--chat-template", "chatml"] if command == "check-template" else []
    res = run(command, path, *args)
    assert PAIRED.removeprefix("--map ") in _said(res), res.output
    out = tmp_path / "p.jsonl"
    res = run("convert", path, *PAIRED.split(), "-o", out)
    assert res.exit_code == 0, res.output
    assert rows_of(out)[1] == {
        "prompt": "Tabs or spaces?",
        "chosen": "Spaces, per PEP 8.",
        "rejected": "Yes",
    }
