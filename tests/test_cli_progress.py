"""Progress on long reads (detect, validate): rows, rate, percentage where known."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console

from trlprep.io.progress import Size, input_size, showing, status, track
from trlprep.io.readers import iter_batches
from trlprep.io.sources import Batch


def test_status_words():
    """Nothing known: rows and rate; a total: percentage, rate and time left (as rich's
    H:MM:SS); rows read of a known row count, or the share of a file's bytes read."""
    assert status(1, 0.0) == "1 row"
    assert status(12_000, 0.5) == "12,000 rows, 24,000 rows/s"
    assert status(12_000, 2.0, Size(30_000, "rows")) == (
        "12,000/30,000 rows, 40%, 6,000 rows/s, ETA 0:00:03"
    )
    assert status(500, 2.0, Size(1000, "bytes"), byte_end=250) == (
        "500 rows, 25%, 250 rows/s, ETA 0:00:06"
    )
    assert status(10, 3600.0, Size(100, "rows")).endswith("10%, 0 rows/s, ETA 9:00:00")
    assert status(0, 0.0, Size(100, "rows")) == "0/100 rows, 0%"
    assert status(100, 4.0, Size(100, "rows")) == "100/100 rows, 100%, 25 rows/s, ETA 0:00:00"


def test_input_size(tmp_path):
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text('{"text": "a"}\n' * 3)
    assert input_size(str(jsonl), "jsonl") == Size(42, "bytes")
    gz = tmp_path / "t.jsonl.gz"
    gz.write_bytes(b"")
    assert input_size(str(gz), "jsonl") is None  # compressed: its bytes read are not known
    assert input_size(str(tmp_path / "missing.parquet"), "parquet") is None


def test_track_is_a_no_op_without_showing(tmp_path):
    batches = [Batch(pa.record_batch({"a": [1]}), 0), Batch(pa.record_batch({"a": [2]}), 1)]
    out = list(track(iter(batches), "x"))
    assert len(out) == 2 and all(a is b for a, b in zip(out, batches, strict=True))


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


def test_a_jsonl_file_shows_the_share_of_its_bytes_read_and_the_time_left(tmp_path, monkeypatch):
    import trlprep.io.jsonl as jsonl

    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 1000)  # several batches
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "a"}\n' * 500)  # 7,000 bytes
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=160)
    with showing(console, "validating", True):
        rows = sum(b.data.num_rows for b in iter_batches(path))
    assert rows == 500
    text = buf.getvalue()
    assert "71 rows, 14%" in text  # 1,000 bytes of 7,000: 71 whole lines
    assert "rows/s, ETA 0:00:0" in text and "500 rows, 100%" in text


def test_convert_shows_progress_on_stderr_only(tmp_path, monkeypatch):
    """The bar starts once the first batch was read (for detection) and counts it; the data
    written is the same with and without it."""
    from typer.testing import CliRunner

    from trlprep.cli import app
    from trlprep.cli.app import err

    path = _parquet(tmp_path, monkeypatch)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setattr(err, "_console", None)
    shown = CliRunner().invoke(app, ["convert", path, "-o", "a.jsonl", "--progress"])
    assert shown.exit_code == 0, shown.output
    assert "converting t.parquet" in shown.stderr and "5,000/5,000 rows, 100%" in shown.stderr
    assert "ETA" in shown.stderr and "converting" not in shown.stdout
    quiet = CliRunner().invoke(app, ["convert", path, "-o", "b.jsonl", "--no-progress"])
    assert quiet.exit_code == 0 and "converting" not in quiet.stderr
    assert Path("a.jsonl").read_bytes() == Path("b.jsonl").read_bytes()


def test_convert_of_several_chunks_shows_the_read_then_the_conversion(tmp_path, monkeypatch):
    """The whole input is read before the first row converts (a column's kind is decided
    over all of it): a bar for the read, then one for the rows converted."""
    from typer.testing import CliRunner

    import trlprep.io.jsonl as jsonl
    from trlprep.cli import app
    from trlprep.cli.app import err

    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 1000)  # several batches
    monkeypatch.chdir(tmp_path)
    Path("t.jsonl").write_text('{"prompt": "p", "completion": "c"}\n' * 500)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setattr(err, "_console", None)
    r = CliRunner().invoke(app, ["convert", "t.jsonl", "-o", "o.jsonl", "--to", "lm", "--progress"])
    assert r.exit_code == 0, r.output
    assert "reading t.jsonl" in r.stderr and "500 rows, 100%" in r.stderr
    assert "converting t.jsonl" in r.stderr and "500/500 rows, 100%" in r.stderr
    assert r.stderr.index("reading t.jsonl") < r.stderr.index("converting t.jsonl")
