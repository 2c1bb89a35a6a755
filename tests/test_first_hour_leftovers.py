"""First-hour leftovers as a new user meets them: a reject reason says what happened (never
advice already taken), an unknown output suffix refused before reading, and more."""

from __future__ import annotations

import json
import warnings

import pytest
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.importers import import_dataset

runner = CliRunner()

HH = [
    {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello", "rejected": "\n\nHuman: Hi\n\nAssistant: No"},
    {"chosen": "\n\nHuman: Yo\n\nAssistant: ", "rejected": "\n\nHuman: Yo\n\nAssistant: Hm"},
]


def _write(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_hh_skip_reason_says_what_happened_not_to_skip(tmp_path):
    src, out = _write(tmp_path / "hh.jsonl", HH), tmp_path / "o.jsonl"
    r = runner.invoke(app, ["convert", src, "--from", "hh", "--on-error", "skip", "-o", str(out)])
    assert r.exit_code == 0, r.output
    rejects = [json.loads(x) for x in (tmp_path / "o.rejects.jsonl").read_text().splitlines()]
    assert [x["line"] for x in rejects] == [2]
    assert "ends with an empty Assistant turn" in rejects[0]["reason"]
    assert "on-error" not in rejects[0]["reason"] and "on-error skip sets" not in r.output
    stop = runner.invoke(app, ["convert", src, "--from", "hh", "-o", str(tmp_path / "s.jsonl")])
    assert stop.exit_code == 1 and "--on-error skip" in stop.output  # the stop hint says it


def test_hh_skip_warning_in_python_does_not_advise_skip(tmp_path):
    src = _write(tmp_path / "hh.jsonl", HH)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = import_dataset(src, "hh", on_error="skip")
    assert table.num_rows == 1
    said = " ".join(str(w.message) for w in caught)
    assert "empty Assistant turn" in said and "on_error" not in said


def test_unknown_output_suffix_is_refused_before_any_read(tmp_path):
    missing = str(tmp_path / "not-there.jsonl")  # a read would fail with "no such file"
    for args in (["convert", missing], ["import", missing, "--from", "alpaca"]):
        r = runner.invoke(app, [*args, "-o", str(tmp_path / "out.jsonx")])
        assert r.exit_code == 2, r.output
        assert "cannot tell the output format" in r.output and "no such file" not in r.output
        assert ".parquet, .jsonl" in r.output and "--output-format" in r.output


def _folder_with_a_model(tmp_path):
    data = tmp_path / "examples"
    (data / "tiny-model").mkdir(parents=True)
    for name in ("a", "b"):
        _write(data / f"{name}.jsonl", [{"prompt": f"hi {name}", "completion": "yo"}])
    (data / "tiny-model" / "config.json").write_text('{"model_type": "llama"}')
    (data / "tiny-model" / "tokenizer_config.json").write_text("{}")
    (data / "tiny-model" / "tokenizer.json").write_text("{}")
    (data / "run.yaml").write_text("x: 1\n")
    return data


def test_a_folder_reads_its_data_files_and_names_what_it_left_out(tmp_path):
    data = str(_folder_with_a_model(tmp_path))
    said = "left out the model or tokenizer folder tiny-model/ and a file of no data format"
    for args in (["detect", data], ["validate", data], ["report", data]):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, r.output
        assert "reading 2 data files" in r.output and said in r.output and "run.yaml" in r.output
    out = tmp_path / "o.jsonl"
    r = runner.invoke(app, ["convert", data, "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "2 rows in, 0 rejected" in r.output and len(out.read_text().splitlines()) == 2


def test_python_detect_notes_what_a_folder_left_out(tmp_path):
    import trlprep

    det = trlprep.detect(str(_folder_with_a_model(tmp_path)))
    assert det.type.name == "prompt-completion"
    assert any("tiny-model/" in n for n in det.notes)


def test_a_folder_of_data_only_gets_no_note(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    _write(data / "a.jsonl", [{"prompt": "hi", "completion": "yo"}])
    _write(data / "b.jsonl", [{"prompt": "ho", "completion": "yo"}])
    r = runner.invoke(app, ["detect", str(data)])
    assert r.exit_code == 0 and "left out" not in r.output


def _messages_csv(path, values) -> str:
    import csv

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["messages"])
        w.writerows([v] for v in values)
    return str(path)


CHAT = json.dumps([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])


def test_detect_and_validate_agree_on_a_csv_messages_column_of_text(tmp_path):
    for values in ([CHAT, "just plain text", CHAT], ["plain a", "plain b"]):
        src = _messages_csv(tmp_path / "m.csv", values)
        det = runner.invoke(app, ["detect", src])
        val = runner.invoke(app, ["validate", src])
        conv = runner.invoke(app, ["convert", src, "-o", str(tmp_path / "o.jsonl")])
        assert (det.exit_code, val.exit_code, conv.exit_code) == (1, 1, 1), det.output
        assert "column 'messages' holds text" in det.output
        assert "--map text=messages" in det.output and "--map text=messages" in conv.output


def test_a_csv_messages_column_of_chats_stays_valid(tmp_path):
    src = _messages_csv(tmp_path / "m.csv", [CHAT, CHAT.replace("hi", "ho")])
    det = runner.invoke(app, ["detect", src])
    assert det.exit_code == 0 and "conversational" in det.output, det.output
    assert runner.invoke(app, ["validate", src]).exit_code == 0


def test_map_suggestion_knows_answer_columns_under_other_names():
    from trlprep.detection.layouthint import map_suggestion

    assert map_suggestion(["id", "question", "model_answer"]) == (
        "prompt=question,completion=model_answer"
    )
    assert map_suggestion(["instruction", "generated_text"]) == (
        "prompt=instruction,completion=generated_text"
    )
    truthfulqa = ["type", "question", "best_answer", "correct_answers", "incorrect_answers"]
    assert map_suggestion(truthfulqa) == "prompt=question,completion=best_answer"
    assert map_suggestion(["inputs", "targets"]) == "prompt=inputs,completion=targets"
    assert map_suggestion(["question", "answer"]) == "prompt=question,completion=answer"


def test_map_suggestion_leaves_compared_answers_alone():
    from trlprep.detection.layouthint import map_suggestion

    for columns in (
        ["question", "model_answer_a", "model_answer_b"],
        ["question", "model_answer", "winner"],
        ["prompt", "model_output", "rank"],
        ["question", "model_answer", "model_output"],  # which one is the answer?
        ["text", "label_text"],  # a class name, no answer
    ):
        assert map_suggestion(columns) is None, columns


def test_detect_suggests_the_map_on_real_model_answers():
    from pathlib import Path

    src = Path(__file__).parent / "realdata" / "truthfulqa_multi_review" / "en.first40.csv"
    r = runner.invoke(app, ["detect", str(src)])
    assert "`--map prompt=question,completion=model_answer`" in r.output, r.output


def test_template_tables_have_no_trailing_spaces_and_keep_their_columns():
    listing = runner.invoke(app, ["templates"])
    checked = runner.invoke(app, ["check-template", "--chat-template", "chatml"])
    assert listing.exit_code == 0 and checked.exit_code in (0, 1), checked.output
    for r in (listing, checked):
        lines = r.output.splitlines()
        assert len(lines) > 3 and not [x for x in lines if x != x.rstrip()], r.output
    rows = listing.output.splitlines()
    at = rows[0].index("description")  # the last column starts at one offset on every row
    assert all(len(x) > at and x[at - 1] == " " and x[at] != " " for x in rows[1:]), rows


def test_a_tokenizer_without_a_chat_template_is_a_usage_error(tmp_path):
    pytest.importorskip("transformers")
    from pathlib import Path

    model = Path(__file__).resolve().parents[1] / "examples" / "tiny-chat-model"
    folder = tmp_path / "no-template"
    folder.mkdir()
    (folder / "tokenizer.json").write_bytes((model / "tokenizer.json").read_bytes())
    config = json.loads((model / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    chats = str(model.parent / "language_modeling_conversational.jsonl")
    out = tmp_path / "o.jsonl"
    for args in (
        ["convert", chats, "--chat-template", str(folder), "-o", str(out)],
        ["report", chats, "--chat-template", str(folder)],
        ["check-template", "--chat-template", str(folder)],
    ):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert "has no chat template" in r.output
    assert not out.exists()
