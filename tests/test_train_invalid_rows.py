"""Train refuses the rows `trlprep validate` calls invalid (an empty chosen, an empty
assistant answer, an empty step, ...) as convert does: by file line, or with
`on_error="skip"` left out, counted and listed with their lines."""

from __future__ import annotations

import json
import warnings

import pytest

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from trlprep.trainers.data_table import to_training_table  # noqa: E402

from trlprep.errors import DataError  # noqa: E402
from trlprep.importers.run import RejectedRowsWarning  # noqa: E402


def _user(text):
    return [{"role": "user", "content": text}]


def _assistant(text):
    return [{"role": "assistant", "content": text}]


SFT = ["language-modeling", "prompt-completion"]
# (algorithm, the types it trains on, a valid row, the same row with one empty string)
CASES = {
    "dpo": (
        ["preference"],
        {"prompt": "what color", "chosen": "blue", "rejected": "red"},
        {"prompt": "what color", "chosen": "", "rejected": "red"},
    ),
    "dpo-messages": (
        ["preference"],
        {"prompt": _user("sky"), "chosen": _assistant("blue"), "rejected": _assistant("red")},
        {"prompt": _user("sky"), "chosen": _assistant(""), "rejected": _assistant("red")},
    ),
    "sft-messages": (
        SFT,
        {"messages": _user("sky") + _assistant("blue")},
        {"messages": _user("sky") + _assistant("")},
    ),
    "sft": (SFT, {"prompt": "sky", "completion": "blue"}, {"prompt": "sky", "completion": ""}),
    "kto": (
        ["unpaired-preference"],
        {"prompt": "sky", "completion": "blue", "label": True},
        {"prompt": "sky", "completion": "", "label": False},
    ),
    "prm": (
        ["stepwise-supervision"],
        {"prompt": "one plus one", "completions": ["two", "so two"], "labels": [True, True]},
        {"prompt": "one plus one", "completions": ["two", ""], "labels": [True, False]},
    ),
    "grpo": (["prompt-only"], {"prompt": "what color"}, {"prompt": ""}),
    "grpo-messages": (["prompt-only"], {"prompt": _user("what")}, {"prompt": _user("")}),
}


def _file(tmp_path, good, bad):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (good, bad, good)))
    return path


def _read(path, accepts, algo, on_error):
    from train_support import make_tokenizer

    conversational = algo.endswith("-messages")
    return to_training_table(
        str(path), accepts, make_tokenizer(), algo=algo.split("-")[0], on_error=on_error,
        chat_template="chatml" if conversational else None,
        keep_prompt_messages=algo.startswith("grpo"),
    )  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_an_empty_string_stops_train_at_its_line(tmp_path, case):
    accepts, good, bad = CASES[case]
    path = _file(tmp_path, good, bad)
    with pytest.raises(DataError, match=r"rule empty-string") as e:
        _read(path, accepts, case, "stop")
    assert (e.value.path, e.value.line) == (str(path), 2)
    assert str(e.value).startswith(f"{path}:2: validation: the row fails ")
    assert e.value.hint.startswith("nothing was trained; fix the rows (`trlprep validate`")
    assert "--on-error skip to train on the other rows" in e.value.hint


@pytest.mark.parametrize("case", list(CASES))
def test_with_skip_the_invalid_row_is_left_out_and_listed_by_line(tmp_path, case):
    accepts, good, bad = CASES[case]
    path = _file(tmp_path, good, bad)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        made = _read(path, accepts, case, "skip")
    assert made.table.num_rows == 2 and made.rows_in == 3
    assert made.input_lines.tolist() == [1, 3]
    said = [w.message for w in caught if isinstance(w.message, RejectedRowsWarning)]
    assert len(said) == 1 and str(said[0]).startswith("1 row was left out: 1 x validation: ")
    (row,) = said[0].rejects.to_pylist()
    assert (row["row"], row["line"], row["stage"]) == (1, 2, "validation")
    assert row["reason"].endswith("(rule empty-string)")
    assert json.loads(row["record"]) == bad


def test_prepare_counts_the_rows_left_out(tmp_path):
    pytest.importorskip("torch")
    from train_support import make_tokenizer
    from trlprep.trainers.data import prepare

    accepts, good, bad = CASES["dpo"]
    said: list[str] = []
    prepared = prepare(
        str(_file(tmp_path, good, bad)), "pairs", accepts, make_tokenizer(), max_length=None,
        algo="dpo", on_error="skip", log=said.append,
    )  # fmt: skip
    assert len(prepared) == 2
    assert [r["line"] for r in prepared.rejects.to_pylist()] == [2]
    assert "data: preference: 3 rows in, 1 left out, 2 converted -> 2 rows" in said


def test_a_null_value_is_still_the_conversions_refusal(tmp_path):
    """Rows with a null are refused by the conversion's read stage, as convert names them."""
    accepts, good, _ = CASES["dpo"]
    path = _file(tmp_path, good, {**good, "rejected": None})
    with pytest.raises(DataError, match=r":2: read: .*rule null-value"):
        _read(path, accepts, "dpo", "stop")


def test_rows_left_out_are_listed_in_input_order_whichever_stage_refused_them(tmp_path):
    pytest.importorskip("torch")
    from train_support import make_tokenizer
    from trlprep.trainers.data import prepare

    rows = [
        {"chosen": "the sky is blue", "rejected": "the sky is red"},
        {"chosen": "x", "rejected": "x"},  # the conversion finds no prompt
        {"chosen": "", "rejected": "the sea is red"},  # validation: empty chosen
        {"chosen": "the sea is blue", "rejected": "the sea is green"},
    ]
    path = tmp_path / "implicit.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    prepared = prepare(
        str(path), "pairs", ["preference"], make_tokenizer(), max_length=None, algo="dpo",
        on_error="skip", log=[].append,
    )  # fmt: skip
    listed = [(r["line"], r["stage"]) for r in prepared.rejects.to_pylist()]
    assert listed == [(2, "conversion"), (3, "validation")]
