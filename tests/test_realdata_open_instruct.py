"""Real Tulu 3 RLVR rows (allenai/open-instruct test data): `messages` (one user turn),
`ground_truth`, `dataset`.

The conversation ends on a user turn, so it reads as a conversational prompt; pairing it
with a text answer column needs `prompt=messages` mapped and `--conversational` (the answer
becomes one assistant message). `--map completion=COLUMN` alone is refused with that
command, never a language-modeling output carrying the answer as an extra column.
"""

from __future__ import annotations

import json

from realdata.support import counts, rows_of, run, sample

RLVR = sample("open_instruct_rlvr")
MAP = "prompt=messages,completion=ground_truth"


def test_detect_and_validate_read_a_conversational_prompt():
    res = run("detect", RLVR)
    assert res.exit_code == 0, res.output
    assert "prompt-only" in res.output and "conversational" in res.output
    res = run("validate", RLVR)
    assert res.exit_code == 0, res.output
    assert "valid: 100 rows of prompt-only (conversational)" in res.output


def test_completion_mapped_alone_is_refused_with_the_command_that_works(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", RLVR, "--map", "completion=ground_truth", "-o", out)
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "language-modeling (conversational) from 'messages'" in text
    assert "no column 'completion' (from 'ground_truth')" in text
    assert f"--map {MAP} --conversational" in text
    assert not out.exists()
    res = run("validate", RLVR, "--map", "completion=ground_truth")
    assert res.exit_code == 2, res.output
    assert f"--map {MAP} --conversational" in " ".join(res.output.split())


def test_mixed_formats_name_conversational(tmp_path):
    res = run("convert", RLVR, "--map", MAP, "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "'completion' (from 'ground_truth') holds text" in text
    assert "add --conversational" in text


def test_conversational_map_gives_prompt_completion(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", RLVR, "--map", MAP, "--conversational", "-o", out)
    assert res.exit_code == 0, res.output
    assert "prompt-completion (conversational)" in res.output
    assert counts(res.output) == (100, 0, 100, 100)
    rows = rows_of(out)
    assert rows[17] == {
        "prompt": [{"role": "user", "content": "What is 18 + 19?"}],
        "completion": [{"role": "assistant", "content": "37"}],
        "dataset": "test",
    }
    src = [json.loads(line) for line in RLVR.read_text().splitlines()]
    assert [r["completion"][0]["content"] for r in rows] == [r["ground_truth"] for r in src]
    res = run("validate", RLVR, "--map", MAP, "--conversational")
    assert res.exit_code == 0, res.output
    assert "valid: 100 rows of prompt-completion (conversational)" in res.output


def test_answer_advice_of_a_conversational_prompt_names_the_whole_map(tmp_path):
    # the same rows with the answer under a name the advice recognises
    data = tmp_path / "answers.jsonl"
    data.write_text(RLVR.read_text().replace('"ground_truth"', '"answer"'))
    advice = "--map prompt=messages,completion=answer --conversational"
    res = run("detect", data)
    assert res.exit_code == 0, res.output
    assert advice in " ".join(res.output.split())
    res = run("convert", data, "--to", "prompt-completion", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2, res.output
    assert advice in " ".join(res.output.split())
    out = tmp_path / "pc.jsonl"
    res = run("convert", data, *advice.split()[:2], advice.split()[2], "-o", out)
    assert res.exit_code == 0, res.output
    assert rows_of(out)[0]["completion"] == [{"role": "assistant", "content": "3"}]


def test_refusal_names_the_input_columns_and_standard_text_needs_no_wrap(tmp_path):
    renamed = tmp_path / "conv.jsonl"
    renamed.write_text(RLVR.read_text().replace('"messages"', '"conv"'))
    res = run("convert", renamed, "--map", "messages=conv,completion=ground_truth", "-o", "x")
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "from 'messages' (from 'conv')" in text
    assert "in 'conv' as the prompt" in text
    assert "--map prompt=conv,completion=ground_truth --conversational" in text
    std = tmp_path / "std.jsonl"
    std.write_text('{"text": "What is 1 + 2?", "sum": "3"}\n')
    res = run("convert", std, "--map", "completion=sum", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "--map prompt=text,completion=sum" in text and "--conversational" not in text
