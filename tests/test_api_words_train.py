"""`trlprep.trainers.train`, `trlprep.report` and `trlprep.ray` say config keys and keyword
arguments where the CLI says flags: hints of the trainer walked against train's own keys,
whole commands said as calls, and real errors on real samples."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest
from realdata.support import sample

import trlprep
from trlprep.errors import TrlprepError
from trlprep.keywords import api_keywords
from trlprep.keywords.said import python_words

HH = sample("hh_rlhf")
GSM8K = sample("gsm8k")
NO_FLAG = re.compile(r"(?<![\w-])--[a-z]")


# ---------------------------------------------------------------- whole commands, no torch


@pytest.mark.parametrize(
    ("cli", "python"),
    [
        ("tokenise it with the trainer (`trlprep train --algo prm --step-separator`)",
         "tokenise it with the trainer (`trlprep.trainers.train(..., algo='prm', "
         "step_separator=...)`)"),
        ("tokenise first (convert --tokenize --tokenizer SRC)",
         "tokenise first (trlprep.convert(..., tokenize=True, tokenizer=SRC))"),
        ("`train --data-from hh` imports it", "`trlprep.trainers.train(..., data_from='hh')` "
         "imports it"),
    ],
)  # fmt: skip
def test_a_whole_command_is_one_call(cli, python):
    for func in (None, trlprep.convert, trlprep.validate):
        assert python_words(cli, func) == python


def test_the_algorithm_names_known_without_torch_are_the_registry_s():
    pytest.importorskip("torch")
    from trlprep.trainers.algorithms import ALGORITHMS
    from trlprep.trainers.config import ALGORITHM_NAMES

    assert ALGORITHM_NAMES == tuple(ALGORITHMS)


# ---------------------------------------------------------------- train's own words


# the trainer's hints and messages with flags (from trainers/, f-strings filled in)
TRAIN_HINTS = {
    "--overwrite and --resume contradict each other": "overwrite=True and resume=True "
    "contradict each other",
    "--resume continues the run in the output folder; --overwrite replaces it": "resume=True "
    "continues the run in the output folder; overwrite=True replaces it",
    "the last good checkpoint is x; lower --learning-rate or check the data": "the last good "
    "checkpoint is x; lower learning_rate or check the data",
    "use --batch-size 2 or more (or --loss-type apo_zero_unpaired)": "use batch_size=2 or more "
    "(or loss_type='apo_zero_unpaired')",
    "--eval-split is about --eval-data, and there is none": "eval_split is about eval_data, "
    "and there is none",
    "pass --eval-data PATH (it may be --data's folder, another split of it)": "pass "
    "eval_data=PATH (it may be data's folder, another split of it)",
    "give one --loss-weights value per --loss-type": "give one loss_weights value per loss_type",
    "the AOT losses need a reference model; drop --reference-free": "the AOT losses need a "
    "reference model; drop reference_free=True",
    "computing it with eager PyTorch from now on (--logps-kernel torch)": "computing it with "
    "eager PyTorch from now on (logps_kernel='torch')",
    "drop --chat-template, or pass --conversational to make the rows messages rendered with "
    "it": "drop chat_template, or pass conversational=True to make the rows messages rendered "
    "with it",
    "fix the rows, or pass --on-error skip to leave them out (listed)": "fix the rows, or pass "
    "on_error='skip' to leave them out (listed)",
    "nothing was trained; pass --data-from LAYOUT or --data-map prompt=q": "nothing was "
    "trained; pass data_from=LAYOUT or data_map={'prompt': 'q'}",
    "--torch-compile is for the offline algorithms": "torch_compile=True is for the offline "
    "algorithms",
    "--tokenizer is an option of `trlprep convert`": "trlprep.convert(..., tokenizer) is an "
    "option of `trlprep.convert`",
    "drop --no-loss-in-forward": "drop loss_in_forward=False",
}


@pytest.fixture(scope="module")
def train():
    pytest.importorskip("torch")
    from trlprep.trainers import train

    return train


@pytest.mark.parametrize("cli", sorted(TRAIN_HINTS))
def test_train_s_hints_name_its_keys(train, cli):
    said = python_words(cli, train)
    assert said == TRAIN_HINTS[cli]
    assert not NO_FLAG.search(said)
    keys = api_keywords(train)
    named = re.findall(r"(?<![\w.'])([a-z]\w*)=", said.split("trlprep.convert(")[0])
    assert all(k in keys for k in named), [k for k in named if k not in keys]


def test_every_config_key_of_train_is_a_keyword_it_takes(train):
    from dataclasses import fields

    from trlprep.trainers.algorithms import ALGORITHMS
    from trlprep.trainers.config import TrainConfig

    keys = api_keywords(train)
    assert {f.name for f in fields(TrainConfig)} - {"options"} <= keys
    assert {"beta", "loss_type", "step_separator", "overwrite"} <= keys
    for algo in ALGORITHMS.values():
        assert {f.name for f in fields(algo.options)} <= keys, algo.name
    assert "tokenize" not in keys and "to" not in keys  # convert's, said as trlprep.convert


def _train_error(train, tmp_path, **keys) -> TrlprepError:
    keys = {"model": "examples/tiny-chat-model", "data": "examples/preference.jsonl", **keys}
    with warnings.catch_warnings(), pytest.raises(TrlprepError) as info:
        warnings.simplefilter("ignore")
        train(output_dir=str(tmp_path / "out"), max_steps=1, log=lambda *a: None, **keys)
    assert not NO_FLAG.search(str(info.value)), str(info.value)
    return info.value


def test_train_refuses_overwrite_with_resume_in_its_keys(train, tmp_path):
    e = _train_error(train, tmp_path, algo="dpo", overwrite=True, resume=True)
    assert e.message == "overwrite=True and resume=True contradict each other"
    assert (
        e.hint == "resume=True continues the run in the output folder; overwrite=True replaces it"
    )


def test_a_chat_template_on_gsm8k_text_names_chat_template(train, tmp_path):
    mapped = "prompt=question,completion=answer"
    e = _train_error(
        train, tmp_path, algo="sft", data=GSM8K, data_map=mapped, chat_template="chatml"
    )
    assert e.message.startswith("chat_template applies to conversational data")
    assert e.hint == (
        "drop chat_template, or pass conversational=True to make the rows messages rendered with it"
    )


def test_hh_rows_with_empty_turns_name_on_error_for_train(train, tmp_path):
    e = _train_error(train, tmp_path, algo="dpo", data=HH, data_from="hh")
    assert e.line == 87
    said = "such rows; keep_empty_turns=True keeps them as prompts for"
    assert said in e.message and "on_error" not in e.message
    assert e.hint.startswith(
        "nothing was trained; fix the row, or pass on_error='skip' to train on the other rows"
    )


def test_the_cli_keeps_its_flags(train):
    from trlprep.trainers.loop import train as unwrapped

    assert train.__wrapped__ is unwrapped
    assert python_words("lower --learning-rate", None) == "lower --learning-rate"


# ---------------------------------------------------------------- report, Ray


def test_a_report_of_json_lines_named_txt_names_input_format(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text(GSM8K.read_text(encoding="utf-8"), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        said = trlprep.report(path).data["report"]["notes"]
        from trlprep.datareport import report

        cli = report(path).data["report"]["notes"]
    assert said[0].endswith("name the file .jsonl or pass input_format='jsonl'"), said
    assert cli[0].endswith("pass --input-format jsonl")


def test_ray_functions_say_layout_options_as_import_options():
    pytest.importorskip("ray")
    from trlprep.ray.conversion import convert

    said = python_words("rename (--map a=b --keep-empty-turns) or --tokenize first", convert)
    assert said == (
        "rename (import_options={'map': {'a': 'b'}, 'keep_empty_turns': True}) or "
        "tokenize=True first"
    )
    assert "import_options" in api_keywords(convert)
    said = python_words("drop --strict", convert)  # validate's alone: as it is
    assert said == "drop --strict"


def test_a_convert_command_in_a_ray_hint_is_trlprep_ray_convert():
    pytest.importorskip("ray")
    from trlprep.ray.checking import validate

    said = python_words(
        "set them aside: trlprep convert DATA --from LAYOUT --on-error skip -o OUT writes the "
        "others",
        validate,
    )
    assert said == (
        "set them aside: OUT = trlprep.ray.convert(DATA, from_=LAYOUT, on_error='skip') writes "
        "the others"
    )


def test_train_s_log_says_its_keys(train, tmp_path):
    rows = (Path("examples") / "unpaired.jsonl").read_text().splitlines()
    data = tmp_path / "labels01.jsonl"  # labels as 0/1: read as booleans with coerce
    data.write_text("".join(re.sub(r"true", "1", re.sub(r"false", "0", r)) + "\n" for r in rows))
    out, lines = tmp_path / "out", []
    out.mkdir()
    (out / "metrics.jsonl").write_text("{}\n")  # a previous run's file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(
            algo="kto", model="examples/tiny-chat-model", data=str(data), coerce=True,
            output_dir=str(out), max_steps=1, overwrite=True, log=lines.append,
        )  # fmt: skip
    said = [line for line in lines if "boolean" in line or "removed" in line]
    assert said == [
        f'data: warning: column \'label\': {len(rows)} values (0/1 and "true"/"false") read '
        "as booleans (coerce=True)",
        "overwrite=True: removed metrics.jsonl",
    ], lines


def test_train_s_weight_notes_say_its_keys(train, tmp_path):
    say = lambda role, text, w: {"role": role, "content": text, "weight": w}  # noqa: E731
    rows = [
        {"messages": [say("user", "2+2?", 0), say("assistant", f"{n}.", n % 2)]} for n in (3, 4)
    ]
    data = tmp_path / "weighted.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for flag, words in (
        (None, "assistant_only_loss=False to train"),
        (False, "assistant_only_loss=False trains"),
    ):
        lines: list[str] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train(
                algo="sft", model="examples/tiny-chat-model", data=str(data), max_steps=1,
                output_dir=str(tmp_path / f"out{flag}"), log=lines.append,
                **({} if flag is None else {"assistant_only_loss": flag}),
            )  # fmt: skip
        said = [line for line in lines if "weights" in line]
        assert said and all(words in s and not NO_FLAG.search(s) for s in said), lines


def test_train_s_log_names_the_convert_call_not_the_command(train, tmp_path):
    """A row cut away by max_length is dropped with a note naming what lists such rows: in
    Python `trlprep.convert(...)` (the log said the `trlprep convert ... -o OUT` command)."""
    rows = json.loads(sample("dpo_demo").read_text(encoding="utf-8"))[:4]
    data = tmp_path / "pairs.json"
    data.write_text(json.dumps(rows), encoding="utf-8")
    lines: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(
            algo="dpo", model="examples/tiny-chat-model", data=str(data), max_length=128,
            output_dir=str(tmp_path / "out"), max_steps=1, batch_size=1, progress=False,
            log=lines.append,
        )  # fmt: skip
    dropped = [line for line in lines if "dropped" in line]
    assert dropped and f"`OUT = trlprep.convert('{data}', tokenize=True, " in dropped[0], lines
    assert "max_length=128)` refuses" in dropped[0]
    assert not any(NO_FLAG.search(line) or "trlprep convert" in line for line in lines), lines
