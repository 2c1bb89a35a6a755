"""Render batches of a table in worker processes (Arrow record batches in, string arrays out)."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

import pyarrow as pa

from trlprep.templates.table import render_batch

BATCHES_PER_WORKER = 8
MAX_BATCH_ROWS = 8192


def run_parallel(job, table: pa.Table, workers: int, tick: Callable[[int | None], None] | None):
    """`render_batch` over slices of `table` on `workers` processes, results in table order.

    Workers are spawned (not forked): the parent's Arrow and Polars thread pools make fork
    unsafe. Each worker compiles the template once and keeps it for all its batches.
    """
    n = table.num_rows
    size = max(1, min(MAX_BATCH_ROWS, -(-n // (workers * BATCHES_PER_WORKER))))
    starts = list(range(0, n, size))
    results: list = [None] * len(starts)
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {
            pool.submit(render_batch, job, _record_batch(table.slice(s, size)), s): k
            for k, s in enumerate(starts)
        }
        for fut in as_completed(futures):
            k = futures[fut]
            results[k] = fut.result()
            if tick:
                tick(min(size, n - starts[k]))
    return results


def _record_batch(t: pa.Table) -> pa.RecordBatch:
    t = t.combine_chunks()
    batches = t.to_batches()
    if len(batches) == 1:
        return batches[0]
    return pa.RecordBatch.from_pylist([], schema=t.schema) if not batches else batches[0]
