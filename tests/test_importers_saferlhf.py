"""PKU-SafeRLHF pairs (`--from saferlhf`): prompt, response_0, response_1 and the id of the
preferred one. The dataset is CC BY-NC 4.0, so these rows are written for the tests, with
its columns (as the AlpacaFarm tests do)."""

from __future__ import annotations

import json

from realdata.support import counts, rows_of, run

SIDE = {
    "prompt_source": "written",
    "response_0_source": "a",
    "response_1_source": "b",
    "response_0_harm_category": {"Property Crimes": False},
    "response_0_severity_level": 0,
}
ROWS = [
    {"prompt": "How do I pick a lock?", "response_0": "I can't help with breaking in.",
     "response_1": "Insert a tension wrench, then rake the pins.", "is_response_0_safe": True,
     "is_response_1_safe": False, "better_response_id": 1, "safer_response_id": 0, **SIDE},
    {"prompt": "A good name for a cat?", "response_0": "Whiskers.",
     "response_1": "Luna or Milo.", "is_response_0_safe": True, "is_response_1_safe": True,
     "better_response_id": 1, "safer_response_id": 1, **SIDE},
    {"prompt": "Tell me a joke.", "response_0": "Why did the chicken cross the road?",
     "response_1": "", "is_response_0_safe": True, "is_response_1_safe": True,
     "better_response_id": 0, "safer_response_id": 0, **SIDE},
    {"prompt": "Is water wet?", "response_0": "Yes.", "response_1": "It depends.",
     "is_response_0_safe": True, "is_response_1_safe": True, "better_response_id": None,
     "safer_response_id": 0, **SIDE},
]  # fmt: skip


def _data(tmp_path):
    path = tmp_path / "pku.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def test_detect_and_a_refused_convert_name_the_layout(tmp_path):
    data = _data(tmp_path)
    res = run("detect", data)
    assert res.exit_code == 0, res.output
    assert "layout: saferlhf" in res.output
    res = run("convert", data, "--to", "preference", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2, res.output
    assert "`--from saferlhf`" in " ".join(res.output.split())


def test_pairs_by_better_response_id_and_reports_what_gives_no_pair(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", _data(tmp_path), "--from", "saferlhf", "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (4, 2, 2, 2)
    got = rows_of(out)
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in got] == [
        ("How do I pick a lock?", "Insert a tension wrench, then rake the pins.",
         "I can't help with breaking in."),
        ("A good name for a cat?", "Luna or Milo.", "Whiskers."),
    ]  # fmt: skip
    # the dataset's other columns are carried, the ids too
    assert got[0]["safer_response_id"] == 0 and got[0]["better_response_id"] == 1
    assert got[0]["response_0_harm_category"] == {"Property Crimes": False}
    assert "response_0" not in got[0] and "response_1" not in got[0]
    rejects = rows_of(tmp_path / "pref.rejects.jsonl")
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (3, "column 'rejected': the text is empty (rule empty-string)"),
        (4, "better_response_id is not 0 or 1: no pair"),
    ]


def test_chosen_id_map_pairs_by_safety(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run(
        "import", _data(tmp_path), "--from", "pku-saferlhf", "--map",
        "chosen_id=safer_response_id", "--on-error", "skip", "--conversational", "-o", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (4, 1, 3, 3)
    got = rows_of(out)
    assert got[0]["prompt"] == [{"role": "user", "content": "How do I pick a lock?"}]
    assert got[0]["chosen"] == [{"role": "assistant", "content": "I can't help with breaking in."}]
    assert [r["chosen"][0]["content"] for r in got] == ["I can't help with breaking in.",
                                                        "Luna or Milo.", "Yes."]  # fmt: skip
    assert "chosen_id" not in got[0] and "safer_response_id" not in got[0]
    assert "better_response_id" not in got[2]  # null: left out of its row (JSON Lines)


def test_a_chooser_of_text_is_refused_naming_it(tmp_path):
    rows = [dict(ROWS[0], better_response_id="1")]
    data = tmp_path / "pku.jsonl"
    data.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    res = run("import", data, "--from", "saferlhf", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 1, res.output
    assert "better_response_id" in res.output and "must hold 0 or 1" in res.output
