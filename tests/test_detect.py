"""Detection: type, format, modality and column roles, checked on every row."""

from __future__ import annotations

import json

import datasets
import polars as pl
import pyarrow as pa
import pytest
from conftest import EXAMPLES, _m
from typer.testing import CliRunner

import trlprep
from trlprep.cli import app
from trlprep.io.readers import table_from_records


@pytest.mark.parametrize("key", sorted(EXAMPLES), ids=lambda k: f"{k[0]}-{k[1]}")
def test_every_type_and_format_is_detected(key):
    dtype, fmt = key
    row = EXAMPLES[key]
    det = trlprep.detect([row, row, row])
    assert det.type.name == dtype
    assert det.format.value == fmt
    assert det.num_rows == 3
    assert det.problems == []
    assert det.extra_columns == []
    assert set(det.columns.values()) == set(row)


def test_roles_seen_and_extra_and_side_columns():
    row = {
        "prompt": [_m("system", "Be brief."), _m("user", "Hi")],
        "completion": [_m("assistant", "Hello")],
        "source": "web",
        "tools": "[]",
        "margin": 1.5,
    }
    det = trlprep.detect([row])
    assert det.type.name == "prompt-completion"
    assert det.roles == ["assistant", "system", "user"]
    assert det.extra_columns == ["source"]
    assert det.side_columns == ["tools", "margin"]
    assert det.columns == {"prompt": "prompt", "completion": "completion"}


def test_mixed_formats_reported_with_counts_and_rows():
    std = EXAMPLES[("preference", "standard")]
    conv = EXAMPLES[("preference", "conversational")]
    det = trlprep.detect([std, std, conv, std])
    assert det.type.name == "preference"
    assert det.format is None
    prompt_msgs = [p for p in det.problems if p.code == "mixed-format" and "'prompt'" in p.message]
    # the odd row is the problem; the 3 rows holding text, as most rows do, are not
    (odd,) = prompt_msgs
    assert "messages" in odd.message and odd.count == 1 and odd.rows == [2]
    assert all(p.rows == [2] for p in det.problems)


def test_a_column_all_of_one_kind_is_not_blamed_for_another_columns_mix():
    rows = [
        {"prompt": "a", "completion": "b"},
        {"prompt": "c", "completion": 3},
        {"prompt": "e", "completion": ["x"]},
        {"prompt": "e", "completion": None},
    ]
    det = trlprep.detect(rows)
    assert det.type.name == "prompt-completion"
    assert [(p.code, p.message, p.rows) for p in det.problems] == [
        (
            "mixed-format",
            "column 'completion': 1 row holds a list of strings, not messages (a message is "
            'an object with "role" and "content"): join the strings into one text, or give '
            "each as a message",
            [2],
        ),
        ("mixed-format", "column 'completion': 1 row holds number", [1]),
        (
            "missing-value",
            "column 'completion' is null or absent in 1 of 4 rows (rows of another type, or "
            "missing data)",
            [3],
        ),
    ]
    # no majority (as many text values as message lists): every kind is listed
    tie = trlprep.detect([{"prompt": [{"role": "user", "content": "a"}], "completion": "b"}])
    assert {p.message for p in tie.problems} == {
        "column 'prompt': 1 row holds messages",
        "column 'completion': 1 row holds string",
    }
    # a text prompt beside an answer of assistant messages: the prompt-answers layout
    read = trlprep.detect([{"prompt": "a", "completion": [{"role": "assistant", "content": "b"}]}])
    assert (read.type.name, read.layout, read.problems) == (
        "prompt-completion",
        "prompt-answers",
        [],
    )


def test_rows_of_another_type_are_reported_not_guessed():
    explicit = EXAMPLES[("preference", "standard")]
    implicit = EXAMPLES[("preference-implicit", "standard")]
    det = trlprep.detect([explicit, implicit, explicit, implicit])
    assert det.type.name == "preference"
    [p] = [p for p in det.problems if p.code == "missing-value"]
    assert p.count == 2 and p.rows == [1, 3]


def test_detection_checks_every_row_not_the_first():
    rows = [EXAMPLES[("prompt-completion", "standard")]] * 1000
    rows = rows + [{"prompt": "x", "completion": [_m("assistant", "y")]}]
    det = trlprep.detect(rows)
    assert det.format is None
    assert any(p.rows == [1000] for p in det.problems)


def test_ambiguous_prompt_repeated_inside_chosen():
    row = {"prompt": "The sky is", "chosen": "The sky is blue.", "rejected": "The sky is green."}
    det = trlprep.detect([row, EXAMPLES[("preference", "standard")]])
    [p] = [p for p in det.problems if p.code == "ambiguous-prompt"]
    assert p.rows == [0]
    assert "explicit" in p.message and "drop the 'prompt' column" in p.message


