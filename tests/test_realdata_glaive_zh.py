"""Glaive's function-calling demo in Chinese (LLaMA-Factory `glaive_toolcall_zh_demo.json`):
ShareGPT turns with `function_call` / `observation`, Chinese argument values and tool
descriptions, mixed scripts and full-width punctuation. Renders equal the originals byte for
byte (the arguments' Chinese unescaped, as the templates' `tojson` writes it); the same file
saved in GBK is refused naming GB18030 and the `iconv` command (was: "not valid UTF-8 text",
"re-encode the file as UTF-8", no encoding named)."""

from __future__ import annotations

import json

import pytest
from realdata.support import HERE, counts, original_render, original_template_args, rows_of, run
from test_realdata_toolcalls import glaive_messages

DATA = HERE / "glaive_toolcall_zh" / "glaive_toolcall_zh_demo.first40.json"


def _records() -> list[dict]:
    return json.loads(DATA.read_text(encoding="utf-8"))


def test_detect_and_validate_read_it_as_sharegpt():
    res = run("detect", DATA)
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "type language-modeling (the sharegpt layout, imported as convert does)" in said
    assert "rows 40" in said and "side columns tools" in said
    res = run("validate", DATA, "--from", "sharegpt")
    assert res.exit_code == 0, res.output
    assert "valid: 40 rows of language-modeling (conversational)" in " ".join(res.output.split())


def test_chinese_arguments_are_kept_as_written(tmp_path):
    out = tmp_path / "lm.jsonl"
    res = run("convert", DATA, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (40, 0, 40, 40)
    calls = [
        json.loads(t["value"])
        for r in _records()
        for t in r["conversations"]
        if t["from"] == "function_call"
    ]
    got = [m["tool_calls"][0]["function"] for r in rows_of(out) for m in r["messages"]
           if m.get("tool_calls")]  # fmt: skip
    assert len(got) == len(calls) == 36
    for g, c in zip(got, calls, strict=True):
        args = g["arguments"] if isinstance(g["arguments"], dict) else json.loads(g["arguments"])
        assert g["name"] == c["name"] and args == c["arguments"]
    assert calls[0]["arguments"]["customer_name"] == "约翰·多伊"


@pytest.mark.parametrize("template", ["qwen2_5", "glm4moe", "llama3_1"])
def test_every_row_equals_the_original_template(tmp_path, template):
    out = tmp_path / "r.jsonl"
    res = run("convert", DATA, *original_template_args(template), "-o", out)
    assert res.exit_code == 0, res.output
    texts = [r["text"] for r in rows_of(out)]
    for i, rec in enumerate(_records()):
        tools = json.loads(rec["tools"]) or None
        want = original_render(template, glaive_messages(rec), tools=tools)
        assert texts[i] == want, i
    assert "约翰·多伊" in texts[0] and "\\u" not in texts[0]  # unescaped, as the original


def test_deepseek_renders_the_rows_without_calls_and_refuses_the_rest_as_its_original(tmp_path):
    out = tmp_path / "r.jsonl"
    args = [*original_template_args("deepseekv3"), "--on-error", "skip"]
    res = run("convert", DATA, *args, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (40, 23, 17, 17)
    texts = iter(r["text"] for r in rows_of(out))
    for i, rec in enumerate(_records()):
        tools = json.loads(rec["tools"]) or None
        if any(t["from"] == "function_call" for t in rec["conversations"]):
            from jinja2 import TemplateError

            with pytest.raises((TypeError, TemplateError)):  # the original raises on it too
                original_render("deepseekv3", glaive_messages(rec), tools=tools)
            continue
        assert next(texts) == original_render("deepseekv3", glaive_messages(rec), tools=tools), i


def test_a_gbk_copy_is_refused_naming_the_encoding(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    records = _records()
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    (tmp_path / "zh.jsonl").write_bytes(body.encode("gb18030"))  # as saved on a Chinese Windows
    for cmd in (["validate", "zh.jsonl"], ["convert", "zh.jsonl", "-o", "o.jsonl"]):
        res = run(*cmd)
        assert res.exit_code == 1, res.output
        said = " ".join(res.output.split())
        assert "line 1" in said or "zh.jsonl:1" in said
        assert "not valid UTF-8 text; the bytes read as GB18030/GBK (Simplified Chinese)" in said
        assert "`iconv -f GB18030 -t UTF-8 zh.jsonl > zh.utf8.jsonl`" in said
    (tmp_path / "zh.utf8.jsonl").write_text(body, encoding="utf-8")  # what iconv writes
    res = run("convert", "zh.utf8.jsonl", "-o", "o.jsonl")
    assert res.exit_code == 0 and counts(res.output) == (40, 0, 40, 40), res.output


def test_split_turns_and_sft_train_one_step(tmp_path):
    from realdata.support import TINY_MODEL

    out = tmp_path / "pc.jsonl"
    res = run("convert", DATA, "--to", "prompt-completion", "--split-turns", "all", "-o", out)
    assert res.exit_code == 0, res.output
    rows = rows_of(out)
    answers = sum(t["from"] in ("gpt", "function_call") for r in _records()
                  for t in r["conversations"])  # fmt: skip
    assert len(rows) == answers == 132
    res = run("train", "--algo", "sft", "--model", TINY_MODEL, "--data", DATA,
              *original_template_args("qwen2_5")[:2], "--output-dir", tmp_path / "t",
              "--max-steps", 1, "--batch-size", 2, "--max-length", 256)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp_path / "t" / "metrics.jsonl").exists()
