"""OpenAssistant trees: the tree export, the message export (nested and flat by parent_id),
threads -> conversational language modeling, ranked replies -> preference / unpaired; on
real OASST rows (tests/realdata/oasst_*)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

import trlprep.api as api
from trlprep.cli import app
from trlprep.importers import ImportOptions, detect_layout, import_batches, import_table
from trlprep.io.readers import read
from trlprep.io.sources import Batch

REAL = Path(__file__).parent / "realdata"
TREES = REAL / "oasst_trees" / "en_100_tree.first20.jsonl"
NESTED = REAL / "oasst_messages" / "en_100_message.first8.jsonl"
FLAT = REAL / "oasst_messages" / "en_100_message.first8.flat.jsonl"

EYES = (
    "How to protect my eyes when I have to stare at my computer screen for longer than 10 "
    "hours every day?"
)


def _import(path, layout: str, **opts):
    src = read(path)
    return import_table(
        src.table, layout, ImportOptions.make(**opts), lines=src.lines, on_error="skip"
    )


def _u(text: str) -> dict:
    return {"role": "user", "content": text}


def _a(text: str) -> dict:
    return {"role": "assistant", "content": text}


def _valid(result) -> None:
    report = api.validate(result.table, type=result.dtype, format=result.fmt)
    assert report.valid, [i.to_dict() for i in report.issues]


def test_tree_export_threads():
    r = _import(TREES, "oasst")
    assert r.dtype.name == "language-modeling" and r.num_rejected == 0
    assert r.table.num_rows == 98 and r.notes == ["210 messages -> 98 threads"]
    assert r.rows.tolist()[:7] == [0, 0, 0, 1, 1, 1, 1]
    rows = r.table.to_pylist()
    assert rows[0]["messages"] == [
        _u("How can I find the best 401k plan for my needs?"),
        _a(
            "The first step is to research your options. You should look at different plans "
            "and compare them based on fees, investment options, and other features. Once you "
            "have narrowed down your choices, you can contact a financial advisor or review "
            "online resources such as reviews from industry experts or customer ratings. "
            "Finally, make sure to read through all of the terms and conditions associated "
            "with each plan before making a decision."
        ),
    ]
    assert rows[0]["message_tree_id"] == "054e1df3-35e0-4bb8-a585-607dbdcd24e0"
    # tree 2: two answers, each followed up and answered twice -> 4 threads of 4 turns
    tree = [row["messages"] for row in rows[3:7]]
    assert all(len(t) == 4 and t[0] == _u(EYES) for t in tree)
    assert [t[2]["content"][:30] for t in tree] == [
        "Are blue light blocking glasse",
        "Are blue light blocking glasse",
        "Thanks! It was really helpful.",
        "Thanks! It was really helpful.",
    ]
    assert tree[0][3]["content"].startswith("There is no scientific research to prove")
    assert tree[1][3]["content"].startswith("Blue light blocking glasses have gained")
    _valid(r)


def test_message_exports_give_the_tree_export_threads():
    trees = _import(TREES, "oasst").table.slice(0, 37).column("messages").to_pylist()
    nested = _import(NESTED, "oasst")
    flat = _import(FLAT, "oasst")
    assert nested.table.column("messages").to_pylist() == trees
    assert flat.table.column("messages").to_pylist() == trees
    # flat: each thread counted from its last message's row
    assert flat.rows.tolist()[:3] == [1, 2, 3]
    assert detect_layout(read(FLAT).table.schema) == "oasst"


def test_message_export_streams_as_a_whole():
    src = read(FLAT)
    pieces = [
        Batch(src.table.slice(i, 10), i, src.lines[i : i + 10])
        for i in range(0, src.table.num_rows, 10)
    ]
    out = list(import_batches(pieces, "oasst"))
    assert len(out) == 1 and out[0].data.num_rows == 37


def test_deleted_orphans_and_cycles():
    rows = [
        {"message_id": "r", "parent_id": None, "text": "Hi?", "role": "prompter",
         "deleted": False},
        {"message_id": "a", "parent_id": "r", "text": "Hello.", "role": "assistant"},
        {"message_id": "b", "parent_id": "r", "text": "Gone.", "role": "assistant",
         "deleted": True},
        {"message_id": "c", "parent_id": "zzz", "text": "Lost.", "role": "assistant"},
        {"message_id": "x", "parent_id": "y", "text": "X", "role": "prompter"},
        {"message_id": "y", "parent_id": "x", "text": "Y", "role": "assistant"},
    ]  # fmt: skip
    r = import_table(pa.Table.from_pylist(rows), "oasst", on_error="skip")
    assert r.table.column("messages").to_pylist() == [[_u("Hi?"), _a("Hello.")]]
    assert r.rejects.select(["row", "reason"]).to_pylist() == [
        {"row": 3, "reason": "parent_id names no message of the file"},
        {"row": 4, "reason": "its parent_id links form a cycle"},
        {"row": 5, "reason": "its parent_id links form a cycle"},
    ]


def test_ranked_replies_to_preference_and_unpaired():
    r = _import(TREES, "oasst-ranked")
    assert r.dtype.name == "preference" and r.num_rejected == 0
    rows = r.table.to_pylist()
    # tree 1: 3 replies ranked 0, 1, 2 -> best vs rest
    assert [x["rejected"][0]["content"][:40] for x in rows[:2]] == [
        "The first step is to determine your fina",
        "The best way to find a 401k plan that me",
    ]
    assert rows[0]["chosen"][0]["content"].startswith("The first step is to research")
    # tree 2: the root's replies, then each follow-up's two replies (prompt = thread so far)
    assert r.rows.tolist()[2:5] == [1, 1, 1]
    assert rows[2]["prompt"] == [_u(EYES)]
    assert len(rows[3]["prompt"]) == 3 and rows[3]["prompt"][2]["content"].startswith(
        "Are blue light blocking glasses"
    )
    assert rows[3]["chosen"][0]["content"].startswith("There is no scientific research")
    _valid(r)
    unpaired = _import(TREES, "oasst-ranked", threshold=0)
    assert unpaired.dtype.name == "unpaired-preference"
    labels = unpaired.table.column("label").to_pylist()
    assert labels[:3] == [True, False, False]  # rank 0 good, ranks 1 and 2 bad
    _valid(unpaired)


def test_cli_oasst(tmp_path):
    runner = CliRunner()
    out = tmp_path / "lm.parquet"
    res = runner.invoke(app, ["import", str(TREES), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "read as the oasst layout" in res.output
    assert "20 rows in" in res.output and "98 rows out" in res.output
    pc = tmp_path / "pc.parquet"
    res = runner.invoke(
        app, ["convert", str(FLAT), "--from", "oasst", "--to", "prompt-completion", "-o", str(pc)]
    )
    assert res.exit_code == 0, res.output
    first = pq.read_table(pc).slice(0, 1).to_pylist()[0]
    assert first["prompt"] == [_u("How can I find the best 401k plan for my needs?")]
    pref = tmp_path / "kto.parquet"
    res = runner.invoke(
        app,
        ["convert", str(TREES), "--from", "oasst-ranked", "--threshold", "0", "--to", "unpaired",
         "-o", str(pref)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert api.validate(pq.read_table(pref), type="unpaired-preference").valid


def test_convert_reads_oasst_trees_without_from(tmp_path):
    # the tree export has a `prompt` column, yet its rows are no prompt-only data
    out = tmp_path / "po.jsonl"
    res = CliRunner().invoke(app, ["convert", str(TREES), "--to", "prompt-only", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "read as the oasst layout" in res.output
    first = json.loads(out.read_text().splitlines()[0])
    assert first["prompt"] == [_u("How can I find the best 401k plan for my needs?")]


def test_detect_summary_shows_the_columns_and_roles_convert_writes():
    """The message exports' summary names the imported columns and roles (user, assistant),
    not the stored `text` column and OASST's `prompter` role."""
    nested = CliRunner().invoke(app, ["detect", str(NESTED)])
    assert nested.exit_code == 0, nested.output
    lines = dict(
        line.split(None, 1) if " " in line else (line, "")
        for line in nested.output.splitlines()
        if not line.startswith(("note:", "layout:", "extra columns"))
    )
    assert lines["columns"].strip() == "text=messages"
    assert lines["roles"].strip() == "assistant, user"
    assert lines["rows"].strip() == "8 (37 once imported)"
    assert "extra columns  -" in nested.output
    flat = CliRunner().invoke(app, ["detect", str(FLAT), "--json"])
    assert flat.exit_code == 0, flat.output
    got = json.loads(flat.output)
    assert (got["type"], got["format"]) == ("language-modeling", "conversational")
    assert got["columns"] == {"text": "messages"} and got["roles"] == ["assistant", "user"]
    assert got["extra_columns"] == ["message_tree_id"] and got["imported_rows"] == 37
    assert got["columns_as_stored"] == {"text": "text"}
