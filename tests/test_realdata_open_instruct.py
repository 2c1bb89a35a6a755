"""Real Tulu 3 RLVR rows (allenai/open-instruct test data): `messages` (one user turn),
`ground_truth`, `dataset`.

The conversation ends on a user turn, so it reads as a conversational prompt; pairing it
with a text answer column needs `prompt=messages` mapped and `--conversational` (the answer
becomes one assistant message). `--map completion=COLUMN` alone is refused with that
command, never a language-modeling output carrying the answer as an extra column.
"""

from __future__ import annotations

import json

import pytest
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


ACECODE = sample("open_instruct_acecode")
RANKED = "prompt=question,completions=inferences"
_TOKENS = (("if", "daddress"), ("elif", "dcommand"), ("elif", "doaddress"), ("elif", "dosymbol"))
BEST = (
    "\ndef parse_tokens(tokens):\n    output = []\n    for token in tokens:\n"
    + "".join(
        f'        {kw} token[0] == "{t}":\n            output.append(("{t}", token[1]))\n'
        for kw, t in _TOKENS
    )
    + "    return output\n\n"
)
STUB = "\ndef parse_tokens(tokens):\n    pass\n\n"


def test_acecode_pass_rate_is_a_score(tmp_path):
    out = tmp_path / "pref.jsonl"
    res = run("convert", ACECODE, "--from", "ranked", "--map", RANKED, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (1, 0, 1, 16)
    assert "63 pairs of completions with equal scores were not made (ties)" in res.output
    rows = rows_of(out)
    src = json.loads(ACECODE.read_text())
    assert {r["chosen"] for r in rows} == {BEST}  # the first of the 64 that pass every test
    rejected = [i["completion"] for i in src["inferences"] if i["pass_rate"] < 1.0]
    assert [r["rejected"] for r in rows] == rejected and rejected[0] == STUB
    assert rows[0]["prompt"] == src["question"]
    assert set(rows[0]) == {"prompt", "chosen", "rejected", "id", "source", "test_cases"} | {
        "context_messages"
    }


def test_acecode_objects_without_a_score_name_their_fields(tmp_path):
    row = json.loads(ACECODE.read_text())
    for inference in row["inferences"]:
        inference["accuracy"] = inference.pop("pass_rate")
    data = tmp_path / "acc.jsonl"
    data.write_text(json.dumps(row) + "\n")
    res = run("convert", data, "--from", "ranked", "--map", RANKED, "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    assert "completion objects hold only completion, completion_id, model_name, accuracy" in text
    assert "pass_rate" in text  # the score fields it reads


def test_acecode_conversational_prompt_with_text_completions(tmp_path):
    out = tmp_path / "conv.jsonl"
    mapping = "prompt=context_messages,completions=inferences"
    res = run("convert", ACECODE, "--from", "ranked", "--map", mapping, "-o", out)
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "the prompt is a list of messages but the completions are text" in text
    assert "add --conversational" in text and not out.exists()
    res = run(
        "convert", ACECODE, "--from", "ranked", "--map", mapping, "--conversational", "-o", out
    )
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (1, 0, 1, 16)
    row = rows_of(out)[0]
    src = json.loads(ACECODE.read_text())
    assert row["prompt"] == src["context_messages"]
    assert row["chosen"] == [{"role": "assistant", "content": BEST}]
    assert row["rejected"] == [{"role": "assistant", "content": STUB}]
    # a text prompt is made one user message too; unpaired rows, one per completion
    out = tmp_path / "kto.jsonl"
    res = run(
        "convert", ACECODE, "--from", "ranked", "--map", RANKED, "--conversational",
        "--threshold", "1", "-o", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (1, 0, 1, 80)
    rows = rows_of(out)
    assert rows[0]["prompt"] == [{"role": "user", "content": src["question"]}]
    assert [r["label"] for r in rows] == [i["pass_rate"] >= 1 for i in src["inferences"]]
    assert rows[6]["completion"] == [{"role": "assistant", "content": STUB}]


def test_acecode_detect_validate_and_convert_name_the_ranked_import(tmp_path):
    advice = f"--from ranked --map {RANKED}"
    out = tmp_path / "x.jsonl"
    for args in (("detect",), ("validate",), ("convert", "--to", "preference", "-o", out)):
        res = run(args[0], ACECODE, *args[1:])
        assert res.exit_code == 1, res.output
        text = " ".join(res.output.split())
        assert f"column 'inferences' holds completions scored by 'pass_rate': pass `{advice}`" in (
            text
        )


def test_acecode_repeated_pairs_of_one_input_row_are_said_so():
    res = run("validate", ACECODE, "--from", "ranked", "--map", RANKED)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "line 1 gives the same row more than once" in text
    assert "(8 imported rows from 1 input row)" in text
    assert "line 1 repeats line 1" not in text


def test_check_template_names_the_ranked_import_that_renders(tmp_path):
    from realdata.support import TEMPLATES

    template = TEMPLATES / "qwen2_5.jinja"
    if not template.exists():
        pytest.skip("../shared (original chat templates) is absent")
    res = run("check-template", ACECODE, "--chat-template", template)
    assert res.exit_code == 1, res.output
    command = f"trlprep convert DATA --from ranked --map {RANKED} --conversational -o OUT"
    assert f"`{command}` and check OUT" in " ".join(res.output.split())
    out = tmp_path / "pref.jsonl"
    res = run("convert", ACECODE, *command.split()[3:-2], "-o", out)
    assert res.exit_code == 0, res.output
    res = run("check-template", out, "--chat-template", template)
    assert res.exit_code == 0, res.output
    assert "preference, 16 of 16 rows sampled: every sampled row renders" in " ".join(
        res.output.split()
    )


def test_report_with_a_template_file_says_it_brings_no_tokenizer():
    from realdata.support import TEMPLATES

    template = TEMPLATES / "qwen2_5.jinja"
    if not template.exists():
        pytest.skip("../shared (original chat templates) is absent")
    res = run("report", RLVR, "--chat-template", template)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "the template qwen2_5.jinja brings no tokenizer: pass --tokenizer SRC" in text
    res = run("report", RLVR)
    assert "token lengths: pass --tokenizer or --chat-template MODEL" in res.output


def test_exact_reward_reads_ground_truth_of_rlvr_rows():
    from trlprep.trainers.online.rewards import resolve

    rows = [json.loads(line) for line in RLVR.read_text().splitlines()]
    _, exact = resolve("exact")
    completions = [[{"role": "assistant", "content": f" {r['ground_truth']}\n"}] for r in rows]
    completions[17] = [{"role": "assistant", "content": "36"}]  # 18 + 19 is 37
    got = exact(
        prompts=[r["messages"] for r in rows],
        completions=completions,
        completion_ids=[[0]] * len(rows),
        ground_truth=[r["ground_truth"] for r in rows],
        dataset=[r["dataset"] for r in rows],
    )
    assert got == [0.0 if i == 17 else 1.0 for i in range(len(rows))]
    with pytest.raises(Exception, match=r"needs the column 'answer' \(or 'ground_truth'"):
        exact(prompts=["p"], completions=["3"], completion_ids=[[0]], dataset=["test"])
