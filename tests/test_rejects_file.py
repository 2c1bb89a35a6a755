"""When `--on-error skip` writes a rejects file: the default `OUT.rejects.jsonl` only when a
row was rejected (an earlier run's removed under --overwrite), `--rejects FILE` always (even
empty, for pipelines that read it); the summary line says which happened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trlprep.cli import app

GOOD = '{"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}\n'
BAD = '{"prompt": "Grass is", "chosen": 5, "rejected": " blue."}\n'  # a number: rejected
ALPACA = '{"instruction": "Say hi", "input": "", "output": "hi"}\n'


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.jsonl").write_text(GOOD * 3)
    (tmp_path / "mixed.jsonl").write_text(GOOD + BAD)
    (tmp_path / "alpaca.jsonl").write_text(ALPACA * 2)
    return tmp_path


CONVERT = ["convert", "good.jsonl", "--to", "prompt_completion", "-o", "out.jsonl"]


def test_nothing_rejected_writes_no_default_file_and_says_so(here):
    r = _run(*CONVERT, "--on-error", "skip")
    assert r.exit_code == 0, r.output
    assert (here / "out.jsonl").exists() and not (here / "out.rejects.jsonl").exists()
    assert "0 rejected rows: no rejects file written" in r.stderr
    assert "->  out.rejects.jsonl" not in r.stderr and "-> out.rejects.jsonl" not in r.stderr


def test_import_alike(here):
    r = _run("import", "alpaca.jsonl", "--from", "alpaca", "-o", "o.jsonl", "--on-error", "skip")
    assert r.exit_code == 0, r.output
    assert not (here / "o.rejects.jsonl").exists()
    assert "0 rejected rows: no rejects file written" in r.stderr


def test_an_explicit_rejects_file_is_written_even_empty(here):
    r = _run(*CONVERT, "--on-error", "skip", "--rejects", "r.jsonl")
    assert r.exit_code == 0, r.output
    assert (here / "r.jsonl").read_bytes() == b""
    assert "0 rejected rows -> r.jsonl (empty, as --rejects asks)" in r.stderr
    assert not (here / "out.rejects.jsonl").exists()


def test_rejected_rows_go_to_the_default_file(here):
    r = _run("convert", "mixed.jsonl", *CONVERT[2:], "--on-error", "skip")
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in (here / "out.rejects.jsonl").read_text().splitlines()]
    assert [x["line"] for x in rows] == [2]
    assert "1 rejected row -> out.rejects.jsonl" in r.stderr


def test_overwrite_removes_an_earlier_runs_default_file(here):
    assert _run("convert", "mixed.jsonl", *CONVERT[2:], "--on-error", "skip").exit_code == 0
    assert (here / "out.rejects.jsonl").exists()
    r = _run(*CONVERT, "--on-error", "skip", "--overwrite")
    assert r.exit_code == 0, r.output
    assert not (here / "out.rejects.jsonl").exists()
    assert "no rejects file written; removed out.rejects.jsonl (an earlier run's)" in r.stderr


def test_without_overwrite_an_earlier_default_file_is_refused_not_kept_silently(here):
    (here / "out.rejects.jsonl").write_text("{}\n")  # an earlier run's, its output removed
    r = _run(*CONVERT, "--on-error", "skip")
    assert r.exit_code == 2, r.output
    assert "out.rejects.jsonl: already exists" in r.stderr
    assert (here / "out.rejects.jsonl").read_text() == "{}\n" and not (here / "out.jsonl").exists()


def test_an_explicit_file_is_never_removed_only_replaced(here):
    (here / "r.jsonl").write_text("old\n")
    r = _run(*CONVERT, "--on-error", "skip", "--rejects", "r.jsonl", "--overwrite")
    assert r.exit_code == 0, r.output
    assert (here / "r.jsonl").read_bytes() == b""  # this run's: empty


def test_a_run_without_skip_notes_an_earlier_runs_default_file(here):
    assert _run("convert", "mixed.jsonl", *CONVERT[2:], "--on-error", "skip").exit_code == 0
    r = _run(*CONVERT, "--overwrite")
    assert r.exit_code == 0, r.output
    assert (here / "out.rejects.jsonl").exists()  # not asked for: kept, and said
    said = " ".join(r.stderr.split())
    assert "note: out.rejects.jsonl is an earlier run's rejects file, not this run's" in said


def test_a_run_without_skip_and_no_earlier_file_says_nothing_of_rejects(here):
    r = _run(*CONVERT)
    assert r.exit_code == 0, r.output
    assert "rejects" not in r.stderr


def test_the_ray_engine_alike(here, monkeypatch):
    pytest.importorskip("ray.data")
    from trlprep.ray.base import init

    with monkeypatch.context() as m:  # Ray's workers start in another folder than this run's:
        m.chdir(here.parent)  # relative paths are read from the run's folder all the same
        init()
    args = ["convert", "good.jsonl", "--to", "prompt_completion", "-o", "ray_out"]
    r = _run(*args, "--engine", "ray", "--on-error", "skip")
    assert r.exit_code == 0, r.output
    assert not (here / "ray_out.rejects.jsonl").exists()
    assert "0 rejected rows: no rejects file written" in r.stderr
    r = _run(*args, "--engine", "ray", "--on-error", "skip", "--rejects", "r.jsonl", "--overwrite")
    assert r.exit_code == 0, r.output
    assert (here / "r.jsonl").read_bytes() == b""
    assert "0 rejected rows -> r.jsonl (empty, as --rejects asks)" in r.stderr


def test_an_empty_input_allowed_handles_the_rejects_file_alike(here):
    (here / "empty.jsonl").write_text("")
    (here / "allbad.jsonl").write_text("not json\n{broken\n")
    base = ["--to", "prompt_completion", "--allow-empty", "--on-error", "skip"]
    r = _run("convert", "empty.jsonl", "-o", "e.jsonl", *base, "--rejects", "r.jsonl")
    assert r.exit_code == 0, r.output
    assert (here / "r.jsonl").read_bytes() == b""
    assert "0 rejected rows -> r.jsonl (empty, as --rejects asks)" in r.stderr
    r = _run("convert", "empty.jsonl", "-o", "e2.jsonl", *base)
    assert r.exit_code == 0 and not (here / "e2.rejects.jsonl").exists()
    assert "0 rejected rows: no rejects file written" in r.stderr
    # every line bad and skipped: each one is accounted for in the rejects file
    r = _run("convert", "allbad.jsonl", "-o", "b.jsonl", *base, "--on-bad-lines", "skip")
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in (here / "b.rejects.jsonl").read_text().splitlines()]
    assert [(x["line"], x["stage"]) for x in rows] == [(1, "read"), (2, "read")]
    assert "0 rejected rows and 2 bad lines -> b.rejects.jsonl" in r.stderr
