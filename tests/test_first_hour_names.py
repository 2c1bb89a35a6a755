"""A new user's misspelt names: `--to unpiared` and `--to dpo` say what was meant, and a
`--map` whose NEW name is a slip of a column trlprep reads (`promtp=prompt`) is refused
instead of turning the column into an extra and silently changing the dataset's type."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import trlprep
from trlprep.cli import app
from trlprep.errors import UsageError
from trlprep.importers import parse_column_map

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _convert(*args: str):
    return CliRunner().invoke(app, ["convert", *args])


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("unpiared", "(did you mean 'unpaired'?)"),
        ("prefrence", "(did you mean 'preference'?)"),
        ("langauge-modeling", "(did you mean 'language-modeling'?)"),
        ("dpo", "(dpo is a trainer: it reads preference)"),
        ("kto", "(kto is a trainer: it reads preference or unpaired-preference)"),
        ("sft", "(sft is a trainer: it reads language-modeling or prompt-completion)"),
        ("grpo", "(grpo is a trainer: it reads prompt-only)"),
    ],
)
def test_to_a_misspelt_type_or_a_trainer_name_says_what_was_meant(tmp_path, typed, said):
    out = tmp_path / "out.jsonl"
    res = _convert(str(EXAMPLES / "preference.jsonl"), "--to", typed, "-o", str(out))
    assert res.exit_code == 2
    assert f"unknown dataset type {typed!r} {said}" in res.output
    assert not out.exists()


def test_an_unknown_type_far_from_every_name_gets_no_guess():
    with pytest.raises(UsageError) as err:
        trlprep.convert([{"prompt": "a", "chosen": "b", "rejected": "c"}], "xyz")
    assert str(err.value).splitlines()[0] == "unknown dataset type 'xyz'"


def test_map_onto_a_misspelt_type_column_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "out.jsonl"
    res = _convert(
        str(EXAMPLES / "preference.jsonl"), "--map", "promtp=prompt", "--to", "lm", "-o", str(out)
    )
    assert res.exit_code == 2
    assert "--map promtp=prompt: 'promtp' is no column name trlprep reads" in res.output
    assert "(did you mean 'prompt'?)" in res.output
    assert "'prompt' is read under its own name: leave it out of --map" in res.output
    assert not out.exists()


def test_map_misspelling_hint_names_the_users_column(tmp_path):
    data = tmp_path / "qa.jsonl"
    data.write_text('{"question": "2+2?", "answer": "4"}\n')
    res = _convert(str(data), "--map", "promt=question,completion=answer", "--to", "lm")
    assert res.exit_code == 2
    assert "hint: NEW is the name trlprep reads, OLD your column: --map prompt=question" in (
        res.output
    )


def test_python_map_misspelling_names_the_keyword():
    rows = [{"prompt": "a", "completion": "b"}]
    with pytest.raises(UsageError) as err:
        trlprep.convert(rows, "lm", map={"complteion": "completion"})
    assert "map={'complteion': 'completion'}" in str(err.value)
    assert "--map" not in str(err.value)


@pytest.mark.parametrize(
    "spec",
    [
        "chosen_id=safer_response_id",  # saferlhf's own name
        "messages_orig=messages,messages=messages.messages",
        "prompt_text=prompt",
        "label=thumbs_up",
        "labels=ratings",
        "image=picture",
        "input=context,output=response",
    ],
)
def test_map_names_of_ones_own_or_of_a_layout_are_kept(spec):
    assert parse_column_map(spec)


@pytest.mark.parametrize(
    ("typed", "meant"), [("qwen25", "qwen2.5"), ("llama31", "llama3.1"), ("chatlm", "chatml")]
)
def test_a_misspelt_builtin_chat_template_says_what_was_meant(tmp_path, typed, meant):
    data = str(EXAMPLES / "language_modeling_conversational.jsonl")
    out = tmp_path / "out.jsonl"
    res = _convert(data, "--to", "lm", "--chat-template", typed, "-o", str(out))
    assert res.exit_code == 2
    assert f"chat template {typed!r} is not a built-in name" in res.stderr
    assert f"(did you mean {meant!r}?)" in res.stderr
    assert not out.exists()


@pytest.mark.parametrize("typed", ["mytemplate.jinja", "templates/chat.j2", "./model/"])
def test_a_missing_chat_template_file_is_named_as_missing(tmp_path, typed):
    data = str(EXAMPLES / "language_modeling_conversational.jsonl")
    res = _convert(data, "--to", "lm", "--chat-template", typed, "-o", str(tmp_path / "o.jsonl"))
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: {typed}: no such chat template file or folder")


@pytest.mark.parametrize(
    ("example", "typed"),
    [("preference.jsonl", "preference"), ("prompt_completion.jsonl", "prompt-completion")],
)
def test_import_without_from_on_a_trl_type_says_there_is_nothing_to_import(
    tmp_path, example, typed
):
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(app, ["import", str(EXAMPLES / example), "-o", str(out)])
    assert res.exit_code == 2
    assert f"{typed} data, a TRL type already" in res.stderr
    assert "hint: nothing to import: `trlprep convert` converts it (--to TYPE)" in res.stderr
    assert not out.exists()


def test_import_without_from_on_question_answer_columns_advises_the_map(tmp_path):
    data = tmp_path / "qa.jsonl"
    data.write_text('{"question": "2+2?", "answer": "4"}\n')
    res = CliRunner().invoke(app, ["import", str(data), "-o", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 2
    assert "hint: pass --map prompt=question,completion=answer, or --from sharegpt" in res.stderr


def test_python_convert_with_output_says_how_to_write_the_result():
    with pytest.raises(UsageError) as err:
        trlprep.convert(str(EXAMPLES / "preference.jsonl"), "unpaired", output="out.jsonl")
    assert "convert() got an unexpected keyword argument 'output'" in str(err.value)
    assert "trlprep.write(result, PATH)" in err.value.hint
    assert "ConvertOptions" not in str(err.value)


def test_python_convert_with_a_misspelt_option_says_which_was_meant():
    with pytest.raises(UsageError) as err:
        trlprep.convert([{"prompt": "a", "completion": "b"}], "lm", seperator=" ")
    assert err.value.hint.startswith("did you mean separator=?")


def test_max_length_without_tokenize_names_the_flag_given(tmp_path):
    data = str(EXAMPLES / "prompt_completion.jsonl")
    res = _convert(data, "--to", "lm", "--max-length", "10", "-o", str(tmp_path / "o.jsonl"))
    assert res.exit_code == 2
    assert "error: --max-length takes effect only with --tokenize or --chat-template" in (
        res.stderr
    )
    assert "--tokenizer" not in res.stderr.splitlines()[0]
    assert "hint: add --tokenize" in res.stderr


def test_a_wrong_data_format_hint_names_data_format_not_the_report_format():
    res = CliRunner().invoke(
        app,
        ["validate", str(EXAMPLES / "preference.jsonl"), "--data-format", "conversational"],
    )
    assert res.exit_code == 1
    assert "the data looks standard: pass --data-format standard (or leave it out)" in (
        " ".join(res.output.split())
    )
    assert "pass --format standard" not in res.output


def test_python_validate_says_the_format_keyword():
    rep = trlprep.validate(str(EXAMPLES / "preference.jsonl"), format="conversational")
    hints = " ".join(i.hint or "" for i in rep.issues)
    assert "pass format='standard'" in hints


def test_from_a_trainer_name_says_which_type_it_reads(tmp_path):
    data = str(EXAMPLES / "preference.jsonl")
    res = _convert(data, "--from", "dpo", "--to", "lm", "-o", str(tmp_path / "o.jsonl"))
    assert res.exit_code == 2
    assert "unknown --from 'dpo': not a dataset type or a public layout" in res.stderr
    assert "(dpo is a trainer: it reads preference)" in res.stderr


@pytest.mark.parametrize("name", ["output_kind", "moved_by_default", "kept_media", "media_columns"])
def test_python_convert_refuses_the_pipelines_own_options(name):
    with pytest.raises(UsageError) as err:
        trlprep.convert(str(EXAMPLES / "preference.jsonl"), "unpaired", **{name: ()})
    assert f"convert() got an unexpected keyword argument {name!r}" in str(err.value)
    assert name not in err.value.hint and "split_turns" in err.value.hint
