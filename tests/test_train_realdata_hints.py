"""`trlprep train` on real samples whose errors gave `trlprep convert`'s advice (flags train
does not take, a convert command) or none: each now says what to do in train's words."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from tests.realdata.support import TINY_MODEL, sample
from trainers.data_table import to_training_table
from trlprep.errors import DataError, UsageError


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TINY_MODEL)  # ChatML, no bos_token


def _gsm8k() -> pa.Table:
    return pa.Table.from_pylist([json.loads(x) for x in sample("gsm8k").open()][:8])


def test_gsm8k_for_grpo_is_told_to_map_the_prompt_only(tok):
    """Before: `--map prompt=question,completion=answer` (convert's flag), which for GRPO
    also drops `answer` on the way to prompt-only, so no reward function could read it."""
    with pytest.raises(DataError) as e:
        to_training_table(_gsm8k(), ["prompt-only"], tok, algo="grpo")
    msg = e.value.message + " | " + e.value.hint  # the advice is the hint
    assert "`--data-map prompt=question` (column 'answer' stays" in e.value.hint, msg
    assert "trlprep convert DATA" not in msg and "`--map" not in msg
    # the advice works: the answer is there for the reward
    table = to_training_table(
        _gsm8k(), ["prompt-only"], tok, algo="grpo", column_map="prompt=question"
    ).table
    assert {"prompt", "answer"} <= set(table.column_names)


def test_gsm8k_for_sft_is_told_train_s_flag(tok):
    with pytest.raises(DataError) as e:
        to_training_table(_gsm8k(), ["language-modeling", "prompt-completion"], tok, algo="sft")
    assert "pass `--data-map prompt=question,completion=answer`, or rename" in e.value.hint


def test_kto_messages_with_0_1_labels_point_to_coerce(tok):
    """LLaMA-Factory's kto_en_demo with its labels as 0/1: 'cannot convert
    language-modeling' said nothing of the label column or --coerce."""
    rows = json.loads(sample("kto_demo").read_text())[:6]
    data = pa.Table.from_pylist([{**r, "label": int(r["label"])} for r in rows])
    with pytest.raises(UsageError) as e:
        to_training_table(data, ["unpaired-preference"], tok, algo="kto")
    assert "--coerce reads them as booleans" in (e.value.hint or ""), e.value.hint
    table = to_training_table(
        data, ["unpaired-preference"], tok, algo="kto", import_options={"coerce": True}
    ).table
    assert table.column("label").to_pylist() == [r["label"] for r in rows]


def test_a_template_file_using_bos_with_a_model_without_one_says_what_to_do(tok, tmp_path):
    """Before: 'pass --tokenizer SRC ...', a flag of convert that train does not take
    (train takes --template-kwarg since it passes the template what convert passes it)."""
    template = tmp_path / "llama_like.jinja"
    template.write_text("{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}")
    data = pa.Table.from_pylist(json.loads(sample("kto_demo").read_text())[:2]).select(["messages"])
    with pytest.raises(UsageError) as e:
        to_training_table(data, ["language-modeling"], tok, chat_template=str(template))
    assert "has no bos_token" in e.value.message
    assert "--tokenizer" not in e.value.hint
    assert "pass --template-kwarg bos_token=TOKEN" in e.value.hint
    assert "tokenizer_config.json" in e.value.hint


def _hh() -> pa.Table:
    return pa.Table.from_pylist([json.loads(x) for x in sample("hh_rlhf").open()][80:90])


def test_keep_empty_turns_without_the_hh_layout_is_refused_not_ignored(tok):
    """Before: the HH sample reads as TRL preference data, so `--keep-empty-turns` (without
    `--data-from hh`) was silently ignored; convert refuses it."""
    with pytest.raises(UsageError, match="option of the hh layout") as e:
        to_training_table(
            _hh(), ["prompt-only"], tok, algo="grpo", import_options={"keep_empty_turns": True}
        )
    assert "--data-from hh" in e.value.hint
    with pytest.raises(UsageError, match="prompts only; this algorithm trains on preference"):
        to_training_table(
            _hh(), ["preference"], tok, algo="dpo", layout="hh",
            import_options={"keep_empty_turns": True},
        )  # fmt: skip
    kept = to_training_table(
        _hh(), ["prompt-only"], tok, algo="grpo", layout="hh",
        import_options={"keep_empty_turns": True},
    )  # fmt: skip
    assert kept.table.num_rows == 10  # line 87 of the sample ends on an empty answer: kept


def test_hh_refusal_in_train_s_words(tok):
    with pytest.raises(DataError) as e:
        to_training_table(_hh(), ["prompt-only"], tok, algo="grpo", layout="hh")
    assert e.value.row == 6 and "--to prompt-only" not in e.value.message
    assert "--keep-empty-turns keeps them as prompts for an online algorithm" in e.value.message


def test_the_cli_prints_the_last_evaluation(tmp_path):
    """With --eval-data the console showed only the training metrics; the evaluation was in
    metrics.jsonl alone."""
    pytest.importorskip("torch")
    from tests.realdata.support import run

    trees = sample("alpaca_demo").parents[1] / "oasst_messages" / "en_100_message.first8.jsonl"
    data = tmp_path / "tree.jsonl"  # one OASST tree: its conversations
    data.write_text(trees.read_text().splitlines()[0] + "\n")
    out = tmp_path / "out"
    r = run(
        "train", "--algo", "sft", "--model", TINY_MODEL, "--data", data, "--eval-data", data,
        "--output-dir", out, "--max-steps", "1", "--batch-size", "2", "--max-length", "32",
        "--no-bf16",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    evals = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    last = [e for e in evals if "eval_loss" in e][-1]
    assert f"evaluation at step 1: eval_loss {last['eval_loss']:.4g}" in r.output, r.output


def test_oasst_trees_for_dpo_point_to_the_ranked_layout(tok):
    """OASST trees read as chats (`oasst`) cannot reach preference; convert names
    `--from oasst-ranked`, train said only 'cannot convert language-modeling'."""
    trees = pa.Table.from_pylist([json.loads(x) for x in sample("oasst_trees").open()][:2])
    with pytest.raises(UsageError) as e:
        to_training_table(trees, ["unpaired-preference"], tok, algo="kto")
    assert e.value.hint.endswith(
        "--data-from oasst-ranked imports the same data as preference, from which "
        "unpaired-preference is reachable"
    ), e.value.hint
    ranked = to_training_table(trees, ["preference"], tok, algo="dpo", layout="oasst-ranked")
    assert ranked.table.num_rows > 0


@pytest.mark.parametrize(
    "algo,extra,message",
    [
        ("grpo", {"batch_size": 8}, "no reward"),
        ("ppo", {}, "no reward"),
        ("grpo", {"batch_size": 3, "options": {"reward_fn": ["length"]}}, "multiple of"),
        ("rloo", {"precompute_ref": True, "options": {"reward_fn": ["length"]}}, "precompute"),
        ("grpo", {"torch_compile": True, "options": {"reward_fn": ["length"]}}, "torch-compile"),
    ],
)
def test_online_usage_errors_come_before_the_data_is_read(tmp_path, algo, extra, message):
    """GRPO on GSM8K without --reward-fn read and tokenised every row, then said 'no reward'
    (the other three likewise): the data named here does not exist, so an error about the
    options proves they are checked first."""
    pytest.importorskip("torch")
    from trlprep.trainers.loop import Trainer

    cfg = {"algo": algo, "model": TINY_MODEL, "data": str(tmp_path / "none.jsonl")}
    with pytest.raises(UsageError, match=message):
        Trainer({**cfg, "output_dir": str(tmp_path / "out"), **extra}, log=lambda *_: None)


def test_exact_meets_gsm8k_answers_by_their_final_number():
    """The README's GSM8K recipe (`--reward-fn exact`) compared each completion with the
    whole worked solution, so no completion could ever score."""
    pytest.importorskip("torch")
    from trlprep.trainers.online.rewards import exact_reward

    row = json.loads(sample("gsm8k").open().readline())
    final = row["answer"].rpartition("####")[2].strip()  # "18"
    completions = [final, f"9 eggs a day at $2.\n#### {final}", "17", row["answer"], "#### 17"]
    got = exact_reward()(completions, answer=[row["answer"]] * 5)
    assert got == [1.0, 1.0, 0.0, 1.0, 0.0]
    assert exact_reward()(["3", " 3\n", "4"], ground_truth=["3"] * 3) == [1.0, 1.0, 0.0]


def test_rows_dropped_after_tokenising_are_named_by_their_file_lines(tok):
    """'dropped 5 rows longer than max_length' named none of them; the lines were checked
    by tokenising each pair with the tokenizer itself."""
    from trlprep.trainers.algorithms import get_algorithm

    from trainers.data import prepare

    said: list[str] = []
    for algo in ("reward", "dpo"):
        a = get_algorithm(algo)
        prepare(
            str(sample("hh_rlhf")), a.layout, a.accepts, tok, max_length=1024, algo=algo,
            log=said.append,
        )  # fmt: skip
    assert "data: dropped 5 rows (lines 43, 114, 143, 157, 163) longer than max_length=1024" in said
    assert any(s.startswith("data: dropped 1 row (line 143) with nothing left") for s in said)


def test_the_saved_model_keeps_the_chat_template_it_was_trained_with(tmp_path):
    """`--chat-template llama3_1.jinja` rendered the data, but the saved tokenizer kept the
    model's ChatML template: the trained model then rendered chats unlike its training."""
    pytest.importorskip("torch")
    from transformers import AutoTokenizer
    from trlprep.trainers.loop import train

    template = tmp_path / "turns.jinja"
    template.write_text(
        "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}[assistant] {% endif %}"
    )
    data = [{"messages": r["messages"][:2]} for r in json.loads(sample("kto_demo").read_text())]
    out = tmp_path / "out"
    train(
        {
            "algo": "sft", "model": TINY_MODEL, "data": data[:4], "output_dir": str(out),
            "chat_template": str(template), "max_steps": 1, "batch_size": 2, "max_length": 32,
            "bf16": False, "progress": False,
        },
        log=lambda *_: None,
    )  # fmt: skip
    assert AutoTokenizer.from_pretrained(out).chat_template == template.read_text()
    saved = AutoTokenizer.from_pretrained(out / "checkpoint-1")
    assert saved.chat_template == template.read_text()


def test_train_says_what_the_template_did_to_text_parts(tok, tmp_path):
    """`convert` notes that a string-only template joined the text parts of list content;
    `train` (through the Python API) said nothing of it."""
    from trainers.data import prepare

    rows = [json.loads(x) for x in sample("open_instruct_rlvr").open()][:3]
    data = [
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": r["messages"][0]["content"]}],
                },
                {"role": "assistant", "content": [{"type": "text", "text": r["ground_truth"]}]},
            ]
        }
        for r in rows
    ]
    said: list[str] = []
    prepare(data, "lm", ["language-modeling"], tok, max_length=64, algo="sft", log=said.append)
    assert "data: note: 3 row(s) hold content as a list of text parts, which " in said[0]
    assert "the parts' text was joined" in said[0]


