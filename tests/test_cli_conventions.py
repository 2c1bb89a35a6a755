"""Command-line conventions every command follows (issue 13, "CLI conventions"), and SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import EXAMPLES
from typer.testing import CliRunner

import trlprep
from trlprep.cli import app
from trlprep.cli.conventions import ORDER, bool_values

runner = CliRunner()
COMMANDS = [
    "detect",
    "validate",
    "report",
    "convert",
    "import",
    "graph",
    "templates",
    "check-template",
    "pack",
    "schema",
    "train",
]


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.mark.parametrize("flag", ["-h", "--help"])
@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_everywhere(command, flag):
    args = [flag] if command is None else [command, flag]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "Usage: " in r.output


def test_version():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"trlprep {trlprep.__version__}"


def test_commands_listed_in_data_flow_order():
    r = runner.invoke(app, ["--help"])
    listed = re.findall(r"^  ([a-z-]+)  ", r.output.split("Commands:")[1], re.M)
    assert listed == [c for c in ORDER if c in listed]
    assert listed[: len(COMMANDS)] == COMMANDS


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "train"])
def test_help_shows_names_not_types(command):
    out = runner.invoke(app, [command, "--help"]).output
    assert not re.search(r"\{\w+\}|<\w+( range)?>|<list\[", out), out
    usage = out.splitlines()[0]
    assert re.search(r"\[OPTIONS\]( \[?[A-Z]+\]?)*$", usage), usage


def test_help_names_arguments_and_values():
    out = runner.invoke(app, ["convert", "--help"]).output
    assert "Usage: trlprep convert [OPTIONS] PATH" in out
    assert "--to TYPE" in out and "-o, --output PATH" in out and "--num-proc N" in out


def test_boolean_flags_take_true_false_and_no(tmp_path):
    rows = [{"text": " "}]  # whitespace-only: a warning, so --strict decides the exit code
    path = write_jsonl(tmp_path / "w.jsonl", rows)
    for args, code in [
        (["--strict"], 1),
        (["--strict", "true"], 1),
        (["--strict=yes"], 1),
        (["--strict", "false"], 0),
        (["--strict=false"], 0),
        (["--no-strict"], 0),
        ([], 0),
    ]:
        r = runner.invoke(app, ["validate", path, *args])
        assert r.exit_code == code, (args, r.output)
    r = runner.invoke(app, ["validate", path, "--strict=maybe"])
    assert r.exit_code == 2 and "true or false" in r.output


def test_bool_values_rewrites_only_flags():
    class P:
        param_type_name = "option"
        is_bool_flag = True
        opts = ["--explain", "--dry-run"]
        secondary_opts = ["--no-explain"]

    params = [P()]
    assert bool_values(params, ["--dry-run", "false", "x"]) == ["--no-explain", "x"]
    assert bool_values(params, ["--no-explain", "false"]) == ["--dry-run"]
    assert bool_values(params, ["--explain", "data.jsonl"]) == ["--explain", "data.jsonl"]
    assert bool_values(params, ["--", "--explain=false"]) == ["--", "--explain=false"]


def test_role_map_has_one_visible_name_and_the_other_still_works(tmp_path):
    for command in ("convert", "import"):
        out = runner.invoke(app, [command, "--help"]).output
        assert "--role-map" in out and "--map-role" not in out
    rows = [{"conversations": [{"from": "human", "value": "Hi"}, {"from": "bot", "value": "Yo"}]}]
    path = write_jsonl(tmp_path / "s.jsonl", rows)
    for flag in ("--role-map", "--map-role"):
        out = tmp_path / f"o{flag}.jsonl"
        r = runner.invoke(
            app, ["import", path, "--from", "sharegpt", flag, "bot=assistant", "-o", str(out)]
        )
        assert r.exit_code == 0, r.output
        assert json.loads(out.read_text())["messages"][1]["role"] == "assistant"
        said = "warning: --map-role is the old name of --role-map; pass --role-map bot=assistant"
        assert (said in r.output) == (flag == "--map-role"), r.output


def test_map_role_warns_on_every_command_taking_it_naming_the_merged_role_map(tmp_path):
    """`--map-role` (hidden) says it is `--role-map`'s old name, as Python's `map_role=`
    warns, on convert (local, --explain and Ray's path alike) and import; given beside
    `--role-map`, the warning names the one `--role-map` that reads both."""
    rows = [{"conversations": [{"from": "human", "value": "Hi"}, {"from": "bot", "value": "Yo"}]}]
    path = write_jsonl(tmp_path / "s.jsonl", rows)
    said = (
        "warning: --map-role is the old name of --role-map; pass --role-map "
        "human=user,bot=assistant"
    )
    for extra in ([], ["--explain"]):
        for command in (["convert", "--to", "lm"], ["import"]):
            out = str(tmp_path / f"o{len(extra)}{command[0]}.jsonl")
            r = runner.invoke(
                app,
                [command[0], path, *command[1:], "--from", "sharegpt", "--role-map",
                 "human=user", "--map-role", "bot=assistant", "-o", out, *extra],
            )  # fmt: skip
            assert r.exit_code == 0, r.output
            assert r.output.count(said) == 1, r.output
    for command in ("validate", "report"):  # never took the old name: refused, naming the new
        r = runner.invoke(app, [command, path, "--map-role", "bot=assistant"])
        assert r.exit_code == 2 and "--role-map" in r.output, r.output


def _big_preference_file(path, rows: int) -> str:
    row = json.dumps(EXAMPLES[("preference", "standard")] | {"chosen": " blue. " * 40})
    path.write_text((row + "\n") * rows)
    return str(path)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_mid_write_cleans_up_and_exits_143(tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    src = _big_preference_file(data / "big.jsonl", 400_000)
    work = tmp_path / "out"
    work.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "trlprep", "convert", src, "--to", "unpaired", "-o",
         str(work / "out.parquet"), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        names = os.listdir(work)
        if any(n.startswith(".out.parquet.trlprep-") for n in names):
            break
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.skip("the conversion finished before it could be interrupted")
    time.sleep(0.02)  # mid-write (the input is read before the output is opened)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    if "rows out" in err and (work / "out.parquet").exists():
        pytest.skip("the conversion finished before the signal arrived")
    assert proc.returncode == 143, err
    assert "terminated" in err
    assert os.listdir(work) == []  # no temporary file, no scratch folder, no output


STARTUP = """
import sys
sys.argv = ["trlprep", *sys.argv[1:]]
from trlprep.cli import main
try:
    main()
except SystemExit:
    pass
heavy = ("polars", "pandas", "transformers", "datasets", "jinja2", "torch", "pyarrow")
print("LOADED", ",".join(m for m in heavy if m in sys.modules))
"""


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["--version"], set()),
        # polars: detect_cmd's layout suggestion imports trlprep.importers (see its module)
        (["detect", "{path}"], {"pyarrow", "polars"}),
        (["schema", "pref"], set()),
    ],
)
def test_start_up_imports_only_what_the_command_uses(tmp_path, args, allowed):
    path = write_jsonl(tmp_path / "eight.jsonl", [{"prompt": "a", "completion": "b"}] * 8)
    argv = [a.replace("{path}", path) for a in args]
    done = subprocess.run(
        [sys.executable, "-c", STARTUP, *argv], capture_output=True, text=True, timeout=120
    )
    line = [x for x in done.stdout.splitlines() if x.startswith("LOADED")][-1]
    loaded = set(filter(None, line.split(" ", 1)[1].split(",")))
    assert loaded <= allowed, (argv, loaded)


def test_report_help_lists_its_own_formats():
    """`report --format` takes html (validate's takes github); the help said github."""
    out = " ".join(CliRunner().invoke(app, ["report", "--help"]).output.split())
    assert "--format text|json|html" in out and "github" not in out


def test_a_misspelt_from_is_told_the_closest_layout():
    r = CliRunner().invoke(app, ["convert", "x.jsonl", "--from", "sharegtp", "--to", "lm"])
    assert r.exit_code == 2
    out = " ".join(r.output.split())
    assert "unknown --from 'sharegtp': not a dataset type or a public layout" in out
    assert "(did you mean 'sharegpt'?)" in out and "layouts: sharegpt, alpaca" in out
