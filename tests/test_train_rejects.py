"""`train --on-error skip`: rows the import or the conversion refuses are left out, counted
in the log and listed by input row and file line in `data.rejects.jsonl`; without it the run
stops at the first, naming its line."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from trlprep.trainers.checkpoint import clear_previous_run  # noqa: E402
from trlprep.trainers.config import TrainConfig  # noqa: E402
from trlprep.trainers.data import prepare  # noqa: E402

from trlprep.errors import DataError, UsageError  # noqa: E402


def _turns(user: str, answer: str) -> str:
    return f"\n\nHuman: {user}\n\nAssistant: {answer}"


ROWS = [  # HH transcripts: line 2 cannot be imported, line 3 cannot be converted
    {"chosen": _turns("Hi", "Hello!"), "rejected": _turns("Hi", "Go away.")},
    {"chosen": _turns("Sky?", ""), "rejected": _turns("Sky?", "Green")},
    {"chosen": _turns("A?", "Yes"), "rejected": _turns("B?", "No")},
    {"chosen": _turns("Sea?", "Blue"), "rejected": _turns("Sea?", "Red")},
]


@pytest.fixture
def hh_file(tmp_path):
    path = tmp_path / "hh.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def _prepare(path, on_error, said):
    from train_support import make_tokenizer

    return prepare(
        str(path), "pairs", ["preference"], make_tokenizer(), max_length=None, algo="dpo",
        chat_template="chatml",
        data_layout="hh", on_error=on_error, log=said.append,
    )  # fmt: skip


def test_both_stages_rejects_are_named_by_their_input_row_and_line(hh_file):
    said: list[str] = []
    prepared = _prepare(hh_file, "skip", said)
    assert len(prepared) == 2
    rejects = prepared.rejects.to_pylist()
    assert [(r["row"], r["line"], r["stage"]) for r in rejects] == [
        (1, 2, "import"),
        (2, 3, "conversion"),  # row 1 of the imported table, row 2 of the file
    ]
    assert "share no first message" in rejects[1]["reason"]
    assert [json.loads(r["record"]) for r in rejects] == [ROWS[1], ROWS[2]]
    assert "data: 1 row could not be imported as hh and was left out" in said[0]
    assert any(s.startswith("data: 1 row could not be converted") for s in said)
    assert any(s.endswith(": 4 rows in, 2 left out, 2 converted -> 2 rows") for s in said), said


def test_without_skip_the_first_refused_row_stops_the_run_naming_its_line(hh_file):
    with pytest.raises(DataError, match=rf"{hh_file}:2: cannot import this row as hh") as e:
        _prepare(hh_file, "stop", [])
    # the hint in train's words (it said "to import the other rows")
    assert e.value.line == 2 and e.value.hint.startswith("nothing was trained; ")
    assert "to train on the other rows and list such rows in data.rejects.jsonl" in e.value.hint


def test_a_stopped_conversion_names_the_file_line_and_train_options(tmp_path):
    """The conversion sees the imported table; its first refused row is named by the file's
    line, and its hint by train's options (convert's --no-prompt is not one of them)."""
    path = tmp_path / "implicit.jsonl"
    rows = [
        {"chosen": "Q: hi A: yes", "rejected": "Q: hi A: no"},
        {"chosen": "x", "rejected": "x"},  # no split
        {"chosen": "xyz", "rejected": "qrs"},  # no shared prompt
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from train_support import make_tokenizer

    with pytest.raises(DataError) as caught:
        prepare(str(path), "pairs", ["preference"], make_tokenizer(), max_length=None,
                algo="dpo", on_error="stop", log=[].append)  # fmt: skip
    e = caught.value
    assert (e.path, e.line, e.row) == (str(path), 2, None)
    assert str(e).startswith(f"{path}:2: conversion: one of chosen and rejected is a prefix")
    assert e.hint.startswith("nothing was trained; fix or drop these rows (--on-error skip")
    assert e.hint.endswith(
        "; --no-prompt is an option of `trlprep convert`: convert the data with it first and "
        "train on the output"
    )


def test_a_stopped_conversion_after_an_import_names_the_files_line(hh_file, tmp_path):
    path = tmp_path / "hh.jsonl"  # without the row the import refuses: line 2 fails converting
    path.write_text("".join(json.dumps(r) + "\n" for r in [ROWS[0], ROWS[2], ROWS[3]]))
    with pytest.raises(DataError, match=rf"{path}:2: conversion: .*share no first message"):
        _prepare(path, "stop", [])


@pytest.mark.parametrize(
    ("hint", "said"),
    [
        (None, "nothing was trained; fix these rows; --on-error skip trains on the other rows"),
        ("use --map a=b or --from hh", "trained; use --data-map a=b or --data-from hh;"),
        ("nothing was written; see --label-merge, --separator", "--label-merge, --separator are"),
        (  # what skipping does, in train's words (it said "to write the other rows")
            "nothing was written; fix it, or pass --on-error skip to "
            "write the other rows and set these aside in a rejects file",
            "--on-error skip to train on the other rows and list these in data.rejects.jsonl",
        ),
    ],
)
def test_conversion_hints_are_said_in_train_options(hint, said):
    from trlprep.trainers.data_rejects import train_hint

    assert said in train_hint(hint)


def test_on_error_takes_stop_or_skip():
    with pytest.raises(UsageError, match="unknown on_error 'ignore'"):
        TrainConfig(algo="dpo", model="m", data="d", output_dir="o", on_error="ignore")


def test_a_run_writes_the_list_and_overwrite_removes_it(hh_file, tmp_path):
    from train_support import save_tiny_model
    from trlprep.trainers import train

    model = save_tiny_model(tmp_path / "model")
    out = tmp_path / "out"
    said: list[str] = []
    config = dict(
        algo="dpo", model=str(model), data=str(hh_file), data_from="hh", on_error="skip",
        output_dir=str(out), max_steps=1, batch_size=2, progress=False,
        chat_template="chatml",
    )  # fmt: skip
    train(config, log=said.append)
    listed = [json.loads(x) for x in (out / "data.rejects.jsonl").open()]
    assert [r["line"] for r in listed] == [2, 3]
    assert f"data: the rows left out are listed in {out / 'data.rejects.jsonl'}" in said
    assert "data.rejects.jsonl" in clear_previous_run(out)


def test_train_takes_the_importers_options_and_its_hints_say_so(tmp_path):
    """`--keep-empty-turns` (which the HH import's refusal recommends) reads the empty-answer
    transcript as a prompt for GRPO; bad values are refused with the config."""
    from train_support import make_tokenizer
    from trlprep.trainers.data_rejects import train_hint

    cfg = TrainConfig(algo="grpo", model="m", data="d", output_dir="o", keep_empty_turns=True)
    assert cfg.import_options() == {"keep_empty_turns": True}
    zero = TrainConfig(algo="kto", model="m", data="d", output_dir="o", threshold=0.0)
    assert zero.import_options() == {"threshold": 0.0}
    with pytest.raises(UsageError, match="unknown --neutral 'maybe'"):
        TrainConfig(algo="prm", model="m", data="d", output_dir="o", neutral="maybe")
    said: list[str] = []
    path = tmp_path / "hh.jsonl"
    path.write_text(json.dumps(ROWS[1]) + "\n")  # its chosen ends on an empty answer
    prepared = prepare(
        str(path), "prompts", ["prompt-only"], make_tokenizer(), max_length=None, algo="grpo",
        chat_template="chatml", data_layout="hh", import_options=cfg.import_options(),
        label="eval data", log=said.append,
    )  # fmt: skip
    assert len(prepared) == 1
    assert said[0] == "eval data: hh layout -> prompt-only (chat template applied): 1 row in"
    assert "--keep-empty-turns" not in train_hint("pass --keep-empty-turns").split(";", 2)[-1]


def test_eval_data_has_a_layout_of_its_own(hh_file, tmp_path):
    from types import SimpleNamespace

    from train_support import make_tokenizer
    from trlprep.trainers.algorithms import get_algorithm
    from trlprep.trainers.setup import prepare_data

    sharegpt = tmp_path / "eval.jsonl"
    turns = [{"from": "human", "value": "Hi"}]
    row = {"conversations": turns, "chosen": {"from": "gpt", "value": "Hello"},
           "rejected": {"from": "gpt", "value": "Go"}}  # fmt: skip
    sharegpt.write_text(json.dumps(row) + "\n")
    algo = get_algorithm("dpo")
    cfg = TrainConfig(
        algo="dpo", model="m", data=str(hh_file), output_dir="o", data_from="hh",
        on_error="skip", chat_template="chatml", eval_data=str(sharegpt), eval_data_from="sharegpt",
    )  # fmt: skip
    said: list[str] = []
    t = SimpleNamespace(algo=algo, cfg=cfg, tokenizer=make_tokenizer(), options=None,
                        log=said.append)  # fmt: skip
    assert len(prepare_data(t, str(hh_file), training=True)) == 2
    assert len(prepare_data(t, str(sharegpt), training=False)) == 1
    assert any(s.startswith("eval data: sharegpt layout -> preference") for s in said), said


def test_a_row_with_a_null_chosen_is_left_out_and_listed(tmp_path):
    """`train --on-error skip` on preference rows, one with `"chosen": null`: it trains on
    the others and lists that row (it used to stop with 'the data is not uniform')."""
    from train_support import save_tiny_model
    from trlprep.trainers import train

    rows = [{"prompt": f"Q{i}?", "chosen": f" yes {i}", "rejected": f" no {i}"} for i in range(4)]
    rows[2]["chosen"] = None
    path = tmp_path / "pref.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    said: list[str] = []
    config = dict(
        algo="dpo", model=str(save_tiny_model(tmp_path / "model")), data=str(path),
        on_error="skip", output_dir=str(out), max_steps=1, batch_size=2, progress=False,
    )  # fmt: skip
    train(config, log=said.append)
    (listed,) = [json.loads(x) for x in (out / "data.rejects.jsonl").open()]
    assert (listed["row"], listed["line"], listed["stage"]) == (2, 3, "read")
    assert listed["reason"].startswith("column 'chosen': a required value is null")
    assert "data: preference: 4 rows in, 1 left out, 3 converted -> 3 rows" in said, said


@pytest.mark.parametrize("key", ["eval_split", "eval_data_from", "eval_data_map"])
def test_eval_data_options_without_eval_data_are_refused(key):
    """--eval-split (--eval-data-from, --eval-data-map) alone was silently ignored."""
    flag = "--" + key.replace("_", "-")
    with pytest.raises(UsageError, match=f"{flag} is about --eval-data, and there is none"):
        TrainConfig(algo="sft", model="m", data=[], output_dir="o", **{key: "x"})
    TrainConfig(algo="sft", model="m", data=[], output_dir="o", eval_data=[], **{key: "x"})
