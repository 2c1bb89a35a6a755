"""LLaMA-Factory v1 layout: content parts with `value`, loss_weight, reasoning, tool calls and
images, on LLaMA-Factory's own demo files (tests/realdata/llamafactory_v1)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import trlprep.api as api
from trlprep.cli import app
from trlprep.errors import DataError
from trlprep.importers import detect_layout, import_table
from trlprep.io.readers import read

MEDIA_DEMOS = Path(__file__).parent / "realdata" / "mllm_video_audio"

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


def _as_v1(text: str, media: dict[str, list[str]]) -> list[dict]:
    """`text` split on its placeholders as LLaMA-Factory's v1 converter splits it
    (`_to_content_blocks`: each tag takes its column's next path)."""
    tags = {"<image>": "image_url", "<video>": "video_url", "<audio>": "audio_url"}
    left = {tag: iter(media.get(kind.split("_")[0] + "s") or []) for tag, kind in tags.items()}
    blocks = []
    for piece in re.split("(<image>|<video>|<audio>)", text):
        if piece in tags:
            blocks.append({"type": tags[piece], "value": next(left[piece])})
        elif piece:
            blocks.append({"type": "text", "value": piece})
    return blocks


@pytest.mark.parametrize("name", ["video", "audio", "video_audio"])
def test_video_and_audio_parts_equal_the_placeholder_rows(name):
    """LLaMA-Factory's video / audio demos written as v1 rows import to what trlprep makes of
    the same demos in placeholder form: parts where the tags stood, the paths in order."""
    rows = json.loads((MEDIA_DEMOS / f"mllm_{name}_demo.json").read_text())
    v1 = [
        {"messages": [{"role": m["role"], "content": _as_v1(m["content"], r)}
                      for m in r["messages"]]}
        for r in rows
    ]  # fmt: skip
    got = import_table(pa.Table.from_pylist(v1), "llamafactory-v1").table
    want = api.convert(read(MEDIA_DEMOS / f"mllm_{name}_demo.json").table, "language-modeling")
    assert sorted(got.column_names) == sorted(want.column_names)
    assert got.select(want.column_names).to_pylist() == want.to_pylist()
    media = [c for c in ("images", "videos", "audios") if c in got.column_names]
    assert media == {"video": ["videos"], "audio": ["audios"]}.get(name, ["videos", "audios"])
    _valid_media(got)


def _valid_media(table) -> None:
    report = api.validate(table)
    assert report.valid, [i.to_dict() for i in report.issues]


def test_image_video_and_audio_parts_in_one_row_keep_their_places():
    part = lambda kind, value: {"type": kind, "value": value}  # noqa: E731
    rows = [
        {"messages": [
            {"role": "user", "content": [part("video_url", "a.mp4"), part("text", "and"),
                                         part("image_url", "b.jpg"), part("audio_url", "c.wav"),
                                         part("video_url", "d.mp4")]},
            {"role": "assistant", "content": [part("text", "ok")]},
        ]},
        {"messages": [
            {"role": "user", "content": [part("text", "plain")]},
            {"role": "assistant", "content": [part("reasoning", "hm"), part("text", "ok")]},
        ]},
    ]  # fmt: skip
    r = import_table(pa.Table.from_pylist(rows), "llamafactory-v1")
    got = r.table.to_pylist()
    assert [p["type"] for p in got[0]["messages"][0]["content"]] == [
        "video", "text", "image", "audio", "video"
    ]  # fmt: skip
    assert (got[0]["images"], got[0]["videos"], got[0]["audios"]) == (
        ["b.jpg"], ["a.mp4", "d.mp4"], ["c.wav"]
    )  # fmt: skip
    assert (got[1]["images"], got[1]["videos"], got[1]["audios"]) == ([], [], [])
    assert got[1]["messages"][1]["content"] == [{"type": "text", "text": "ok"}]
    assert got[1]["messages"][1]["reasoning_content"] == "hm"
    _valid_media(r.table)


def test_a_videos_column_beside_video_parts_is_an_error():
    rows = [{"messages": [{"role": "user", "content": [{"type": "video_url", "value": "a"}]}],
             "videos": ["b"]}]  # fmt: skip
    with pytest.raises(DataError, match="video parts and a `videos` column"):
        import_table(pa.Table.from_pylist(rows), "llamafactory-v1")


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
        {"messages": [msg("file_url", "f.pdf")]},
        {"messages": [msg("tool_call", "not json")]},
    ]  # fmt: skip
    r = import_table(pa.Table.from_pylist(rows), "llamafactory-v1", on_error="skip")
    assert r.table.num_rows == 1
    assert r.rejects.column("reason").to_pylist() == [
        "messages: a content part has type 'file_url', which is none of text, image_url, "
        "video_url, audio_url, reasoning, tool_call",
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
