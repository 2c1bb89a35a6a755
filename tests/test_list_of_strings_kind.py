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
