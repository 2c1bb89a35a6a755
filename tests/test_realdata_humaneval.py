"""Real code-generation data: OpenAI HumanEval (`prompt` + `canonical_solution`).

The `prompt` column reads as prompt-only; the answer sits in an extra column that every
command can take with `--map completion=canonical_solution` (report and validate too, as
convert does), and the advice names it where a user would look.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import counts, original_render, rows_of, run, sample

HUMANEVAL = sample("humaneval")
MAP = "completion=canonical_solution"
P2 = (
    '\n\ndef truncate_number(number: float) -> float:\n    """ Given a positive floating point '
    "number, it can be decomposed into\n    and integer part (largest integer smaller than given "
    "number) and decimals\n    (leftover part always smaller than 1).\n\n    Return the decimal "
    'part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    """\n'
)
C2 = "    return number % 1.0\n"


def _rows():
    return [json.loads(line) for line in HUMANEVAL.read_text(encoding="utf-8").splitlines()]


def test_detect_reads_prompt_only_and_names_the_answer_column():
    res = run("detect", HUMANEVAL)
    assert res.exit_code == 0, res.output
    assert "prompt-only" in res.output
    assert "`--map completion=canonical_solution`" in res.output.replace("\n", " ")


def test_convert_to_a_type_with_answers_names_the_map():
    for to in ("prompt-completion", "language-modeling"):
        res = run("convert", HUMANEVAL, "--to", to, "--explain")
        assert res.exit_code == 2, res.output
        assert f"cannot convert prompt-only to {to}" in res.output
        assert "--map completion=canonical_solution" in " ".join(res.output.split())


def test_map_to_prompt_completion_and_lm(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", HUMANEVAL, "--map", MAP, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (100, 0, 100, 100)
    row = rows_of(out)[2]
    assert row == {
        "task_id": "HumanEval/2",
        "prompt": P2,
        "entry_point": "truncate_number",
        "completion": C2,
        "test": _rows()[2]["test"],
    }
    lm = tmp_path / "lm.jsonl"
    res = run("convert", HUMANEVAL, "--map", MAP, "--to", "lm", "-o", lm)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (100, 0, 100, 100)
    assert rows_of(lm)[2]["text"] == P2 + C2  # code joins with nothing between


def test_validate_takes_map_alone_as_convert_does():
    res = run("validate", HUMANEVAL, "--map", MAP)
    assert res.exit_code == 0, res.output
    assert "valid: 100 rows of prompt-completion (standard)" in res.output
    import trlprep

    assert trlprep.validate(str(HUMANEVAL), map=MAP).type == "prompt-completion"


def test_report_takes_the_importer_options(tmp_path):
    out = tmp_path / "rep.json"
    res = run("report", HUMANEVAL, "--map", MAP, "--examples", "0", "-o", out)
    assert res.exit_code == 0, res.output
    rep = json.loads(out.read_text())
    assert rep["report"]["type"] == "prompt-completion"
    assert rep["report"]["layout"] == "map"
    assert rep["report"]["extra_columns"] == ["task_id", "entry_point", "test"]
    assert rep["summary"]["rows"] == 100
    res = run("report", HUMANEVAL, "--pairing", "all-pairs")
    assert res.exit_code == 2
    assert "need a public layout" in res.output


@pytest.mark.parametrize("kind", ["pandas", "polars", "datasets", "path"])
def test_report_api_imports_in_memory_data(kind):
    import trlprep

    data = {"path": str(HUMANEVAL)}.get(kind)
    if data is None:
        pd = pytest.importorskip("pandas")
        df = pd.DataFrame(_rows())
        if kind == "polars":
            data = pytest.importorskip("polars").from_pandas(df)
        elif kind == "datasets":
            data = pytest.importorskip("datasets").Dataset.from_pandas(df)
        else:
            data = df
    rep = trlprep.report(data, map=MAP, examples=0)
    assert rep.value("report.type") == "prompt-completion"
    assert rep.value("report.layout") == "map"
    assert rep.value("summary.rows") == 100
    # an explicit layout on rows held in memory is imported too (was: "layout= needs a path")
    rep = trlprep.report(data, from_="map", map=MAP, examples=0)
    assert rep.value("report.type") == "prompt-completion"


@pytest.mark.parametrize(
    "template", ["qwen2_5", "llama3", "llama3_1", "phi3", "gemma", "deepseekv3", "cohere"]
)
def test_conversational_renders_equal_the_original_templates(tmp_path, template):
    from realdata.support import original_template_args

    template_args = original_template_args(template)
    out = tmp_path / "out.jsonl"
    res = run("convert", HUMANEVAL, "--map", MAP, "--conversational", *template_args,
              "-o", out, "--num-proc", "1")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (100, 0, 100, 100)
    got = rows_of(out)
    for i in (0, 2, 99):
        msgs = [
            {"role": "user", "content": _rows()[i]["prompt"]},
            {"role": "assistant", "content": _rows()[i]["canonical_solution"]},
        ]
        prompt = original_render(template, msgs[:1], add_generation_prompt=True)
        full = original_render(template, msgs)
        assert got[i]["prompt"] + got[i]["completion"] == full
        if full.startswith(prompt):
            assert got[i]["prompt"] == prompt
        else:  # DeepSeek-V3 opens `<think>` in the generation prompt only: the common prefix
            assert prompt.startswith(got[i]["prompt"]) and full.startswith(got[i]["prompt"])


def test_report_api_reads_the_named_split_of_a_dataset_dict():
    datasets = pytest.importorskip("datasets")
    import trlprep

    rows = _rows()
    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list(rows[:80]),
            "test": datasets.Dataset.from_list(rows[80:]),
        }
    )
    # was: "the DatasetDict has several splits (train, test) and no split was named"
    rep = trlprep.report(dd, split="test", examples=0)
    assert (rep.value("report.type"), rep.value("summary.rows")) == ("prompt-only", 20)
    rep = trlprep.report(dd, split="test", map=MAP, examples=0)
    assert (rep.value("report.type"), rep.value("summary.rows")) == ("prompt-completion", 20)
    rep = trlprep.report(dd, map=MAP, examples=0)  # every split, each imported
    assert set(rep.to_dict()["splits"]) == {"train", "test"}
    assert rep.value("summary.rows") == 100
    with pytest.raises(trlprep.UsageError, match="no split .validation."):
        trlprep.report(dd, split="validation")


