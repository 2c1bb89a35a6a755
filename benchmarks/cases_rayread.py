"""`python -m benchmarks rayread --gb 1`: one big JSON Lines file read by `--engine ray`,
whole by one task (as before `trlprep.ray.jsonranges`) versus in byte ranges, one task each.

Each way runs on a fresh local Ray instance with `--cpus` CPUs (so no worker keeps memory
from the other way): the read into a numbered, materialized Ray dataset (what every Ray
command starts with), its wall time, and the peak RSS of its largest worker and of all
workers together, sampled with psutil every 50 ms (USS: a worker's own memory; RSS also
counts the object store's shared pages a worker has touched).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from benchmarks.cases_stream import make_jsonl
from benchmarks.measure import print_table


class _WorkerPeaks:
    """Peak RSS of Ray worker processes (children of this process), sampled in a thread;
    `uss`: the largest worker's own memory, without the object store's shared pages its
    RSS counts once it has written or read blocks there."""

    def __init__(self, every: float = 0.05) -> None:
        self.every, self.one, self.all, self.uss = every, 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in me.children(recursive=True):
                try:
                    title = " ".join(p.cmdline())  # a worker's: `ray::IDLE`, `ray::_read_file`
                    if not title.startswith("ray::") or title.endswith("Agent"):
                        continue
                    mem = p.memory_full_info()
                except psutil.Error:
                    continue
                total += mem.rss
                self.one = max(self.one, mem.rss)
                self.uss = max(self.uss, mem.uss)
            self.all = max(self.all, total)
            time.sleep(self.every)

    def __enter__(self) -> _WorkerPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _read(path: Path, cpus: int, whole: bool) -> tuple[float, int, int, _WorkerPeaks]:
    """(seconds, rows, tasks, workers' peak memory) of one read."""
    import ray

    from trlprep import ray as engine
    from trlprep.io.jsonl import CHUNK_BYTES
    from trlprep.ray import sources
    from trlprep.ray.jsonranges import RANGE_BYTES, cut_points

    engine.init(num_cpus=cpus)
    ray.get([ray.remote(_noop).remote() for _ in range(cpus)])  # workers started: not timed
    real = sources.file_spans
    if whole:
        sources.file_spans = lambda paths, cpus: [None for _ in paths]
        tasks = 1
    else:
        tasks = len(cut_points(str(path), cpus, RANGE_BYTES, CHUNK_BYTES)) - 1
    try:
        with _WorkerPeaks() as peaks:
            t = time.perf_counter()
            ds, rows, _ = sources.read_numbered(str(path))
            took = time.perf_counter() - t
        del ds
    finally:
        sources.file_spans = real
        ray.shutdown()
    return took, rows, tasks, peaks


def _noop() -> None:
    return None


def main(workdir: Path, gigabytes: float, cpus: int) -> None:
    path, _ = make_jsonl(workdir, gigabytes)
    size = path.stat().st_size
    print(f"{path.name}: {size / 1e9:.2f} GB; local Ray instance with {cpus} CPUs")
    results = []
    for name, whole in (("whole file, one task", True), ("byte ranges", False)):
        took, rows, tasks, peaks = _read(path, cpus, whole)
        mb = [f"{x / 1e6:,.0f}" for x in (peaks.uss, peaks.one, peaks.all)]
        results.append((name, str(tasks), f"{rows:,}", f"{took:.1f}", *mb))
    header = ("read", "tasks", "rows", "seconds", "one worker USS MB", "RSS MB", "all RSS MB")
    print_table(results, header)
