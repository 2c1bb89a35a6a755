"""Real test fixtures of axolotl-ai-cloud/axolotl: one ShareGPT conversation written as one
JSON object `{"conversations": [...]}` (one row, not a wrapper of 12 turn rows), and the same
conversation with an empty answer in the middle."""

from __future__ import annotations

import json

import pytest
from realdata.support import HERE, counts, original_render, rows_of, run

DATA = HERE / "axolotl_fixtures"
CONV, MISSING = DATA / "conversation.json", DATA / "conversation.missingturns.json"


def _turns(path) -> list[dict]:
    roles = {"human": "user", "gpt": "assistant"}
    turns = json.loads(path.read_text(encoding="utf-8"))["conversations"]
    return [{"role": roles[t["from"]], "content": t["value"]} for t in turns]


def test_one_conversation_object_is_one_sharegpt_row():
    res = run("detect", CONV)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    # was: 12 rows of `from` / `value` (the object read as a wrapper of rows), no type
    assert "type language-modeling (the sharegpt layout, imported as convert does)" in text
    assert "rows 1 " in text


def test_the_conversation_converts_and_renders_as_the_original(tmp_path):
    out = tmp_path / "lm.jsonl"
    res = run("convert", CONV, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (1, 0, 1, 1)
    (row,) = rows_of(out)
    assert row["messages"] == _turns(CONV)
    assert len(row["messages"]) == 12
    from realdata.support import original_template_args

    rendered = tmp_path / "r.jsonl"
    res = run("convert", CONV, *original_template_args("qwen2_5"), "-o", rendered)
    assert res.exit_code == 0, res.output
    assert rows_of(rendered)[0]["text"] == original_render("qwen2_5", _turns(CONV))


@pytest.mark.parametrize("key", ["messages", "conversations"])
def test_a_wrapper_of_rows_is_still_unwrapped(tmp_path, key):
    path = tmp_path / "w.json"
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    path.write_text(json.dumps({key: turns}), encoding="utf-8")
    assert "rows 1 " in " ".join(run("detect", path).output.split())
    rows = [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": "d"}]
    path.write_text(json.dumps({key: rows}), encoding="utf-8")  # rows, not turns
    assert "rows 2 " in " ".join(run("detect", path).output.split())


def test_an_empty_answer_mid_conversation_is_named(tmp_path):
    out = tmp_path / "lm.jsonl"
    res = run("convert", MISSING, "-o", out)
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    assert "conversation.missingturns.json, row 0: import: column 'conversations'" in text
    assert "a message's content is empty (rule empty-string)" in text
    res = run("convert", MISSING, "--on-error", "skip", "-o", out)
    assert res.exit_code == 1, res.output
    assert "every row was rejected (1)" in " ".join(res.output.split())
    (reject,) = rows_of(tmp_path / "lm.rejects.jsonl")
    assert "a message's content is empty" in reject["reason"]
