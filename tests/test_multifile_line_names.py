"""`validate` on several JSONL files names a bad line `file:line` (as `BadLines.summary`
does), never `line file:line`, in text; JSON keeps `lines` with `files`; github
annotations carry `file=` and `line=` apart."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from trlprep.cli import app


@pytest.fixture
def shards(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the files named short: `multi/1.jsonl:2`
    d = tmp_path / "multi"
    d.mkdir()
    (d / "1.jsonl").write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "a",\n')
    (d / "2.jsonl").write_text('{"prompt": "c", "completion": "d"}\n{"prompt": "c",\n')
    return d


def _run(shards, *args):
    res = CliRunner().invoke(app, ["validate", "multi", *args])
    assert res.exit_code == 1, res.output
    return res.output


@pytest.mark.parametrize("mode", ["error", "skip"])
def test_text_names_file_lines(shards, mode):
    out = _run(shards, "--on-bad-lines", mode)
    assert not re.search(r"\blines? multi/", out), out
    first = "multi/1.jsonl:2, multi/2.jsonl:2" if mode == "skip" else "multi/1.jsonl:2"
    assert any(x.startswith("error: invalid-line") and first in x for x in out.splitlines()), out


def test_json_keeps_lines_and_files(shards):
    report = json.loads(_run(shards, "--on-bad-lines", "skip", "--format", "json"))
    issue = next(i for i in report["issues"] if i["rule"] == "invalid-line")
    assert issue["lines"] == [2, 2]
    assert issue["files"] == ["multi/1.jsonl", "multi/2.jsonl"]


def test_github_file_and_line_apart(shards):
    out = _run(shards, "--on-bad-lines", "skip", "--format", "github")
    marks = [x for x in out.splitlines() if x.startswith("::error")]
    assert [m.split("title=")[0] for m in marks] == [
        "::error file=multi/1.jsonl,line=2,",
        "::error file=multi/2.jsonl,line=2,",
    ], out
