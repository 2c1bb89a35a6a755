"""Every `trlprep train` option has a one-line description in --help (CLI conventions)."""

from __future__ import annotations

from dataclasses import fields

import pytest
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.cli.train_help import HELP

runner = CliRunner()
config = pytest.importorskip("trlprep.trainers.config", reason="needs the train extra (torch)")


def _algorithms():
    from trlprep.trainers.algorithms import ALGORITHMS

    return list(ALGORITHMS)


def test_every_option_has_a_description():
    from trlprep.trainers.algorithms import get_algorithm

    from trlprep.cli.train_cmd import _HIDDEN

    names = {f.name for f in fields(config.TrainConfig) if f.name not in _HIDDEN}
    for algo in _algorithms():
        names |= {f.name for f in fields(get_algorithm(algo).options)}
    missing = sorted(n for n in names if not HELP.get(n))
    assert not missing, f"options without a help line in trlprep/cli/train_help.py: {missing}"
    assert all("\n" not in line and len(line) <= 100 for line in HELP.values())


@pytest.mark.parametrize("algo", ["dpo", "grpo", "ppo"])
def test_help_prints_each_option_with_its_line(algo):
    r = runner.invoke(app, ["train", "--algo", algo, "--help"])
    assert r.exit_code == 0
    option_lines = [x for x in r.output.splitlines() if x.startswith("  --")]
    assert option_lines
    for line in option_lines:
        flag, _, rest = line.strip().partition(" ")
        if flag in ("--config", "--overwrite"):
            continue
        assert rest.strip() and not rest.strip().startswith("["), line
