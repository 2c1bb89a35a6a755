"""JSON Schemas: generated from the registry, shipped as package data, printed by the CLI."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.errors import UsageError
from trlprep.registry import SIDE_COLUMNS, TYPES, Format
from trlprep.validation.schemas import (
    all_schemas,
    dumps,
    main,
    schema_for,
    schema_name,
    schemas_dir,
    validate_row_with_schema,
)


def test_committed_schemas_equal_generated():
    committed = {p.name: p.read_text(encoding="utf-8") for p in schemas_dir().glob("*.json")}
    generated = {name: dumps(s) for name, s in all_schemas().items()}
    assert committed == generated, "run `python -m trlprep.validation.schemas` to refresh schemas/"
    assert main(["--check"]) == 0


def test_one_schema_per_type_and_format():
    names = set(all_schemas())
    expected = {schema_name(t, f) for t in TYPES.values() for f in t.all_formats}
    assert names == expected
    assert "language-modeling.tokenized.json" in names
    assert "stepwise-supervision.conversational.json" in names
    assert "preference.conversational.json" in names
    assert len(names) == 15


@pytest.mark.parametrize("name", sorted(all_schemas()))
def test_schemas_are_valid_draft_2020_12(name):
    schema = all_schemas()[name]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is True


def test_check_flags_stale_files(tmp_path):
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "preference.standard.json").write_text("{}")
    (tmp_path / "old.json").write_text("{}")
    assert main(["--check", "--out", str(tmp_path)]) == 1
    assert main(["--out", str(tmp_path)]) == 0
    assert not (tmp_path / "old.json").exists()
    assert main(["--check", "--out", str(tmp_path)]) == 0


def test_schema_columns_follow_registry():
    s = schema_for("preference", "conversational")
    assert s["required"] == ["prompt", "chosen", "rejected"]
    assert s["properties"]["chosen"] == {"$ref": "#/$defs/reply"}
    assert s["properties"]["prompt"] == {"$ref": "#/$defs/messages"}
    assert schema_for("lm", "conversational")["required"] == ["messages"]
    assert schema_for("lm", "tokenized")["required"] == ["input_ids"]
    assert schema_for("implicit", "conversational")["properties"]["chosen"] == {
        "$ref": "#/$defs/messages"
    }
    roles = s["$defs"]["message"]["properties"]["role"]["enum"]
    assert roles == ["system", "user", "assistant", "tool", "developer"]


@pytest.mark.parametrize("key", sorted(EXAMPLES))
def test_guide_examples_conform(key):
    assert validate_row_with_schema(EXAMPLES[key], *key) == []


@pytest.mark.parametrize(
    ("row", "dtype", "fmt", "path"),
    [
        ({"prompt": "a"}, "pc", "standard", "(row)"),
        ({"prompt": "", "completion": "b"}, "pc", "standard", "prompt"),
        ({"prompt": "a", "completion": "b", "label": 1}, "unpaired", "standard", "label"),
        ({"chosen": "a", "rejected": 3}, "implicit", "standard", "rejected"),
        ({"prompt": "a", "completions": [], "labels": []}, "stepwise", "standard", "completions"),
        (
            {"prompt": [{"role": "human", "content": "x"}]},
            "prompt-only",
            "conversational",
            "prompt/0",
        ),
        (
            {
                "prompt": [{"role": "user", "content": "x"}],
                "completion": [{"role": "user", "content": "y"}],
            },
            "pc",
            "conversational",
            "completion/0/role",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}, {"role": "system", "content": "s"}]},
            "lm",
            "conversational",
            "messages/1",
        ),
        ({"input_ids": [1, -1]}, "lm", "tokenized", "input_ids/1"),
        ({"text": "x", "tools": [{"type": "function"}]}, "lm", "standard", "tools"),
    ],
)
def test_schema_rejects(row, dtype, fmt, path):
    errors = validate_row_with_schema(row, dtype, fmt)
    assert errors
    assert any(e.startswith(path) for e in errors), errors


def test_message_without_content_needs_tool_calls():
    call = {"type": "function", "function": {"name": "f", "arguments": "{}"}}
    ok = {"messages": [{"role": "assistant", "content": None, "tool_calls": [call]}]}
    bad = {"messages": [{"role": "assistant", "content": None}]}
    assert validate_row_with_schema(ok, "lm", "conversational") == []
    assert validate_row_with_schema(bad, "lm", "conversational")


def test_vision_parts_and_side_columns():
    row = {
        "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "?"}]}],
        "completion": [{"role": "assistant", "content": [{"type": "text", "text": "blue"}]}],
        "images": ["img.png"],
        "tools": '[{"type": "function", "function": {"name": "f"}}]',
        "chat_template_kwargs": {"enable_thinking": False},
        "margin": 0.5,
        "source": "extra columns are carried along",
    }
    assert validate_row_with_schema(row, "pc", "conversational") == []
    row["prompt"][0]["content"][1] = {"type": "text"}
    assert validate_row_with_schema(row, "pc", "conversational")


@pytest.mark.parametrize("name", sorted(all_schemas()))
def test_every_side_column_is_described(name):
    props = all_schemas()[name]["properties"]
    assert set(SIDE_COLUMNS) <= set(props), set(SIDE_COLUMNS) - set(props)


def test_video_and_audio_parts_and_columns():
    row = {
        "messages": [
            {"role": "user", "content": [{"type": "video"}, {"type": "audio"}]},
            {"role": "assistant", "content": "a cat purring"},
        ],
        "videos": ["clip.mp4"],
        "audios": ["purr.wav"],
    }
    assert validate_row_with_schema(row, "lm", "conversational") == []
    for column in ("videos", "audios"):
        bad = {**row, column: "clip.mp4"}
        errors = validate_row_with_schema(bad, "lm", "conversational")
        assert any(e.startswith(column) for e in errors), errors


def test_unsupported_format_is_a_usage_error():
    with pytest.raises(UsageError, match="no tokenized format"):
        schema_for("preference", Format.TOKENIZED)
    with pytest.raises(UsageError, match="unknown dataset type"):
        schema_for("nope")


runner = CliRunner()


def test_cli_schema_prints_json_and_accepts_aliases():
    res = runner.invoke(app, ["schema", "pref", "--format", "conversational"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == schema_for("preference", "conversational")
    res = runner.invoke(app, ["schema", "unpaired"])
    assert res.exit_code == 0
    assert json.loads(res.output)["title"] == "Unpaired preference (standard)"


def test_cli_schema_usage_errors_exit_2():
    res = runner.invoke(app, ["schema", "nope"])
    assert res.exit_code == 2
    assert "unknown dataset type" in res.output
    res = runner.invoke(app, ["schema", "pc", "--format", "tokenized"])
    assert res.exit_code == 2
