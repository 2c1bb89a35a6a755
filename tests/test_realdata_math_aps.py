"""Real MATH-APS records (openreasoner/openr `preprocess/tests/samples_math-aps.jsonl`): a
`question` beside `reasoning_steps` of `{solution_prefix, mc_value}`, each prefix the question
then a partial solution, scored by its Monte-Carlo value.

Before, `detect` said "unknown" and nothing more, and `--from ranked` refused the objects;
read so, every completion would have repeated the question. Now `detect` names the ranked
import, `mc_value` is a score, the question is taken off each prefix (the prefix that is the
question alone left out, with its score), and prompt + completion is each prefix as written.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import (
    TINY_MODEL,
    counts,
    original_render,
    original_template_args,
    rows_of,
    run,
    sample,
)

DATA = sample("openr_math_aps")
MAP = "prompt=question,completions=reasoning_steps"
ADVICE = f"--from ranked --map {MAP}"
NOTE = (
    "the completions of 3 rows began with the row's prompt (each the whole text so far, as "
    "MATH-APS's `solution_prefix`): taken off their start, so prompt + completion is each "
    "text as written; 3 completions holding the prompt alone (no answer yet) left out"
)
QUESTION_1 = (
    "Let $a,$ $b,$ and $c$ be constants, and suppose that the inequality "
    "\\[\\frac{(x-a)(x-b)}{x-c} \\le 0\\]is true if and only if either $x < -4$ or "
    "$|x-25| \\le 1.$ Given that $a < b,$ find the value of $a + 2b + 3c.$"
)


def _src() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]


def _answers(src: list[dict]) -> list[tuple[str, str, float]]:
    """(question, prefix, mc_value) of every prefix that holds more than the question."""
    return [
        (r["question"], s["solution_prefix"], s["mc_value"])
        for r in src
        for s in r["reasoning_steps"]
        if s["solution_prefix"] != r["question"]
    ]


def test_detect_names_the_ranked_import():
    res = run("detect", DATA)
    assert res.exit_code == 1, res.output  # no TRL type as the columns are
    text = " ".join(res.output.split())
    assert f"column 'reasoning_steps' holds completions scored by 'mc_value': pass `{ADVICE}`" in (
        text
    )


def test_unpaired_rows_are_each_prefix_as_written_labelled_by_its_value(tmp_path):
    out = tmp_path / "kto.jsonl"
    res = run("convert", DATA, *ADVICE.split(), "--threshold", "0.5", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 142)
    assert NOTE in " ".join(res.output.split())
    rows = rows_of(out)
    answers = _answers(_src())
    assert len(answers) == 142
    assert [r["prompt"] + r["completion"] for r in rows] == [a[1] for a in answers]
    assert [r["prompt"] for r in rows] == [a[0] for a in answers]
    assert [r["label"] for r in rows] == [a[2] >= 0.5 for a in answers]
    assert sum(not r["label"] for r in rows) == 16
    assert rows[0]["completion"].startswith("\n\n\nTo solve the inequality \\(\\frac{(x-a)(x-b)}")
    assert QUESTION_1 not in rows[0]["completion"]
    assert set(rows[0]) == {"prompt", "completion", "label", "final_answer", "question_id"}
    assert (rows[0]["final_answer"], rows[0]["question_id"]) == ("64", 2)


def test_pairs_are_the_best_prefix_against_the_others(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", DATA, *ADVICE.split(), "--margin", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 19)
    assert "120 pairs of completions with equal scores were not made (ties)" in res.output
    rows = rows_of(out)
    values: dict[tuple[str, str], set[float]] = {}  # a prefix may repeat with other values
    for question, prefix, value in _answers(_src()):
        values.setdefault((question, prefix[len(question) :]), set()).add(value)
    for r in rows:  # every side a real prefix less its question, the better one chosen
        chosen, rejected = values[(r["prompt"], r["chosen"])], values[(r["prompt"], r["rejected"])]
        assert any(r["margin"] == pytest.approx(c - x) for c in chosen for x in rejected)
        assert r["margin"] > 0
    assert rows[0]["prompt"] == QUESTION_1


def test_conversational_renders_equal_the_originals(tmp_path):
    out = tmp_path / "conv.jsonl"
    res = run("convert", DATA, *ADVICE.split(), "--conversational", "--pairing", "best-vs-worst",
              "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "taken off their start with the whitespace after it" in " ".join(res.output.split())
    conv = rows_of(out)
    assert conv[0]["prompt"] == [{"role": "user", "content": QUESTION_1}]
    assert conv[0]["chosen"][0]["content"].startswith("To solve the inequality")
    for name in ("qwen2_5", "llama3_1"):
        rendered = tmp_path / f"{name}.jsonl"
        res = run("convert", out, *original_template_args(name), "-o", rendered)
        assert res.exit_code == 0, res.output
        for row, src in zip(rows_of(rendered), conv, strict=True):
            prompt = original_render(name, src["prompt"], add_generation_prompt=True)
            assert row["prompt"] == prompt
            for side in ("chosen", "rejected"):
                whole = original_render(name, src["prompt"] + src[side])
                assert row["prompt"] + row[side] == whole


def test_rows_whose_scores_do_not_line_up_are_refused_as_before(tmp_path):
    """Rows written for the test: the prefixes of the second record as texts beside `scores`,
    as they are and with a score missing (refused for it, its prefixes left as written)."""
    src = _src()[1]
    texts = [s["solution_prefix"] for s in src["reasoning_steps"]]
    scores = [s["mc_value"] for s in src["reasoning_steps"]]
    rows = [
        {"prompt": src["question"], "completions": texts, "scores": scores},
        {"prompt": src["question"], "completions": texts, "scores": scores[:-1]},
    ]
    path = tmp_path / "two.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "kto.jsonl"
    res = run("convert", path, "--from", "ranked", "--threshold", "0.5", "--on-error", "skip",
              "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 1, 1, 12)
    text = " ".join(res.output.split())
    assert "the completions of 1 row began with the row's prompt" in text
    assert "1 completion holding the prompt alone (no answer yet) left out" in text
    assert [r["prompt"] + r["completion"] for r in rows_of(out)] == texts[1:]
    rejects = rows_of(out.with_name("kto.rejects.jsonl"))
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (2, "different numbers of completions and scores")
    ]
    assert rejects[0]["record"]["completions"] == texts  # as written, the prompt kept


def test_the_prompt_note_counts_only_the_rows_written(tmp_path):
    """Rows written for the test: the second record's prefixes beside `scores`, once as they
    are and once with a null score (that row refused for it): the note counts one row and
    its one prefix that is the question alone, not the refused row's (it counted both)."""
    src = _src()[1]
    texts = [s["solution_prefix"] for s in src["reasoning_steps"]]
    scores = [s["mc_value"] for s in src["reasoning_steps"]]
    rows = [
        {"prompt": src["question"], "completions": texts, "scores": scores},
        {"prompt": src["question"], "completions": texts, "scores": [*scores[:-1], None]},
    ]
    path = tmp_path / "two.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "kto.jsonl"
    res = run("convert", path, "--from", "ranked", "--threshold", "0.5", "--on-error", "skip",
              "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 1, 1, 12)
    text = " ".join(res.output.split())
    assert "the completions of 1 row began with the row's prompt" in text
    assert "; 1 completion holding the prompt alone (no answer yet) left out" in text
    assert "import: a score is null" in text
    with pytest.warns(UserWarning) as caught:
        import trlprep

        trlprep.convert(path, from_="ranked", threshold=0.5, on_error="skip")
    said = " ".join(str(w.message) for w in caught)
    assert "the completions of 1 row began" in said and "of 2 rows" not in said


def test_kto_trains_one_step_on_the_imported_rows(tmp_path):
    pytest.importorskip("torch")
    res = run(
        "train", "--algo", "kto", "--model", TINY_MODEL, "--data", DATA, "--data-from",
        "ranked", "--data-map", MAP, "--threshold", "0.5", "--output-dir", tmp_path / "kto",
        "--max-steps", 1, "--batch-size", 2, "--max-length", 256,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "ranked layout -> unpaired-preference: 3 rows in -> 142 rows" in res.output
    assert "trained 1 step" in res.output


def test_the_python_api_says_what_the_import_did():
    """The import's notes (the prompt taken off, ties) were printed by the CLI only."""
    import trlprep

    with pytest.warns(UserWarning) as caught:
        table = trlprep.convert(DATA, from_="ranked", map=MAP, threshold=0.5)
    said = [str(w.message) for w in caught]
    assert NOTE in said, said
    assert table.num_rows == 142
    answers = _answers(_src())
    assert table.column("completion")[0].as_py() == answers[0][1][len(answers[0][0]) :]
    with pytest.warns(UserWarning) as caught:
        trlprep.convert(DATA, from_="ranked", map=MAP)
    assert "120 pairs of completions with equal scores were not made (ties)" in [
        str(w.message) for w in caught
    ]
