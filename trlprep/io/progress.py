"""Progress of long reads on a terminal: rows, rate and, where the size is known, percentage
and time left.

Readers pass their batches through `track`, which only counts unless a command shows progress
with `showing(...)` (detect, validate, convert, import and train on a terminal, on stderr);
work done in pieces of a known number of rows (train's tokenising) goes through `tally`. The size
is known for a Parquet file (its row count, from the metadata) and an uncompressed JSON Lines
file (its byte size: the share of bytes read); otherwise the line says rows and rate.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from trlprep.io.sources import split_suffix

_ACTIVE: list[tuple[Any, str]] = []  # (rich Progress, label) while a command shows progress


@contextlib.contextmanager
def showing(console: Any, label: str, enabled: bool) -> Iterator[None]:
    """Within this block, batches read through `track` update a transient progress bar."""
    if not enabled:
        yield
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        _ACTIVE.append((bar, label))
        try:
            yield
        finally:
            _ACTIVE.pop()


@dataclass
class Size:
    """How big an input is: `total` rows, or `total` bytes of which batches say how far
    they got (`Batch.byte_end`)."""

    total: int
    unit: str  # "rows" or "bytes"


def track(batches: Iterator[Any], path: str, fmt: str = "") -> Iterator[Any]:
    """`batches` unchanged; while `showing` is active, each one read advances its bar (a bar
    shown once reading has begun starts from the rows already read)."""
    start = time.perf_counter()
    done, at = 0, 0
    bar = task = size = None
    try:
        for b in batches:
            rows, end = b.data.num_rows, getattr(b, "byte_end", None)
            yield b
            del b  # not held while the next batch is read
            done += rows
            at = end or at
            if not _ACTIVE:
                continue
            if bar is not _ACTIVE[-1][0]:
                bar, label = _ACTIVE[-1]
                size = input_size(path, fmt)
                task = bar.add_task(f"{label} {path}", total=size and size.total, status="")
            completed = at if size is not None and size.unit == "bytes" else done
            line = status(done, time.perf_counter() - start, size, at)
            bar.update(task, completed=completed, status=line, refresh=True)
    finally:
        if task is not None and _ACTIVE and _ACTIVE[-1][0] is bar:
            bar.remove_task(task)


def tally(pieces: Iterator[Any], what: str, total: int) -> Iterator[Any]:
    """`pieces` (tables) unchanged; while `showing` is active, each one advances a bar of
    `total` rows labelled `what` (rows, rate, percentage and time left)."""
    start = time.perf_counter()
    done = 0
    bar = task = None
    try:
        for piece in pieces:
            rows = piece.num_rows
            yield piece
            del piece  # not held while the next piece is made
            done += rows
            if not _ACTIVE:
                continue
            if bar is not _ACTIVE[-1][0]:
                bar, label = _ACTIVE[-1]
                task = bar.add_task(f"{label} {what}", total=total, status="")
            line = status(done, time.perf_counter() - start, Size(total, "rows"))
            bar.update(task, completed=done, status=line, refresh=True)
    finally:
        if task is not None and _ACTIVE and _ACTIVE[-1][0] is bar:
            bar.remove_task(task)


def status(done: int, elapsed: float, size: Size | None = None, byte_end: int = 0) -> str:
    """`12,000/30,000 rows, 40%, 48,000 rows/s, ETA 0:00:01` (rows total known), `12,000 rows,
    40%, ...` (bytes total known), `12,000 rows, 48,000 rows/s` (nothing known)."""
    from trlprep.wording import plural

    fraction = None
    if size is not None and size.total > 0:
        fraction = min(1.0, (done if size.unit == "rows" else byte_end) / size.total)
    rows = plural(done, "row")
    if size is not None and size.unit == "rows":
        rows = f"{done:,}/{plural(size.total, 'row')}"
    parts = [rows]
    if fraction is not None:
        parts.append(f"{100 * fraction:.0f}%")
    if elapsed > 0 and done:
        parts.append(f"{done / elapsed:,.0f} rows/s")
        if fraction:
            parts.append(f"ETA {_clock(elapsed * (1 - fraction) / fraction)}")
    return ", ".join(parts)


def _clock(seconds: float) -> str:
    """H:MM:SS, as rich's time columns write it."""
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def input_size(path: str, fmt: str) -> Size | None:
    """A file's size when it is cheap to know: a Parquet file's rows, an uncompressed JSON
    Lines file's bytes (None otherwise)."""
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return Size(pq.ParquetFile(path).metadata.num_rows, "rows")
        if fmt in ("jsonl", "text", "text-paragraph") and split_suffix(path)[1] is None:
            return Size(os.path.getsize(path), "bytes")
    except Exception:  # noqa: BLE001 - a size is a nicety: the read itself says what is wrong
        return None
    return None