def test_unpaired_rows_dropped_after_tokenising_name_the_pair_s_line(tok):
    """KTO and BCO unpair each HH pair into two rows, so 'dropped 2 rows' named no line
    (DPO named line 143, where the prompt alone fills 1024 tokens): now both algorithms
    name the line their two rows came from."""
    from trlprep.trainers.algorithms import get_algorithm

    from trainers.data import prepare

    for algo in ("kto", "bco"):
        said: list[str] = []
        a = get_algorithm(algo)
        p = prepare(
            str(sample("hh_rlhf")), a.layout, a.accepts, tok, max_length=1024, algo=algo,
            log=said.append,
        )  # fmt: skip
        assert p.dropped == 2
        assert any(s.startswith("data: dropped 2 rows (from line 143) with nothing") for s in said)


def test_converted_rows_keep_their_input_lines_when_a_conversion_unpairs_or_filters(tok):
    """Each training row's input line, where the conversion unpairs (HH for KTO: two rows
    a line) or filters rows (kto_demo for SFT: the rows labelled true), read against the
    files themselves."""
    hh = to_training_table(str(sample("hh_rlhf")), ["unpaired-preference"], tok, algo="kto")
    assert hh.table.num_rows == 326
    assert hh.input_lines.tolist() == [line for line in range(1, 164) for _ in (0, 1)]
    assert hh.input_rows.tolist() == [row for row in range(163) for _ in (0, 1)]

    path = sample("kto_demo")
    starts = [i for i, x in enumerate(path.read_text().splitlines(), 1) if x == "  {"]
    labels = [r["label"] for r in json.loads(path.read_text())]
    sft = to_training_table(str(path), ["language-modeling", "prompt-completion"], tok, algo="sft")
    assert sft.table.num_rows == labels.count(True) < len(labels)
    assert sft.input_lines.tolist() == [s for s, ok in zip(starts, labels, strict=True) if ok]


