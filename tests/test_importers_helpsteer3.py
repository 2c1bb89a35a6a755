"""HelpSteer3 preference (`--from helpsteer3`): context messages, response1, response2 and
overall_preference -3..3. No rows of the dataset (CC BY 4.0) were found in a public
repository, so these are written for the tests in its layout (the `preference` config's
columns, `individual_preference` as its annotators' objects)."""

from __future__ import annotations

import json

from realdata.support import counts, rows_of, run


def _ann(score: int) -> dict:
    return {"score": score, "reasoning": "@Response 1 is clearer.", "feedback1": "Good.",
            "feedback2": "Vague."}  # fmt: skip


def _user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


ROWS = [
    {"domain": "general", "language": "english", "context": _user("Name a prime."),
     "response1": "7.", "response2": "9.", "overall_preference": -2,
     "individual_preference": [_ann(-2), _ann(-1)]},
    {"domain": "code", "language": "python",
     "context": [*_user("Sort a list?"), {"role": "assistant", "content": "Use sorted()."},
                 *_user("In place?")],
     "response1": "sorted(x)", "response2": "x.sort()", "overall_preference": 3,
     "individual_preference": [_ann(3)]},
    {"domain": "stem", "language": "english", "context": _user("2+2?"), "response1": "4",
     "response2": "Four", "overall_preference": 0, "individual_preference": [_ann(0)]},
    {"domain": "multilingual", "language": "german", "context": _user("Hallo"),
     "response1": "Hallo!", "response2": "Guten Tag.", "overall_preference": 1,
     "individual_preference": []},
]  # fmt: skip
BAD = [
    {**ROWS[0], "context": [*_user("Hi"), {"role": "assistant", "content": "Hello"}]},
    {**ROWS[0], "response1": ""},
    {**ROWS[0], "overall_preference": 5},
    {**ROWS[0], "overall_preference": None},
    {**ROWS[0], "context": []},
]


def _data(tmp_path, rows=ROWS):
    path = tmp_path / "hs3.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def test_pairs_by_the_sign_and_leaves_ties_not_paired(tmp_path):
    data = _data(tmp_path)
    res = run("detect", data)
    assert res.exit_code == 0 and "layout: helpsteer3 " in res.output, res.output
    out = tmp_path / "pref.jsonl"
    res = run("convert", data, "-o", out)  # read as helpsteer3; the tie stops nothing
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (4, 1, 3, 3)
    assert "1 x not paired: overall_preference is 0, a tie (about the same): no pair" in (
        " ".join(res.output.split())
    )
    got = rows_of(out)
    assert [r["prompt"] for r in got] == [ROWS[0]["context"], ROWS[1]["context"], _user("Hallo")]
    assert [(r["chosen"], r["rejected"]) for r in got] == [
        (_assistant("7."), _assistant("9.")),  # negative: response1 is better
        (_assistant("x.sort()"), _assistant("sorted(x)")),
        (_assistant("Guten Tag."), _assistant("Hallo!")),
    ]
    assert [(r["domain"], r["language"]) for r in got] == [
        ("general", "english"), ("code", "python"), ("multilingual", "german"),
    ]  # fmt: skip
    assert all("individual_preference" not in r and "margin" not in r for r in got)
    res = run("validate", data, "--from", "helpsteer3")
    assert res.exit_code == 0, res.output
    assert "import-not-paired" in res.output


def test_margin_is_the_unscaled_strength(tmp_path):
    out = tmp_path / "rm.jsonl"
    res = run("convert", _data(tmp_path), "--from", "helpsteer3", "--margin", "-o", out)
    assert res.exit_code == 0, res.output
    assert [r["margin"] for r in rows_of(out)] == [2.0, 3.0, 1.0]


def test_annotators_are_kept_under_another_name(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", _data(tmp_path), "--from", "helpsteer3", "--map",
              "annotators=individual_preference", "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert [r["annotators"] for r in rows_of(out)] == [
        ROWS[0]["individual_preference"], ROWS[1]["individual_preference"], [],
    ]  # fmt: skip


def test_a_text_context_is_one_user_message(tmp_path):
    rows = [{**ROWS[0], "context": "Name a prime."}]
    out = tmp_path / "pref.jsonl"
    res = run("convert", _data(tmp_path, rows), "--from", "helpsteer3", "-o", out)
    assert res.exit_code == 0, res.output
    assert rows_of(out)[0]["prompt"] == _user("Name a prime.")


def test_rows_without_a_pair_are_refused_with_their_reason(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", _data(tmp_path, [*BAD, ROWS[1]]), "--from", "helpsteer3",
              "--on-error", "skip", "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (6, 5, 1, 1)
    reasons = [r["reason"] for r in rows_of(tmp_path / "pref.rejects.jsonl")]
    assert reasons == [
        "context's last turn is 'assistant', not the user's: no answer to pair",
        "response1 is empty, the chosen answer (an empty answer gives no pair to learn from): "
        "fill it, or set the row aside with --on-error skip",
        "overall_preference is not a whole number from -3 to 3: no pair",
        "overall_preference is null: no pair",
        "context holds no message: no prompt",
    ]
