"""Progress on long reads (detect, validate): rows, rate, percentage where known."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console

from trlprep.io.progress import showing, status, track
from trlprep.io.readers import iter_batches


def test_status_words():
    assert status(1, None, 0.0) == "1 row"
    assert status(12_000, None, 0.5) == "12,000 rows, 24,000 rows/s"
    assert status(500, 1000, 1.0) == "500 rows, 500 rows/s, 50%"


def test_track_is_a_no_op_without_showing(tmp_path):
    batches = [object(), object()]
    assert list(track(iter(batches), "x")) == batches


def test_reading_a_parquet_file_shows_rows_and_percentage(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": ["a"] * 5000}), path, row_group_size=1000)
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    with showing(console, "validating", True):
        rows = sum(b.data.num_rows for b in iter_batches(path, batch_rows=1000))
    assert rows == 5000
    text = buf.getvalue()
    assert "validating" in text and "5,000 rows" in text and "100%" in text


def test_disabled_shows_nothing(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": ["a"] * 10}), path)
    buf = io.StringIO()
    with showing(Console(file=buf, force_terminal=True), "validating", False):
        list(iter_batches(path))
    assert buf.getvalue() == ""


def _parquet(tmp_path, monkeypatch, rows: int = 5000) -> str:
    """A short relative name, so the bar's line fits the console's 80 columns."""
    monkeypatch.chdir(tmp_path)
    pq.write_table(pa.table({"text": ["a"] * rows}), "t.parquet", row_group_size=1000)
    return "t.parquet"


def test_detect_and_validate_show_progress_on_a_terminal(tmp_path, monkeypatch):
    """On a terminal (as rich decides it: TTY_COMPATIBLE=1 here) detect and validate show the
    bar on stderr without being asked; stdout keeps only the result."""
    from typer.testing import CliRunner

    from trlprep.cli import app
    from trlprep.cli.app import err

    path = _parquet(tmp_path, monkeypatch)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setattr(err, "_console", None)  # rich fixes "interactive" when it is built
    for command, label in (("detect", "detecting"), ("validate", "validating")):
        r = CliRunner().invoke(app, [command, path])
        assert r.exit_code == 0, r.output
        assert label in r.stderr and "5,000 rows" in r.stderr and "100%" in r.stderr
        assert label not in r.stdout
    # a file read twice in one run (JSON Lines: detected, then validated): two bars, one after
    # the other (the second used to look its task up by id in rich's list: IndexError)
    jsonl = Path(path).with_suffix(".jsonl")
    jsonl.write_text('{"text": "a"}\n' * 10)
    for command in ("detect", "validate"):
        r = CliRunner().invoke(app, [command, str(jsonl)])
        assert r.exit_code == 0, r.output
        assert "10 rows" in r.stderr


def test_no_progress_off_a_terminal_or_when_refused(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from trlprep.cli import app

    path = _parquet(tmp_path, monkeypatch)
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    r = CliRunner().invoke(app, ["detect", path])
    assert r.exit_code == 0 and "detecting" not in r.stderr
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    r = CliRunner().invoke(app, ["validate", path, "--no-progress"])
    assert r.exit_code == 0 and "validating" not in r.stderr
