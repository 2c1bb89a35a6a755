"""A content column holding a list of strings in some rows (read as JSON text, its rows of
several kinds) is said as such, not counted as messages: MT-Bench's real `turns` given as
the `prompt` of a few rows whose other rows hold the first turn's text."""

from __future__ import annotations

import json

from realdata.support import run, sample

import trlprep

MT_BENCH = sample("mt_bench")  # 80 rows, `turns`: two user turns as strings


def _mixed(tmp_path, lists=(2, 5)):
    rows = [json.loads(x) for x in MT_BENCH.read_text(encoding="utf-8").splitlines()][:8]
    path = tmp_path / "prompts.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i, r in enumerate(rows):
            prompt = r["turns"] if i in lists else r["turns"][0]
            f.write(json.dumps({"prompt": prompt, "category": r["category"]}) + "\n")
    return path


def test_validate_says_a_list_of_strings_is_not_messages(tmp_path):
    res = run("validate", _mixed(tmp_path))
    said = " ".join(res.output.split())
    assert res.exit_code == 1
    assert "column 'prompt': 2 rows hold a list of strings, not messages" in said
    assert "join the strings into one text, or give each as a message" in said
    assert "hold messages" not in said


def test_detect_counts_lists_of_objects_as_messages_and_strings_apart(tmp_path):
    path = _mixed(tmp_path)
    text = path.read_text(encoding="utf-8").splitlines()
    chat = [{"role": "user", "content": "Hi"}]
    text[0] = json.dumps({"prompt": chat, "category": "x"})
    text[1] = json.dumps({"prompt": [], "category": "x"})
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    det = trlprep.detect(path)
    said = {p.message for p in det.problems if p.code == "mixed-format"}
    assert "column 'prompt': 1 row holds messages" in said
    assert "column 'prompt': 1 row holds an empty list" in said
    assert any("2 rows hold a list of strings" in m for m in said)


def _csv_of_lists(tmp_path):
    path = tmp_path / "pc.csv"
    path.write_text('prompt,completion\nq1,"[""a"",""b""]"\nq2,"[""c""]"\n', encoding="utf-8")
    return path


def test_a_csv_column_of_lists_in_every_row_is_not_said_mixed(tmp_path):
    res = run("validate", _csv_of_lists(tmp_path))
    said = " ".join(res.output.split())
    assert res.exit_code == 1
    assert "rows mix formats" not in said and "the majority" not in said
    assert "every row of column 'completion' holds a list of strings, not messages" in said


def test_convert_says_what_the_column_holds_not_that_it_is_not_uniform(tmp_path):
    res = run("convert", _csv_of_lists(tmp_path), "--to", "lm", "-o", tmp_path / "o.jsonl")
    said = " ".join(res.output.split())
    assert res.exit_code == 1 and "not uniform" not in said
    assert "every row of column 'completion' holds a list of strings" in said


def test_a_real_mix_keeps_its_majority_note(tmp_path):
    res = run("validate", _mixed(tmp_path))
    assert "rows mix formats" in " ".join(res.output.split())
