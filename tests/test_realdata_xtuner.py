"""Real test data of InternLM/xtuner: GSM8K in verl's RL layout (`prompt` messages,
`reward_model`, `extra_info` {answer, ...}) and OpenAI-style messages written one bare JSON
array per line (no object, so no column name)."""

from __future__ import annotations

import json

import pytest
from realdata.support import counts, rows_of, run, sample

VERL = sample("xtuner_verl_gsm8k")
BARE = sample("xtuner_openai_sft")
MAP = "--map completion=extra_info.answer --conversational"


def _src(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_verl_rows_read_as_a_conversational_prompt_and_name_the_nested_answer(tmp_path):
    res = run("detect", VERL)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "prompt-only" in text and "conversational" in text
    assert "extra columns data_source, ability, reward_model, extra_info" in text
    assert (
        f"field 'answer' of column 'extra_info' may hold each prompt's answer: for "
        f"prompt-completion (SFT) pass `{MAP}`" in text
    )
    assert "ground_truth" not in text  # the reward's reference is never advised
    res = run("convert", VERL, "--to", "prompt-completion", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2, res.output
    assert f"`{MAP}`" in " ".join(res.output.split())


def test_verl_rows_as_prompt_completion(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", VERL, *MAP.split(), "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (50, 0, 50, 50)
    got, src = rows_of(out), _src(VERL)
    assert got[0]["prompt"] == src[0]["prompt"]
    assert got[0]["completion"] == [
        {
            "role": "assistant",
            "content": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = "
            "<<48+24=72>>72 clips altogether in April and May.\n#### 72",
        }
    ]
    # the object keeps its other fields; the reward's reference is carried as it was
    assert got[0]["extra_info"] == {k: v for k, v in src[0]["extra_info"].items() if k != "answer"}
    assert [r["reward_model"] for r in got] == [s["reward_model"] for s in src]
    assert [r["completion"][0]["content"] for r in got] == [s["extra_info"]["answer"] for s in src]


@pytest.mark.parametrize("command", ["detect", "validate", "convert"])
def test_bare_message_arrays_stop_at_line_1_with_the_fix(tmp_path, command):
    args = ["-o", tmp_path / "x.jsonl"] if command == "convert" else []
    res = run(command, BARE, *args)
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    reason = (
        "expected a JSON object, got an array of 2 messages (one conversation with no column name)"
    )
    # validate lists it as an `invalid-line` error of line 1, the others stop there
    where = "invalid-line: 1 line, line 1 " if command == "validate" else f"{BARE}:1: "
    assert where + reason in text
    out = BARE.with_name("openai_sft.first30.messages.jsonl")  # the file named, as given
    assert f"""{{"messages": [...]}} (e.g. jq -c '{{messages: .}}' {BARE} > {out})""" in text


def test_bare_message_arrays_skipped_say_why_nothing_is_left(tmp_path):
    res = run("convert", BARE, "--on-bad-lines", "skip", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    assert (
        "the dataset has no rows: all 30 lines were skipped as bad (expected a JSON object, "
        "got an array of 2 messages (one conversation with no column name): line 1, line 2, "
        "line 3 ...)" in text
    )
    assert "rerun without --on-bad-lines skip" in text


def test_the_advised_wrapping_reads_as_messages(tmp_path):
    # what `jq -c '{messages: .}' FILE` writes, done here in Python
    wrapped = tmp_path / "messages.jsonl"
    wrapped.write_text(
        "".join(json.dumps({"messages": r}) + "\n" for r in _src(BARE)), encoding="utf-8"
    )
    out = tmp_path / "pc.jsonl"
    res = run("convert", wrapped, "--to", "prompt-completion", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (30, 0, 30, 30)
    assert rows_of(out)[0] == {
        "prompt": [{"role": "user", "content": "Give three tips for staying healthy.\n"}],
        "completion": [
            {
                "role": "assistant",
                "content": "1.Eat a balanced diet and make sure to include plenty of fruits and "
                "vegetables. \n2. Exercise regularly to keep your body active and strong. \n3. "
                "Get enough sleep and maintain a consistent sleep schedule.",
            }
        ],
    }


def test_a_json_array_of_bare_conversations_names_them(tmp_path):
    data = tmp_path / "convs.json"
    data.write_text(json.dumps(_src(BARE)[:3]), encoding="utf-8")
    res = run("detect", data)
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "found an array whose item 0 is an array of objects (a conversation" in text
    assert f"jq -c '.[] | {{messages: .}}' {data} > {tmp_path / 'convs.messages.jsonl'}" in text
