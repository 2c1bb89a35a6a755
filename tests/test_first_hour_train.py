"""`trlprep train` as a new user first runs it: every row accounted for in the data line (rows
a filtering conversion drops are counted and said why), and a missing option named as a flag."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from train_support import make_tokenizer  # noqa: E402
from trlprep.trainers.algorithms import get_algorithm  # noqa: E402
from trlprep.trainers.data import prepare  # noqa: E402

from trlprep.cli import app  # noqa: E402
from trlprep.errors import UsageError  # noqa: E402


def _data_line(algo: str, rows: list[dict]) -> str:
    logs: list[str] = []
    a = get_algorithm(algo)
    prepare(
        rows,
        a.layout,
        a.accepts,
        make_tokenizer(),
        max_length=64,
        algo=algo,
        options=a.make_options({}),
        log=logs.append,
    )
    return logs[0]


def test_sft_on_unpaired_rows_says_why_rows_went():
    rows = [
        {"prompt": "the sky", "completion": " is blue", "label": True},
        {"prompt": "the sky", "completion": " is red", "label": False},
        {"prompt": "grass", "completion": " is green", "label": True},
    ]
    assert _data_line("sft", rows) == (
        "data: unpaired-preference -> prompt-completion: 3 rows in -> 2 rows "
        "(1 dropped by the conversion itself: rows labelled false); loss on the completion only"
    )


def test_sft_on_stepwise_rows_says_why_rows_went():
    rows = [
        {"prompt": "2+2", "completions": [" is", " 4"], "labels": [True, True]},
        {"prompt": "2+3", "completions": [" is", " 6"], "labels": [True, False]},
    ]
    line = _data_line("sft", rows)
    assert "2 rows in -> 1 row (1 dropped by the conversion itself: rows with a step" in line


def test_rows_kept_whole_say_nothing_of_dropping():
    rows = [{"prompt": "the sky", "completion": " is blue"}]
    assert "dropped" not in _data_line("sft", rows)


def test_train_without_output_dir_names_the_flag(tmp_path):
    res = CliRunner().invoke(
        app, ["train", "--algo", "dpo", "--model", str(tmp_path), "--data", str(tmp_path)]
    )
    assert res.exit_code == 2
    assert "missing required option(s): --output-dir" in res.output


@pytest.mark.parametrize(("typed", "meant"), [("dop", "dpo"), ("grp", "grpo"), ("sfft", "sft")])
def test_a_misspelt_algorithm_says_which_was_meant(typed, meant):
    res = CliRunner().invoke(app, ["train", "--algo", typed])
    assert res.exit_code == 2
    assert f"unknown algorithm {typed!r} (did you mean {meant!r}?)" in res.output


def _train_cli(tmp_path, *more: str):
    return CliRunner().invoke(
        app,
        ["train", "--algo", "dpo", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "d")]
        + ["--output-dir", str(tmp_path / "o"), *more],
    )


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [
        ("--batch-size", "0", "--batch-size must be at least 1"),
        ("--warmup-ratio", "2", "--warmup-ratio must be in [0, 1], not 2.0"),
        ("--max-grad-norm", "-1", "--max-grad-norm must be 0 or more, not -1.0"),
    ],
)
def test_out_of_range_values_are_named_by_their_flag(tmp_path, flag, value, said):
    res = _train_cli(tmp_path, flag, value)
    assert res.exit_code == 2
    assert f"error: {said}" in res.output


def test_a_misspelt_config_key_says_which_option_was_meant(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("learning_rat: 1.0e-5\n")
    res = _train_cli(tmp_path, "--config", str(config))
    assert res.exit_code == 2
    assert "dpo has no option learning_rat" in res.output
    assert "did you mean --learning-rate?" in res.output


def test_python_train_keeps_config_keys_in_its_words(tmp_path):
    from trlprep.trainers import train

    base = {"algo": "dpo", "model": str(tmp_path), "data": str(tmp_path)}
    with pytest.raises(UsageError) as err:
        train({**base, "output_dir": str(tmp_path / "o"), "learning_rat": 1e-5})
    assert "did you mean learning_rate?" in err.value.hint
    with pytest.raises(UsageError) as err:
        train(base)
    assert "missing required option(s): output_dir" in str(err.value)


def _mixed_kind_file(tmp_path):
    import json

    rows = [{"prompt": f"p{i}", "chosen": f" c{i}", "rejected": f" r{i}"} for i in range(4)]
    rows.insert(2, {"prompt": "p", "chosen": 5, "rejected": " r"})  # line 3: a number
    path = tmp_path / "pref.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_number_among_text_stops_train_naming_its_file_line(tmp_path):
    from trlprep.errors import DataError

    a = get_algorithm("dpo")
    with pytest.raises(DataError) as e:
        prepare(
            str(_mixed_kind_file(tmp_path)), a.layout, a.accepts, make_tokenizer(),
            max_length=64, algo="dpo", options=a.make_options({}),
        )  # fmt: skip
    said = str(e.value)
    assert "pref.jsonl" in said and "column 'chosen'" in said and "(e.g. line 3)" in said
    assert "row 2" not in said  # the 0-based index of old, read as a line
    assert "--on-error skip" in (e.value.hint or "")


def test_train_on_error_skip_leaves_a_number_among_text_out(tmp_path):
    logs: list[str] = []
    a = get_algorithm("dpo")
    prepared = prepare(
        str(_mixed_kind_file(tmp_path)), a.layout, a.accepts, make_tokenizer(),
        max_length=64, algo="dpo", options=a.make_options({}), on_error="skip",
        log=logs.append,
    )  # fmt: skip
    said = "\n".join(logs)
    assert "1 row could not be read and was left out: column 'chosen' holds a number" in said
    assert "5 rows in, 1 left out, 4 converted -> 4 rows" in said
    assert prepared.rejects.num_rows == 1


def test_train_on_question_answer_hints_the_data_map():
    from trlprep.errors import DataError

    a = get_algorithm("sft")
    with pytest.raises(DataError) as e:
        prepare(
            [{"question": "2+2?", "answer": "4"}], a.layout, a.accepts, make_tokenizer(),
            max_length=64, algo="sft", options=a.make_options({}),
        )  # fmt: skip
    assert "--data-map prompt=question,completion=answer" in e.value.hint
    assert "run `trlprep detect`" not in e.value.hint  # it would only say the same again


def test_train_role_map_alone_renames_the_roles_of_messages():
    rows = [{"messages": [{"role": "human", "content": "hi"}, {"role": "gpt", "content": "yo"}]}]
    logs: list[str] = []
    a = get_algorithm("sft")
    prepare(
        rows, a.layout, a.accepts, make_tokenizer(), max_length=64, algo="sft",
        options=a.make_options({}), import_options={"role_map": "human=user,gpt=assistant"},
        chat_template="chatml", log=logs.append,
    )  # fmt: skip
    assert logs[0].startswith("data: map layout -> language-modeling")  # it was not read
