"""Real vision data with `<image>` placeholders: LLaMA-Factory's mllm_demo (JSON only).

Issue 11 item 3: placeholders become image parts (TRL's vision format) when their count
matches `images`, otherwise the row is refused; never literal `<image>` text in a render.
"""

from __future__ import annotations

import json

from realdata.support import TEMPLATES, counts, original_render, rows_of, run, sample

MLLM = sample("mllm_demo")
IMG = "<|vision_start|><|image_pad|><|vision_end|>"
# row 0 as TRL's vision format, written by hand from the record
ROW0 = [
    {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Who are they?"}]},
    {"role": "assistant", "content": "They're Kane and Gretzka from Bayern Munich."},
    {
        "role": "user",
        "content": [{"type": "text", "text": "What are they doing?"}, {"type": "image"}],
    },
    {"role": "assistant", "content": "They are celebrating on the soccer field."},
]
QWEN_VL_ROW0 = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    f"<|im_start|>user\n{IMG}Who are they?<|im_end|>\n"
    "<|im_start|>assistant\nThey're Kane and Gretzka from Bayern Munich.<|im_end|>\n"
    f"<|im_start|>user\nWhat are they doing?{IMG}<|im_end|>\n"
    "<|im_start|>assistant\nThey are celebrating on the soccer field.<|im_end|>\n"
)


def _parts(content):
    """Content as the list of parts transformers gets (a plain string is one text part)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [{k: v for k, v in p.items() if v is not None} for p in content]


def test_detect_placeholders_as_vision():
    res = run("detect", MLLM, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert (info["type"], info["vision"], info["num_rows"]) == ("language-modeling", True, 6)


def test_validate_accepts_balanced_placeholders():
    assert run("validate", MLLM).exit_code == 0  # counts match in every row


def test_import_maps_placeholders_to_image_parts(tmp_path):
    out = tmp_path / "lm.jsonl"
    res = run("convert", MLLM, "--to", "lm", "-o", out)
    assert res.exit_code == 0, res.output
    row = rows_of(out)[0]
    assert row["images"] == ["mllm_demo_data/1.jpg", "mllm_demo_data/1.jpg"]
    assert [_parts(m["content"]) for m in row["messages"]] == [_parts(m["content"]) for m in ROW0]
    assert "<image>" not in json.dumps(row["messages"])


def test_qwen_vl_render_equals_the_original(tmp_path):
    assert original_render("qwen2_5_vl", ROW0) == QWEN_VL_ROW0
    out = tmp_path / "vl.jsonl"
    res = run("convert", MLLM, "--chat-template", TEMPLATES / "qwen2_5_vl.jinja", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (6, 0, 6, 6)
    rows = rows_of(out)
    assert rows[0]["text"] == QWEN_VL_ROW0
    assert rows[0]["images"] == ["mllm_demo_data/1.jpg", "mllm_demo_data/1.jpg"]
    assert all("<image>" not in r["text"] for r in rows)


def test_text_only_template_never_writes_literal_placeholders(tmp_path):
    out = tmp_path / "q.jsonl"
    res = run("convert", MLLM, "--chat-template", "qwen2.5", "-o", out)
    if res.exit_code == 0:
        assert all("<image>" not in r["text"] for r in rows_of(out))
    else:
        assert res.exit_code == 1 and "image" in res.output
        assert not out.exists()


def test_unbalanced_placeholders_are_refused_with_the_row(tmp_path):
    records = json.loads(MLLM.read_text(encoding="utf-8"))
    records[2]["images"] = records[2]["images"] * 2  # 1 placeholder, 2 images
    src = tmp_path / "mllm.json"
    src.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    rep = run("validate", src)
    assert "row 2" in rep.output or "rows 2" in rep.output, rep.output
    out = tmp_path / "lm.jsonl"
    res = run("convert", src, "--to", "lm", "-o", out)
    assert res.exit_code == 1, res.output
    assert "row 2" in res.output
    res = run("convert", src, "--to", "lm", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (6, 1, 5, 5)
    assert [r["row"] for r in rows_of(tmp_path / "lm.rejects.jsonl")] == [2]
