"""Stanford Human Preferences (`--from shp`): a post (`history`), two comments
(`human_ref_A`, `human_ref_B`) and `labels` (1: A preferred, 0: B). SHP's rows are Reddit
and StackExchange comments whose card states no licence, so these rows are written for the
tests, in the dataset's exact layout (its columns, in its order, with its kinds: the ids
text, the times and scores integers, `seconds_difference` and `score_ratio` floats)."""

from __future__ import annotations

import json
import math

import pytest
from realdata.support import counts, rows_of, run


def _row(post, domain, history, a, b, label, ratio, scores=(12, 3), times=(1650000900, 1650000100)):
    return {
        "post_id": post, "domain": domain, "upvote_ratio": 0.97, "history": history,
        "c_root_id_A": f"{post}a", "c_root_id_B": f"{post}b",
        "created_at_utc_A": times[0], "created_at_utc_B": times[1],
        "score_A": scores[0], "score_B": scores[1], "human_ref_A": a, "human_ref_B": b,
        "labels": label, "seconds_difference": float(abs(times[0] - times[1])),
        "score_ratio": ratio,
    }  # fmt: skip


ROWS = [
    _row("p1", "askculinary_train", "How long should a steak rest?",
         "Five minutes for a thin one, ten for a thick one.", "Don't rest it.", 1, 4.0),
    _row("p2", "askculinary_train", "Can I freeze cooked rice?",
         "No.", "Yes: cool it fast, freeze flat, eat within a month.", 0, 2.5, scores=(4, 10)),
    _row("p3", "askphysics_validation", "Why is the sky blue?", "",
         "Rayleigh scattering.", 0, 6.0, scores=(3, 18)),
    _row("p4", "askphysics_validation", "Is glass a liquid?",
         "An amorphous solid.", "Kind of.", None, 1.0, scores=(7, 7)),
    _row("p5", "askhr_test", "Should I negotiate my first salary?",
         "Yes, politely.", "Never.", 2, 3.0),
    _row("p6", "askhr_test", "Is a two-week notice required?",
         "Usually not by law.", "", 1, 1.5),
]  # fmt: skip


