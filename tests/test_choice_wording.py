"""A value that is not one of an option's choices is said one way in every command:
`unknown --flag 'x' (did you mean 'y'?)` and the hint `use one of: ...` (exit 2); the Python
API says the keyword (`on_error`). Before, the same slip read `--order 'blocs' is not one
of: ...`, `unknown truncation ...` or `unknown --pairing ...` with a bare list."""

from __future__ import annotations

import json

import pytest

import trlprep
from trlprep.errors import UsageError, did_you_mean, unknown_choice

PREF = {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}


def _cli(*args: str):
    from typer.testing import CliRunner

    from trlprep.cli import app

    return CliRunner().invoke(app, list(args))


@pytest.fixture
def data(tmp_path) -> str:
    path = tmp_path / "pref.jsonl"
    path.write_text(json.dumps(PREF) + "\n")
    return str(path)


CASES = [
    (["convert", "{d}", "--to", "unpaired", "--order", "blocs", "-o", "{o}"], "--order", "blocks"),
    (["convert", "{d}", "--to", "unpaired", "--engine", "rey", "-o", "{o}"], "--engine", "ray"),
    (
        ["convert", "{d}", "--to", "unpaired", "--on-error", "skp", "-o", "{o}"],
        "--on-error",
        "skip",
    ),
    (["validate", "{d}", "--on-bad-lines", "skp"], "--on-bad-lines", "skip"),
    (["detect", "{d}", "--on-bad-lines", "skp"], "--on-bad-lines", "skip"),
    (["validate", "{d}", "--format", "jsn"], "--format", "json"),
    (["report", "{d}", "--format", "htm"], "--format", "html"),
    (["report", "{d}", "--truncation", "keep_strat"], "--truncation", "keep_start"),
    (["graph", "--format", "mermad"], "--format", "mermaid"),
]


@pytest.mark.parametrize(
    "args, flag, meant", CASES, ids=[" ".join(c[0][:1] + [c[1]]) for c in CASES]
)
def test_a_misspelt_choice_is_said_alike_with_the_closest(tmp_path, data, args, flag, meant):
    out = str(tmp_path / "out.jsonl")
    r = _cli(*[a.format(d=data, o=out) for a in args])
    assert r.exit_code == 2, r.output
    first = r.stderr.splitlines()[0]
    assert first.startswith(f"error: unknown {flag} '"), r.stderr
    assert first.endswith(f"(did you mean {meant!r}?)"), r.stderr
    assert "hint: use one of: " in r.stderr and meant in r.stderr.splitlines()[1]
    assert not (tmp_path / "out.jsonl").exists()


def test_formats_and_map_columns_suggest_the_closest(tmp_path, data):
    r = _cli("validate", data, "--data-format", "conversationl")
    assert r.exit_code == 2 and "(did you mean 'conversational'?)" in r.stderr
    out = str(tmp_path / "o")
    r = _cli("convert", data, "--to", "unpaired", "--output-format", "parqet", "-o", out)
    assert r.exit_code == 2 and "(did you mean 'parquet'?)" in r.stderr
    r = _cli("convert", data, "--to", "unpaired", "--input-format", "jsnl", "-o", out)
    assert r.exit_code == 2 and "(did you mean 'jsonl'?)" in r.stderr
    r = _cli("convert", data, "--map", "completion=chosn", "--to", "lm", "-o", out + ".jsonl")
    assert r.exit_code == 2, r.output
    assert "--map: no column 'chosn' in the data (did you mean 'chosen'?)" in r.stderr


def test_the_api_says_the_keyword():
    with pytest.raises(UsageError) as info:
        trlprep.convert([PREF], "unpaired", on_error="skp")
    assert str(info.value).startswith("unknown on_error 'skp' (did you mean 'skip'?)")
    assert info.value.hint == "use one of: stop, skip"


def test_no_suggestion_for_a_value_near_nothing():
    assert did_you_mean("zzz", ("stop", "skip")) == ""
    e = unknown_choice("--pairing", "zzz", ("best-vs-rest", "all-pairs"))
    assert str(e) == "unknown --pairing 'zzz'\n  hint: use one of: best-vs-rest, all-pairs"
