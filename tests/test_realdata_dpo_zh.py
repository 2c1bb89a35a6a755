"""LLaMA-Factory's Chinese DPO demo (`dpo_zh_demo.json`): ShareGPT prompt turns beside
single-object `chosen` / `rejected`, with zero-width characters inside real text (a
zero-width space on a code line, emoji ZWJ sequences, a Persian sentence's zero-width
non-joiner). They are kept byte for byte and never read as blank text; a string holding
nothing but zero-width characters or full-width spaces (U+3000) is (`whitespace-only`, as
`report` counts an empty answer; was: valid, nothing said, while report counted it empty).
Renders equal the originals."""

from __future__ import annotations

import json

import pytest
from realdata.support import (
    HERE,
    counts,
    original_render,
    original_template_args,
    rows_of,
    run,
    train_one_step,
)

DATA = HERE / "dpo_zh_demo" / "dpo_zh_demo.sample.json"
ROLES = {"human": "user", "gpt": "assistant", "system": "system"}
INVISIBLE = ("\u200b", "\u200c", "\u200d")


def _records() -> list[dict]:
    return json.loads(DATA.read_text(encoding="utf-8"))


def _prompt(rec: dict) -> list[dict]:
    return [{"role": ROLES[t["from"]], "content": t["value"]} for t in rec["conversations"]]


def test_zero_width_characters_inside_text_are_kept_and_not_blank(tmp_path):
    res = run("validate", DATA, "--from", "sharegpt")
    assert res.exit_code == 0, res.output
    assert "whitespace-only" not in res.output
    assert "valid: 43 rows of preference (conversational)" in " ".join(res.output.split())
    out = tmp_path / "pref.jsonl"
    res = run("convert", DATA, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (43, 0, 43, 43)
    rows, records = rows_of(out), _records()
    for row, rec in zip(rows, records, strict=True):
        assert row["prompt"] == _prompt(rec)
        for side in ("chosen", "rejected"):
            assert row[side] == [{"role": "assistant", "content": rec[side]["value"]}]
    held = [i for i, r in enumerate(rows) if any(z in json.dumps(r, ensure_ascii=False)
                                                   for z in INVISIBLE)]  # fmt: skip
    assert held == [0, 40, 41, 42]
    assert "می\u200cخوام" in json.dumps(rows[41], ensure_ascii=False)  # Persian, ZWNJ kept


@pytest.mark.parametrize(
    "blank",
    ["\u200b", "\u3000\u3000", "\u200d\ufeff", " \u2060"],
    ids=["zwsp", "ideographic-space", "zwj-bom", "word-joiner"],
)
def test_an_answer_of_invisible_characters_is_warned_as_report_counts_it(tmp_path, blank):
    rec = dict(_records()[1])
    rec["rejected"] = {"from": "gpt", "value": blank}
    path = tmp_path / "b.json"
    path.write_text(json.dumps([_records()[2], rec], ensure_ascii=False), encoding="utf-8")
    res = run("validate", path, "--from", "sharegpt")
    said = " ".join(res.output.split())
    assert res.exit_code == 0, res.output
    # was: "valid: 2 rows", nothing said
    assert "warning: whitespace-only (rejected): 1 row, row 1" in said
    assert "holds only whitespace or zero-width characters" in said
    res = run("report", path)
    assert "rejected text: 1 row empty/whitespace" in " ".join(res.output.split())


# (DeepSeek-V3's generation prompt opens a `<think>` its full render lacks: compared with
# TRL's own split in the render sweep, `dpo_zh`)
@pytest.mark.parametrize("template", ["qwen2_5", "glm4moe", "llama3_1"])
def test_renders_equal_the_original_templates(tmp_path, template):
    out = tmp_path / "r.jsonl"
    res = run("convert", DATA, *original_template_args(template), "-o", out)
    assert res.exit_code == 0, res.output
    for row, rec in zip(rows_of(out), _records(), strict=True):
        prompt = _prompt(rec)
        assert row["prompt"] == original_render(template, prompt, add_generation_prompt=True)
        for side in ("chosen", "rejected"):
            full = prompt + [{"role": "assistant", "content": rec[side]["value"]}]
            assert row["prompt"] + row[side] == original_render(template, full)


def test_dpo_trains_one_step(tmp_path):
    res, metrics = train_one_step("dpo", DATA, tmp_path / "t", template="qwen2_5")
    assert res.exit_code == 0, res.output
    assert metrics is not None and metrics["loss"] == pytest.approx(0.6931, abs=1e-3)
