"""Real OpenAI Batch API requests (allenai/open-instruct's example): the conversation is the
`messages` field of the `body` objects. `--map messages=body.messages` takes the field out
as a column; detect names that map."""

from __future__ import annotations

import json

import pytest
from realdata.support import counts, rows_of, run, sample

BATCH = sample("openai_batch_requests")
SYSTEM = "You are an AI assistant that helps people find information."


def test_detect_names_the_field_map():
    res = run("detect", BATCH)
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    assert "column 'body' holds a list of messages in its field 'messages'" in text
    assert "`--map messages=body.messages`" in text


def test_map_takes_the_field_out_and_keeps_the_rest(tmp_path):
    out = tmp_path / "po.jsonl"
    res = run("convert", BATCH, "--map", "messages=body.messages", "-o", out)
    assert res.exit_code == 0, res.output
    assert "prompt-only (conversational)" in res.output
    assert counts(res.output) == (3, 0, 3, 3)
    assert rows_of(out)[2] == {
        "prompt": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "What is Altair Basic?"},
        ],
        "custom_id": "task-2",
        "method": "POST",
        "url": "/chat/completions",
        "body": {"model": "gpt-4o"},
    }
    res = run("validate", BATCH, "--map", "prompt=body.messages")
    assert res.exit_code == 0, res.output
    assert "valid: 3 rows of prompt-only (conversational)" in res.output


def test_a_field_taken_whole_drops_its_object(tmp_path):
    data = tmp_path / "only.jsonl"
    rows = [json.loads(line) for line in BATCH.read_text().splitlines()]
    lines = [json.dumps({"body": {"messages": r["body"]["messages"]}}) for r in rows]
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "po.jsonl"
    res = run("convert", data, "--map", "prompt=body.messages", "-o", out)
    assert res.exit_code == 0, res.output
    assert list(rows_of(out)[0]) == ["prompt"]


def test_a_missing_field_names_the_fields(tmp_path):
    res = run("convert", BATCH, "--map", "prompt=body.msgs", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2, res.output
    assert "column 'body' holds no field 'msgs'" in res.output
    assert "its fields: model, messages" in res.output
    res = run("convert", BATCH, "--map", "prompt=url.x", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2, res.output
    assert "'url' holds string, not objects" in res.output


def test_rows_without_the_field_are_rejected_with_their_line(tmp_path):
    data = tmp_path / "mixed.jsonl"
    odd = [
        {"custom_id": "task-3", "body": None},
        {"custom_id": "task-4", "body": {"model": "x"}},
        {"custom_id": "task-5", "body": "oops"},
    ]
    data.write_text(BATCH.read_text() + "".join(json.dumps(r) + "\n" for r in odd))
    out = tmp_path / "po.jsonl"
    res = run("convert", data, "--map", "messages=body.messages", "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (6, 3, 3, 3)
    rejects = rows_of(tmp_path / "po.rejects.jsonl")
    assert sorted(r["line"] for r in rejects) == [4, 5, 6]
    reasons = {r["line"]: r["reason"] for r in rejects}
    assert "column 'body.messages' (imported as 'messages')" in reasons[4]
    assert "column 'body' holds a string (\"oops\")" in reasons[6]


def test_check_template_names_the_field_map():
    from realdata.support import TEMPLATES

    template = TEMPLATES / "qwen2_5.jinja"
    if not template.exists():
        pytest.skip("../shared (original chat templates) is absent")
    res = run("check-template", BATCH, "--chat-template", template)
    assert res.exit_code == 1, res.output
    assert "`trlprep convert DATA --map messages=body.messages -o OUT` and check OUT" in " ".join(
        res.output.split()
    )


@pytest.mark.parametrize(
    "mapping, kept",
    [
        ("messages=messages.messages", None),  # the object gives way to its field
        ("messages_orig=messages,messages=messages.messages", {"model": "m"}),  # as the hint
        ("messages=messages.messages,messages_orig=messages", {"model": "m"}),  # either order
    ],
)
def test_a_field_of_the_same_name_takes_the_objects_place(tmp_path, mapping, kept):
    data = tmp_path / "nested.jsonl"
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    data.write_text(json.dumps({"messages": {"model": "m", "messages": chat}}) + "\n")
    out = tmp_path / "out.jsonl"
    res = run("convert", data, "--map", mapping, "--to", "prompt-completion", "-o", out)
    assert res.exit_code == 0, res.output
    (row,) = rows_of(out)
    assert row["prompt"] == chat[:1] and row["completion"] == chat[1:]
    assert row.get("messages_orig") == kept
