"""Real Arena-Hard-Auto model answers (`model_answer/gpt-4-0613.jsonl`): a model's answers
whose questions live in another file under the same `question_id`.

Before, every command said only that no type matches these columns; now they say what the
rows are and that they must be joined to their questions. Joined as the advice says, the
rows convert as prompt-completion.
"""

from __future__ import annotations

import json

import polars as pl
import pytest
from realdata.support import counts, rows_of, run, sample

from trlprep.errors import DataError

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


def test_only_the_join_is_advised_no_renaming_or_layout(tmp_path):
    """convert and report added 'rename the columns, or import the layout with --from
    LAYOUT', validate 'rename the columns to a TRL type's or pass --type', import 'pass
    --from' and every layout (exit 2) and detect the columns each type needs: no renaming
    or layout gives these rows a prompt."""
    import trlprep

    generic = ("--from LAYOUT", "rename the columns", "--type", "expected one of", "pass --from")
    results = [
        run(*args)
        for args in (
            ("detect", ANSWERS),
            ("validate", ANSWERS),
            ("convert", ANSWERS, "-o", tmp_path / "x.jsonl"),
            ("report", ANSWERS),
            ("import", ANSWERS, "-o", tmp_path / "y.jsonl"),
        )
    ]
    assert [r.exit_code for r in results] == [1] * 5  # invalid data, none a usage error
    outputs = [r.output for r in results]
    for out in outputs:
        flat = " ".join(out.split())
        assert "join the two files on `question_id`" in flat.lower(), out
        assert not any(g in flat for g in generic), out
    for out in outputs[2:]:  # the error says what the rows are, its hint what to do
        assert "hint: join the two files on `question_id`" in " ".join(out.split()), out
    with pytest.raises(DataError) as e:
        trlprep.convert(str(ANSWERS))
    assert ADVICE in e.value.message and e.value.hint.startswith("join the two files")
    issue = trlprep.validate(str(ANSWERS)).issues[0]
    assert issue.rule == "unknown-type" and "Join the two files" in issue.hint
    assert not any("expected one of" in n for n in trlprep.detect(str(ANSWERS)).notes)


def test_train_gives_the_same_advice():
    from realdata.support import TINY_MODEL
    from transformers import AutoTokenizer

    from trainers.data_table import to_training_table

    tok = AutoTokenizer.from_pretrained(TINY_MODEL)
    with pytest.raises(DataError) as e:
        to_training_table(str(ANSWERS), ["prompt-completion"], tok, algo="sft")
    assert ADVICE in e.value.message and "Join" not in e.value.message
    assert e.value.hint.startswith("join the two files on `question_id`")
