"""Real chat data: FastChat's ShareGPT sample, LLaMA-Factory's DPO (ShareGPT) and KTO sets.

Issue 11 items 4 (messages + label is unpaired preference, not language modeling) and 10
(multi-turn chat -> prompt-completion / prompt-only: the last assistant turn split off).
"""

from __future__ import annotations

import json

import pytest
from realdata.support import counts, original_render, rows_of, run, sample

FASTCHAT = sample("fastchat_dummy")
DPO = sample("dpo_demo")
KTO = sample("kto_demo")

QWEN_SYSTEM = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    "<|im_end|>\n"
)
LLAMA_HEAD = (
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
    "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
)
VICUNA = (
    "I am Vicuna, a language model trained by researchers from Large Model Systems "
    "Organization (LMSYS)."
)
FC0 = [
    {"role": "user", "content": "Who are you?"},
    {"role": "assistant", "content": VICUNA},
    {"role": "user", "content": "Have a nice day!"},
    {"role": "assistant", "content": "You too!"},
]


def _records(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _plain(msgs):
    return [{"role": m["role"], "content": m["content"]} for m in msgs]


def _sharegpt(turns):
    roles = {"human": "user", "gpt": "assistant", "system": "system"}
    return [{"role": roles[t["from"]], "content": t["value"]} for t in turns]


# ---------------------------------------------------------------- FastChat ShareGPT


def test_fastchat_import_and_llama31_template(tmp_path):
    out = tmp_path / "lm.jsonl"
    res = run("import", FASTCHAT, "--from", "sharegpt", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (150, 0, 150, 150)
    rows = rows_of(out)
    assert _plain(rows[0]["messages"]) == FC0
    assert rows[0]["id"] == "identity_0"  # extra column carried
    assert run("validate", out).exit_code == 0

    res = run("convert", out, "--chat-template", "llama3.1", "-o", tmp_path / "t.jsonl")
    assert res.exit_code == 0, res.output
    texts = [r["text"] for r in rows_of(tmp_path / "t.jsonl")]
    assert texts[0] == LLAMA_HEAD + (
        "<|start_header_id|>user<|end_header_id|>\n\nWho are you?<|eot_id|>"
        f"<|start_header_id|>assistant<|end_header_id|>\n\n{VICUNA}<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHave a nice day!<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nYou too!<|eot_id|>"
    )
    for text, rec in zip(texts, _records(FASTCHAT), strict=True):
        assert text == original_render("llama3_1", _sharegpt(rec["conversations"]))


def test_fastchat_last_assistant_turn_becomes_the_completion(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", FASTCHAT, "--from", "sharegpt", "--to", "prompt-completion", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (150, 0, 150, 150)
    row = rows_of(out)[0]
    assert _plain(row["prompt"]) == FC0[:3]
    assert _plain(row["completion"]) == FC0[3:]
    assert row["id"] == "identity_0"


def test_fastchat_prompt_only_for_grpo(tmp_path):
    out = tmp_path / "po.jsonl"
    res = run("convert", FASTCHAT, "--from", "sharegpt", "--to", "prompt-only", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (150, 0, 150, 150)
    assert _plain(rows_of(out)[0]["prompt"]) == FC0[:3]


def test_fastchat_prompt_completion_with_qwen(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run(
        "convert",
        FASTCHAT,
        "--from",
        "sharegpt",
        "--to",
        "pc",
        "--chat-template",
        "qwen2.5",
        "-o",
        out,
    )
    assert res.exit_code == 0, res.output
    row = rows_of(out)[0]
    assert row["prompt"] == QWEN_SYSTEM + (
        f"<|im_start|>user\nWho are you?<|im_end|>\n<|im_start|>assistant\n{VICUNA}<|im_end|>\n"
        "<|im_start|>user\nHave a nice day!<|im_end|>\n<|im_start|>assistant\n"
    )
    assert row["completion"] == "You too!<|im_end|>\n"
    assert row["prompt"] == original_render("qwen2_5", FC0[:3], add_generation_prompt=True)


# ---------------------------------------------------------------- LLaMA-Factory DPO (ShareGPT)


def test_dpo_demo_detect_suggests_sharegpt():
    assert "--from sharegpt" in run("detect", DPO).output


def test_dpo_demo_imports_as_preference_and_unpairs(tmp_path):
    rec = _records(DPO)[0]
    out = tmp_path / "pref.jsonl"
    res = run("convert", DPO, "--from", "sharegpt", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (30, 0, 30, 30)
    row = rows_of(out)[0]
    assert _plain(row["prompt"]) == [
        {
            "role": "user",
            "content": "Hi! I'd like to create a new language game simulating the first person "
            "perspective of a character named Angela.",
        }
    ]
    assert _plain(row["chosen"]) == [{"role": "assistant", "content": rec["chosen"]["value"]}]
    assert _plain(row["rejected"]) == [{"role": "assistant", "content": rec["rejected"]["value"]}]
    assert run("validate", out, "--type", "preference").exit_code == 0

    res = run("convert", out, "--to", "unpaired", "-o", tmp_path / "u.jsonl")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (30, 0, 30, 60)
    u = rows_of(tmp_path / "u.jsonl")
    assert [r["label"] for r in u[:2]] == [True, False]
    assert _plain(u[1]["completion"]) == _plain(row["rejected"])


# ------------------------------------------------------------ LLaMA-Factory KTO (messages, label)

KTO49_USER = "Sort a given list of 5 integers from smallest to biggest.\n[-3, -7, 4, 8, -2]"
KTO49_ANSWER = (
    "Ok, sorted. The smallest number is -3, followed by -2, then -7, then 4, and finally 8. "
    "Is there anything else I can help you with?"
)


def test_kto_detected_as_unpaired_preference():
    res = run("detect", KTO, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert (info["type"], info["format"], info["num_rows"]) == (
        "unpaired-preference",
        "conversational",
        50,
    )
    assert "label" not in info["extra_columns"]


def test_kto_validates_as_detected():
    assert run("validate", KTO).exit_code == 0


def test_kto_chat_template_keeps_the_label_and_splits_the_last_turn(tmp_path):
    out = tmp_path / "kto.jsonl"
    res = run("convert", KTO, "--chat-template", "qwen2.5", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (50, 0, 50, 50)
    rows = rows_of(out)
    assert "text" not in rows[0]
    assert rows[49] == {
        "prompt": QWEN_SYSTEM
        + f"<|im_start|>user\n{KTO49_USER}<|im_end|>\n<|im_start|>assistant\n",
        "completion": KTO49_ANSWER + "<|im_end|>\n",
        "label": False,
    }
    for row, rec in zip(rows, _records(KTO), strict=True):
        msgs = rec["messages"]
        assert row["label"] is rec["label"]
        assert row["prompt"] == original_render("qwen2_5", msgs[:-1], add_generation_prompt=True)
        assert row["prompt"] + row["completion"] == original_render("qwen2_5", msgs)


def test_kto_to_sft_keeps_only_the_desirable_answers(tmp_path):
    out = tmp_path / "lm.jsonl"
    res = run("convert", KTO, "--to", "lm", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (50, 0, 50, 32)
    rows = rows_of(out)
    good = [r for r in _records(KTO) if r["label"]]
    assert [_plain(r["messages"]) for r in rows] == [_plain(r["messages"]) for r in good]
    assert all(KTO49_ANSWER not in json.dumps(r) for r in rows)


@pytest.mark.parametrize("target", ["prompt-only", "prompt-completion"])
def test_kto_prompt_is_every_turn_before_the_last(tmp_path, target):
    out = tmp_path / "out.jsonl"
    res = run("convert", KTO, "--to", target, "-o", out)
    assert res.exit_code == 0, res.output
    rows = rows_of(out)
    recs = _records(KTO)
    if target == "prompt-completion":  # only the desirable answers are completions
        recs = [r for r in recs if r["label"]]
    assert len(rows) == len(recs)
    for row, rec in zip(rows, recs, strict=True):
        assert _plain(row["prompt"]) == _plain(rec["messages"][:-1])


def test_fastchat_split_turns_all_gives_one_row_per_assistant_turn(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run(
        "convert", FASTCHAT, "--from", "sharegpt", "--to", "pc", "--split-turns", "all", "-o", out
    )
    assert res.exit_code == 0, res.output
    records = _records(FASTCHAT)
    answers = sum(t["from"] == "gpt" for r in records for t in r["conversations"])
    assert counts(res.output) == (150, 0, 150, answers)
    rows = rows_of(out)
    assert [(_plain(r["prompt"]), _plain(r["completion"])) for r in rows[:2]] == [
        (FC0[:1], FC0[1:2]),
        (FC0[:3], FC0[3:]),
    ]
    assert rows[0]["id"] == rows[1]["id"] == "identity_0"


def test_dpo_demo_llama31_equals_the_original_template(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", DPO, "--from", "sharegpt", "--chat-template", "llama3.1", "-o", out)
    assert res.exit_code == 0, res.output
    rows = rows_of(out)
    assert rows[0]["prompt"] == LLAMA_HEAD + (
        "<|start_header_id|>user<|end_header_id|>\n\nHi! I'd like to create a new language game "
        "simulating the first person perspective of a character named Angela.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    for row, rec in zip(rows, _records(DPO), strict=True):
        prompt = _sharegpt(rec["conversations"])
        assert row["prompt"] == original_render("llama3_1", prompt, add_generation_prompt=True)
        for side in ("chosen", "rejected"):
            full = prompt + [{"role": "assistant", "content": rec[side]["value"]}]
            assert row["prompt"] + row[side] == original_render("llama3_1", full)


def test_fastchat_as_text_parts_renders_like_strings(tmp_path):
    """The same real chats with content as TRL text parts: no `vision`, no repr in renders."""
    records = _records(FASTCHAT)[:20]
    parts = [
        {
            "messages": [
                {"role": m["role"], "content": [{"type": "text", "text": m["content"]}]}
                for m in _sharegpt(r["conversations"])
            ]
        }
        for r in records
    ]
    src = tmp_path / "parts.jsonl"
    src.write_text("".join(json.dumps(p) + "\n" for p in parts), encoding="utf-8")
    info = json.loads(run("detect", src, "--json").output)
    assert (info["type"], info["vision"]) == ("language-modeling", False)
    out = tmp_path / "t.jsonl"
    res = run("convert", src, "--chat-template", "llama3.1", "-o", out)
    assert res.exit_code == 0, res.output
    assert "text parts" in res.output  # the join is said, once
    texts = [r["text"] for r in rows_of(out)]
    assert "'type': 'text'" not in texts[0]
    assert texts[0].startswith(LLAMA_HEAD + "<|start_header_id|>user<|end_header_id|>\n\nWho")
    for text, rec in zip(texts, records, strict=True):
        assert text == original_render("llama3_1", _sharegpt(rec["conversations"]))


def test_kto_with_its_label_under_another_name_imports_with_map(tmp_path):
    # `--map label=good` (or any --map, or --from map) on messages + label failed with
    # "rows lack the column 'prompt' of unpaired-preference": the import checked the
    # messages as the type they are read as, not as they are stored
    rows = json.loads(KTO.read_text(encoding="utf-8"))
    for r in rows:
        r["good"] = r.pop("label")
    src = tmp_path / "kto_good.json"
    src.write_text(json.dumps(rows), encoding="utf-8")
    plain, mapped = tmp_path / "plain.jsonl", tmp_path / "mapped.jsonl"
    assert run("convert", KTO, "--to", "pc", "-o", plain).exit_code == 0
    res = run("convert", src, "--map", "label=good", "--to", "pc", "-o", mapped)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (50, 0, 50, 32)
    assert rows_of(mapped) == rows_of(plain)
    res = run("validate", src, "--map", "label=good")
    assert res.exit_code == 0, res.output
    assert "valid: 50 rows of unpaired-preference (conversational)" in res.output
    res = run("convert", KTO, "--from", "map", "-o", tmp_path / "same.jsonl")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (50, 0, 50, 50)


@pytest.mark.parametrize("zero_one", [False, True])
def test_kto_row_ending_on_a_user_turn_is_named_by_its_line(tmp_path, zero_one):
    """A conversation cut to its user turn among KTO rows (labels as booleans, or as 0/1
    read with --coerce): detect, validate and convert name its line (was a KeyError)."""
    rows = json.loads(KTO.read_text())
    rows[7]["messages"] = rows[7]["messages"][:1]
    for r in rows:
        r["label"] = int(r["label"]) if zero_one else r["label"]
    data = tmp_path / "kto.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    extra = ("--coerce",) if zero_one else ()
    res = run("validate", data, *extra)
    assert res.exit_code == 1, res.output
    assert "1 row, line 8" in res.output
    res = run("convert", data, *extra, "-o", tmp_path / "out.jsonl", "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output)[:2] == (50, 1)
    assert len(rows_of(tmp_path / "out.jsonl")) == 49
