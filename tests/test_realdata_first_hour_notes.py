"""Notes on real samples that read as words they were not: LLaMA-Factory's `dpo_en_demo.json`
(`chosen` one `{from, value}` object per row) was said to "hold other"; ToolBench's message
field `valid` was said as `message fields dropped: valid`, which reads as a verdict."""

from __future__ import annotations

from realdata.support import run, sample


def test_validate_says_what_an_object_column_holds():
    res = run("validate", sample("dpo_demo"))
    assert res.exit_code == 1, res.output
    assert "holds other" not in res.output
    assert (
        "every row of column 'chosen' holds neither text nor a list of messages (an object, say)"
        in res.output
    )


def test_openai_chat_import_quotes_the_dropped_message_fields(tmp_path):
    res = run("convert", sample("toolbench_trajectories"), "--to", "pc", "-o", tmp_path / "o.jsonl")
    assert res.exit_code == 0, res.output
    assert "note: messages: message fields dropped (no TRL message field): 'valid'" in res.output
