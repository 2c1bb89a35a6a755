"""Progress on long reads (detect, validate): rows, rate, percentage where known."""

from __future__ import annotations

import io

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
