"""Progress of long reads on a terminal: rows, rate and, where the size is known, percentage.

Readers pass their batches through `track`, which costs nothing unless a command asked for
progress with `showing(...)` (detect and validate on a terminal; convert has its own bar).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

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


def track(batches: Iterator[Any], path: str, fmt: str = "") -> Iterator[Any]:
    """`batches` unchanged; while `showing` is active, each one advances the bar."""
    if not _ACTIVE:
        yield from batches
        return
    bar, label = _ACTIVE[-1]
    total = total_rows(path, fmt)
    task = bar.add_task(f"{label} {path}", total=total, status="")
    done = 0
    start = time.perf_counter()  # (`bar.tasks` is a list: a task id is no index into it)
    try:
        for b in batches:
            yield b
            done += b.data.num_rows
            elapsed = time.perf_counter() - start
            bar.update(task, completed=done, status=status(done, total, elapsed), refresh=True)
    finally:
        bar.remove_task(task)


def status(done: int, total: int | None, elapsed: float) -> str:
    """`12,000 rows, 48,000 rows/s, 40%` (the percentage only when the total is known)."""
    from trlprep.wording import plural

    parts = [plural(done, "row")]
    if elapsed > 0:
        parts.append(f"{done / elapsed:,.0f} rows/s")
    if total:
        parts.append(f"{100 * done / total:.0f}%")
    return ", ".join(parts)


def total_rows(path: str, fmt: str) -> int | None:
    """The number of rows a file holds when its metadata says so cheaply (Parquet)."""
    if fmt != "parquet":
        return None
    try:
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    except Exception:
        return None
