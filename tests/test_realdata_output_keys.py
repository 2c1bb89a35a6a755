"""Real files converted to JSON Lines keep each message's own keys (was: every key any
message of the file held, written as null: `"tool_calls": null`, `"loss": null`,
`"reasoning_content": null` on every message of xtuner's Qwen3.5 tool-call rows)."""

from __future__ import annotations

import json

import pytest
from realdata.support import counts, original_render, rows_of, run, sample

XTUNER = sample("xtuner_qwen35_toolcalls")
DRONE = sample("openai_drone_toolcalls")


def _records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_xtuner_messages_are_written_as_the_input_wrote_them(tmp_path):
    out = tmp_path / "out.jsonl"
    res = run("convert", XTUNER, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (12, 0, 12, 12)
    got = rows_of(out)
    for i, raw in enumerate(_records(XTUNER)):
        assert got[i]["messages"] == raw["messages"], i
    assert sum("loss" in m for row in got for m in row["messages"]) == 2


def test_converted_twice_is_the_same_bytes(tmp_path):
    once, twice = tmp_path / "once.jsonl", tmp_path / "twice.jsonl"
    assert run("convert", XTUNER, "-o", once).exit_code == 0
    res = run("convert", once, "-o", twice)
    assert res.exit_code == 0, res.output
    assert once.read_bytes() == twice.read_bytes()


@pytest.mark.parametrize("template", ["qwen3_5_think", "llama3_1"])
def test_written_file_renders_as_the_input_read_back_either_way(tmp_path, template):
    """Read with `json.loads` and with `datasets` (which gives the null keys back)."""
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "out.jsonl"
    assert run("convert", XTUNER, "-o", out).exit_code == 0
    back = datasets.load_dataset("json", data_files=str(out), split="train")
    for i, (raw, row) in enumerate(zip(_records(XTUNER), rows_of(out), strict=True)):
        want = original_render(template, raw["messages"], tools=raw.get("tools"))
        assert original_render(template, row["messages"], tools=row.get("tools")) == want, i
        read = back[i]
        assert original_render(template, read["messages"], tools=read["tools"]) == want, i


def test_an_openai_call_turn_keeps_content_null_and_no_other_turn_gets_tool_calls(tmp_path):
    out = tmp_path / "out.jsonl"
    res = run("convert", DRONE, "-o", out, "--on-error", "skip")
    assert counts(res.output)[3] == 2, res.output  # four rows refused for their arguments
    for row in rows_of(out):
        call, *others = [m for m in row["messages"] if m["role"] == "assistant"]
        assert call["content"] is None and call["tool_calls"][0]["function"]["name"]
        assert set(call) == {"role", "content", "tool_calls"}
        assert all(set(m) == {"role", "content"} for m in row["messages"] if m is not call)
        assert not others


def test_the_ray_engine_writes_shards_with_the_same_keys(tmp_path):
    pytest.importorskip("ray")
    res = run("convert", XTUNER, "--engine", "ray", "-o", f"{tmp_path}/out/",
              "--output-format", "jsonl")  # fmt: skip
    assert res.exit_code == 0, res.output
    shard = next((tmp_path / "out").glob("*.jsonl"))
    for i, (raw, row) in enumerate(zip(_records(XTUNER), rows_of(shard), strict=True)):
        assert row["messages"] == raw["messages"], i
