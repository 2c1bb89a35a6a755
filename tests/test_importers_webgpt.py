"""WebGPT comparisons (`--from webgpt`): a question object, two answers and their scores
(-1 to 1, summing to 0). The release states no licence and its quotes are web pages' text,
so these rows are written for the tests, in the layout the Hub's `openai/webgpt_comparisons`
gives (`question` {full_text, id, dataset}, `quotes_N` {title, extract}, `answer_N`,
`tokens_N` {prefix, completion}, `score_N`)."""

from __future__ import annotations

import json

import pytest
from realdata.support import counts, rows_of, run

from trlprep.importers import import_dataset


def _q(text, qid, dataset="eli5"):
    return {"full_text": text, "id": qid, "dataset": dataset}


def _quotes(*pages):
    return {"title": [t for t, _ in pages], "extract": [e for _, e in pages]}


def _row(question, one, two, s0, s1, quotes=((), ())):
    return {
        "question": question, "quotes_0": _quotes(*quotes[0]), "answer_0": one,
        "tokens_0": {"prefix": [1, 2], "completion": [3]}, "score_0": s0,
        "quotes_1": _quotes(*quotes[1]), "answer_1": two,
        "tokens_1": {"prefix": [1, 2], "completion": [4, 5]}, "score_1": s1,
    }  # fmt: skip


YEAST = ("Yeast (example.com)", "Yeast gives off carbon dioxide.")
GLUTEN = ("Gluten (example.net)", "Gluten traps the gas.")
ROWS = [
    _row(_q("Why do cats purr?", "q1"), "When content, and to calm themselves.[1]",
         "Because.", 1.0, -1.0, quotes=(((" Purring (example.org)", "Cats purr..."),), ())),
    _row(_q("What makes bread rise?", "q2", "triviaqa"), "Yeast.",
         "Yeast gives off gas [1], which gluten traps [2].", -0.5, 0.5,
         quotes=((YEAST,), (YEAST, GLUTEN))),
    _row(_q("Is a tomato a fruit?", "q3"), "Yes, botanically.", "A vegetable.", 0.0, 0.0),
    _row(_q("Why is the sea salty?", "q4"), "Rivers carry salts into it.", "", 0.25, -0.25),
    _row(_q("How far is the moon?", "q5"), "About 384,000 km.", "Far.", None, None),
    _row(_q("Why do we yawn?", "q6"), "Nobody knows for sure.", "Tiredness.", 0.0, 0.0),
]  # fmt: skip


def _data(tmp_path, rows=ROWS):
    path = tmp_path / "webgpt.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_detect_names_the_layout_and_convert_reads_it_without_from(tmp_path):
    data = _data(tmp_path)
    res = run("detect", data)
    assert res.exit_code == 0, res.output
    assert "layout: webgpt" in res.output
    res = run("convert", data, "--on-error", "skip", "-o", tmp_path / "pref.jsonl")
    assert res.exit_code == 0, res.output
    assert "read as the webgpt layout" in res.output
    assert counts(res.output) == (6, 4, 2, 2)


def test_chosen_is_the_higher_score_and_its_columns_follow_it(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", _data(tmp_path), "--from", "webgpt", "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    got = rows_of(out)
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in got] == [
        ("Why do cats purr?", "When content, and to calm themselves.[1]", "Because."),
        ("What makes bread rise?", "Yeast gives off gas [1], which gluten traps [2].", "Yeast."),
    ]  # fmt: skip
    bread = got[1]
    assert (bread["question_id"], bread["question_dataset"]) == ("q2", "triviaqa")
    assert bread["chosen_quotes"] == _quotes(YEAST, GLUTEN)  # the pages the answer cites
    assert bread["rejected_quotes"] == _quotes(YEAST)
    assert (bread["chosen_score"], bread["rejected_score"]) == (0.5, -0.5)
    assert bread["chosen_tokens"] == {"prefix": [1, 2], "completion": [4, 5]}
    for gone in ("question", "answer_0", "quotes_1", "score_0", "tokens_1", "margin"):
        assert gone not in bread
    rejects = rows_of(tmp_path / "pref.rejects.jsonl")
    assert [(r["line"], r["stage"], r["reason"]) for r in rejects] == [
        (3, "not paired", "score_0 equals score_1 (a tie: no preference): no pair"),
        (4, "import", "answer_1 is empty, the rejected answer (an empty answer gives no pair "
         "to learn from): fill it, or set the row aside with --on-error skip"),
        (5, "import", "score_0 is null: no pair"),
        (6, "not paired", "score_0 equals score_1 (a tie: no preference): no pair"),
    ]  # fmt: skip


def test_ties_are_no_error(tmp_path):
    rows = [ROWS[0], ROWS[2], ROWS[1], ROWS[5]]
    out = tmp_path / "pref.jsonl"
    res = run("convert", _data(tmp_path, rows), "--from", "webgpt", "-o", out)
    assert res.exit_code == 0, res.output  # no --on-error skip: ties stop no run
    assert counts(res.output) == (4, 2, 2, 2)
    val = run("validate", _data(tmp_path, rows), "--from", "webgpt")
    assert val.exit_code == 0, val.output
    said = " ".join(val.output.split())
    assert "4 input rows -> 2 rows checked, 2 ties not paired" in said
    assert "warning: import-not-paired: 2 rows, lines 2, 4" in said


def test_explain_counts_ties_apart_and_names_the_row_a_run_stops_at(tmp_path):
    res = run("convert", _data(tmp_path), "--from", "webgpt", "--explain", "-o", tmp_path / "x")
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "import: 6 rows in, 2 imported, 2 cannot be imported, 2 not paired (no error)" in said
    assert "the run stops at line 4, the first of these 2 rows" in said  # not the tie, line 3
    assert "quotes_0 / quotes_1, tokens_0 / tokens_1, score_0 / score_1 -> chosen_quotes" in said
    ties = _data(tmp_path, [ROWS[0], ROWS[2]])
    res = run("convert", ties, "--from", "webgpt", "--explain", "-o", tmp_path / "x")
    assert res.exit_code == 0 and "the run stops" not in res.output, res.output


def test_margin_is_the_score_difference_and_conversational_makes_messages(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run(
        "convert", _data(tmp_path, ROWS[:2]), "--from", "webgpt-comparisons", "--margin",
        "--conversational", "-o", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    got = rows_of(out)
    assert [r["margin"] for r in got] == pytest.approx([2.0, 1.0])
    assert got[0]["prompt"] == [{"role": "user", "content": "Why do cats purr?"}]
    assert got[0]["rejected"] == [{"role": "assistant", "content": "Because."}]


def test_a_text_question_and_the_python_api():
    rows = [dict(r, question=r["question"]["full_text"]) for r in ROWS[:2]]
    got = import_dataset(rows, "webgpt")
    assert [r["prompt"] for r in got] == ["Why do cats purr?", "What makes bread rise?"]
    assert "question_id" not in got[0]


def test_scores_of_text_and_questions_without_text_are_refused_naming_the_column(tmp_path):
    res = run("convert", _data(tmp_path, [dict(ROWS[0], score_0="1")]), "--from", "webgpt",
              "-o", tmp_path / "x.jsonl")  # fmt: skip
    assert res.exit_code == 1, res.output
    assert "score_0" in res.output and "must hold a number from -1 to 1" in res.output
    rows = [dict(ROWS[0], question={"id": "q1", "dataset": "eli5"})]
    res = run("convert", _data(tmp_path, rows), "--from", "webgpt", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 1, res.output
    assert "without a 'full_text' field" in res.output
