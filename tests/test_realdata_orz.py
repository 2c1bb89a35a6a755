"""Real Open-Reasoner-Zero RL prompts (Open-Reasoner-Zero `data/eval_data/aime2024.json`):
ShareGPT `{from, value}` turns under `prompt` (not `conversations`) beside `final_answer`.

Before, every command stopped on "column 'prompt': 30 rows hold other" (`mixed-format`, "the
data is not uniform") and `--from sharegpt` wanted a `conversations` column; now the sharegpt
layout reads the turns where they are: conversational prompt-only for GRPO, whose built-in
`exact` reward checks `final_answer`, or prompt-completion with `--map completion=final_answer`.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import TINY_MODEL, counts, original_render, rows_of, run, sample

DATA = sample("orz_aime_prompts")


def _src() -> list[dict]:
    return json.loads(DATA.read_text(encoding="utf-8"))


def _user(record: dict) -> list[dict]:
    return [{"role": "user", "content": t["value"]} for t in record["prompt"]]


def test_detect_reads_the_prompt_turns_as_the_sharegpt_layout():
    res = run("detect", DATA)
    assert res.exit_code == 0, res.output
    assert "prompt-only (the sharegpt layout, imported as convert does)" in res.output
    assert "conversational" in res.output and "final_answer" in res.output
    assert "problem [mixed-format]" not in res.output


def test_convert_makes_conversational_prompts_keeping_the_answer(tmp_path):
    out = tmp_path / "prompts.jsonl"
    res = run("convert", DATA, "-o", out)
    assert res.exit_code == 0, res.output
    assert "sharegpt -> prompt-only (conversational)" in res.output
    assert counts(res.output) == (30, 0, 30, 30)
    rows, src = rows_of(out), _src()
    assert rows[0]["final_answer"] == "73"
    assert rows[0]["prompt"][0]["content"].startswith("Among the $900$ residents of Aimeville")
    assert [r["prompt"] for r in rows] == [_user(s) for s in src]
    assert "\u2019" in rows[17]["prompt"][0]["content"]  # kept as written
    assert set(rows[0]) == {"prompt", "final_answer"}  # `prompt`'s turns consumed


def test_validate_and_report_read_it_as_imported():
    plain = run("validate", DATA)  # the columns as they are: refused, the layout named
    assert plain.exit_code == 1, plain.output
    assert "reads this as the sharegpt layout (prompt-only, conversational)" in plain.output
    assert "--from sharegpt" in plain.output
    val = run("validate", DATA, "--from", "sharegpt")
    assert val.exit_code == 0, val.output
    assert "valid: 30 rows of prompt-only (conversational)" in val.output
    rep = run("report", DATA)
    assert rep.exit_code == 0, rep.output
    assert "prompt-only (conversational), 30 rows" in rep.output
    assert "read as the sharegpt layout" in rep.output


def test_a_refused_sft_conversion_names_the_layout_with_the_map(tmp_path):
    res = run("convert", DATA, "--to", "prompt-completion", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2
    # `--map` alone would read the columns as they are (the turns unread): the layout is named
    assert "`--from sharegpt --map completion=final_answer" in res.output, res.output
    assert "prompt=messages" not in res.output


def test_the_python_api_names_the_layout_in_its_words():
    import trlprep

    with pytest.raises(trlprep.UsageError) as e:
        trlprep.convert(str(DATA), to="prompt-completion")
    advised = "from_='sharegpt', map={'completion': 'final_answer'}, conversational=True"
    assert advised in e.value.hint, e.value.hint
    out = trlprep.convert(
        str(DATA), from_="sharegpt", map={"completion": "final_answer"}, conversational=True
    )
    assert out.column("completion")[0].as_py() == [{"role": "assistant", "content": "73"}]


def test_the_advised_map_makes_the_answer_an_assistant_message(tmp_path):
    out = tmp_path / "sft.jsonl"
    res = run("convert", DATA, "--from", "sharegpt", "--map", "completion=final_answer", "-o", out)
    assert res.exit_code == 0, res.output
    assert "sharegpt -> prompt-completion (conversational)" in res.output
    assert counts(res.output) == (30, 0, 30, 30)
    rows = rows_of(out)
    assert rows[29]["completion"] == [{"role": "assistant", "content": "721"}]
    assert rows[29]["prompt"] == _user(_src()[29])


@pytest.mark.parametrize("template", ["qwen2_5", "llama3_1", "deepseekv3"])
def test_prompts_render_as_the_original_template(tmp_path, template):
    from realdata.support import original_template_args

    args = original_template_args(template)
    out = tmp_path / "out.jsonl"
    res = run("convert", DATA, *args, "-o", out, "--num-proc", "1")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (30, 0, 30, 30)
    got = rows_of(out)
    for i, record in enumerate(_src()):  # LaTeX, `\[`, a typographic apostrophe (17)
        want = original_render(template, _user(record), add_generation_prompt=True)
        assert got[i]["prompt"] == want, i


def test_train_sft_names_the_layout_and_map_in_train_s_words():
    from transformers import AutoTokenizer

    from trainers.data_table import to_training_table
    from trlprep.errors import UsageError

    tok = AutoTokenizer.from_pretrained(TINY_MODEL)
    kinds = ["language-modeling", "prompt-completion"]
    with pytest.raises(UsageError) as e:  # was: "prompt-only converts to nothing" alone
        to_training_table(str(DATA), kinds, tok, algo="sft")
    assert "`--data-from sharegpt --data-map completion=final_answer" in e.value.hint
    table = to_training_table(
        str(DATA), kinds, tok, algo="sft", layout="sharegpt", column_map="completion=final_answer"
    ).table
    assert table.num_rows == 30 and table.column("completion")[0].as_py().startswith("73")


def test_exact_reward_checks_final_answer():
    from trainers.online.rewards import exact_reward

    scores = exact_reward()(
        prompts=["p", "p"], completions=["73", " 72 "], completion_ids=[[], []],
        final_answer=["73", "73"],
    )  # fmt: skip
    assert scores == [1.0, 0.0]


def test_grpo_trains_a_step_on_the_prompts(tmp_path):
    pytest.importorskip("torch")
    res = run(
        "train", "--algo", "grpo", "--model", TINY_MODEL, "--data", DATA, "--reward-fn", "exact",
        "--output-dir", tmp_path / "grpo", "--max-steps", 1, "--batch-size", 4,
        "--num-generations", 4, "--max-new-tokens", 4,
    )  # fmt: skip
    # before: "the exact-match reward needs the column 'answer' ...", after the model loaded
    assert res.exit_code == 0, res.output
    assert "sharegpt layout -> prompt-only" in res.output and "30 rows in" in res.output
    assert "trained 1 step" in res.output and "rewards/exact/mean" in res.output


def test_sharegpt_turns_under_messages_read_as_the_layout(tmp_path):
    """Rows written for the test: `messages` of `{from, value}` turns (was `mixed-format`)."""
    path = tmp_path / "chat.jsonl"
    turns = [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]
    path.write_text(json.dumps({"messages": turns}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    res = run("convert", path, "-o", out)
    assert res.exit_code == 0, res.output
    assert "sharegpt -> language-modeling (conversational)" in res.output
    assert rows_of(out) == [
        {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}
    ]
