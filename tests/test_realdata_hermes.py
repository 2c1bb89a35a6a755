"""Real Hermes function-calling examples (NousResearch/Hermes-Function-Calling
`prompt_assets/few_shot.json`): two transcripts written as text (`SYSTEM:` / `USER:` /
`ASSISTANT:` inside a code fence) under `example`, the tools in `<tools>` and the call in
`<tool_call>` tags.

One text column no TRL type names: `detect` and a refused `convert` / `train` now name
`--map text=example` and say the tool calls are written as text and stay so (was: "no
dataset type matches", nothing more); so read, it is standard language modeling, trained as
written.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import TINY_MODEL, counts, rows_of, run, sample

DATA = sample("hermes_few_shot")
ADVICE = "column 'example' is the only text: pass `--map text=example`"
AS_TEXT = "its text writes tool calls as text (`<tool_call>`): they stay text"


def _said(output: str) -> str:
    return " ".join(output.split())


def test_detect_names_the_map_and_the_tool_calls_written_as_text():
    res = run("detect", DATA)
    said = _said(res.output)
    assert "type unknown" in said
    assert ADVICE in said and AS_TEXT in said


def test_convert_without_map_says_what_to_pass(tmp_path):
    out = tmp_path / "lm.jsonl"
    res = run("convert", DATA, "-o", out)
    assert res.exit_code == 1, res.output
    said = _said(res.output)
    assert "hint: " + ADVICE in said
    assert not out.exists()


def test_mapped_text_is_kept_as_written(tmp_path):
    out = tmp_path / "lm.jsonl"
    res = run("convert", DATA, "--map", "text=example", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 0, 2, 2)
    src = json.loads(DATA.read_text())
    rows = rows_of(out)
    assert [r["text"] for r in rows] == [s["example"] for s in src]
    assert '<tool_call>\n{"arguments": {"length": 8}' in rows[1]["text"]
    val = run("validate", DATA, "--map", "text=example")
    assert val.exit_code == 0, val.output
    assert "valid: 2 rows of language-modeling (standard)" in val.output


def test_a_text_column_is_not_advised_beside_other_text():
    """Two text columns: which holds the text is not told by their names, so no advice."""
    import pyarrow as pa

    from trlprep.detection.textcolumn import text_column_suggestion

    one = pa.table({"example": ["a <tool_call>x</tool_call>"], "n": [1]})
    two = pa.table({"example": ["a"], "other": ["b"]})
    plain = pa.table({"doc": ["no calls here"]})
    assert text_column_suggestion(two) is None
    assert text_column_suggestion(pa.table({"question": ["What is 2 + 2?"]})) is None
    assert "`<tool_call>`" in text_column_suggestion(one)
    assert text_column_suggestion(plain).endswith("-o OUT)")


def test_train_refused_without_map_then_trains_one_step(tmp_path):
    res = run(
        "train", "--algo", "sft", "--model", TINY_MODEL, "--data", DATA,
        "--output-dir", tmp_path / "no", "--max-steps", 1,
    )  # fmt: skip
    assert res.exit_code != 0
    assert "pass `--data-map text=example` to read it as language modeling" in _said(res.output)
    pytest.importorskip("torch")
    res = run(
        "train", "--algo", "sft", "--model", TINY_MODEL, "--data", DATA,
        "--data-map", "text=example", "--output-dir", tmp_path / "sft", "--max-steps", 1,
        "--batch-size", 2, "--max-length", 256,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "trained 1 step" in res.output


def test_the_python_api_names_the_keyword():
    import trlprep
    from trlprep.errors import DataError

    with pytest.raises(DataError) as err:
        trlprep.convert(DATA, to="language-modeling")
    assert "pass `map={'text': 'example'}` to read it as language modeling" in err.value.hint
    rows = trlprep.convert(DATA, to="language-modeling", map={"text": "example"})
    assert len(rows) == 2


def test_report_and_a_chat_template_on_the_written_text(tmp_path):
    from realdata.support import template_file

    rep = run("report", DATA, "--map", "text=example")
    assert rep.exit_code == 0, rep.output
    assert "language-modeling (standard), 2 rows" in rep.output
    res = run(
        "convert", DATA, "--map", "text=example", "--chat-template", template_file("qwen2_5"),
        "-o", tmp_path / "x.jsonl",
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "--chat-template applies to conversational data; this data is standard text" in (
        res.output
    )
