"""detect's advice for data a layout reads: `--from TYPE` converts the columns as they are
only where that reading holds (the rows pass the type's checks, its text is no JSON text
the layout decodes); elsewhere it says why not, and convert bears it out."""

from __future__ import annotations

import json

from realdata.support import counts, run, sample
from test_importers_arena_kaggle import ROWS as ARENA_ROWS

TOOLBENCH = sample("toolbench_trajectories")
VLLM = sample("open_instruct_synth_pref")


def _notes(path) -> list[str]:
    res = run("detect", path, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.output)["notes"]


def test_toolbench_gets_no_as_is_advice_and_convert_bears_out_why(tmp_path):
    (note,) = [n for n in _notes(TOOLBENCH) if "openai-chat layout" in n]
    assert "pass `--from language-modeling`" not in note
    assert note.endswith(
        "its columns alone look like language-modeling (conversational), but "
        "`--from language-modeling` would refuse rows (in 33 of 34 rows: column 'messages': "
        "a message has no content and no tool_calls (it holds OpenAI's legacy function_call: "
        "--from openai-chat reads it as a tool call); rule missing-content)"
    )
    out = tmp_path / "lm.jsonl"
    res = run("convert", TOOLBENCH, "--from", "language-modeling", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (34, 33, 1, 1)  # what the note warned of


def test_arena_json_text_prompts_get_no_as_is_advice(tmp_path):
    data = tmp_path / "battles.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ARENA_ROWS), encoding="utf-8")
    (note,) = [n for n in _notes(data) if "arena layout" in n]
    assert "pass `--from prompt-only`" not in note
    assert note.endswith(
        "its columns alone look like prompt-only (standard), but `--from prompt-only` would "
        "keep column 'prompt' as the JSON text it holds, which the arena layout decodes"
    )


def test_vllm_outputs_keep_the_as_is_advice_which_converts(tmp_path):
    (note,) = [n for n in _notes(VLLM) if "generations layout" in n]
    assert note.endswith(
        "its columns alone would read as language-modeling (standard): pass "
        "`--from language-modeling` to convert them as they are"
    )
    res = run("convert", VLLM, "--from", "language-modeling", "-o", tmp_path / "lm.jsonl")
    assert res.exit_code == 0 and counts(res.output) == (2, 0, 2, 2), res.output


def test_arena_rows_with_plain_prompts_keep_the_advice(tmp_path):
    """Prompt-only is checked with detection inside validation: the check runs once (no
    recursion), and plain-text prompts do read as prompt-only, as convert bears out."""
    data = tmp_path / "battles.jsonl"
    rows = [{**r, "prompt": " ".join(json.loads(r["prompt"]))} for r in ARENA_ROWS]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (note,) = [n for n in _notes(data) if "arena layout" in n]
    assert note.endswith("pass `--from prompt-only` to convert them as they are")
    res = run("convert", data, "--from", "prompt-only", "-o", tmp_path / "p.jsonl")
    assert res.exit_code == 0 and counts(res.output) == (6, 0, 6, 6), res.output
