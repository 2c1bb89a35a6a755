"""Input errors through the CLI: one clear message, exit code 2, a traceback only with --debug."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import trlprep.api
import trlprep.io.readers
from trlprep.cli import app
from trlprep.errors import InputError, UsageError

GOOD = '{"prompt": "The sky is", "completion": " blue."}'


def _bad_json(d: Path) -> str:
    (d / "data.jsonl").write_text(f'{GOOD}\n\n{{"prompt": "The sky is", "completion": \n')
    return "data.jsonl"


def _not_object(d: Path) -> str:
    (d / "data.jsonl").write_text(f'{GOOD}\n["prompt", "completion"]\n')
    return "data.jsonl"


def _null_line(d: Path) -> str:
    (d / "data.jsonl").write_text(f"{GOOD}\nnull\n{GOOD}\n")
    return "data.jsonl"


def _folder(d: Path) -> str:
    (d / "folder").mkdir()
    (d / "folder" / "readme.txt").write_text("not data")
    return "folder"


def _suffix(d: Path) -> str:
    (d / "notes.md").write_text(GOOD + "\n")
    return "notes.md"


def _bad_gzip(d: Path) -> str:
    (d / "data.jsonl.gz").write_bytes(b"this is not gzip")
    return "data.jsonl.gz"


def _truncated_gzip(d: Path) -> str:
    (d / "data.jsonl.gz").write_bytes(gzip.compress((GOOD + "\n").encode() * 50)[:-20])
    return "data.jsonl.gz"


def _bad_parquet(d: Path) -> str:
    (d / "data.parquet").write_bytes(b"PAR1 but not really")
    return "data.parquet"


def _parquet_named_jsonl(d: Path) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"prompt": ["a"], "completion": ["b"]}), d / "data.jsonl")
    return "data.jsonl"


def _bad_json_array(d: Path) -> str:
    (d / "data.json").write_text('[\n  {"prompt": "a"},\n  {"prompt": }\n]\n')
    return "data.json"


CASES = {
    "missing-file": (lambda d: "missing.jsonl", [], "missing.jsonl: no such file or folder"),
    "not-a-dataset-folder": (_folder, [], "folder: no data files to read, and not a save_to_disk"),
    "unknown-suffix": (_suffix, [], "notes.md: cannot tell the file format from its name"),
    "unknown-input-format": (_suffix, ["--input-format", "yaml"], "unknown --input-format 'yaml'"),
    "bad-gzip": (_bad_gzip, [], "data.jsonl.gz: cannot read"),
    "truncated-gzip": (_truncated_gzip, [], "data.jsonl.gz: cannot read"),
    "bad-parquet": (_bad_parquet, [], "data.parquet: cannot read"),
    "parquet-named-jsonl": (_parquet_named_jsonl, [], "data.jsonl: this is a Parquet file"),
}


# a broken line of a JSON Lines file is invalid data (exit 1), named by its file line
BAD_LINES = {
    "bad-json-line": (_bad_json, [], "data.jsonl:3: invalid JSON: "),
    "not-an-object": (_not_object, [], "data.jsonl:2: expected a JSON object, got an array"),
    "null-line": (_null_line, [], "data.jsonl:2: expected a JSON object, got null"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_jsonl_lines_are_invalid_data_exit_1(tmp_path, monkeypatch, case):
    make, options, expected = BAD_LINES[case]
    monkeypatch.chdir(tmp_path)
    path = make(tmp_path)
    for cmd in (["detect", path], ["convert", path, "--to", "lm", "-o", "out.jsonl"]):
        result = CliRunner().invoke(app, [*cmd, *options])
        assert result.exit_code == 1, result.output
        assert result.stderr.splitlines()[0].startswith("error: " + expected)
        assert "--on-bad-lines skip" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_on_bad_lines_skip_converts_the_rest_and_reports_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.jsonl").write_text(f'{GOOD}\n{{"prompt": \n[1]\n{GOOD}\n')
    args = ["convert", "d.jsonl", "--to", "lm", "-o", "o.jsonl", "--on-bad-lines", "skip"]
    result = CliRunner().invoke(app, [*args, "--on-error", "skip"])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.stderr.split())
    assert "2 rows in, 0 rejected, 2 converted -> 2 rows out; 2 bad lines skipped (line 2: " in (
        flat
    )
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 2
    rejects = [json.loads(x) for x in (tmp_path / "o.rejects.jsonl").read_text().splitlines()]
    assert [(r["row"], r["line"], r["stage"]) for r in rejects] == [
        (None, 2, "read"),
        (None, 3, "read"),
    ]
    assert rejects[1]["record"] == "[1]"  # the line's text, as written


# the same faults in a CSV file or a JSON document: invalid data (exit 1), file line, hint
TEXT_FAULTS = {
    "csv-bad-utf8": (
        "d.csv", b"prompt,completion\na,b\ncaf\xe9,d\n", "d.csv:3: not valid UTF-8 text; the "
        "bytes read as Windows-1252 (Western European) text ('caf\u00e9,d')",
        "re-encode it as UTF-8: `iconv -f WINDOWS-1252 -t UTF-8 d.csv > d.utf8.csv`",
    ),
    "csv-extra-field": (
        "d.csv", b"prompt,completion\na,b\nc,d,e\n", "d.csv:3: expected 2 fields (as the "
        "header), got 3: c,d,e", "every row needs as many fields as the header",
    ),
    "csv-extra-field-after-a-quoted-newline": (
        "d.csv", b'prompt,completion\n"a\nb",c\nd,e,f\n', "d.csv:4: expected 2 fields",
        "quote a value",
    ),
    "csv-extra-field-whose-text-a-quoted-value-holds-first": (
        "d.csv", b'prompt,completion\n"x\nd,e,f\n",c\n\nd,e,f\n', "d.csv:6: expected 2 fields",
        "quote a value",
    ),
    "json-bad-utf8": (
        "d.json", b'[{"prompt": "a", "completion": "b"},\n{"prompt": "caf\xe9", "completion": '
        b'"d"}]\n', "d.json:2: not valid UTF-8 text; the bytes read as Windows-1252",
        "re-encode it as UTF-8: `iconv -f WINDOWS-1252 -t UTF-8 d.json > d.utf8.json`",
    ),
    "json-missing-comma": (
        "d.json", b'[\n {"prompt": "a"},\n {"prompt": "c"}\n {"prompt": "e"}\n]\n',
        "d.json:4: invalid JSON: Expecting ',' delimiter", "a missing comma",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(TEXT_FAULTS))
def test_csv_and_json_faults_are_invalid_data_named_by_line(tmp_path, monkeypatch, case):
    name, body, expected, hint = TEXT_FAULTS[case]
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes(body)
    for cmd in (
        ["detect", name],
        ["validate", name],
        ["convert", name, "--to", "lm", "-o", "o.jsonl"],
    ):
        result = CliRunner().invoke(app, cmd)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("error: " + expected), result.stderr
        assert hint in " ".join(result.stderr.split())
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("command", ["convert", "import"])
def test_cut_off_last_line_is_skipped_and_the_rest_written(tmp_path, monkeypatch, command):
    # an interrupted download: the last line has no newline and is cut mid-object
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.jsonl").write_text(f'{GOOD}\n{GOOD}\n{{"prompt": "c", "compl')
    to = ["--to", "lm"] if command == "convert" else ["--from", "map", "--map", "prompt=prompt"]
    args = [command, "d.jsonl", *to, "-o", "o.jsonl", "--on-bad-lines", "skip"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.stderr.split())
    assert "2 rows in, 0 rejected, 2 converted" in flat
    assert "1 bad line skipped (line 3: invalid JSON" in flat
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("case", sorted(CASES))
def test_input_errors_give_one_message_and_exit_2(tmp_path, monkeypatch, case):
    make, options, expected = CASES[case]
    monkeypatch.chdir(tmp_path)
    path = make(tmp_path)
    result = CliRunner().invoke(app, ["detect", path, *options])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: " + expected), lines
    assert all(line.startswith("  hint: ") for line in lines[1:]), lines
    assert "Traceback" not in result.output


def test_hints_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.md").write_text("hi\n")  # no data files in it
    result = CliRunner().invoke(app, ["detect", "folder"])
    assert "hint: expected a folder written by Dataset.save_to_disk" in result.stderr
    (tmp_path / "array.jsonl").write_text('[\n  {"prompt": "a"}\n]\n')
    result = CliRunner().invoke(app, ["detect", "array.jsonl"])
    assert result.exit_code == 1  # a broken JSON Lines line: invalid data
    assert "--input-format json" in result.stderr
    result = CliRunner().invoke(app, ["detect", "array.jsonl", "--input-format", "json"])
    assert result.exit_code == 0, result.output


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _bad_json(tmp_path)
    result = CliRunner().invoke(app, ["--debug", "detect", path])
    assert isinstance(result.exception, InputError)
    assert result.exception.line == 3
    assert result.exc_info[2] is not None  # the traceback travels with it
    result = CliRunner().invoke(app, ["detect", path])  # --debug does not stick
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)


def test_unexpected_errors_are_one_line_too(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("something broke")

    monkeypatch.setattr(trlprep.io.readers, "iter_batches", boom)  # api imports it on use
    (tmp_path / "d.jsonl").write_text(GOOD + "\n")
    result = CliRunner().invoke(app, ["detect", str(tmp_path / "d.jsonl")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: RuntimeError: something broke")
    assert "--debug" in result.stderr
    result = CliRunner().invoke(app, ["--debug", "detect", str(tmp_path / "d.jsonl")])
    assert isinstance(result.exception, RuntimeError)


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trlprep", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


def test_real_subprocess_exit_codes_and_debug(tmp_path):
    path = _bad_json(tmp_path)
    proc = _cli(["detect", path], tmp_path)
    assert proc.returncode == 1  # invalid data
    assert proc.stderr.startswith("error: data.jsonl:3: invalid JSON: ")
    assert "Traceback" not in proc.stderr
    proc = _cli(["--debug", "detect", path], tmp_path)
    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in proc.stderr
    assert "BadLineError" in proc.stderr
    (tmp_path / "ok.jsonl").write_text(GOOD + "\n")
    proc = _cli(["detect", "ok.jsonl"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "prompt-completion" in proc.stdout


def test_offline_hub_id_is_a_clear_error(tmp_path):
    hf_home = tmp_path / "hf"
    proc = _cli(
        ["detect", "trlprep-tests/no-such-dataset"],
        tmp_path,
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_HOME=str(hf_home),
        HF_DATASETS_CACHE=str(hf_home / "datasets"),
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(
        "error: trlprep-tests/no-such-dataset: cannot load from the Hugging Face Hub"
    )
    assert "offline" in proc.stderr.lower()
    assert "Traceback" not in proc.stderr


def test_errors_carry_their_exit_codes():
    assert InputError("x").exit_code == 2
    assert UsageError("x").exit_code == 2
    e = InputError("invalid JSON: oops", path="data.jsonl", line=3)
    assert str(e) == "data.jsonl:3: invalid JSON: oops"


@pytest.mark.parametrize(
    "value",
    [
        '"x \\ud800 y"',  # a lone high half in a plain string
        '[{"role": "user", "content": "\\udc00"}]',  # a lone low half inside messages
    ],
)
def test_lone_surrogate_escape_is_a_bad_line_named_by_its_line(tmp_path, monkeypatch, value):
    monkeypatch.chdir(tmp_path)
    good = '{"prompt": "a \\ud83d\\ude00", "completion": "b"}'  # a pair: one emoji, fine
    lines = [good] * 3 + [f'{{"prompt": {value}, "completion": "b"}}', good]
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(app, ["validate", "d.jsonl"])
    assert result.exit_code == 1, result.output
    assert "line 4" in result.output and "lone surrogate" in result.output
    args = ["convert", "d.jsonl", "--to", "lm", "-o", "o.jsonl", "--on-bad-lines", "skip"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1 bad line skipped (line 4: holds a lone surrogate" in " ".join(result.stderr.split())
    out = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert len(out) == 4 and "\U0001f600" in json.dumps(out[0], ensure_ascii=False)
