"""Tables the CLI prints (`graph`, `templates`) are whole off a terminal: piped or written
to a file, no label is wrapped or cut to fit 80 columns."""

from __future__ import annotations

import os
import subprocess
import sys

from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.registry import TYPES

LABELS = [f"{name} ({t.aliases[0]})" for name, t in TYPES.items()]


def _row(output: str, label: str) -> str:
    lines = [line for line in output.splitlines() if label in line]
    assert len(lines) == 1, (label, output)
    return lines[0]


def test_graph_in_a_pipe_holds_every_label_and_route_on_one_line():
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env["COLUMNS"] = "80"  # rich's width for a console that is not a terminal
    done = subprocess.run(
        [sys.executable, "-m", "trlprep", "graph"],
        capture_output=True, text=True, env=env, timeout=120,  # stdout is a pipe
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    for label in LABELS:
        _row(done.stdout, label)
    stepwise = _row(done.stdout, "stepwise-supervision (stepwise)")
    assert "lossy via unpaired+pref" in stepwise and "lossy via unpaired " in stepwise


def test_graph_and_templates_through_clirunner_are_whole():
    r = CliRunner().invoke(app, ["graph"])
    assert r.exit_code == 0 and "…" not in r.output
    assert "conversational data only)" in r.output.splitlines()[0]
    assert "lossy via pref" in _row(r.output, "unpaired-preference (unpaired)")
    r = CliRunner().invoke(app, ["templates"])
    assert r.exit_code == 0 and "…" not in r.output
    assert "meta-llama/Meta-Llama-3-8B-Instruct" in _row(r.output, "llama3 ")
