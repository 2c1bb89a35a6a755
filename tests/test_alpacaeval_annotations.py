"""AlpacaEval annotation files (`results/<model>/<annotator>/annotations.json` in
tatsu-lab/alpaca_eval) read with `--from alpacafarm`, as a user turns them into DPO / KTO data.

AlpacaEval's data is CC BY-NC, so the rows here are written for the test in its exact layout:
a pretty-printed JSON array of `instruction`, `output_1`, `generator_1`, `dataset`,
`output_2`, `generator_2`, `annotator`, `preference`, `price_per_example`,
`time_per_example` and, for the weighted annotators, `raw_completion` (the judge's reply
with its logprobs). Weighted annotators write `preference` as a float: 1 + the judge's
chance that output_2 is better. Before, every such row was refused ("not 1 or 2").
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from realdata.support import counts, original_render, rows_of, run

from trainers.data_table import to_training_table


def _raw(token: str) -> dict:
    top = [{"token": token, "bytes": [ord(token)], "logprob": -0.01}]
    return {
        "finish_reason": "length",
        "index": 0,
        "logprobs": {"content": [{"token": token, "bytes": [ord(token)], "logprob": -0.01,
                                  "top_logprobs": top}]},
        "text": token,
        "total_tokens": 512.0,
    }  # fmt: skip


def _row(instruction, out1, out2, preference, raw=None, annotator="weighted"):
    return {
        "instruction": instruction,
        "output_1": out1,
        "generator_1": "reference-model",
        "dataset": "helpful_base",
        "output_2": out2,
        "generator_2": "my-model",
        "annotator": annotator,
        "preference": preference,
        "price_per_example": 0.008 if raw else None,
        "time_per_example": 0.4 if raw else None,
        "raw_completion": raw,
    }


WEIGHTED = [
    _row("Name a prime number.", "7 is prime.", "Nine.", 1.0000001827, _raw("m")),
    _row("Spell 'cat' backwards.", "tac", "It is tca.", 1.4610167793, _raw("m")),
    _row("What is 2 + 2?", "5", "4", 1.9999944924, _raw("M")),
    _row("Say hi.", "Hi!", "Hi!", 1.5),  # identical outputs: AlpacaEval's tie, no judge call
    _row("Name a colour.", "Blue.", "A colour: green.", 1.5926666, _raw("M")),
    _row("Pick a fruit.", "Apple.", "Pear.", None, _raw("m")),  # the judge's reply unreadable
]


@pytest.fixture
def weighted(tmp_path):
    path = tmp_path / "annotations.json"
    # pandas' `to_json(orient="records", indent=2)`, as AlpacaEval writes it
    path.write_text(json.dumps(WEIGHTED, indent=2, separators=(",", ":")), encoding="utf-8")
    return path


def test_weighted_preferences_pick_the_output_the_judge_favours(weighted, tmp_path):
    out = tmp_path / "pairs.jsonl"
    res = run("convert", weighted, "--from", "alpacafarm", "--prompt-style", "plain",
              "-o", out, "--on-error", "skip")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (6, 2, 4, 4)
    got = [(r["prompt"], r["chosen"], r["rejected"]) for r in rows_of(out)]
    assert got == [
        ("Name a prime number.", "7 is prime.", "Nine."),
        ("Spell 'cat' backwards.", "tac", "It is tca."),  # 1.46: output_1, narrowly
        ("What is 2 + 2?", "4", "5"),
        ("Name a colour.", "A colour: green.", "Blue."),  # 1.59: output_2
    ]
    first = rows_of(out)[0]
    assert first["raw_completion"]["logprobs"]["content"][0]["token"] == "m"  # carried


def test_generators_follow_the_outputs_they_name(weighted, tmp_path):
    out = tmp_path / "pairs.jsonl"
    res = run("convert", weighted, "--from", "alpacafarm", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    rows = rows_of(out)
    assert [(r["chosen_generator"], r["rejected_generator"]) for r in rows] == [
        ("reference-model", "my-model"),
        ("reference-model", "my-model"),
        ("my-model", "reference-model"),
        ("my-model", "reference-model"),
    ]
    assert "generator_1" not in rows[0] and "generator_2" not in rows[0]


def test_alpacaeval_prompts_stay_plain_by_default_and_a_note_says_so(weighted, tmp_path):
    """AlpacaEval's instructions are plain user prompts (no `input` column), answered by chat
    models under their own templates: the default (`auto`) keeps them as they are, where it
    wrapped them in Stanford Alpaca's template before; detect and convert say how to wrap them,
    and AlpacaFarm's rows (with `input`, prompted with that template) still get it."""
    note = "the prompt is the instruction as it is (AlpacaEval's rows, no `input` column"
    out = tmp_path / "pairs.jsonl"
    res = run("convert", weighted, "--from", "alpacafarm", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert [r["prompt"] for r in rows_of(out)][:2] == [
        "Name a prime number.",
        "Spell 'cat' backwards.",
    ]
    said = " ".join(res.output.split())
    assert said.count(f"note: {note}") == 1 and "--prompt-style alpaca wraps it" in said
    det = " ".join(run("detect", weighted).output.split())
    assert f"note: {note}" in det and "--prompt-style alpaca wraps it" in det
    for style, starts in (("alpaca", "Below is an instruction that describes a task. Write"),
                          ("plain", "Name a prime number.")):  # fmt: skip
        res = run("convert", weighted, "--from", "alpacafarm", "--prompt-style", style, "-o", out,
                  "--on-error", "skip", "--overwrite")  # fmt: skip
        assert res.exit_code == 0 and note not in res.output, res.output
        assert rows_of(out)[0]["prompt"].startswith(starts)
    farm = tmp_path / "farm.json"
    row = {"instruction": "Translate.", "input": "Bonjour", "output_1": "Hello", "output_2": "Hi"}
    farm.write_text(json.dumps([row | {"preference": 1}]))
    res = run("convert", farm, "--from", "alpacafarm", "-o", out, "--overwrite")
    assert res.exit_code == 0 and note not in res.output, res.output
    assert rows_of(out)[0]["prompt"].endswith("### Input:\nBonjour\n\n### Response:")


def test_ties_and_missing_preferences_are_reported_with_their_lines(weighted, tmp_path):
    out = tmp_path / "pairs.jsonl"
    res = run("convert", weighted, "--from", "alpacafarm", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    rejects = rows_of(tmp_path / "pairs.rejects.jsonl")
    assert [(r["row"], r["reason"]) for r in rejects] == [
        (3, "preference is a tie (1.5, or 0 as older AlpacaEval files write it): no pair"),
        (5, "preference is null: no pair"),
    ]
    text = weighted.read_text(encoding="utf-8").splitlines()
    for r in rejects:  # the line named is where the row's object opens
        assert text[r["line"] - 1].strip() == "{"
        assert r["record"]["instruction"] in text[r["line"]]
    stopped = run("convert", weighted, "--from", "alpacafarm", "-o", tmp_path / "x.jsonl")
    assert stopped.exit_code == 1
    assert "preference is a tie" in stopped.output and "--on-error skip" in stopped.output


def test_older_zero_ties_and_out_of_range_values_give_no_pair(tmp_path):
    rows = [
        _row("Add 1 and 1.", "2", "2", 0, annotator="alpaca_eval_gpt4"),
        _row("Add 1 and 2.", "3", "4", 1, annotator="alpaca_eval_gpt4"),
        _row("Add 2 and 2.", "5", "4", 2, annotator="alpaca_eval_gpt4"),
        _row("Add 3 and 3.", "6", "7", 3, annotator="alpaca_eval_gpt4"),
    ]
    path = tmp_path / "gpt4.json"
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    out = tmp_path / "pairs.jsonl"
    res = run("convert", path, "--from", "alpacafarm", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (4, 2, 2, 2)
    assert [r["chosen"] for r in rows_of(out)] == ["3", "4"]
    assert [r["reason"] for r in rows_of(tmp_path / "pairs.rejects.jsonl")] == [
        "preference is a tie (1.5, or 0 as older AlpacaEval files write it): no pair",
        "preference is outside 1..2 (1: output_1 is better, 2: output_2): no pair",
    ]


def test_text_preferences_are_refused_naming_the_column(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([_row("Hi.", "a", "b", "1")]), encoding="utf-8")
    res = run("convert", path, "--from", "alpacafarm", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 1
    assert "preference" in res.output and "from 1 (output_1 is better)" in res.output


def test_detect_and_validate_read_the_weighted_file_as_convert_does(weighted):
    det = run("detect", weighted)
    assert det.exit_code == 0, det.output
    assert "preference (the alpacafarm layout" in det.output
    val = run("validate", weighted, "--from", "alpacafarm")
    assert val.exit_code == 1  # the null preference is not importable; the tie is no error
    assert "6 input rows -> 4 rows checked, 1 tie not paired, 1 not importable" in val.output
    assert "warning: import-not-paired: 1 row" in val.output


def test_kto_rows_label_the_judges_choice(weighted, tmp_path):
    out = tmp_path / "kto.jsonl"
    res = run("convert", weighted, "--from", "alpacafarm", "--to", "unpaired-preference",
              "--prompt-style", "plain", "-o", out, "--on-error", "skip")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (6, 2, 4, 8)
    got = [(r["prompt"], r["completion"], r["label"]) for r in rows_of(out)]
    assert got[4:6] == [("What is 2 + 2?", "4", True), ("What is 2 + 2?", "5", False)]


def test_train_reads_the_weighted_file_as_convert_writes_it():
    table, _src, route, templated, *_ = to_training_table(
        pa.Table.from_pylist(WEIGHTED[:3] + WEIGHTED[4:5]), ["preference"], None,
        layout="alpacafarm", algo="dpo",
    )  # fmt: skip
    assert route[0] == "alpacafarm layout" and route[-1] == "preference" and not templated
    assert table.column("chosen").to_pylist() == ["7 is prime.", "tac", "4", "A colour: green."]


@pytest.mark.parametrize("template", ["llama3_1", "qwen2_5"])
def test_conversational_pairs_render_as_the_original_template(weighted, tmp_path, template):
    from realdata.support import original_template_args

    template_args = original_template_args(template)
    out = tmp_path / "out.jsonl"
    res = run("convert", weighted, "--from", "alpacafarm", "--conversational", *template_args,
              "-o", out, "--num-proc", "1", "--on-error", "skip")  # fmt: skip
    assert res.exit_code == 0, res.output
    got = rows_of(out)[3]  # preference 1.59: output_2 chosen
    user = {"role": "user", "content": "Name a colour."}
    prompt = original_render(template, [user], add_generation_prompt=True)
    assert got["prompt"] == prompt
    for side, text in (("chosen", "A colour: green."), ("rejected", "Blue.")):
        whole = original_render(template, [user, {"role": "assistant", "content": text}])
        assert got["prompt"] + got[side] == whole


def test_margin_keeps_the_strength_of_each_preference(weighted, tmp_path):
    out = tmp_path / "pairs.jsonl"
    res = run("convert", weighted, "--from", "alpacafarm", "--margin", "-o", out,
              "--on-error", "skip")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (6, 2, 4, 4)  # the tie and the null still give no pair
    margins = [r["margin"] for r in rows_of(out)]
    # |2 x preference - 3|: the judge's chance for chosen less its chance for rejected
    assert margins == pytest.approx([0.9999996346, 0.0779664414, 0.9999889848, 0.1853332])
    assert "fractional preference" not in res.output


def test_without_margin_a_note_says_the_strength_is_left_out(weighted, tmp_path):
    out = tmp_path / "pairs.jsonl"
    res = run("convert", weighted, "--from", "alpacafarm", "-o", out, "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert "margin" not in rows_of(out)[0]
    assert "4 rows have a fractional preference" in res.output
    assert "--margin keeps it as column `margin`" in res.output


def test_integer_preferences_are_certain_and_need_no_note(tmp_path):
    rows = [
        _row("Add 1 and 2.", "3", "4", 1, annotator="alpaca_eval_gpt4"),
        _row("Add 2 and 2.", "5", "4", 2, annotator="alpaca_eval_gpt4"),
    ]
    path = tmp_path / "gpt4.json"
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    plain = run("convert", path, "--from", "alpacafarm", "-o", tmp_path / "a.jsonl")
    assert plain.exit_code == 0, plain.output
    assert "fractional preference" not in plain.output
    out = tmp_path / "b.jsonl"
    res = run("convert", path, "--from", "alpacafarm", "--margin", "-o", out)
    assert res.exit_code == 0, res.output
    assert [r["margin"] for r in rows_of(out)] == [1.0, 1.0]


def test_pandalm_margin_is_the_vote_difference_over_the_annotators():
    from trlprep.importers import ImportOptions
    from trlprep.importers.run import import_table

    votes = {"instruction": ["a", "b"], "response1": ["x", "y"], "response2": ["z", "w"],
             "annotator1": [1, 2], "annotator2": [1, 2], "annotator3": [0, 1]}  # fmt: skip
    r = import_table(pa.table(votes), "alpacafarm", ImportOptions.make(margin=True))
    assert r.table.column("margin").to_pylist() == pytest.approx([2 / 3, 1 / 3])
    assert r.table.column("chosen").to_pylist() == ["x", "w"]


def test_margin_on_another_layout_still_warns_that_nothing_reads_it(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps([{"instruction": "Hi.", "output": "Hello."}]), encoding="utf-8")
    res = run("convert", path, "--from", "alpaca", "--margin", "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 0, res.output
    assert "--margin is read by no step" in res.output and "alpacafarm" in res.output


def test_model_outputs_detect_as_the_alpaca_layout_keeping_the_generator(tmp_path):
    # `results/<model>/model_outputs.json`: the answers one model gave to the eval's prompts
    rows = [
        {"dataset": "helpful_base", "instruction": "Name a prime.", "output": "7.",
         "generator": "my-model"},
        {"dataset": "koala", "instruction": "Say hi.", "output": "Hi!", "generator": "my-model"},
    ]  # fmt: skip
    path = tmp_path / "model_outputs.json"
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    det = run("detect", path)
    assert det.exit_code == 0, det.output
    assert "prompt-completion (the alpaca layout" in det.output
    assert "--from alpaca" in det.output
    out = tmp_path / "sft.jsonl"
    res = run("convert", path, "--prompt-style", "plain", "-o", out)
    assert res.exit_code == 0, res.output
    assert rows_of(out)[1] == {"prompt": "Say hi.", "completion": "Hi!", "dataset": "koala",
                               "generator": "my-model"}  # fmt: skip
