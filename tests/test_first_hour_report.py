"""`report --fail-if` as a CI gate a new user writes from the README: a figure the report has
not measured is an error saying what to pass, never a condition silently taken as false."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from trlprep.cli import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _report(*args: str):
    return CliRunner().invoke(app, ["report", *args])


@pytest.mark.parametrize("key", ["p99_tokens", "truncated_share", "lengths.prompt.p99"])
def test_token_figures_without_a_tokenizer_say_to_pass_one(key):
    res = _report(str(EXAMPLES / "preference.jsonl"), "--fail-if", f"{key} > 10")
    assert res.exit_code == 2
    assert f"{key!r} is measured in tokens: this report has no token lengths" in res.stderr
    assert "pass --tokenizer SRC (or --chat-template MODEL)" in res.stderr


def test_truncated_share_without_max_length_is_refused_not_skipped():
    pytest.importorskip("tokenizers")
    data = str(EXAMPLES / "preference_conversational.jsonl")
    tok = str(EXAMPLES / "tiny-chat-model")
    res = _report(data, "--tokenizer", tok, "--fail-if", "truncated_share >= 0")
    assert res.exit_code == 2
    assert "'truncated_share' is measured against your training limit" in res.stderr
    assert "hint: pass --max-length N" in res.stderr
    held = _report(
        data, "--tokenizer", tok, "--max-length", "20", "--fail-if", "truncated_share >= 0"
    )
    assert held.exit_code == 1
    assert "fail-if: truncated_share = " in held.output


def test_python_report_figures_name_keyword_arguments():
    import trlprep

    rep = trlprep.report(str(EXAMPLES / "preference.jsonl"))
    with pytest.raises(trlprep.UsageError) as err:
        rep.failed(["p99_tokens > 3"])
    assert "pass tokenizer=SRC (or chat_template=MODEL)" in err.value.hint
    with pytest.raises(trlprep.UsageError) as err:
        rep.failed(["p99 >> 3"])
    assert "--" not in str(err.value).splitlines()[0]


def test_convert_help_says_conversational_serves_more_than_alpaca():
    res = CliRunner().invoke(app, ["convert", "--help"])
    text = " ".join(res.output.split())
    assert "alpaca: import as conversational" not in text
    assert "ranked, generations, saferlhf, shp, webgpt, mt-bench and --map imports" in text


@pytest.mark.parametrize("command", ["convert", "validate", "report", "import"])
def test_help_names_values_not_python_parameters(command):
    import re

    res = CliRunner().invoke(app, [command, "--help"])
    assert res.exit_code == 0
    derived = re.findall(r"--[a-z-]+ ([A-Z]+_[A-Z_]+)\b", res.output)
    assert derived == []  # SPLIT_TURNS, RAY_ADDRESS, FAIL_IF: typer's names, not values
    assert "--engine local|ray" in res.output or command in ("report", "import")
