"""Render batches of a table in worker processes (Arrow record batches in, string arrays out)."""

from __future__ import annotations

import atexit
import multiprocessing as mp
import multiprocessing.util as mp_util
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pyarrow as pa

from trlprep.templates.batch import render_batch

BATCHES_PER_WORKER = 8
MAX_BATCH_ROWS = 8192


def run_parallel(
    job,
    items: list[tuple[int, pa.Table]],
    workers: int,
    tick: Callable[[int | None], None] | None,
    fn: Callable = render_batch,
) -> dict[int, Any]:
    """`fn(job, batch, start)` (`render_batch`, `render_prompts`) over `(start row, slice)`
    items on `workers` processes, keyed by start.

    Workers are spawned (not forked): the parent's Arrow and Polars thread pools make fork
    unsafe. Each worker compiles the template once and keeps it for all its batches, and
    runs its libraries single-threaded (the parallelism is across processes).
    """
    size = part_rows(sum(t.num_rows for _, t in items), workers)
    parts = [
        (start + sub, batch.slice(sub, size))
        for start, batch in items
        for sub in range(0, batch.num_rows, size)
    ]
    results: dict[int, Any] = {}
    pool = _pool(workers)
    try:
        futures = {
            pool.submit(_run_ipc, fn, job, _ipc(part), start): (start, part.num_rows)
            for start, part in parts
        }
        for fut in as_completed(futures):
            start, rows = futures[fut]
            results[start] = fut.result()
            if tick:
                tick(rows)
    except BaseException:
        _shutdown()  # a broken or interrupted pool is not reused
        raise
    return results


def part_rows(total: int, workers: int) -> int:
    """Rows per task sent to a worker: a few tasks per worker, to balance their loads."""
    return max(1, min(MAX_BATCH_ROWS, -(-total // (workers * BATCHES_PER_WORKER))))


_POOLS: dict[int, ProcessPoolExecutor] = {}


def _pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` processes, kept for later calls (streamed batches reuse it)."""
    pool = _POOLS.get(workers)
    if pool is None:
        _shutdown()
        ctx = mp.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init)
        _POOLS[workers] = pool
        # In a multiprocessing child, atexit handlers never run and the exit joins every
        # child process: the kept pool's idle workers would hang that exit forever. A
        # multiprocessing finalizer runs first there (and at a normal exit too).
        mp_util.Finalize(None, _shutdown, exitpriority=100)
    return pool


@atexit.register
def _shutdown() -> None:
    while _POOLS:
        _, pool = _POOLS.popitem()
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        except BrokenProcessPool:  # pragma: no cover
            pass


def _init() -> None:
    for var in ("POLARS_MAX_THREADS", "RAYON_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = "1"
    pa.set_cpu_count(1)


def _ipc(t: pa.Table) -> pa.Buffer:
    """`t` as an Arrow IPC stream: only its own rows' data (pickling a slice would send the
    whole buffers it points into, the entire table for every batch)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, t.schema) as writer:
        writer.write_table(t)
    return sink.getvalue()


def _run_ipc(fn: Callable, job, buf: pa.Buffer, start: int) -> Any:
    return fn(job, pa.ipc.open_stream(buf).read_all(), start)