def test_ambiguous_prompt_conversational():
    prompt = [_m("user", "What color is the sky?")]
    row = {
        "prompt": prompt,
        "chosen": prompt + [_m("assistant", "It is blue.")],
        "rejected": prompt + [_m("assistant", "It is green.")],
    }
    det = trlprep.detect([row])
    assert [p.code for p in det.problems] == ["ambiguous-prompt"]


def test_vision_flag_from_images_and_content_parts():
    row = {
        "images": ["img.png"],
        "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "?"}]}],
        "completion": [{"role": "assistant", "content": [{"type": "text", "text": "Blue."}]}],
    }
    det = trlprep.detect([row])
    assert det.vision and det.format.value == "conversational"
    assert det.side_columns == ["images"]
    assert not trlprep.detect([EXAMPLES[("prompt-only", "conversational")]]).vision


def test_tokenized_language_modeling():
    det = trlprep.detect(
        pa.table({"input_ids": [[1, 2, 3], [4]], "attention_mask": [[1, 1, 1], [1]]})
    )
    assert det.type.name == "language-modeling"
    assert det.format.value == "tokenized" and det.tokenized
    assert det.columns == {"input_ids": "input_ids", "attention_mask": "attention_mask"}


def test_label_of_wrong_kind_is_a_problem():
    row = dict(EXAMPLES[("unpaired-preference", "standard")], label=1)
    det = trlprep.detect([row])
    assert det.type.name == "unpaired-preference"
    assert [p.code for p in det.problems] == ["wrong-kind"]


def test_unknown_columns_give_no_type_and_say_what_is_expected():
    det = trlprep.detect([{"question": "a", "answer": "b"}])
    assert det.type is None
    assert "expected one of" in det.notes[0]
    assert det.extra_columns == ["question", "answer"]


def test_empty_table():
    with pytest.raises(trlprep.DataError, match="no rows"):  # as `trlprep detect` says it
        trlprep.detect(pa.table({"prompt": pa.array([], pa.string())}))
    det = trlprep.detect(pa.table({"prompt": pa.array([], pa.string())}), allow_empty=True)
    assert det.num_rows == 0
    assert (det.type.name, det.format.value) == ("prompt-only", "standard")
    empty = pa.table({"x": pa.array([], pa.string())})
    assert trlprep.detect(empty, allow_empty=True).type is None


@pytest.mark.parametrize("kind", ["arrow", "polars", "dataset", "list", "dict"])
def test_accepts_every_python_kind(kind):
    rows = [EXAMPLES[("preference", "conversational")]] * 2
    table = table_from_records(rows)
    data = {
        "arrow": table,
        "polars": pl.from_arrow(table),
        "dataset": datasets.Dataset(table),
        "list": rows,
        "dict": {k: [r[k] for r in rows] for k in rows[0]},
    }[kind]
    det = trlprep.detect(data)
    assert (det.type.name, det.format.value, det.num_rows) == ("preference", "conversational", 2)


def test_dataset_dict_gives_one_result_per_split():
    t = table_from_records([EXAMPLES[("prompt-only", "standard")]])
    dd = datasets.DatasetDict({"train": datasets.Dataset(t), "test": datasets.Dataset(t)})
    res = trlprep.detect(dd)
    assert set(res) == {"train", "test"}
    assert res["test"].type.name == "prompt-only"


def test_jsonl_problems_carry_file_line_numbers(tmp_path):
    p = tmp_path / "mixed.jsonl"
    std = EXAMPLES[("preference", "standard")]
    implicit = EXAMPLES[("preference-implicit", "standard")]
    p.write_text(json.dumps(std) + "\n\n" + json.dumps(implicit) + "\n" + json.dumps(std) + "\n")
    det = trlprep.detect(p)
    [prob] = [x for x in det.problems if x.code == "missing-value"]
    assert prob.rows == [1] and prob.lines == [3]


def test_cli_detect_json_and_exit_codes(tmp_path):
    p = tmp_path / "pref.jsonl"
    p.write_text("\n".join(json.dumps(EXAMPLES[("preference", "standard")]) for _ in range(3)))
    runner = CliRunner()
    res = runner.invoke(app, ["detect", str(p), "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["type"] == "preference" and obj["format"] == "standard"
    assert obj["num_rows"] == 3 and obj["problems"] == [] and obj["extra_columns"] == []
    assert obj["vision"] is False

    bad = tmp_path / "mixed.jsonl"
    bad.write_text(
        json.dumps(EXAMPLES[("preference", "standard")])
        + "\n"
        + json.dumps(EXAMPLES[("preference", "conversational")])
        + "\n"
    )
    res = runner.invoke(app, ["detect", str(bad)])
    assert res.exit_code == 1
    assert "mixed-format" in res.stdout and "(e.g. line 2)" in res.stdout


def test_all_empty_lists_still_count_as_present():
    det = trlprep.detect([{"prompt": "p", "completions": [], "labels": []}])
    assert det.type.name == "stepwise-supervision" and det.format.value == "standard"
    assert det.problems == []
