"""Real PandaLM test-set records (WeOpenML/PandaLM `data/testset-v1.json`, first 180): an
Alpaca-style `instruction` / `input`, two models' `response1` / `response2` and three
annotators' votes (1, 2, or 0 for a tie).

Before, `detect` said "unknown" and nothing more, and refused rows named a column
'responseN' (the digits of `response1` read as a number). Now the pairs read as the
`alpacafarm` layout without `--from`, the output with more votes chosen, ties reported.
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

DATA = sample("pandalm_testset")
PROMPT_0 = (
    "Below is an instruction that describes a task, paired with an input that provides "
    "further context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\nThe sentence you are given might be too wordy, complicated, or "
    "unclear. Rewrite the sentence and make your writing clearer by keeping it concise. "
    "Whenever possible, break complex sentences into multiple sentences and eliminate "
    "unnecessary words.\n\n### Input:\nIf you have any questions about my rate or if you "
    "find it necessary to increase or decrease the scope for this project, please let me "
    "know.\n\n### Response:"
)


EMPTY = (
    "response1 is empty, the rejected answer (an empty answer gives no pair to learn from): "
    "fill it, or set the row aside with --on-error skip"
)
TIE = "the annotators' votes tie (response1: 0, response2: 0): no pair"
TIE_LINES = (1094, 1118, 1130)


def _src() -> list[dict]:
    return json.loads(DATA.read_text(encoding="utf-8"))


def _winner(r: dict) -> int:
    votes = [r["annotator1"], r["annotator2"], r["annotator3"]]
    return 0 if votes.count(1) == votes.count(2) else 1 if votes.count(1) > votes.count(2) else 2


def test_detect_reads_the_pairs_as_the_alpacafarm_layout():
    res = run("detect", DATA)
    assert res.exit_code == 0, res.output
    assert "preference (the alpacafarm layout, imported as convert does)" in res.output
    assert "180 (143 once imported)" in res.output
    assert "extra columns  idx, motivation_app, cmp_key" in res.output


def test_the_output_with_more_votes_is_chosen(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", DATA, "--coerce", "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (180, 31, 149, 149)
    text = " ".join(res.output.split())
    assert "28 x not paired: the annotators' votes tie (response1: 0, response2: 0): no pair" in (
        text
    )
    assert f"3 x import: {EMPTY} (e.g. line 218, line 230, line 302)" in text
    rows = rows_of(out)
    assert rows[0] == {
        "prompt": PROMPT_0,
        "chosen": "If you have any questions, please let me know.",
        "rejected": "If you have any questions about my rate, please let me know.",
        "idx": 0,
        "motivation_app": "Grammarly",
        "cmp_key": "bloom-7b_llama-7b",
    }
    src = {r["idx"]: r for r in _src()}
    for row in rows:  # every pair as the votes say, split votes too
        r = src[row["idx"]]
        win, lose = ("response1", "response2")[:: 1 if _winner(r) == 1 else -1]
        for side, name in (("chosen", win), ("rejected", lose)):
            want = r[name] if isinstance(r[name], str) else json.dumps(r[name])
            assert row[side] == want, (row["idx"], side)
    split = {
        r["idx"] for r in _src() if len({r["annotator1"], r["annotator2"], r["annotator3"]}) > 1
    }
    assert len(split & {row["idx"] for row in rows}) == 14
    assert {"annotator1", "response1", "instruction"}.isdisjoint(rows[0])


def test_refused_rows_name_the_response_columns_as_written(tmp_path):
    res = run("convert", DATA, "--on-error", "skip", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "4 x read: column 'response1' holds a boolean (true) where the other rows" in text
    assert "2 x read: column 'response2' holds a boolean (true)" in text
    assert "responseN" not in text


def test_a_vote_outside_0_1_2_refuses_its_row(tmp_path):
    """Rows written for the test: the first two records, the second with a vote of 3."""
    first, second = _src()[:2]
    second = dict(second, annotator2=3)
    path = tmp_path / "votes.jsonl"
    path.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n", encoding="utf-8")
    out = tmp_path / "pref.jsonl"
    res = run("convert", path, "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 1, 1, 1)
    assert "import: annotator2 is not 0, 1 or 2 (a vote) (e.g. line 2)" in res.output
    assert rows_of(out)[0]["chosen"] == first["response2"]


def test_conversational_renders_equal_the_originals(tmp_path):
    out = tmp_path / "conv.jsonl"
    res = run("convert", DATA, "--coerce", "--on-error", "skip", "--conversational", "-o", out)
    assert res.exit_code == 0, res.output
    conv = rows_of(out)
    first = _src()[0]
    assert conv[0]["prompt"] == [
        {"role": "user", "content": first["instruction"] + "\n\n" + first["input"]}
    ]
    assert conv[0]["chosen"] == [{"role": "assistant", "content": first["response2"]}]
    for name in ("qwen2_5", "llama3_1"):
        rendered = tmp_path / f"{name}.jsonl"
        res = run("convert", out, *original_template_args(name), "-o", rendered)
        assert res.exit_code == 0, res.output
        for row, src in zip(rows_of(rendered), conv, strict=True):
            assert row["prompt"] == original_render(name, src["prompt"], add_generation_prompt=True)
            for side in ("chosen", "rejected"):
                assert row["prompt"] + row[side] == original_render(name, src["prompt"] + src[side])


def test_dpo_trains_one_step_on_the_voted_pairs(tmp_path):
    pytest.importorskip("torch")
    res = run(
        "train", "--algo", "dpo", "--model", TINY_MODEL, "--data", DATA, "--coerce",
        "--on-error", "skip", "--output-dir", tmp_path / "dpo", "--max-steps", 1,
        "--batch-size", 2, "--max-length", 512,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "trained 1 step" in res.output


def _ties_only(tmp_path) -> tuple:
    """The sample less its rows that fail for another reason (an empty response1, a boolean
    response), as JSON Lines: 171 rows, 28 of them ties."""
    rows = [
        r for r in _src()
        if r["response1"] and isinstance(r["response1"], str) and isinstance(r["response2"], str)
    ]  # fmt: skip
    path = tmp_path / "ties.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path, rows


def test_ties_are_rows_not_paired_not_errors(tmp_path):
    """A tie is no invalid data: convert writes the pairs without --on-error skip and lists
    the ties under `not paired`; validate warns (import-not-paired) and passes; the Python
    API leaves them out with a warning. Ranked rows whose completions all tie read alike."""
    path, rows = _ties_only(tmp_path)
    assert len(rows) == 171 and sum(_winner(r) == 0 for r in rows) == 28
    out = tmp_path / "pref.jsonl"
    res = run("convert", path, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (171, 28, 143, 143)
    assert f"28 x not paired: {TIE}" in " ".join(res.output.split())
    assert [r["idx"] for r in rows_of(out)] == [r["idx"] for r in rows if _winner(r)]
    val = run("validate", path, "--from", "pandalm")
    assert val.exit_code == 0, val.output
    text = " ".join(val.output.split())
    assert "warning: import-not-paired: 28 rows" in text
    assert "171 input rows -> 143 rows checked, 28 ties not paired" in text
    assert "import-failed" not in text and "valid: 143 rows" in text
    import trlprep

    with pytest.warns(UserWarning, match="28 rows could not be imported") as caught:
        table = trlprep.convert(path, from_="pandalm")
    assert table.num_rows == 143, [str(w.message) for w in caught]
    ranked = tmp_path / "ranked.jsonl"
    ranked.write_text(
        "".join(
            json.dumps({"prompt": r["instruction"], "completions": [r["response1"], r["response2"]],
                        "scores": [-_winner(r) % 3, _winner(r)]}) + "\n"  # ties: 0, 0
            for r in rows
        ),
        encoding="utf-8",
    )  # fmt: skip
    res = run("convert", ranked, "--from", "ranked", "-o", tmp_path / "r.jsonl")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (171, 28, 143, 143)
    assert "x not paired: every completion has the same score: no pair (ties)" in res.output


def test_ties_stop_nothing_but_a_failing_row_still_stops(tmp_path):
    res = run("convert", DATA, "--coerce", "-o", tmp_path / "pref.jsonl")
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    assert f":218: import: {EMPTY} (2 more rows fail)" in text  # the ties not counted
    val = run("validate", DATA, "--from", "pandalm", "--coerce")
    assert val.exit_code == 1, val.output
    text = " ".join(val.output.split())
    assert "error: import-failed: 3 rows, lines 218, 230, 302" in text
    assert "warning: import-not-paired: 28 rows" in text
    assert "180 input rows -> 149 rows checked, 28 ties not paired, 3 not importable" in text


def test_an_empty_answer_is_refused_saying_which_side_and_what_to_do(tmp_path):
    """The three rows with an empty response1 (every annotator preferred response2): an
    empty rejected answer is an `empty-string` error, as the other pair importers refuse it;
    the reason says it is the rejected side and how to go on."""
    src = _src()
    assert [i for i, r in enumerate(src) if r["response1"] == ""] == [18, 19, 25]
    assert all(_winner(src[i]) == 2 for i in (18, 19, 25))
    out = tmp_path / "pref.jsonl"
    res = run("convert", DATA, "--coerce", "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    rejects = rows_of(out.with_name("pref.rejects.jsonl"))
    empty = [(r["line"], r["stage"], r["reason"]) for r in rejects if r["stage"] == "import"]
    assert empty == [(218, "import", EMPTY), (230, "import", EMPTY), (302, "import", EMPTY)]
    assert {r["reason"] for r in rejects if r["stage"] == "not paired"} == {TIE}
    swapped = dict(src[18], annotator1=1, annotator2=1, annotator3=1)  # response1 chosen
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(swapped) + "\n", encoding="utf-8")
    res = run("convert", path, "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 1
    assert "response1 is empty, the chosen answer" in " ".join(res.output.split())


def test_report_lists_every_reason_as_validate_and_convert_count_them():
    """It listed 3 rows of the 37 the import left out, and not the ties' reason."""
    res = run("report", DATA, "--from", "pandalm")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "9 rows failed at import" in text
    assert "28 rows not paired (no error)" in text
    lines = ", ".join(f"line {n}" for n in TIE_LINES)
    assert f"28 x not paired: {TIE} (e.g. {lines})" in text
    assert f"3 x import: {EMPTY} (e.g. line 218, line 230, line 302)" in text
    assert "4 x import: column 'response1' holds a boolean (true)" in text
    assert "2 x import: column 'response2' holds a boolean (true)" in text
    assert "more rows not listed" not in text
    data = json.loads(run("report", DATA, "--from", "pandalm", "--format", "json").output)
    rows = data["rows"]
    assert rows["rejected_by_stage"] == {"import": 9, "not paired": 28}
    assert [(r["stage"], r["count"]) for r in rows["rejected_reasons"]] == [
        ("not paired", 28), ("import", 4), ("import", 3), ("import", 2)
    ]  # fmt: skip
    assert sum(r["count"] for r in rows["rejected_reasons"]) == rows["rejected"] == 37


def test_ray_leaves_the_ties_unpaired_as_the_local_engine_does(tmp_path):
    pytest.importorskip("ray")
    path, rows = _ties_only(tmp_path)
    res = run("convert", path, "--engine", "ray", "--on-error", "skip", "-o", tmp_path / "r")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (171, 28, 143, 143)
    assert f"28 x not paired: {TIE}" in " ".join(res.output.split())
    rejects = rows_of(tmp_path / "r.rejects.jsonl")
    assert {(r["stage"], r["reason"]) for r in rejects} == {("not paired", TIE)}
    assert [r["line"] for r in rejects[:3]] == [89, 91, 92]
    val = run("validate", path, "--from", "pandalm", "--engine", "ray")
    assert val.exit_code == 0, val.output
    assert "171 input rows -> 143 rows checked, 28 ties not paired" in " ".join(val.output.split())
