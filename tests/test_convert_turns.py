"""Conversations read as other types (detect, plan, API, CLI), no-op conversions, joins
without a separator, and conversions that leave no rows."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from trlprep.api import convert
from trlprep.cli import app
from trlprep.conversion.convert import make_plan
from trlprep.detection.detect import detect_table
from trlprep.errors import DataError, UsageError

runner = CliRunner()
REALDATA = Path(__file__).resolve().parent / "realdata"


def m(role: str, text: str) -> dict:
    return {"role": role, "content": text}


U1, A1, U2, A2 = (
    m("user", "Hi"),
    m("assistant", "Hello."),
    m("user", "Sky?"),
    m("assistant", "Blue."),
)
KTO = [
    {"messages": [U1, A1], "label": True},
    {"messages": [U1, A1, U2, A2], "label": False},
]
RLVR = [
    {"messages": [m("system", "Reason step by step."), m("user", "1+1?")], "ground_truth": "2"},
    {"messages": [m("user", "2+2?")], "ground_truth": "4"},
]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


# ---------------------------------------------------------------- detection


def test_messages_and_boolean_label_are_unpaired_preference():
    det = detect_table(pa.Table.from_pylist(KTO))
    assert det.type.name == "unpaired-preference" and det.format.value == "conversational"
    assert det.columns == {"prompt": "messages", "completion": "messages", "label": "label"}
    assert det.extra_columns == [] and det.uniform
    assert det.reading.kind == "last-assistant-turn"
    assert det.stored_type.name == "language-modeling"
    assert "last assistant turn" in det.reading.description
    assert any("--from lm keeps it language modeling" in n for n in det.notes)
    assert det.to_dict()["reading"]["column"] == "messages"


def test_unpaired_rows_without_a_final_assistant_turn_are_problems():
    rows = [*KTO, {"messages": [U1, A1, U2], "label": True}, {"messages": [A1], "label": False}]
    det = detect_table(pa.Table.from_pylist(rows))
    assert det.type.name == "unpaired-preference"
    found = {p.message: p.rows for p in det.problems if p.code == "no-completion"}
    assert found == {
        "column 'messages': 1 row ends on a user turn, so no completion to read as unpaired "
        "preference": [2],
        "column 'messages': 1 row holds only an assistant turn (no prompt), so no completion to "
        "read as unpaired preference": [3],
    }


def test_a_label_that_is_not_boolean_stays_an_extra():
    rows = [{"messages": [U1, A1], "label": "good"}]
    det = detect_table(pa.Table.from_pylist(rows))
    assert det.type.name == "language-modeling" and det.extra_columns == ["label"]
    assert det.reading is None


def test_conversations_all_ending_on_a_user_turn_are_prompts():
    det = detect_table(pa.Table.from_pylist(RLVR))
    assert det.type.name == "prompt-only" and det.columns == {"prompt": "messages"}
    assert det.extra_columns == ["ground_truth"] and det.reading.kind == "prompt"
    mixed = detect_table(pa.Table.from_pylist([*RLVR, {"messages": [U1, A1], "ground_truth": ""}]))
    assert mixed.type.name == "language-modeling" and mixed.reading is None
    assert any("2 of 3 conversations end on a user turn" in n for n in mixed.notes)


# ---------------------------------------------------------------- plan and Python API


def test_plan_reads_the_messages_before_the_route():
    plan = make_plan(detect_table(pa.Table.from_pylist(KTO)), to="pc")
    assert plan.source_columns == ("messages", "label")
    assert [s["step"] for s in plan.explain()] == [
        "read messages, label as unpaired-preference",
        "unpaired-preference -> prompt-completion",
    ]


def test_api_converts_kto_rows_from_the_unpaired_reading():
    assert convert(KTO, "unpaired") == [
        {"prompt": [U1], "completion": [A1], "label": True},
        {"prompt": [U1, A1, U2], "completion": [A2], "label": False},
    ]
    assert convert(KTO, "pc") == [{"prompt": [U1], "completion": [A1]}]
    assert convert(KTO, "lm") == [{"messages": [U1, A1]}]  # the label-false answer is gone
    assert convert(RLVR, "prompt-only")[1] == {"prompt": [m("user", "2+2?")], "ground_truth": "4"}
    # --from lm: the user says it is language modeling; the label stays an extra
    assert convert(KTO, "pc", from_="lm")[1]["label"] is False


def test_api_splits_chat_at_the_last_assistant_turn():
    rows = [{"messages": [U1, A1, U2, A2], "id": 3}]
    assert convert(rows, "pc") == [{"prompt": [U1, A1, U2], "completion": [A2], "id": 3}]
    assert convert(rows, "prompt-only") == [{"prompt": [U1, A1, U2], "id": 3}]
    two = convert(rows, "pc", split_turns="all")
    assert [r["completion"] for r in two] == [[A1], [A2]]
    with pytest.raises(UsageError, match="in standard format") as e:
        convert([{"text": "Hi. Hello."}], "pc")
    assert "no turn structure" in e.value.hint


def test_same_type_is_a_no_op_with_a_note():
    det = detect_table(pa.Table.from_pylist([{"text": "a"}]))
    plan = make_plan(det, to="lm")
    assert plan.route.steps == () and plan.steps == ()
    assert plan.notes() == ["the data is already language-modeling (standard): no conversion"]
    assert convert([{"text": "a", "id": 1}], "lm") == [{"text": "a", "id": 1}]


def test_unknown_type_names_the_columns_seen_and_what_types_need():
    det = detect_table(pa.table({}))
    with pytest.raises(DataError) as e:
        make_plan(det, to="lm")
    assert e.value.message.startswith("cannot tell the dataset type: no rows and no columns")
    assert "language-modeling: text" in e.value.message


# ---------------------------------------------------------------- CLI


def test_detect_says_how_it_reads_the_columns(tmp_path):
    src = _jsonl(tmp_path / "kto.jsonl", KTO)
    r = runner.invoke(app, ["detect", str(src)])
    assert r.exit_code == 0, r.output
    assert "unpaired-preference" in r.output
    assert "the last assistant turn" in " ".join(r.output.split())
    assert "reads" in r.output


def test_kto_chat_template_gives_prompt_completion_label_rows(tmp_path):
    src = _jsonl(tmp_path / "kto.jsonl", KTO)
    out = tmp_path / "out.jsonl"
    r = runner.invoke(app, ["convert", str(src), "--chat-template", "chatml", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert _rows(out) == [
        {
            "prompt": "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
            "completion": "Hello.<|im_end|>\n",
            "label": True,
        },
        {
            "prompt": "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n"
            "<|im_start|>user\nSky?<|im_end|>\n<|im_start|>assistant\n",
            "completion": "Blue.<|im_end|>\n",
            "label": False,
        },
    ]


def test_same_type_writes_the_data_with_a_note(tmp_path):
    src = _jsonl(tmp_path / "lm.jsonl", [{"text": "a"}, {"text": "b"}])
    out = tmp_path / "out.jsonl"
    r = runner.invoke(app, ["convert", str(src), "--to", "lm", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "already language-modeling" in r.output and _rows(out) == [{"text": "a"}, {"text": "b"}]


def test_sharegpt_to_language_modeling_is_written(tmp_path):
    src = REALDATA / "fastchat_dummy" / "dummy_conversation.json"
    out = tmp_path / "out.jsonl"
    r = runner.invoke(
        app, ["convert", str(src), "--from", "sharegpt", "--to", "lm", "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    rows = _rows(out)
    assert rows and all(x["messages"] for x in rows)


def test_split_turns_all_on_real_sharegpt(tmp_path):
    src = REALDATA / "fastchat_dummy" / "dummy_conversation.json"
    records = json.loads(src.read_text())
    out = tmp_path / "out.jsonl"
    args = ["convert", str(src), "--from", "sharegpt", "--to", "pc", "-o", str(out)]
    r = runner.invoke(app, [*args, "--split-turns", "all"])
    assert r.exit_code == 0, r.output
    rows = _rows(out)
    turns = sum(1 for rec in records for t in rec["conversations"][1:] if t["from"] == "gpt")
    assert len(rows) == turns
    first = records[0]["conversations"]
    assert rows[0]["prompt"][-1]["content"] == first[0]["value"]
    assert rows[0]["completion"][0]["content"] == first[1]["value"]


def test_joins_without_a_separator_are_noted_once(tmp_path):
    rows = [{"prompt": f"Q{i}", "completion": f"A{i}"} for i in range(3)]
    src = _jsonl(tmp_path / "pc.jsonl", rows)
    out = tmp_path / "out.jsonl"
    r = runner.invoke(app, ["convert", str(src), "--to", "lm", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert r.output.count("joined without a separator") == 1
    assert _rows(out)[0] == {"text": "Q0A0"}
    r = runner.invoke(
        app, ["convert", str(src), "--to", "lm", "-o", str(out), "--overwrite", "--separator", " "]
    )
    assert r.exit_code == 0 and "without a separator" not in r.output
    assert _rows(out)[0] == {"text": "Q0 A0"}


STEPWISE = [
    {"prompt": "Q", "completions": ["a", "b"], "labels": [True, False]},
    {"prompt": "R", "completions": ["c"], "labels": [False]},
]


def test_stepwise_that_filters_every_row_writes_nothing_and_says_why(tmp_path):
    src = _jsonl(tmp_path / "sw.jsonl", STEPWISE)
    out = tmp_path / "out.jsonl"
    r = runner.invoke(app, ["convert", str(src), "--to", "pc", "-o", str(out)])
    assert r.exit_code == 1
    assert "all 2 rows were dropped" in " ".join(r.output.split())
    assert "false step label" in r.output and "--to unpaired" in r.output
    assert not out.exists()
    r = runner.invoke(app, ["convert", str(src), "--to", "pc", "-o", str(out), "--allow-empty"])
    assert r.exit_code == 0, r.output
    assert out.exists() and _rows(out) == []


def test_unpairing_warning_only_when_pairs_are_unpaired(tmp_path):
    src = _jsonl(tmp_path / "sw.jsonl", STEPWISE)
    out = tmp_path / "out.jsonl"
    r = runner.invoke(app, ["convert", str(src), "--to", "unpaired", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "unpairing labels" not in r.output
    pref = _jsonl(tmp_path / "p.jsonl", [{"prompt": "Q", "chosen": "a", "rejected": "b"}])
    r = runner.invoke(
        app, ["convert", str(pref), "--to", "unpaired", "-o", str(tmp_path / "u.jsonl")]
    )
    assert r.exit_code == 0 and "unpairing labels" in r.output


def test_explain_never_gives_an_empty_reason(tmp_path):
    src = _jsonl(tmp_path / "x.jsonl", [{"foo": 1, "bar": "x"}])
    r = runner.invoke(app, ["convert", str(src), "--to", "lm", "--explain"])
    assert r.exit_code == 1
    text = " ".join(r.output.split())
    assert "cannot tell the dataset type: " in text
    assert "cannot tell the dataset type: \n" not in r.output
    assert "bar" in text and "foo" in text


# ---------------------------------------------------------------- the trainers' data path


def test_trainers_read_kto_and_rlvr_messages_as_detect_does():
    from trainers.data_table import MESSAGES_COLUMN, to_training_table

    table, src, route, templated, *_ = to_training_table(
        KTO, ["unpaired-preference"], None, chat_template="chatml", algo="kto"
    )
    assert (src, route, templated) == ("unpaired-preference", ["unpaired-preference"], True)
    assert table.column("label").to_pylist() == [True, False]
    assert table.column("completion").to_pylist()[1] == "Blue.<|im_end|>\n"
    table, src, route, *_ = to_training_table(
        RLVR, ["prompt-only"], None, chat_template="chatml", algo="grpo", keep_prompt_messages=True
    )
    assert src == "prompt-only" and table.column("ground_truth").to_pylist() == ["2", "4"]
    assert table.column(MESSAGES_COLUMN).to_pylist() == [r["messages"] for r in RLVR]


def test_graph_marks_conversational_only_routes():
    r = runner.invoke(app, ["graph"])
    assert r.exit_code == 0 and "(conv.)" in r.output and "conversational data only" in r.output


def test_kto_rows_without_a_completion_are_row_errors_that_can_be_skipped(tmp_path):
    src = _jsonl(tmp_path / "kto.jsonl", [*KTO, {"messages": [U1], "label": True}])
    out = tmp_path / "out.jsonl"
    r = runner.invoke(app, ["convert", str(src), "--to", "unpaired", "-o", str(out)])
    assert r.exit_code == 1 and "kto.jsonl:3" in r.output and "no completion" in r.output
    assert not out.exists()
    r = runner.invoke(
        app, ["convert", str(src), "--to", "unpaired", "-o", str(out), "--on-error", "skip"]
    )
    assert r.exit_code == 0, r.output
    assert "1 rejected" in r.output and len(_rows(out)) == 2


def test_explain_says_split_turns_all_makes_more_rows():
    from trlprep.converters import ConvertOptions

    det = detect_table(pa.Table.from_pylist([{"messages": [U1, A1, U2, A2]}]))
    plan = make_plan(det, to="pc", options=ConvertOptions(split_turns="all"))
    assert plan.explain()[0]["rows"] == "more rows"
    assert make_plan(det, to="pc").explain()[0]["rows"] == "same rows"