def test_rows_cut_away_name_the_convert_command_that_refuses_them(tok, tmp_path):
    """The note said "`trlprep convert --tokenize` refuses these rows", which it does only
    with --max-length (and a tokenizer): it names the run's command, which refuses the same
    lines of the real KTO sample."""
    import re
    import shlex

    from trlprep.trainers.algorithms import get_algorithm
    from typer.testing import CliRunner

    from trainers.data import prepare
    from trlprep.cli import app

    a, said = get_algorithm("kto"), []
    prepare(
        str(sample("kto_demo")), a.layout, a.accepts, tok, max_length=32, algo="kto",
        log=said.append, template_kwargs={"date_string": "01 Jan 2025"},
    )  # fmt: skip
    note = next(s for s in said if s.startswith("data: dropped 49 rows (lines 2, 15, 44, "))
    command = re.search(r"`(trlprep convert [^`]*)` refuses these rows, listing each", note)
    assert command is not None, note
    args = shlex.split(command[1])[2:]
    assert args[-2:] == ["-o", "OUT"]
    assert args[1:] == [
        "--tokenize", "--tokenizer", TINY_MODEL, "--template-kwarg", "date_string=01 Jan 2025",
        "--max-length", "32", "-o", "OUT",
    ]  # fmt: skip
    r = CliRunner().invoke(app, ["convert", *args[:-1], str(tmp_path / "out.jsonl")])
    assert r.exit_code == 1, r.output
    assert "49 x tokenize: the completion is cut away by --max-length 32" in r.output
    assert "(e.g. line 2, line 15, line 44)" in r.output
