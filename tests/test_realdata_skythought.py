"""Real evaluation outputs of a reasoning model (NovaSky-AI SkyThought, a Sky-T1 14B model on
AMC 2023 by Qwen2.5-Math's evaluation script): `question`, the reference `answer` as a number
(`gt` as text), and per sample the lists `code` (the whole `<|begin_of_thought|>` ...
`<|end_of_solution|>` generation), `pred` and a boolean `score`.

Before, every command advised `--map prompt=question,completion=answer`, the reference
number, which convert then refused ("holds double"): the traces were never named, and the
ranked import refused the boolean verdicts. Now the generations are advised for SFT and the
verdicts for KTO, both read as advised, and the traces come out whole, byte for byte.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from realdata.support import (
    TINY_MODEL,
    counts,
    original_render,
    original_template_args,
    rows_of,
    run,
    sample,
)

DATA = sample("skythought_amc23")
SFT = "--from generations --map prompt=question,completions=code"
KTO = "--from ranked --map prompt=question,completions=code,scores=score --threshold 1"
CUT = 4  # record 5: a trace the length limit cut, judged wrong


def _src() -> list[dict]:
    return rows_of(DATA)


def _said(output: str) -> str:
    return " ".join(output.split())


def test_detect_and_validate_advise_the_generations_not_the_reference_number():
    for command in ("detect", "validate"):
        res = run(command, DATA)
        assert res.exit_code == 1, res.output  # no type as it is
        said = _said(res.output)
        assert "column 'code' holds generated answers, a list of texts per row" in said
        assert f"pass `{SFT}`" in said, res.output
        assert "'score' holds a verdict per answer" in said and f"`{KTO}`" in said
        assert "completion=answer" not in said


def test_convert_train_and_check_template_give_the_same_advice(tmp_path):
    res = run("convert", DATA, "-o", tmp_path / "x.jsonl")
    assert res.exit_code == 1
    assert f"pass `{SFT}`" in _said(res.output)
    res = run(
        "train", "--algo", "sft", "--model", TINY_MODEL, "--data", DATA,
        "--output-dir", tmp_path / "t",
    )  # fmt: skip
    assert res.exit_code != 0
    said = _said(res.output)
    assert "pass `--data-from generations --data-map prompt=question,completions=code`" in said
    res = run("check-template", DATA, *original_template_args("qwen3")[:2])
    assert f"trlprep convert DATA {SFT} --conversational -o OUT" in _said(res.output)


def test_the_python_api_says_it_in_keyword_arguments():
    import trlprep

    with pytest.raises(trlprep.DataError) as e:
        trlprep.convert(str(DATA))
    assert "from_='generations', map={'prompt': 'question', 'completions': 'code'}" in e.value.hint


def test_a_text_answer_beside_is_named_and_a_number_never_is():
    from trlprep.detection.answerlists import answer_list_advice
    from trlprep.detection.mapnames import map_suggestion

    table = pa.Table.from_pylist(_src())
    assert map_suggestion(table.column_names) == "prompt=question,completion=answer"
    assert map_suggestion(table.column_names, table.schema) is None  # `answer` is a number
    texts = table.set_column(table.column_names.index("answer"), "answer", table["gt"])
    other = map_suggestion(texts.column_names, texts.schema)
    assert other == "prompt=question,completion=answer"
    assert "`--map prompt=question,completion=answer` would train on" in answer_list_advice(
        texts, other
    )


def test_the_advised_sft_reading_keeps_each_trace_whole(tmp_path):
    out = tmp_path / "sft.jsonl"
    res = run("convert", DATA, *SFT.split(), "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (6, 0, 6, 6)
    rows, src = rows_of(out), _src()
    assert [r["prompt"] for r in rows] == [s["question"] for s in src]
    assert [r["completion"] for r in rows] == [s["code"][0] for s in src]
    assert rows[0]["completion"].startswith("<|begin_of_thought|>\n\nSo I've got this problem")
    assert rows[0]["completion"].endswith("\\(\\boxed{27}\\).<|end_of_solution|>")
    assert len(rows[CUT]["completion"]) == 76192
    assert "<|end_of_thought|>" not in rows[CUT]["completion"]
    assert rows[0]["gt"] == "27" and rows[0]["score"] == [True]


def test_the_boolean_verdicts_make_kto_rows(tmp_path):
    out = tmp_path / "kto.jsonl"
    res = run("convert", DATA, *KTO.split(), "-o", out)
    assert res.exit_code == 0, res.output
    assert "ranked -> unpaired-preference (standard)" in res.output
    assert counts(res.output) == (6, 0, 6, 6)
    rows = rows_of(out)
    assert [r["label"] for r in rows] == [s["score"][0] for s in _src()]
    assert [r["label"] for r in rows] == [True, True, True, True, False, False]
    assert rows[CUT]["completion"] == _src()[CUT]["code"][0]


def test_conversational_renders_equal_the_originals(tmp_path):
    out = tmp_path / "chat.jsonl"
    args = [*SFT.split(), "--conversational", *original_template_args("qwen3")]
    res = run("convert", DATA, *args, "-o", out)
    assert res.exit_code == 0, res.output
    assert "reasoning" not in res.output  # Sky-T1's markers are text to the template
    for got, src in zip(rows_of(out), _src(), strict=True):
        prompt = [{"role": "user", "content": src["question"]}]
        want = original_render("qwen3", prompt, add_generation_prompt=True)
        full = original_render("qwen3", [*prompt, {"role": "assistant", "content": src["code"][0]}])
        assert (got["prompt"], got["completion"]) == (want, full[len(want) :])


def test_sft_trains_one_step_on_the_advised_reading(tmp_path):
    pytest.importorskip("torch")
    two = tmp_path / "two.jsonl"
    two.write_text("".join(DATA.read_text(encoding="utf-8").splitlines(True)[:2]))
    res = run(
        "train", "--algo", "sft", "--model", TINY_MODEL, "--data", two,
        "--data-from", "generations", "--data-map", "prompt=question,completions=code",
        "--output-dir", tmp_path / "sft", "--max-steps", 1, "--batch-size", 2,
        "--max-length", 512,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "generations layout -> prompt-completion" in res.output, res.output
    said = _said(res.output)  # both traces close their thought past 512 tokens
    assert "warning: 2 rows cut to max_length=512 before the end of their reasoning" in said
    first = json.loads((tmp_path / "sft" / "metrics.jsonl").read_text().splitlines()[0])
    assert first["loss"] > 0


def _sampled(tmp_path) -> tuple[object, list[dict]]:
    """The records regrouped as a sampling run of two per prompt writes them: record i's
    question with the traces, predictions and verdicts of records i and i + 3 (each list
    one entry per sample, as the evaluation script writes them for n > 1)."""
    src, rows = _src(), []
    for a, b in zip(src[:3], src[3:], strict=True):
        rows.append({**a, **{k: a[k] + b[k] for k in ("code", "pred", "report", "score")}})
    path = tmp_path / "two_samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path, rows


def test_one_sample_per_prompt_keeps_its_lists_of_one_and_says_so(tmp_path):
    res = run("convert", DATA, *SFT.split(), "-o", tmp_path / "sft.jsonl")
    assert res.exit_code == 0, res.output
    said = _said(res.output)
    assert "copied whole, one entry beside one answer of `code`" in said
    assert "(nothing says it is per answer): pred, report, score" in said


def test_each_sampled_trace_gets_its_own_prediction_and_verdict(tmp_path):
    data, src = _sampled(tmp_path)
    out = tmp_path / "sft.jsonl"
    res = run("convert", data, *SFT.split(), "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 6)
    said = _said(res.output)
    assert "split with the answers of `code`, each row given its own answer's entry: " in said
    rows = rows_of(out)
    want = [(s["code"][k], s["pred"][k], s["score"][k]) for s in src for k in range(2)]
    assert [(r["completion"], r["pred"], r["score"]) for r in rows] == want
    assert [r["score"] for r in rows] == [True, True, True, False, True, False]
    # the cut trace (record 5) keeps its own wrong verdict, not its prompt's other sample's
    assert rows[3]["completion"] == _src()[CUT]["code"][0] and rows[3]["pred"] == "27.5"


def test_kto_rows_of_sampled_traces_keep_their_own_predictions(tmp_path):
    data, src = _sampled(tmp_path)
    out = tmp_path / "kto.jsonl"
    res = run("convert", data, *KTO.split(), "-o", out)
    assert res.exit_code == 0, res.output
    rows = rows_of(out)
    assert [(r["completion"], r["label"], r["pred"]) for r in rows] == [
        (s["code"][k], s["score"][k], s["pred"][k]) for s in src for k in range(2)
    ]


def test_a_cut_before_the_end_of_thought_is_warned_and_the_answer_is_gone(tmp_path):
    from transformers import AutoTokenizer

    out = tmp_path / "ids.jsonl"
    args = ["--tokenize", "--tokenizer", TINY_MODEL, "--max-length", 3000]
    res = run("convert", DATA, *SFT.split(), *args, "-o", out)
    assert res.exit_code == 0, res.output
    said = _said(res.output)
    warned = (
        "warning: 2 rows cut to --max-length 3000 before the end of their reasoning "
        "(`<|end_of_thought|>`): the answer after it is cut away, so the model trains on "
        "reasoning with no answer; --max-length 5286 keeps these answers"
    )
    assert warned in said
    assert "4 rows truncated to --max-length 3000" in said  # record 4 (3360 tokens) keeps its end
    tok = AutoTokenizer.from_pretrained(TINY_MODEL)
    kept = [tok.decode(r["input_ids"]) for r in rows_of(out)]
    ends = ["<|end_of_thought|>" in k for k in kept]
    assert ends == [True, False, True, True, False, False]  # record 5 never closed its thought
    assert all("<|end_of_thought|>" in s["code"][0] for i, s in enumerate(_src()) if i != CUT)
    res = run(
        "report", DATA, *SFT.split(), "--tokenizer", TINY_MODEL, "--max-length", 3000
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert warned in _said(res.output)
    assert "reasoning end cut 2) <- --max-length" in res.output
    res = run("convert", DATA, *SFT.split(), *args[:-1], 5286, "-o", tmp_path / "b.jsonl")
    assert res.exit_code == 0 and "before the end of" not in res.output
