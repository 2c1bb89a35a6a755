"""A CSV header naming a column twice is refused naming the name and its columns (was an
Arrow KeyError: 'Field "a" exists 2 times in schema')."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from trlprep.cli import app


@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
@pytest.mark.parametrize("command", ["detect", "validate", "report"])
def test_a_header_naming_a_column_twice_is_refused_clearly(tmp_path, suffix, sep, command):
    path = tmp_path / f"d{suffix}"
    path.write_text(
        sep.join(["prompt", "completion", "prompt"]) + "\nhi" + sep + "there" + sep + "yo\n"
    )
    res = CliRunner().invoke(app, [command, str(path)])
    assert res.exit_code == 2, res.output
    assert "line 1: the header names the column 'prompt' 2 times (columns 1, 3)" in res.stderr
    assert "KeyError" not in res.output


def test_convert_refuses_it_and_writes_nothing(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,a\n1,x,2\n")
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(app, ["convert", str(path), "--to", "lm", "-o", str(out)])
    assert res.exit_code == 2 and not out.exists()
    assert "the header names the column 'a' 2 times (columns 1, 3)" in res.stderr
