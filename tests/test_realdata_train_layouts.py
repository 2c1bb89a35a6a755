"""`trlprep train` reads real public layouts as `trlprep convert` does: ShareGPT preference
(LLaMA-Factory's dpo_en_demo), Alpaca, and HH transcripts whose conversion warns."""

from __future__ import annotations

import json

import pyarrow as pa

from tests.realdata.support import sample
from trainers.data import prepare
from trainers.data_table import to_training_table
from trlprep.api import convert


def _read_json(path) -> pa.Table:
    return pa.Table.from_pylist(json.loads(path.read_text()))


def test_sharegpt_preference_is_read_as_the_layout_convert_reads():
    """Before: 'the data is not uniform: column chosen: 30 rows hold other'."""
    data = _read_json(sample("dpo_demo"))
    table, src, route, templated, *_ = to_training_table(
        data, ["preference"], None, chat_template="chatml", algo="dpo"
    )
    assert route[0] == "sharegpt layout" and route[-1] == "preference" and templated
    assert table.num_rows == 30
    expected = convert(data, to="preference", chat_template="chatml")  # what convert writes
    assert table.column("chosen").to_pylist() == expected.column("chosen").to_pylist()
    assert table.column("prompt").to_pylist() == expected.column("prompt").to_pylist()
    first = json.loads((sample("dpo_demo")).read_text())[0]
    assert table.column("chosen")[0].as_py().startswith(first["chosen"]["value"][:40])


def test_alpaca_trains_on_the_completion_as_convert_writes_it():
    data = _read_json(sample("alpaca_demo"))
    table, src, route, templated, *_ = to_training_table(data, ["prompt-completion"], None)
    assert route == ["alpaca layout", "prompt-completion"] and not templated
    first = json.loads((sample("alpaca_demo")).read_text())[0]
    assert table.column("completion")[0].as_py() == first["output"]


def test_conversion_warnings_are_logged_as_notes_with_counts_in_words():
    rows = [json.loads(x) for x in sample("hh_rlhf").open()]
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(
        str(sample("hh_rlhf").parents[3] / "examples/tiny-chat-model")
    )
    said: list[str] = []
    prepare(
        pa.Table.from_pylist(rows),
        "lm",
        ["language-modeling", "prompt-completion"],
        tok,
        max_length=64,
        algo="sft",
        log=said.append,
    )
    warned = [s for s in said if s.startswith("data: warning: ")]
    assert any("row 157" in s and "prefix" in s for s in warned), said
    assert any(s.startswith("data: preference-implicit -> prompt-completion") for s in said)
    assert not any(" 1 rows" in s for s in said)


def test_python_convert_reads_layouts_as_the_cli_does():
    """`trlprep.convert` took no layout: `from_="sharegpt"` failed with 'not uniform'."""
    data = _read_json(sample("dpo_demo"))
    auto = convert(data, to="unpaired")
    named = convert(data, to="unpaired", from_="sharegpt")
    assert auto.to_pylist() == named.to_pylist() and auto.num_rows == 60
    first = auto.slice(0, 2).to_pylist()
    assert [r["label"] for r in first] == [True, False]
    assert (
        first[0]["prompt"][0]["role"] == "user" and first[0]["completion"][0]["role"] == "assistant"
    )
    alpaca = convert(str(sample("alpaca_demo")), to="prompt-completion", conversational=True)
    row = json.loads(sample("alpaca_demo").read_text())[0]
    assert alpaca.slice(0, 1).to_pylist()[0]["completion"] == [
        {"role": "assistant", "content": row["output"]}
    ]


def test_python_convert_skips_rows_a_layout_refuses_with_a_warning():
    import pytest

    from trlprep.importers import RejectedRowsWarning

    with pytest.warns(RejectedRowsWarning, match="4 rows could not be imported as hh"):
        out = convert(str(sample("hh_rlhf")), "preference", from_="hh", on_error="skip")
    assert out.num_rows == 163 - 4


def test_detect_says_what_convert_reads():
    from tests.realdata.support import run

    res = run("detect", sample("dpo_demo"))
    assert res.exit_code == 0, res.output
    assert "preference (the sharegpt layout, imported as convert does)" in res.output


