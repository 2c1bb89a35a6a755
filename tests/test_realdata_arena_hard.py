"""Real Arena-Hard-Auto questions (lm-sys/arena-hard-auto `data/arena-hard-v0.1/question.jsonl`):
MT-Bench's layout with each turn an object `{"content": ...}` instead of a text.

Before, `detect` found no type and `--from mt-bench` stopped with "must hold lists of text";
now they read as MT-Bench questions do: prompt-only, the first turn the prompt.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import counts, original_render, rows_of, run, sample

DATA = sample("arena_hard_questions")


def _src() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]


def test_detect_names_the_mt_bench_layout():
    res = run("detect", DATA)
    assert res.exit_code == 0, res.output
    assert "prompt-only (the mt-bench layout" in res.output
    assert "--from mt-bench" in res.output


def test_convert_makes_the_first_turn_the_prompt(tmp_path):
    out = tmp_path / "prompts.jsonl"
    res = run("convert", DATA, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (60, 0, 60, 60)
    rows = rows_of(out)
    assert rows[0]["prompt"] == "Use ABC notation to write a melody in the style of a folk tune."
    assert rows[0]["turns"] == [{"content": rows[0]["prompt"]}]  # kept as it is
    assert rows[0]["cluster"] == "ABC Sequence Puzzles & Groups"
    # line 3 ends on a space, line 52 holds tabs: kept byte for byte
    src = _src()
    assert [r["prompt"] for r in rows] == [s["turns"][0]["content"] for s in src]
    assert rows[2]["prompt"].endswith("related reading. ") and "\t" in rows[51]["prompt"]


def test_validate_and_report_read_it_as_convert_does():
    val = run("validate", DATA, "--from", "mt-bench")
    assert val.exit_code == 0, val.output
    rep = run("report", DATA)
    assert rep.exit_code == 0, rep.output
    assert "prompt-only (standard), 60 rows" in rep.output
    assert "read as the mt-bench layout" in rep.output


def test_turns_of_another_kind_are_refused_naming_what_they_may_hold(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question_id": 1, "turns": [{"text": "Hi"}]}\n', encoding="utf-8")
    res = run("convert", path, "--from", "mt-bench", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 1
    assert "turns" in res.output and "objects with the text in `content`" in res.output


@pytest.mark.parametrize("template", ["llama3_1", "qwen2_5"])
def test_conversational_prompts_render_as_the_original_template(tmp_path, template):
    from realdata.support import original_template_args

    template_args = original_template_args(template)
    out = tmp_path / "out.jsonl"
    res = run("convert", DATA, "--from", "mt-bench", "--conversational", *template_args,
              "-o", out, "--num-proc", "1")  # fmt: skip
    assert res.exit_code == 0, res.output
    got = rows_of(out)
    src = _src()
    for i in (0, 1, 2, 51):  # non-ASCII, a trailing space (llama 3.1 trims it), tabs
        user = {"role": "user", "content": src[i]["turns"][0]["content"]}
        assert got[i]["prompt"] == original_render(template, [user], add_generation_prompt=True)


def test_turns_with_roles_are_a_conversation_not_mt_bench_questions(tmp_path):
    path = tmp_path / "chat.jsonl"
    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    path.write_text(json.dumps({"turns": turns}) + "\n", encoding="utf-8")
    res = run("detect", path)
    assert "mt-bench" not in res.output, res.output
