"""Real Arena-Hard-Auto model answers (`model_answer/gpt-4-0613.jsonl`): a model's answers
whose questions live in another file under the same `question_id`.

Before, every command said only that no type matches these columns; now they say what the
rows are and that they must be joined to their questions. Joined as the advice says, the
rows convert as prompt-completion.
"""

from __future__ import annotations

import json

import polars as pl
from realdata.support import counts, rows_of, run, sample

ANSWERS = sample("arena_hard_answers")
QUESTIONS = sample("arena_hard_questions")
ADVICE = "to questions kept in another file under the same `question_id`"


def test_detect_says_the_prompts_are_in_another_file():
    res = run("detect", ANSWERS)
    assert res.exit_code == 1, res.output  # no type: invalid data
    assert ADVICE in res.output and "no row holds its prompt" in res.output


def test_convert_and_validate_refuse_with_the_same_advice(tmp_path):
    conv = run("convert", ANSWERS, "-o", tmp_path / "x.jsonl")
    assert conv.exit_code == 1 and ADVICE in conv.output
    assert not (tmp_path / "x.jsonl").exists()
    val = run("validate", ANSWERS)
    assert val.exit_code == 1 and ADVICE in val.output


def test_joined_as_advised_the_answers_convert_as_prompt_completion(tmp_path):
    questions = pl.read_ndjson(QUESTIONS).select(
        "question_id", prompt=pl.col("turns").list.first().struct.field("content")
    )
    answers = pl.read_ndjson(ANSWERS).select(
        "question_id",
        "model_id",
        completion=pl.col("choices").list.first().struct.field("turns").list.first()
        .struct.field("content"),
    )  # fmt: skip
    joined = tmp_path / "joined.jsonl"
    answers.join(questions, on="question_id", how="left").write_ndjson(joined)
    out = tmp_path / "pc.jsonl"
    res = run("convert", joined, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (20, 0, 20, 20)
    first = json.loads(ANSWERS.read_text(encoding="utf-8").splitlines()[0])
    row = rows_of(out)[0]
    assert row["completion"] == first["choices"][0]["turns"][0]["content"]
    assert row["prompt"].startswith("I have a dataset which contains a list of 2D images")
