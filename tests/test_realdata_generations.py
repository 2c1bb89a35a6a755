"""Real unscored answers of several models per prompt (allenai/open-instruct's Tulu 1
human-evaluation instances: `id`, `prompt`, `completions` [{model, completion}]).

As they are the rows are prompt-only with the answers in an extra column; `--from ranked`
refuses them (no score). `--from generations` makes one prompt-completion row per answer,
the answer's `model` kept as a column; detect and a refused `convert --to` name it.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import counts, original_render, rows_of, run, sample

DATA = sample("open_instruct_human_eval")


def _src() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]


def test_detect_names_the_generations_layout():
    res = run("detect", DATA)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "prompt-only" in text and "extra columns id, completions" in text
    assert (
        "column 'completions' holds several answers per prompt (objects with the text in "
        "'completion'), none scored" in text
    )
    assert "`--from generations`" in text


def test_convert_to_prompt_completion_as_is_is_refused_with_the_layout(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", DATA, "--to", "prompt-completion", "-o", out)
    assert res.exit_code == 2, res.output
    assert "`--from generations`" in " ".join(res.output.split())
    assert not out.exists()


def test_ranked_refuses_unscored_answers_naming_their_fields(tmp_path):
    res = run("import", DATA, "--from", "ranked", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 1, res.output
    assert "its completion objects hold only model, completion" in res.output


def test_import_one_row_per_answer(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("import", DATA, "--from", "generations", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (60, 0, 60, 120)
    assert "one row per answer" in res.output
    rows = rows_of(out)
    assert rows[1] == {
        "prompt": "Rewrite the given text and correct grammar, spelling, and punctuation "
        "errors.\n\nIf you'd told me year ago that today I would finish a marathon, I would of "
        "laughed. Your support had a huge affect on me!\n",
        "completion": "If you had told me a year ago that today I would finish a marathon, I "
        "would have laughed. Your support had a huge effect on me!",
        "model": "chatgpt",
        "id": "user_oriented_task_2",
    }
    # line 11: tulu_7B's answer is a lone zero-width space, kept as the text it is
    assert rows[20]["completion"] == "\u200b" and rows[20]["model"] == "tulu_7B"
    src = _src()
    want = [(s["id"], c["model"], c["completion"]) for s in src for c in s["completions"]]
    assert [(r["id"], r["model"], r["completion"]) for r in rows] == want
    assert [r["prompt"] for r in rows] == [s["prompt"] for s in src for _ in s["completions"]]


def test_report_counts_the_repeated_answers(tmp_path):
    res = run("report", DATA, "--from", "generations")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "prompt-completion (standard), 120 rows" in text
    # the same tulu_65B answer compared with two other models' answers
    assert "line 35 repeats line 12, line 54 repeats line 4, line 56 repeats line 15" in text


def test_validate_warns_of_the_zero_width_space_answer_as_report_counts_it():
    # line 11's answer is a lone U+200B: report counted it as an empty answer, validate said
    # nothing (`utf8_is_space` reads no zero-width character as whitespace)
    res = run("validate", DATA, "--from", "generations")
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "warning: whitespace-only (completion): 1 row, line 11" in said
    res = run("report", DATA, "--from", "generations")
    assert "completion text: 1 row empty/whitespace" in " ".join(res.output.split())


@pytest.mark.parametrize("template", ["qwen2_5", "llama3_1"])
def test_conversational_renders_equal_the_original_templates(tmp_path, template):
    from realdata.support import original_template_args

    template_args = original_template_args(template)
    out = tmp_path / "out.jsonl"
    res = run("convert", DATA, "--from", "generations", "--conversational", *template_args,
              "-o", out, "--num-proc", "1")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (60, 0, 60, 120)
    got = rows_of(out)
    src = _src()
    for i in (0, 3, 119):
        s = src[i // 2]
        msgs = [
            {"role": "user", "content": s["prompt"]},
            {"role": "assistant", "content": s["completions"][i % 2]["completion"]},
        ]
        prompt = original_render(template, msgs[:1], add_generation_prompt=True)
        assert got[i]["prompt"] == prompt
        assert got[i]["prompt"] + got[i]["completion"] == original_render(template, msgs)
        assert got[i]["model"] == s["completions"][i % 2]["model"]


def test_rows_without_answers_are_reported_with_their_lines(tmp_path):
    src = _src()[:4]
    src[0]["completions"] = []
    src[1]["completions"][0]["completion"] = ""  # one empty answer: the other is kept
    src[2]["prompt"] = None
    src[3]["completions"] = [{"model": "m", "completion": ""}]
    data = tmp_path / "broken.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in src), encoding="utf-8")
    out = tmp_path / "pc.jsonl"
    res = run("import", data, "--from", "generations", "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (4, 3, 1, 1)
    assert "1 answer null or empty left out" in res.output
    assert [r["model"] for r in rows_of(out)] == ["chatgpt"]
    rejects = rows_of(tmp_path / "pc.rejects.jsonl")
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (1, "completions is null or empty: no answer"),
        (3, "prompt is null"),
        (4, "no answer of `completions` holds text"),
    ]


def test_vllm_outputs_keep_plain_fields_and_name_the_others(tmp_path):
    # RequestOutput as vLLM's objects hold it, the prompts and answers taken from the sample
    src = _src()[:2]
    rows = [
        {
            "request_id": str(i),
            "prompt": s["prompt"],
            "outputs": [
                {"index": j, "text": c["completion"], "token_ids": [1, 2], "logprobs": None,
                 "finish_reason": "stop"}
                for j, c in enumerate(s["completions"])
            ],
            "finished": True,
        }
        for i, s in enumerate(src)
    ]  # fmt: skip
    data = tmp_path / "vllm.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = run("detect", data)
    assert "column 'outputs' holds several answers per prompt" in " ".join(res.output.split())
    out = tmp_path / "pc.jsonl"
    res = run("convert", data, "--from", "vllm", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 0, 2, 4)
    assert "null in every row, or named prompt/completion): token_ids, logprobs" in (
        " ".join(res.output.split())
    )
    got = rows_of(out)
    assert got[3] == {
        "prompt": src[1]["prompt"],
        "completion": src[1]["completions"][1]["completion"],
        "index": 1,
        "finish_reason": "stop",
        "request_id": "1",
        "finished": True,
    }


def test_prompt_beside_text_is_advised_as_prompt_completion(tmp_path):
    # a generation run saved as `prompt` + `text` (vLLM's outputs, one answer per prompt),
    # made of the sample's prompts and first answers: language modeling on `text` as it is
    src = _src()[:5]
    data = tmp_path / "gen.jsonl"
    rows = [{"prompt": s["prompt"], "text": s["completions"][0]["completion"]} for s in src]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    advice = "`--map completion=text`"
    res = run("detect", data)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "language-modeling" in text and "extra columns prompt" in text
    assert "column 'prompt' may hold the prompt that 'text' answers" in text and advice in text
    res = run("convert", data, "--to", "prompt-completion", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 2, res.output
    assert advice in " ".join(res.output.split())
    out = tmp_path / "pc.jsonl"
    res = run("convert", data, "--map", "completion=text", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (5, 0, 5, 5)
    assert rows_of(out) == [{"prompt": r["prompt"], "completion": r["text"]} for r in rows]


def test_text_alone_or_beside_a_non_text_column_gets_no_prompt_advice(tmp_path):
    data = tmp_path / "lm.jsonl"
    data.write_text('{"text": "a", "prompt": 3}\n{"text": "b", "prompt": 4}\n', encoding="utf-8")
    res = run("detect", data)
    assert res.exit_code == 0, res.output
    assert "may hold the prompt" not in res.output
    res = run("detect", sample("wiki_text"))
    assert "may hold the prompt" not in res.output


# ---------------------------------------------------------------- vLLM outputs, prompt in `text`

VLLM = sample("open_instruct_synth_pref")


def test_vllm_outputs_with_the_prompt_in_text_read_as_generations_not_lm():
    res = run("detect", VLLM)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "type prompt-completion (the generations layout, imported as convert does)" in text
    assert "its columns alone would read as language-modeling (standard)" in text
    assert "extra columns index, finish_reason, prompt_hash" in text
    res = run("validate", VLLM)
    assert res.exit_code == 0, res.output
    assert "`trlprep convert` reads this as the generations layout" in res.output


def test_vllm_outputs_convert_to_prompt_completion(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", VLLM, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 0, 2, 2)
    text = " ".join(res.output.split())
    assert "token_ids, stop_reason" in text
    src = [json.loads(line) for line in VLLM.read_text(encoding="utf-8").splitlines()]
    got = rows_of(out)
    assert [sorted(r) for r in got] == [["completion", "finish_reason", "index", "prompt",
                                        "prompt_hash"]] * 2  # fmt: skip
    assert got[1]["prompt"] == "ELI5 backpropagation please"
    assert got[1]["completion"].startswith(
        "Backpropagation is a way for computers to learn from their mistakes."
    )
    assert [(r["prompt"], r["completion"], r["finish_reason"], r["prompt_hash"]) for r in got] == [
        (s["text"], s["outputs"][0]["text"], "stop", s["prompt_hash"]) for s in src
    ]
    # as they are, on purpose: language modeling on the prompts, the answers carried
    res = run("convert", VLLM, "--from", "language-modeling", "-o", tmp_path / "lm.jsonl")
    assert res.exit_code == 0, res.output
    assert rows_of(tmp_path / "lm.jsonl")[0]["text"] == "Give 5 restaurants in Seattle for dinner"


def test_vllm_outputs_render_equal_the_original_template(tmp_path):
    from realdata.support import TEMPLATES
    from templates_support import tokens_for

    path = TEMPLATES / "llama3_1.jinja"
    if not path.exists():
        pytest.skip("../shared (original chat templates) is absent")
    bos, eos = tokens_for("llama3_1")
    out = tmp_path / "out.jsonl"
    res = run(
        "convert", VLLM, "--conversational", "--chat-template", path, "--template-kwarg",
        f"bos_token={bos}", "--template-kwarg", f"eos_token={eos}", "-o", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    src = [json.loads(line) for line in VLLM.read_text(encoding="utf-8").splitlines()]
    for got, s in zip(rows_of(out), src, strict=True):
        msgs = [
            {"role": "user", "content": s["text"]},
            {"role": "assistant", "content": s["outputs"][0]["text"]},
        ]
        assert got["prompt"] == original_render("llama3_1", msgs[:1], add_generation_prompt=True)
        assert got["prompt"] + got["completion"] == original_render("llama3_1", msgs)


def test_text_beside_a_list_of_texts_is_not_taken_for_a_prompt(tmp_path):
    # open-instruct's annotation mix holds a judge's prompt in `text` beside the answers as
    # plain texts: that `text` is no prompt of theirs, so no layout is offered
    src = [json.loads(line) for line in VLLM.read_text(encoding="utf-8").splitlines()]
    rows = [{"text": "Rate: " + s["text"], "completions": [s["outputs"][0]["text"]]} for s in src]
    data = tmp_path / "judge.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = run("detect", data)
    assert res.exit_code == 0, res.output
    assert "language-modeling" in res.output
    assert "generations" not in res.output


def test_an_answer_field_named_prompt_never_replaces_the_prompt(tmp_path):
    src = [json.loads(line) for line in VLLM.read_text(encoding="utf-8").splitlines()]
    rows = [
        {"prompt": s["text"], "outputs": [{"text": s["outputs"][0]["text"], "prompt": "x"}]}
        for s in src
    ]
    data = tmp_path / "gen.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "pc.jsonl"
    res = run("convert", data, "--from", "generations", "-o", out)
    assert res.exit_code == 0, res.output
    assert [r["prompt"] for r in rows_of(out)] == [s["text"] for s in src]
    assert "named prompt/completion): prompt" in " ".join(res.output.split())


@pytest.mark.parametrize(
    "answers",
    [[{"text": None, "index": 0}], [None, None]],
    ids=["objects", "texts"],
)
def test_a_batch_whose_answers_are_all_null_refuses_rows_not_the_run(tmp_path, answers):
    """Answers that are all null (Arrow: a list of nulls) are rows without an answer,
    refused one by one beside rows that have one, as in any other batch."""
    src = tmp_path / "gen.jsonl"
    src.write_text(json.dumps({"prompt": "a", "outputs": answers}) + "\n")
    out = tmp_path / "out.jsonl"
    r = run("convert", src, "--from", "generations", "-o", out, "--on-error", "skip")
    assert r.exit_code == 1, r.output  # every row refused: nothing to write
    assert "import: no answer of `outputs` holds text" in r.output
    rejects = rows_of(tmp_path / "out.rejects.jsonl")
    assert [(x["line"], x["stage"]) for x in rejects] == [(1, "import")]
