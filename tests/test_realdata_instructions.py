"""Real instruction data: LLaMA-Factory's Alpaca sample and GSM8K (mapped columns).

Issue 11 items 8 (a value of another kind in a column names the user's column, file and
line, and honours --on-error skip) and 13 (--conversational works with --map alone).
"""

from __future__ import annotations

import json

from realdata.support import counts, original_render, rows_of, run, sample

ALPACA = sample("alpaca_demo")
GSM8K = sample("gsm8k")
QWEN_SYSTEM = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    "<|im_end|>\n"
)
NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n"
)
WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n### Instruction:\n"
)
REWORD = "Reword this sentence to increase clarity"
BRAVE = "The idea of her being so brave made me smile"
COURAGE = "The thought of her displaying such courage brought a smile to my face."


# ---------------------------------------------------------------- Alpaca


def test_alpaca_detect_suggests_the_layout():
    assert "--from alpaca" in run("detect", ALPACA).output


def test_alpaca_stanford_prompt(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", ALPACA, "--from", "alpaca", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (150, 0, 150, 150)
    rows = rows_of(out)
    # Stanford Alpaca's PROMPT_DICT, by hand: no input block when input is ""
    assert rows[91] == {
        "prompt": NO_INPUT + "Generate a hypothetical phone number.\n\n### Response:",
        "completion": "(555) 123-4567",
    }
    assert rows[8] == {
        "prompt": WITH_INPUT + f"{REWORD}\n\n### Input:\n{BRAVE}\n\n### Response:",
        "completion": COURAGE,
    }
    assert run("validate", out).exit_code == 0


def test_alpaca_conversational_with_qwen(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run(
        "convert",
        ALPACA,
        "--from",
        "alpaca",
        "--conversational",
        "--chat-template",
        "qwen2.5",
        "-o",
        out,
    )
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (150, 0, 150, 150)
    row = rows_of(out)[8]
    user = f"{REWORD}\n\n{BRAVE}"
    assert row == {
        "prompt": QWEN_SYSTEM + f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n",
        "completion": COURAGE + "<|im_end|>\n",
    }
    msgs = [{"role": "user", "content": user}]
    assert row["prompt"] == original_render("qwen2_5", msgs, add_generation_prompt=True)


def test_alpaca_numeric_output_names_the_column_and_row(tmp_path):
    records = json.loads(ALPACA.read_text(encoding="utf-8"))
    records[3]["output"] = 42  # as met in the wild: `"output": 42`
    src = tmp_path / "alpaca.json"
    src.write_text(json.dumps(records), encoding="utf-8")
    out = tmp_path / "pc.jsonl"
    res = run("convert", src, "--from", "alpaca", "-o", out)
    assert res.exit_code == 1, res.output
    assert "'output'" in res.output and str(src) in res.output and "row 3" in res.output
    assert not out.exists()
    res = run("convert", src, "--from", "alpaca", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (150, 1, 149, 149)
    assert [r["row"] for r in rows_of(tmp_path / "pc.rejects.jsonl")] == [3]


# ---------------------------------------------------------------- GSM8K

Q0 = (
    "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes "
    "muffins for her friends every day with four. She sells the remainder at the farmers' market "
    "daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' "
    "market?"
)
A0 = (
    "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n"
    "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer’s market.\n#### 18"
)
MAP = "prompt=question,completion=answer"


def test_gsm8k_detect_is_unknown_without_a_map():
    res = run("detect", GSM8K)
    assert res.exit_code == 1
    assert "question" in res.output and "answer" in res.output


def test_gsm8k_map_to_prompt_completion(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", GSM8K, "--map", MAP, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (200, 0, 200, 200)
    rows = rows_of(out)
    assert rows[0] == {"prompt": Q0, "completion": A0}
    assert run("validate", out).exit_code == 0
    # prompt-only for GRPO, the answer kept beside it as a reward reference
    res = run(
        "convert",
        GSM8K,
        "--map",
        "prompt=question",
        "--to",
        "prompt-only",
        "-o",
        tmp_path / "po.jsonl",
    )
    assert res.exit_code == 0, res.output
    po = rows_of(tmp_path / "po.jsonl")[0]
    assert po == {"prompt": Q0, "answer": A0}


def test_gsm8k_map_conversational_with_qwen(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run(
        "convert", GSM8K, "--map", MAP, "--conversational", "--chat-template", "qwen2.5", "-o", out
    )
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (200, 0, 200, 200)
    row = rows_of(out)[0]
    assert row == {
        "prompt": QWEN_SYSTEM + f"<|im_start|>user\n{Q0}<|im_end|>\n<|im_start|>assistant\n",
        "completion": A0 + "<|im_end|>\n",
    }
    msgs = [{"role": "user", "content": Q0}, {"role": "assistant", "content": A0}]
    assert row["prompt"] + row["completion"] == original_render("qwen2_5", msgs)


def test_gsm8k_numeric_answer_names_column_file_and_line(tmp_path):
    lines = GSM8K.read_text(encoding="utf-8").splitlines()
    rec = json.loads(lines[4])
    rec["answer"] = 42
    lines[4] = json.dumps(rec)
    src = tmp_path / "gsm8k.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "pc.jsonl"
    res = run("convert", src, "--map", MAP, "-o", out)
    assert res.exit_code == 1, res.output
    assert f"{src}:5" in res.output and "'answer'" in res.output, res.output
    assert not out.exists()
    res = run("convert", src, "--map", MAP, "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (200, 1, 199, 199)
    assert [r["line"] for r in rows_of(tmp_path / "pc.rejects.jsonl")] == [5]
    res = run("convert", src, "--map", MAP, "-o", out, "--coerce", "--overwrite")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (200, 0, 200, 200)
    assert "--coerce" in res.output  # said once
    assert rows_of(out)[4]["completion"] == "42"


def test_gsm8k_join_to_text_says_there_is_no_separator(tmp_path):
    out = tmp_path / "lm.jsonl"
    res = run("convert", GSM8K, "--map", MAP, "--to", "lm", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (200, 0, 200, 200)
    assert rows_of(out)[0] == {"text": Q0 + A0}  # as TRL's guide: no separator ...
    assert "--separator" in res.output  # ... and the run says so
    res = run(
        "convert", GSM8K, "--map", MAP, "--to", "lm", "--separator", " ", "-o", out, "--overwrite"
    )
    assert res.exit_code == 0, res.output
    assert rows_of(out)[0] == {"text": Q0 + " " + A0}


def test_alpaca_detect_says_how_convert_reads_it_and_validate_says_it_once():
    det = run("detect", ALPACA)
    assert det.exit_code == 0, det.output  # convert reads the layout without --from
    assert "prompt-completion (the alpaca layout, imported as convert does)" in det.output
    assert "no dataset type matches" not in det.output
    val = run("validate", ALPACA)
    assert val.exit_code == 1  # the columns as they are are no TRL type
    layout_notes = [line for line in val.output.splitlines() if "alpaca layout" in line]
    assert len(layout_notes) == 1 and "--from alpaca -o OUT" in layout_notes[0], val.output
