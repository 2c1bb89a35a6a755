"""Real LLaMA-Factory v1 data: text parts `{"type": "text", "value": ...}`, `loss_weight`.

Issue 11 items 2 (text-only parts render as text, never a repr; not `vision`), 11 (v1
layouts: `chosen_messages` / `rejected_messages`, parts with `value`) and 13 (extra
per-message fields are kept, or the run says so).
"""

from __future__ import annotations

import json

from realdata.support import HERE, counts, original_render, rows_of, run

SFT = HERE / "llamafactory_v1" / "v1_sft_demo.first100.jsonl"
V1 = "llamafactory-v1"  # the layout `trlprep detect` names for these files
DPO = HERE / "llamafactory_v1" / "v1_dpo_demo.jsonl"
HELLO = "Hello! I am {{name}}, an AI assistant developed by {{author}}. How can I assist you today?"
SYSTEM = (
    "You are an AI assistant. You will be given a task. You must generate a detailed and long "
    "answer."
)
USER0 = (
    "Abdulah Hasanagic este mândrul proprietar al AS Company din Gorazde, un orăşel situat pe "
    "malul râului Drina, lângă frontiera cu Serbia, în estul Bosniei.\n\nTranslate to English"
    "\n\nEnglish:"
)
CHOSEN0 = (
    "Abdulah Hasanagic is the proud owner of AS Company in Gorazde, a small town located on the "
    "banks of the Drina River, near the border with Serbia, in Eastern Bosnia."
)
REJECTED0 = (
    " Abdulah Hasanagic is the proud owner of AS Company, a small town located on the banks of "
    "the Drina River, near the border with Serbia, in eastern Bosnia."
)


def _text(content) -> str:
    """A message's text, whether kept as a string or as text parts (`text` or `value`)."""
    if isinstance(content, str):
        return content
    return "".join(p.get("text") or p.get("value") or "" for p in content)


def _plain(messages) -> list[tuple[str, str]]:
    return [(m["role"], _text(m["content"])) for m in messages]


def test_sft_detect_text_parts_are_not_vision():
    assert f"--from {V1}" in run("detect", SFT).output
    res = run("detect", SFT, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert (info["type"], info["format"], info["vision"]) == (
        "language-modeling",
        "conversational",
        False,
    )


def test_sft_qwen_render_joins_the_text_parts(tmp_path):
    out = tmp_path / "q.jsonl"
    res = run("convert", SFT, "--from", V1, "--chat-template", "qwen2.5", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (100, 0, 100, 100)
    rows = rows_of(out)
    assert rows[0]["text"] == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
        "assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
        f"<|im_start|>assistant\n{HELLO}<|im_end|>\n"
    )
    assert "[{" not in rows[0]["text"] and "'type'" not in rows[0]["text"]
    records = [json.loads(line) for line in SFT.read_text(encoding="utf-8").splitlines()]
    for row, rec in zip(rows, records, strict=True):
        msgs = [{"role": r, "content": c} for r, c in _plain(rec["messages"])]
        assert row["text"] == original_render("qwen2_5", msgs)


def test_sft_loss_weight_is_kept_or_reported(tmp_path):
    out = tmp_path / "lm.jsonl"
    res = run("import", SFT, "--from", V1, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (100, 0, 100, 100)
    msgs = rows_of(out)[0]["messages"]
    assert _plain(msgs) == [("user", "hi"), ("assistant", HELLO)]
    # kept as the per-message `weight` trlprep knows (OpenAI's), or said
    kept = [m.get("loss_weight", m.get("weight")) for m in msgs] == [0.0, 1.0]
    assert kept or "loss_weight" in res.output
    assert run("validate", out).exit_code == 0


def test_dpo_v1_to_explicit_preference(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", DPO, "--to", "preference", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (10, 0, 10, 10)
    row = rows_of(out)[0]
    assert _plain(row["prompt"]) == [("system", SYSTEM), ("user", USER0)]
    assert _plain(row["chosen"]) == [("assistant", CHOSEN0)]
    assert _plain(row["rejected"]) == [("assistant", REJECTED0)]
