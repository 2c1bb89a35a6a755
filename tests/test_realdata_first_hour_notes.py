"""Notes on real samples that read as words they were not: LLaMA-Factory's `dpo_en_demo.json`
(`chosen` one `{from, value}` object per row) was said to "hold other"; ToolBench's message
field `valid` was said as `message fields dropped: valid`, which reads as a verdict, and
the importer's notes came after the counts that end every run."""

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
    assert res.output.rstrip("\n").splitlines()[-1].startswith("openai-chat -> ")


def test_import_notes_come_before_the_counts(tmp_path):
    res = run("convert", sample("oasst_trees"), "-o", tmp_path / "o.jsonl")
    assert res.exit_code == 0, res.output
    lines = res.output.rstrip("\n").splitlines()
    assert "note: 210 messages -> 98 threads" in lines[:-1]
    assert lines[-1].startswith("oasst -> language-modeling (conversational): 20 rows in")