def test_conversational_alone_makes_messages(tmp_path):
    # `--conversational` without --map/--from was silently ignored: the output stayed text
    out = tmp_path / "po.jsonl"
    res = run("convert", HUMANEVAL, "--conversational", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (100, 0, 100, 100)
    assert rows_of(out)[2]["prompt"] == [{"role": "user", "content": P2}]
    again = tmp_path / "again.jsonl"
    res = run("convert", out, "--conversational", "-o", again)
    assert res.exit_code == 0, res.output
    assert "the data is conversational already" in res.output
    assert rows_of(again) == rows_of(out)
    import trlprep

    pc = trlprep.convert(str(HUMANEVAL), "pc", map=MAP)
    table = trlprep.convert(pc, "pc", conversational=True)
    assert table.column("prompt")[2].as_py() == [{"role": "user", "content": P2}]
    assert table.column("completion")[2].as_py() == [{"role": "assistant", "content": C2}]


def test_check_template_on_standard_text_says_how_to_make_messages():
    res = run("check-template", "--chat-template", "llama3.1", HUMANEVAL)
    assert res.exit_code == 1
    said = " ".join(res.output.split())
    assert "fail data format prompt-only: the data is standard text" in said
    assert "`trlprep convert DATA --conversational -o OUT`" in said
    assert "expected a list of messages" not in said  # was the only word on it
    hh = sample("hh_rlhf")
    said = " ".join(run("check-template", "--chat-template", "llama3.1", hh).output.split())
    assert "convert it first (`trlprep convert DATA --from hh -o OUT`" in said


def test_validate_and_report_read_conversational_as_convert_does(tmp_path):
    # validate ignored --conversational alone (checked standard text); report refused it
    res = run("validate", HUMANEVAL, "--conversational")
    assert res.exit_code == 0, res.output
    assert "valid: 100 rows of prompt-only (conversational)" in res.output
    out = tmp_path / "rep.json"
    res = run("report", HUMANEVAL, "--conversational", "--map", MAP, "--examples", "0", "-o", out)
    assert res.exit_code == 0, res.output
    head = json.loads(out.read_text())["report"]
    assert (head["type"], head["format"]) == ("prompt-completion", "conversational")
    res = run("report", HUMANEVAL, "--conversational", "--examples", "0", "-f", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["report"]["format"] == "conversational"
    alpaca = sample("alpaca_demo")  # a layout convert reads without --from keeps its importer
    res = run("validate", alpaca, "--conversational")
    assert "valid: 150 rows of prompt-completion (conversational)" in res.output
