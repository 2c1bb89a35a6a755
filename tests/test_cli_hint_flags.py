"""Every flag a CLI message advises is one the command that says it has: a hint naming
another command's flag names that command (`trlprep validate --coerce`, or `--coerce ...
(trlprep convert, import, train)`), and `--debug` goes before the command's name.

Each data command is run on the inputs that raise the shared input errors (a broken line,
an empty file, an unknown extension, unknown columns, 0/1 labels, a JSON array, a model
folder, a missing path, an unexpected exception), and each flag of the output is checked
against that command's options, read from the CLI itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from trlprep.cli import load_commands
from trlprep.cli.app import app

load_commands()
_GROUP = typer.main.get_command(app)
ROOT_OPTIONS = {o for p in _GROUP.params for o in p.opts}
OPTIONS = {n: {o for p in c.params for o in p.opts} for n, c in _GROUP.commands.items()}
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*[a-z]")
# `trlprep [ROOT OPTIONS] COMMAND ...` up to the end of its code span or clause
NAMED = re.compile(r"`?trlprep((?: --[a-z-]+)*) ([a-z][a-z-]*)([^`;)]*)`?")
# "... --flag ... (trlprep convert, import, train)": the clause's flags are those commands'
FOR_COMMANDS = re.compile(r"([^;(]*)\(trlprep ([a-z-]+(?:, [a-z-]+)*)\)")


def wrong_flags(command: str, output: str) -> list[str]:
    """The flags `output` (said by `command`) advises that the command they are said for
    lacks."""
    text = " ".join(output.split())
    wrong = []

    def check(cmd: str, flags: list[str]) -> None:
        if cmd in OPTIONS and cmd != "train":  # (train parses its own options)
            wrong.extend(f"{cmd} {f}" for f in flags if f not in OPTIONS[cmd])

    for m in FOR_COMMANDS.finditer(text):
        for cmd in m[2].split(", "):
            check(cmd, FLAG.findall(m[1]))
    text = FOR_COMMANDS.sub(" ", text)
    for m in NAMED.finditer(text):
        root = FLAG.findall(m[1])
        wrong.extend(f"{f} (not a root option)" for f in root if f not in ROOT_OPTIONS)
        check(m[2], FLAG.findall(m[3]))
    check(command, FLAG.findall(NAMED.sub(" ", text)))
    return wrong


def test_the_checker_finds_a_flag_the_command_lacks():
    assert wrong_flags("report", "hint: rerun with --debug for the traceback") == ["report --debug"]
    assert wrong_flags("report", "hint: pass --on-bad-lines skip") == ["report --on-bad-lines"]
    assert wrong_flags("detect", "hint: see `trlprep validate --coerce` or --to") == ["detect --to"]
    assert wrong_flags("report", "hint: --coerce reads them (trlprep convert, import)") == []
    assert wrong_flags("detect", "hint: --tokenize it (trlprep convert, validate)") == [
        "validate --tokenize"
    ]
    assert wrong_flags("report", "hint: rerun as `trlprep --debug report ...`") == []


INPUTS = {
    "broken.jsonl": '{"prompt": "a", "completion": "b"}\n{"prompt": \n',
    "empty.jsonl": "",
    "data.xyz": '{"prompt": "a", "completion": "b"}\n',
    "odd.jsonl": '{"foo": "a", "bar": "b"}\n',
    "labels.jsonl": '{"prompt": "a", "completion": "b", "label": 1}\n'
    '{"prompt": "a", "completion": "c", "label": 0}\n',
    "array.jsonl": '[{"prompt": "a", "completion": "b"}]\n',
}


def _args(command: str, data: str, output: Path) -> list[str]:
    """`command` run on `data`, writing `output` where it writes one."""
    extra = {
        "convert": ["--to", "language-modeling"],
        "import": ["--from", "alpaca"],
        "pack": ["--seq-length", "8"],
        "report": [],
        "check-template": ["--chat-template", str(EXAMPLES / "tiny-chat-model")],
    }.get(command, [])
    return [command, data, *extra, *(["-o", str(output)] if command in WRITING else [])]


WRITING = ("convert", "import", "pack", "report")  # (validate's --output is a report format)
DATA_COMMANDS = ["detect", "validate", "report", "convert", "import", "pack", "check-template"]


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_every_flag_an_input_error_advises_is_the_commands(command, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    for name, text in INPUTS.items():
        (data / name).write_text(text)
    paths = [*sorted(data.iterdir()), EXAMPLES / "tiny-chat-model", tmp_path / "missing.jsonl"]
    said, hinted = {}, 0
    for path in paths:
        out = tmp_path / f"{path.name}.out.jsonl"
        res = CliRunner().invoke(app, _args(command, str(path), out))
        said[path.name] = wrong_flags(command, res.output)
        hinted += "hint" in res.output
    assert hinted >= 4  # the inputs do raise the errors whose hints are checked
    if command in WRITING:  # an output that exists already
        taken = tmp_path / "taken.jsonl"
        taken.write_text("")
        res = CliRunner().invoke(app, _args(command, str(data / "labels.jsonl"), taken))
        assert "exists" in res.output, res.output
        said[taken.name] = wrong_flags(command, res.output)
    assert not any(said.values()), said


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_an_unexpected_error_says_where_debug_goes(command, tmp_path, monkeypatch):
    from trlprep.io import inputfiles

    def broken(folder):
        raise RuntimeError("a bug")

    monkeypatch.setattr(inputfiles, "_model_files", broken)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    res = CliRunner().invoke(app, _args(command, str(tmp_path / "d"), tmp_path / "o.jsonl"))
    assert res.exit_code == 2, res.output
    assert "RuntimeError: a bug" in res.output
    assert f"rerun as `trlprep --debug {command} ...` for the traceback" in res.output
    assert wrong_flags(command, res.output) == []
