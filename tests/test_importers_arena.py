"""The `arena` layout: pairwise battles and judgments as Chatbot Arena conversations and
MT-Bench human / GPT-4 judgments write them (`question_id`, `model_a`, `model_b`, `winner`,
`judge`, `conversation_a`, `conversation_b`, `turn`).

Those datasets are CC BY / CC BY-NC, so the rows are written for the test in their layout.
Before, every command said only that no type matches these columns.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from realdata.support import counts, original_render, rows_of, run

from trainers.data_table import to_training_table


def _conv(*turns: str) -> list[dict]:
    roles = ("user", "assistant")
    return [{"role": roles[i % 2], "content": t} for i, t in enumerate(turns)]


def _battle(qid, winner, a, b, turn=1, model_a="vicuna-13b", model_b="gpt-4"):
    return {
        "question_id": qid, "model_a": model_a, "model_b": model_b, "winner": winner,
        "judge": "author_2", "conversation_a": a, "conversation_b": b, "turn": turn,
    }  # fmt: skip


TWO_TURNS_A = _conv("Write a haiku.", "Leaves fall.", "Now a limerick.", "There once was...")
TWO_TURNS_B = _conv("Write a haiku.", "Autumn wind sighs.", "Now a limerick.", "A cat...")
BATTLES = [
    _battle(81, "model_b", _conv("Capital?", "Lyon."), _conv("Capital?", "Paris.")),
    _battle(82, "model_a", TWO_TURNS_A, TWO_TURNS_B, turn=1),
    _battle(82, "model_b", TWO_TURNS_A, TWO_TURNS_B, turn=2),
    _battle(83, "tie", _conv("Hi", "Hello"), _conv("Hi", "Hey")),
    _battle(84, "tie (bothbad)", _conv("2+2?", "5"), _conv("2+2?", "22")),
    _battle(85, None, _conv("Q", "A"), _conv("Q", "B")),
    _battle(86, "model_c", _conv("Q", "A"), _conv("Q", "B")),
]  # fmt: skip


@pytest.fixture
def battles(tmp_path):
    path = tmp_path / "judgments.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in BATTLES), encoding="utf-8")
    return path


def test_detect_names_the_arena_layout(battles):
    res = run("detect", battles)
    assert res.exit_code == 0, res.output
    assert "preference-implicit (the arena layout" in res.output
    assert "--from arena" in res.output


def test_the_winner_s_conversation_is_chosen_and_ties_are_reported(battles, tmp_path):
    out = tmp_path / "pairs.jsonl"
    res = run("convert", battles, "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (7, 4, 3, 3)
    rows = rows_of(out)
    assert rows[0]["chosen"] == _conv("Capital?", "Paris.")
    assert rows[0]["rejected"] == _conv("Capital?", "Lyon.")
    assert [(r["chosen_model"], r["rejected_model"]) for r in rows] == [
        ("gpt-4", "vicuna-13b"), ("vicuna-13b", "gpt-4"), ("gpt-4", "vicuna-13b"),
    ]  # fmt: skip
    assert "model_a" not in rows[0] and "winner" not in rows[0]
    assert rows[0]["question_id"] == 81 and rows[0]["judge"] == "author_2"
    rejects = rows_of(tmp_path / "pairs.rejects.jsonl")
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (4, "winner is a tie: no pair"),
        (5, "winner is a tie: no pair"),
        (6, "winner is null: no pair"),
        (7, "winner is not model_a, model_b or a tie: no pair"),
    ]


def test_a_judgment_of_turn_1_keeps_only_the_first_exchange(battles, tmp_path):
    out = tmp_path / "pairs.jsonl"
    res = run("convert", battles, "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    turn1, turn2 = rows_of(out)[1:3]
    assert turn1["chosen"] == TWO_TURNS_A[:2] and turn1["rejected"] == TWO_TURNS_B[:2]
    assert turn2["chosen"] == TWO_TURNS_B and turn2["rejected"] == TWO_TURNS_A


def test_explicit_preference_and_kto_rows(battles, tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", battles, "--to", "preference", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    # turn 2: each model answered turn 1 itself, so the shared prompt is the first question
    row = rows_of(out)[2]
    assert row["prompt"] == TWO_TURNS_B[:1]
    assert row["chosen"] == TWO_TURNS_B[1:] and row["rejected"] == TWO_TURNS_A[1:]
    kto = tmp_path / "kto.jsonl"
    res = run("convert", battles, "--to", "unpaired-preference", "-o", kto, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (7, 4, 3, 6)
    first = rows_of(kto)[:2]
    assert [(r["completion"][0]["content"], r["label"]) for r in first] == [
        ("Paris.", True), ("Lyon.", False),
    ]  # fmt: skip


def test_winner_of_another_kind_is_refused_naming_the_column(tmp_path):
    path = tmp_path / "j.jsonl"
    row = _battle(1, 1, _conv("Q", "A"), _conv("Q", "B"))
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    res = run("convert", path, "--from", "arena", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 1
    assert "winner" in res.output and "model_a, model_b or a tie" in res.output


def test_validate_reads_it_as_convert_does(battles):
    res = run("validate", battles, "--from", "arena")
    assert res.exit_code == 1  # the other rows are not importable; the ties are no error
    assert "7 input rows -> 3 rows checked, 2 ties not paired, 2 not importable" in res.output
    assert "warning: import-not-paired: 2 rows, lines 4, 5" in res.output


def test_train_reads_battles_as_convert_writes_them():
    table, _src, route, *_ = to_training_table(
        pa.Table.from_pylist(BATTLES[:3]), ["preference"], None, layout="arena",
        chat_template="chatml", algo="dpo",
    )  # fmt: skip
    assert route[0] == "arena layout" and route[-1] == "preference"
    assert table.num_rows == 3
    assert table.column("chosen")[0].as_py().startswith("Paris.")


@pytest.mark.parametrize("template", ["llama3_1", "qwen2_5"])
def test_pairs_render_as_the_original_template(battles, tmp_path, template):
    from realdata.support import original_template_args

    template_args = original_template_args(template)
    out = tmp_path / "out.jsonl"
    res = run("convert", battles, "--to", "preference", *template_args,
              "-o", out, "--num-proc", "1", "--on-error", "skip")  # fmt: skip
    assert res.exit_code == 0, res.output
    got = rows_of(out)[2]
    prompt = original_render(template, TWO_TURNS_B[:1], add_generation_prompt=True)
    assert got["prompt"] == prompt
    assert got["prompt"] + got["chosen"] == original_render(template, TWO_TURNS_B)
    assert got["prompt"] + got["rejected"] == original_render(template, TWO_TURNS_A)


def test_turn_cuts_hold_on_a_sliced_batch_beside_a_null_conversation():
    from trlprep.importers import import_table

    rows = [BATTLES[0], _battle(9, "model_a", None, _conv("Q", "B")), *BATTLES[1:3]]
    r = import_table(pa.Table.from_pylist(rows).slice(1), "arena", on_error="skip")
    assert r.rejects.column("reason").to_pylist() == ["conversation_a is null"]
    got = [(x["chosen"], x["rejected"]) for x in r.table.to_pylist()]
    assert got == [(TWO_TURNS_A[:2], TWO_TURNS_B[:2]), (TWO_TURNS_B, TWO_TURNS_A)]
