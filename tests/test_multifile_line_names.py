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


@pytest.fixture
def interleaved(tmp_path, monkeypatch):
    """Bad lines 3 and 5 of the first file, 2 and 4 of the second: by line alone they
    would interleave (b:2, a:3, b:4, a:5)."""
    monkeypatch.chdir(tmp_path)
    d = tmp_path / "mix"
    d.mkdir()
    ok = '{"prompt": "p", "completion": "c"}'
    (d / "a.jsonl").write_text("\n".join([ok, ok, "{bad", ok, "[1, 2]", ok]) + "\n")
    (d / "b.jsonl").write_text("\n".join([ok, "{bad", ok, "{bad", ok, ok]) + "\n")
    return d


def test_skipped_lines_listed_by_file_then_line(interleaved):
    res = CliRunner().invoke(app, ["validate", "mix", "--on-bad-lines", "skip", "--format", "json"])
    issues = [i for i in json.loads(res.output)["issues"] if i["rule"] == "invalid-line"]
    placed = [(f, n) for i in issues for f, n in zip(i["files"], i["lines"], strict=True)]
    assert placed == [
        ("mix/a.jsonl", 3),
        ("mix/b.jsonl", 2),
        ("mix/b.jsonl", 4),
        ("mix/a.jsonl", 5),
    ]  # one issue per reason: `{bad` first met at a.jsonl:3, the array at a.jsonl:5


def test_rejects_file_lists_bad_lines_by_file_then_line(interleaved):
    res = CliRunner().invoke(
        app,
        ["convert", "mix", "-o", "out.jsonl", "--on-bad-lines", "skip", "--on-error", "skip",
         "--rejects", "rejects.jsonl"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in open("rejects.jsonl")]
    assert [(r["file"], r["line"]) for r in rows] == [
        ("mix/a.jsonl", 3),
        ("mix/a.jsonl", 5),
        ("mix/b.jsonl", 2),
        ("mix/b.jsonl", 4),
    ]
    assert "(mix/a.jsonl:3: invalid JSON" in res.output, res.output


def test_bad_lines_follow_the_input_order_of_files():
    from trlprep.io.inputfiles import FileLine, file_bad_lines
    from trlprep.io.jsonl import BadLines

    bad = BadLines()
    file_bad_lines(bad, "z.jsonl", ["z.jsonl", "a.jsonl"])
    bad.add(FileLine(1, "a.jsonl"), "x", b"")  # a.jsonl met first, but comes second
    bad.add(FileLine(9, "z.jsonl"), "x", b"")
    assert [str(n) for n in bad.lines] == ["z.jsonl:9", "a.jsonl:1"]


def test_a_skipped_line_is_counted_as_a_line_not_a_row(shards):
    out = _run(shards, "--on-bad-lines", "skip")
    assert "invalid-line: 2 lines, multi/1.jsonl:2" in out, out
    assert "invalid-line: 1 line, multi/1.jsonl:2" in _run(shards), out