def _data(tmp_path, rows=ROWS):
    path = tmp_path / "shp.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_detect_names_the_layout_and_convert_reads_it_without_from(tmp_path):
    data = _data(tmp_path)
    res = run("detect", data)
    assert res.exit_code == 0, res.output
    assert "layout: shp" in res.output and "preference (the shp layout" in res.output
    out = tmp_path / "pref.jsonl"
    res = run("convert", data, "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    assert "read as the shp layout" in res.output
    assert counts(res.output) == (6, 4, 2, 2)


def test_chosen_is_the_preferred_comment_and_its_columns_follow_it(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", _data(tmp_path), "--from", "shp", "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    got = rows_of(out)
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in got] == [
        ("How long should a steak rest?", "Five minutes for a thin one, ten for a thick one.",
         "Don't rest it."),
        ("Can I freeze cooked rice?", "Yes: cool it fast, freeze flat, eat within a month.",
         "No."),
    ]  # fmt: skip
    # the side columns follow their comment; the others are carried as they are
    assert (got[1]["chosen_score"], got[1]["rejected_score"]) == (10, 4)
    assert (got[1]["chosen_c_root_id"], got[1]["rejected_c_root_id"]) == ("p2b", "p2a")
    assert got[1]["chosen_created_at_utc"] == 1650000100
    assert got[0]["chosen_score"] == 12 and got[0]["chosen_c_root_id"] == "p1a"
    assert (got[1]["post_id"], got[1]["domain"], got[1]["score_ratio"]) == (
        "p2", "askculinary_train", 2.5,
    )  # fmt: skip
    assert got[1]["upvote_ratio"] == 0.97 and got[1]["seconds_difference"] == 800.0
    for gone in ("history", "human_ref_A", "labels", "score_A", "c_root_id_B", "margin"):
        assert gone not in got[0]
    rejects = rows_of(tmp_path / "pref.rejects.jsonl")
    assert [(r["line"], r["stage"], r["reason"]) for r in rejects] == [
        (3, "import", "human_ref_A is empty, the rejected answer (an empty answer gives no "
         "pair to learn from): fill it, or set the row aside with --on-error skip"),
        (4, "import", "labels is null: no pair"),
        (5, "import", "labels is not 0 or 1 (1: human_ref_A is preferred, 0: human_ref_B): "
         "no pair"),
        (6, "import", "human_ref_B is empty, the rejected answer (an empty answer gives no "
         "pair to learn from): fill it, or set the row aside with --on-error skip"),
    ]  # fmt: skip


def test_validate_reports_each_refused_row_by_its_reason(tmp_path):
    res = run("validate", _data(tmp_path), "--from", "shp")
    assert res.exit_code == 1, res.output
    said = " ".join(res.output.split())
    assert "6 input rows -> 2 rows checked, 4 not importable" in said
    assert (
        "import-failed: 1 row, line 4 cannot be imported from the shp layout: labels is null"
        in said
    )


def test_margin_is_the_log_of_the_score_ratio_and_conversational_makes_messages(tmp_path):
    rows = [*ROWS[:2], dict(ROWS[0], post_id="p7", score_ratio=None),
            dict(ROWS[0], post_id="p8", score_ratio=0.5)]  # fmt: skip
    out = tmp_path / "pref.jsonl"
    res = run(
        "convert", _data(tmp_path, rows), "--from", "shp-2", "--margin", "--conversational",
        "--on-error", "skip", "-o", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (4, 2, 2, 2)
    got = rows_of(out)
    assert [r["margin"] for r in got] == pytest.approx([math.log(4.0), math.log(2.5)])
    assert got[0]["prompt"] == [{"role": "user", "content": "How long should a steak rest?"}]
    assert got[1]["chosen"] == [
        {"role": "assistant", "content": "Yes: cool it fast, freeze flat, eat within a month."}
    ]
    reasons = {r["reason"] for r in rows_of(tmp_path / "pref.rejects.jsonl")}
    assert reasons == {
        "score_ratio is null, below 1 or not finite (the preferred comment's score over the "
        "other's): no margin for --margin"
    }


def test_unpaired_and_prompt_only_keep_the_comments_columns(tmp_path):
    out = tmp_path / "kto.jsonl"
    res = run("convert", _data(tmp_path, ROWS[:2]), "--to", "unpaired", "-o", out)
    assert res.exit_code == 0, res.output
    got = rows_of(out)
    assert [(r["completion"], r["label"]) for r in got] == [
        ("Five minutes for a thin one, ten for a thick one.", True), ("Don't rest it.", False),
        ("Yes: cool it fast, freeze flat, eat within a month.", True), ("No.", False),
    ]  # fmt: skip
    out = tmp_path / "prompts.jsonl"
    res = run("convert", _data(tmp_path, ROWS[:2]), "--to", "prompt-only", "-o", out)
    assert res.exit_code == 0, res.output
    got = rows_of(out)
    assert [r["prompt"] for r in got] == [
        "How long should a steak rest?", "Can I freeze cooked rice?",
    ]  # fmt: skip
    assert got[0]["domain"] == "askculinary_train"


def test_labels_of_text_are_refused_naming_the_column(tmp_path):
    data = _data(tmp_path, [dict(ROWS[0], labels="1")])
    res = run("convert", data, "--from", "shp", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 1, res.output
    assert "labels" in res.output and "must hold 1 (human_ref_A is preferred)" in res.output


def test_explain_says_what_follows_each_comment(tmp_path):
    res = run("convert", _data(tmp_path), "--from", "shp", "--explain", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "score_A / score_B" in said and "chosen_score / rejected_score" in said
    assert "score_ratio carried (SHP's authors keep pairs >= 2" in said
    assert "the run stops at line 3" in said