def test_train_takes_from_and_map_as_convert_does(tmp_path):
    """GSM8K (`question`, `answer`) for GRPO: `--map prompt=question` as in convert, the
    `answer` column kept for the reward; TRL's `--max_completion_length` accepted."""
    from tests.realdata.support import run

    model = sample("hh_rlhf").parents[3] / "examples/tiny-chat-model"
    res = run(
        "train", "--algo", "grpo", "--model", model, "--data", sample("gsm8k"),
        "--map", "prompt=question", "--output-dir", tmp_path / "out", "--max-steps", 1,
        "--batch-size", 8, "--reward-fn", "exact", "--max_completion_length", 4,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "data: map layout -> prompt-only: 200 rows in" in res.output
    record = json.loads((tmp_path / "out/metrics.jsonl").read_text().splitlines()[0])
    assert record["completions/max_length"] <= 4 and "rewards/exact/mean" in record


def test_train_from_names_a_layout():
    from trlprep.cli.train_cmd import parse_args
    from trlprep.errors import UsageError

    specs = {"data_from": "str | None", "data_map": "str | None", "max_new_tokens": "int"}
    got = parse_args(
        ["--from", "sharegpt", "--map", "prompt=q", "--max_completion_length", "9"], specs
    )
    assert got == {"data_from": "sharegpt", "data_map": "prompt=q", "max_new_tokens": 9}
    data = _read_json(sample("dpo_demo"))
    import pytest

    with pytest.raises(UsageError, match="--data-from takes a public layout here"):
        to_training_table(data, ["preference"], None, layout="preference")
    table, _, route, *_ = to_training_table(
        data, ["preference"], None, chat_template="chatml", layout="sharegpt"
    )
    assert route[0] == "sharegpt layout" and table.num_rows == 30


def test_a_route_the_layout_cannot_take_names_the_sibling_layout(tmp_path):
    """OASST trees read as chats cannot become pairs; `--from oasst-ranked` can."""
    from tests.realdata.support import run

    src = sample("oasst_trees")
    res = run("convert", src, "--to", "preference", "-o", tmp_path / "o.jsonl")
    assert res.exit_code == 2
    assert "--from oasst-ranked imports the same data as preference" in res.output
    res = run(
        "convert", src, "--from", "oasst-ranked", "--to", "preference", "-o", tmp_path / "o.jsonl"
    )
    assert res.exit_code == 0, res.output


def test_reasons_differing_only_in_numbers_are_one_line(tmp_path):
    """KTO demo rows tokenised at --max-length 256: 23 rows, one reason line (was 23)."""
    from tests.realdata.support import run

    model = sample("hh_rlhf").parents[3] / "examples/tiny-chat-model"
    res = run(
        "convert", sample("kto_demo"), "--to", "unpaired", "--chat-template", model,
        "--tokenize", "--tokenizer", model, "--max-length", 256, "--on-error", "skip",
        "-o", tmp_path / "k.parquet",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (
        "23 x tokenize: the completion is cut away by --max-length 256 (prompt is N tokens)"
        in res.output
    )
    assert "more reasons" not in res.output
    kept = [json.loads(x)["reason"] for x in (tmp_path / "k.rejects.jsonl").open()]
    assert len(kept) == 23 and len(set(kept)) > 1  # the rejects file keeps each row's own


def _tiny_chat_model():
    return sample("hh_rlhf").parents[3] / "examples/tiny-chat-model"


def test_train_skips_the_rows_hh_cannot_import_and_lists_them(tmp_path):
    """Real HH-RLHF holds transcripts ending in an empty Assistant turn. Before, `train`
    stopped on them and its hint named `--on-error skip`, an option train did not have."""
    from tests.realdata.support import run

    args = ["train", "--algo", "dpo", "--model", _tiny_chat_model(), "--data", sample("hh_rlhf")]
    args += ["--from", "hh", "--max-steps", 1, "--batch-size", 2, "--max-length", 128]
    stopped = run(*args, "--output-dir", tmp_path / "stop")
    assert stopped.exit_code == 1
    assert f"{sample('hh_rlhf')}:87: cannot import this row as hh" in stopped.output

    res = run(*args, "--output-dir", tmp_path / "out", "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert "data: 4 rows could not be imported as hh and were left out" in res.output
    assert "163 rows in, 4 left out, 159 converted -> 159 rows" in res.output
    listed = [json.loads(x) for x in (tmp_path / "out/data.rejects.jsonl").open()]
    source = sample("hh_rlhf").read_text().splitlines()
    assert [r["line"] for r in listed] == [r["row"] + 1 for r in listed] and len(listed) == 4
    for r in listed:  # each names its file line and holds that line's row
        assert r["stage"] == "import" and "empty Assistant turn" in r["reason"]
        assert r["record"] == json.loads(source[r["line"] - 1])


def test_template_notes_are_logged_as_data_warnings(recwarn):
    """Glaive's tool calls with a template that renders neither them nor the tools: the rows
    are set aside with their reason, and what the template leaves out is a `data: warning:`
    line of the log (before, a raw Python warning with a source line of trlprep)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(_tiny_chat_model()))
    said: list[str] = []
    prepared = prepare(
        str(sample("glaive_toolcall")), "lm", ["language-modeling", "prompt-completion"], tok,
        max_length=64, algo="sft", on_error="skip", log=said.append,
    )  # fmt: skip
    assert prepared.rejects.num_rows == 26 and len(prepared) == 24
    assert any(s.startswith("data: warning: 3 rows give tools that") for s in said), said
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_train_names_the_file_lines_in_its_conversion_notes():
    """Before, `train` said 'rows 86, 150, 153, 154' (the table's rows) where `convert` said
    'lines 87, 151, 154, 155' of the same HH file."""
    from train_support import make_tokenizer

    said: list[str] = []
    prepare(
        str(sample("hh_rlhf")), "pairs", ["preference"], make_tokenizer(), max_length=None,
        algo="dpo", log=said.append,
    )  # fmt: skip
    notes = [s for s in said if s.startswith("data: warning: ")]
    assert any(s.startswith("data: warning: lines 87, 151, 154, 155: the chosen") for s in notes)
    assert not any(" row " in s or " rows " in s.split(":")[1] for s in notes), notes


def test_vllm_outputs_train_on_the_answers_not_the_prompts():
    """vLLM outputs with the prompt in `text` (open-instruct's synth_pref): SFT reads them as
    the generations layout, as convert does, not as language modeling on the prompts."""
    rows = [json.loads(x) for x in sample("open_instruct_synth_pref").open()]
    table, src, route, templated, *_ = to_training_table(
        pa.Table.from_pylist(rows), ["language-modeling", "prompt-completion"], None, algo="sft"
    )
    assert route == ["generations layout", "prompt-completion"] and not templated
    assert table.column("prompt").to_pylist() == [r["text"] for r in rows]
    assert table.column("completion").to_pylist() == [r["outputs"][0]["text"] for r in rows]
