"""Nectar-style ranked answers (`prompt` as an HH transcript, `answers` [{answer, model,
rank}], rank 1 the best): read by `--from ranked --map completions=answers`, which detect
and a refused `convert --to` name. The rows are written for the tests, in Nectar's columns."""

from __future__ import annotations

import json

from realdata.support import counts, rows_of, run

ROWS = [
    {"prompt": "\n\nHuman: What is 2+2?\n\nAssistant:",
     "answers": [{"answer": "5", "model": "b", "rank": 2.0},
                 {"answer": "4", "model": "a", "rank": 1.0},
                 {"answer": "22", "model": "c", "rank": 3.0}],
     "turns": 1, "num_responses": 3, "source": ["sharegpt"], "good_natured": True},
    {"prompt": "\n\nHuman: Name a colour.\n\nAssistant:",
     "answers": [{"answer": "Blue.", "model": "a", "rank": 1.0},
                 {"answer": "Red.", "model": "b", "rank": 1.0}],
     "turns": 1, "num_responses": 2, "source": ["lmsys-chat-1m"], "good_natured": True},
]  # fmt: skip
MAP = "--from ranked --map completions=answers"


def _data(tmp_path):
    path = tmp_path / "nectar.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def test_detect_and_convert_name_the_ranked_map(tmp_path):
    data = _data(tmp_path)
    res = run("detect", data)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert f"column 'answers' holds completions scored by 'rank': pass `{MAP}`" in text
    res = run("convert", data, "--to", "preference", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2, res.output
    assert f"`{MAP}`" in " ".join(res.output.split())


def test_answer_objects_pair_by_rank(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", _data(tmp_path), *MAP.split(), "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    # the second row's answers tie: no pair, reported
    assert counts(res.output) == (2, 1, 1, 2)
    got = rows_of(out)
    assert [(r["chosen"], r["rejected"]) for r in got] == [("4", "5"), ("4", "22")]
    assert got[0]["prompt"] == "\n\nHuman: What is 2+2?\n\nAssistant:"
    assert got[0]["source"] == ["sharegpt"] and got[0]["good_natured"] is True
