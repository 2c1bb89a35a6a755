"""Preference pairs whose prompt is another column (Intel/orca_dpo_pairs: system, question,
chosen, rejected): detect names the column, convert says it before failing, and
`--map prompt=question --conversational` makes the system column the system message."""

from __future__ import annotations

import json

import pyarrow as pa
from typer.testing import CliRunner

import trlprep.api as api
from trlprep.cli import app
from trlprep.detection.besidehints import prompt_beside_answers
from trlprep.importers import import_table
from trlprep.importers.base import ImportOptions

ROWS = [
    {
        "system": "You are an AI assistant.",
        "question": "Translate 'hello' to French.",
        "chosen": "Bonjour.",
        "rejected": "Hola.",
    },
    {"system": "", "question": "What is 2+2?", "chosen": "2+2 equals 4.", "rejected": "5"},
]


def _write(tmp_path, rows=ROWS):
    path = tmp_path / "orca.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_detect_names_the_prompt_column(tmp_path):
    res = CliRunner().invoke(app, ["detect", str(_write(tmp_path))])
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "column 'question' looks like it: pass `--map prompt=question`" in flat
    assert "--conversational to make column 'system' the prompt's system message" in flat


def test_no_advice_where_the_answers_share_a_prompt():
    rows = [{"chosen": "Q: hi A: yes", "rejected": "Q: hi A: no", "question": "x"}]
    assert prompt_beside_answers(pa.Table.from_pylist(rows)) is None
    assert prompt_beside_answers(pa.Table.from_pylist([{**ROWS[0], "prompt": "p"}])) is None


def test_convert_says_it_before_failing(tmp_path):
    res = CliRunner().invoke(
        app, ["convert", str(_write(tmp_path)), "--to", "unpaired", "-o", str(tmp_path / "o.jsonl")]
    )
    assert res.exit_code == 1
    assert "pass `--map prompt=question`" in " ".join(res.output.split())
    assert not (tmp_path / "o.jsonl").exists()


def test_system_column_becomes_the_system_message():
    opts = ImportOptions.make(map="prompt=question", conversational=True)
    r = import_table(pa.Table.from_pylist(ROWS), "map", opts)
    assert r.dtype.name == "preference" and "system" not in r.table.column_names
    got = r.table.to_pylist()
    assert got[0]["prompt"] == [
        {"role": "system", "content": "You are an AI assistant."},
        {"role": "user", "content": "Translate 'hello' to French."},
    ]
    assert got[1]["prompt"] == [{"role": "user", "content": "What is 2+2?"}]  # empty: no turn
    assert got[1]["chosen"] == [{"role": "assistant", "content": "2+2 equals 4."}]
    assert any("1 of 2 rows" in n for n in r.notes)
    assert api.validate(r.table, type=r.dtype, format=r.fmt).valid


def test_without_conversational_the_system_column_stays():
    r = import_table(pa.Table.from_pylist(ROWS), "map", ImportOptions.make(map="prompt=question"))
    assert r.table.column("system").to_pylist() == ["You are an AI assistant.", ""]
    assert r.table.column("prompt").to_pylist() == [ROWS[0]["question"], ROWS[1]["question"]]


def test_a_column_the_conversion_produces_is_named_with_the_way_around(tmp_path):
    """HuggingFaceH4/no_robots (messages beside a text `prompt`) to prompt-completion: the
    text prompt would be overwritten; the error says how to keep it, and that way works."""
    row = {
        "prompt": "Write a haiku about rain.",
        "prompt_id": "a1",
        "messages": [
            {"role": "user", "content": "Write a haiku about rain."},
            {"role": "assistant", "content": "Soft rain on the roof"},
        ],
    }
    src = tmp_path / "nr.jsonl"
    src.write_text(json.dumps(row) + "\n")
    out = tmp_path / "pc.jsonl"
    args = ["convert", str(src), "--to", "prompt-completion", "-o", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1 and "--map prompt_orig=prompt" in res.output
    res = CliRunner().invoke(app, [*args, "--map", "prompt_orig=prompt"])
    assert res.exit_code == 0, res.output
    got = json.loads(out.read_text())
    assert got["prompt"] == [row["messages"][0]] and got["completion"] == [row["messages"][1]]
    assert got["prompt_orig"] == row["prompt"]
