"""Measure a stream of batches on every core: pieces of rows go to worker processes, which
read, render and tokenise them (`Collector.part`); the main process reads ahead and puts
their numbers together in the stream's order (`collect.merge`) while they work.

A worker is a spawned process holding the collector (type, plan, template, tokenizer:
pickled once, when it starts) with its libraries single-threaded, the parallelism being
across processes. A piece travels as Arrow IPC and comes back as a few arrays per row. A
piece a worker cannot measure (an error that is not a row's) is measured again in the main
process, which raises that error itself. Pieces in flight are bounded: memory does not
grow with the file.

When workers start (`collect`): with more than one core and at least `PARALLEL_ROWS` rows
(or `num_proc` asked for); otherwise this process measures: each worker imports
transformers and unpickles the tokenizer (~1.5 s of CPU), more than small data takes.
Measured on this project's machine (2 cores shared with other work), the HH-RLHF shape,
`trlprep report FILE --tokenizer examples/tiny-chat-model`, wall time in this process vs
with workers (two runs each): 100 rows 5.2/5.0 s vs 5.8/5.2 s; 10,000 rows 10.3/7.8 s vs
11.4/10.4 s; 40,000 rows 23.7/21.1 s vs 36.1/35.2 s. They did not pay up to 40,000 rows
there, hence 100,000 (more free cores pay earlier; `num_proc=` asks for them anyway).
The figures are the same either way.
"""

from __future__ import annotations

import os
import pickle
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

PIECE_ROWS = 4096  # rows a worker measures at a time
IN_FLIGHT = 3  # pieces queued per worker (the main process reads ahead by this much)
PARALLEL_ROWS = 100_000  # below this many rows, starting workers costs more than it saves

Batch = tuple[pa.Table, int, "np.ndarray | None"]


def collect(collector: Any, batches: Iterable[Batch], num_proc: int | None = None) -> None:
    """Feed every batch to `collector` (its `data` ends as one `add` per batch would leave
    it), on `num_proc` processes (None: every available core; 1: this process only)."""
    stream = _pieces(batches)
    head: list[Batch] = []
    rows = 0
    for piece in stream:  # enough rows to be worth the workers' start?
        head.append(piece)
        rows += piece[0].num_rows
        if rows >= PARALLEL_ROWS:
            break
    spec = None
    if rows >= PARALLEL_ROWS or num_proc:  # (the cores module imports the renderer)
        from trlprep.templates.table import available_cores

        workers = available_cores() if num_proc is None else max(1, num_proc)
        spec = _spec(collector) if workers > 1 else None
    if spec is None:
        for piece in _chain(head, stream):
            collector.add(*piece)
        return
    _run(collector, spec, _chain(head, stream), workers)


def _run(collector: Any, spec: bytes, pieces: Iterator[Batch], workers: int) -> None:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from trlprep.datareport.collected import merge

    ctx = mp.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init, initargs=(spec,))
    pending: deque = deque()
    broken = False  # a worker died (killed, out of memory): the rest is measured here

    def take_oldest() -> None:
        nonlocal broken
        future, piece = pending.popleft()
        try:
            part = None if future is None else future.result()
        except BrokenProcessPool:
            part, broken = None, True
        if part is None:  # not measurable there: here, where its error is raised as it is
            part = collector.part(*piece)
        merge(collector.data, part, collector.want_examples, collector.flagged)

    try:
        for piece in pieces:
            table, offset, lines, path = piece
            future = None
            if not broken:
                try:
                    future = pool.submit(_work, _ipc(table), offset, lines, path)
                except BrokenProcessPool:
                    broken = True
            pending.append((future, piece))
            while len(pending) >= workers * IN_FLIGHT:
                take_oldest()
        while pending:
            take_oldest()
    finally:
        for future, _ in pending:
            if future is not None:
                future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _pieces(batches: Iterable[Batch]) -> Iterator[Batch]:
    """The batches cut into pieces of at most PIECE_ROWS rows (offsets and lines cut too)."""
    for table, offset, lines, *file in batches:  # (table, offset, lines[, file])
        path = file[0] if file else None
        for start in range(0, max(table.num_rows, 1), PIECE_ROWS):
            sub = None if lines is None else np.asarray(lines)[start : start + PIECE_ROWS]
            yield table.slice(start, PIECE_ROWS), offset + start, sub, path


def _chain(head: list[Batch], rest: Iterator[Batch]) -> Iterator[Batch]:
    yield from head
    yield from rest


def _spec(collector: Any) -> bytes | None:
    """The collector as a worker receives it (None: it cannot travel, e.g. a processor
    holding an unpicklable object; then one process measures)."""
    data, collector.data = collector.data, None
    try:
        return pickle.dumps(collector)
    except Exception:  # noqa: BLE001 - anything pickle refuses
        return None
    finally:
        collector.data = data


def _ipc(t: pa.Table) -> pa.Buffer:
    """`t` as an Arrow IPC stream: only its own rows (a pickled slice sends whole buffers)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, t.schema) as writer:
        writer.write_table(t)
    return sink.getvalue()


_COLLECTOR: Any = None


def _init(spec: bytes) -> None:
    for var in ("POLARS_MAX_THREADS", "RAYON_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    pa.set_cpu_count(1)
    global _COLLECTOR
    _COLLECTOR = pickle.loads(spec)
    _COLLECTOR.num_proc = 1  # no template workers of its own


def _work(buf: pa.Buffer, offset: int, lines: np.ndarray | None, path: str | None) -> Any:
    from trlprep.datareport.collected import Collected

    table = pa.ipc.open_stream(buf).read_all()
    try:
        part: Collected = _COLLECTOR.part(table, offset, lines, path)
    except Exception:  # noqa: BLE001 - the main process measures the piece and raises it
        return None
    return part


__all__ = ["collect"]
