"""LLaMA-Factory v1 layout: content parts with `value`, loss_weight, reasoning, tool calls and
images, on LLaMA-Factory's own demo files (tests/realdata/llamafactory_v1)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

import trlprep.api as api
from trlprep.cli import app
from trlprep.importers import detect_layout, import_table
from trlprep.io.readers import read

REAL = Path(__file__).parent / "realdata" / "llamafactory_v1"
SFT = REAL / "v1_sft_demo.first100.jsonl"
DPO = REAL / "v1_dpo_demo.jsonl"
MM = REAL / "v1_multimodal_demo.jsonl"
TOOLS = REAL / "reason_tool_use_demo.first20.jsonl"


def _import(path):
    src = read(path)
    return import_table(src.table, "llamafactory-v1", lines=src.lines, on_error="skip")


def _valid(result) -> None:
    report = api.validate(result.table, type=result.dtype, format=result.fmt)
    assert report.valid, [i.to_dict() for i in report.issues]


def test_sft_text_parts_and_loss_weight():
    r = _import(SFT)
    assert r.dtype.name == "language-modeling" and r.table.num_rows == 100
    assert r.table.slice(0, 1).to_pylist()[0] == {
        "messages": [
            {"role": "user", "content": "hi", "weight": 0.0},
            {
                "role": "assistant",
                "content": "Hello! I am {{name}}, an AI assistant developed by {{author}}. "
                "How can I assist you today?",
                "weight": 1.0,
            },
        ]
    }
    _valid(r)


def test_dpo_chosen_and_rejected_messages():
    r = _import(DPO)
    assert r.dtype.name == "preference-implicit" and r.table.num_rows == 10
    row = r.table.slice(0, 1).to_pylist()[0]
    assert [m["role"] for m in row["chosen"]] == ["system", "user", "assistant"]
    assert row["chosen"][:2] == row["rejected"][:2]
    assert row["rejected"][2]["content"].startswith(" Abdulah Hasanagic is the proud owner")
    out = api.convert(r.table, "preference")
    first = out.slice(0, 1).to_pylist()[0]
    assert first["chosen"] == [row["chosen"][2]] and len(first["prompt"]) == 2
    _valid(r)


def test_multimodal_parts_become_image_parts_and_images():
    r = _import(MM)
    assert r.table.num_rows == 24
    row = r.table.slice(0, 1).to_pylist()[0]
    assert row["images"] == ["data/mllm_demo_data/1.jpg", "data/mllm_demo_data/1.jpg"]
    assert row["messages"][0]["content"] == [
        {"type": "image", "text": None},
        {"type": "text", "text": "Who are they?"},
    ]
    assert row["messages"][2]["content"] == [
        {"type": "text", "text": "What are they doing?"},
        {"type": "image", "text": None},
    ]
    _valid(r)


def test_reasoning_and_tool_call_parts():
    r = _import(TOOLS)
    assert r.table.num_rows == 20 and "tools" in r.table.column_names
    call = r.table.slice(1, 1).to_pylist()[0]["messages"][2]
    assert call["content"] == ""
    assert call["tool_calls"] == [
        {
            "type": "function",
            "function": {"name": "get_movie_details", "arguments": '{"title": "Inception"}'},
        }
    ]
    assert call["reasoning_content"].startswith("Alright, the user wants information about")
    _valid(r)


def test_unknown_parts_and_bad_tool_calls_are_reported():
    def msg(kind, value):
        return {"role": "assistant", "content": [{"type": kind, "value": value}]}

    rows = [
        {"messages": [{"role": "user", "content": [{"type": "text", "value": "hi"}]},
                      msg("text", "hello")]},
        {"messages": [msg("video_url", "v.mp4")]},
        {"messages": [msg("tool_call", "not json")]},
    ]  # fmt: skip
    r = import_table(pa.Table.from_pylist(rows), "llamafactory-v1", on_error="skip")
    assert r.table.num_rows == 1
    assert r.rejects.column("reason").to_pylist() == [
        "messages: a content part has type 'video_url', which is none of text, image_url, "
        "reasoning, tool_call",
        "messages: a tool_call part is not JSON {name, arguments}",
    ]


def test_cli_detects_and_converts(tmp_path):
    runner = CliRunner()
    assert detect_layout(read(DPO).table.schema) == "llamafactory-v1"
    out = tmp_path / "kto.jsonl"
    res = runner.invoke(app, ["convert", str(DPO), "--to", "unpaired", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "read as the llamafactory-v1 layout" in res.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 20 and rows[0]["label"] is True and rows[1]["label"] is False
    pc = tmp_path / "pc.parquet"
    res = runner.invoke(
        app,
        ["convert", str(SFT), "--from", "llamafactory-v1", "--to", "prompt-completion", "-o",
         str(pc)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert pq.read_table(pc).slice(0, 1).to_pylist()[0]["prompt"] == [
        {"role": "user", "content": "hi", "weight": 0.0}
    ]
