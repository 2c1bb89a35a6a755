"""`python -m benchmarks rayread --gb 1 [--format csv]`: one big JSON Lines (or CSV) file
read by `--engine ray`, whole by one task (as before `trlprep.ray.jsonranges` /
`csvranges`) versus in byte ranges, one task each; CSV also by the local engine (a fresh
process: its wall time and peak RSS) and gzip-compressed (ranges handed out by one task).

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
    real, real_csv, real_ranges = sources.file_spans, sources.csv_parts, sources.finish_ranges
    ranges: list[int] = []

    def counted(*args):
        done = real_ranges(*args)
        ranges.append(1 if done is None else len(done.blocks))
        return done

    sources.finish_ranges = counted
    if whole:
        sources.file_spans = lambda paths, cpus: [None for _ in paths]
        sources.csv_parts = lambda paths, cpus: [None for _ in paths]
    try:
        with _WorkerPeaks() as peaks:
            t = time.perf_counter()
            ds, rows, _ = sources.read_numbered(str(path))
            took = time.perf_counter() - t
        del ds
    finally:
        sources.file_spans, sources.csv_parts = real, real_csv
        sources.finish_ranges = real_ranges
        ray.shutdown()
    if ".csv" in path.name:
        tasks = ranges[0] if ranges else 1
    else:
        tasks = 1 if whole else len(cut_points(str(path), cpus, RANGE_BYTES, CHUNK_BYTES)) - 1
    return took, rows, tasks, peaks


def make_csv(workdir: Path, gigabytes: float) -> Path:
    """A prompt-completion CSV of about `gigabytes` GB (cached): quoted values holding
    commas, doubled quotes and line breaks (LF and CRLF), an id written with leading zeros,
    a score that is an integer in the first half and a float in the second."""
    target = int(gigabytes * (1 << 30))
    path = workdir / f"prompt_completion_{gigabytes:g}GB.csv"
    if path.exists():
        return path
    block = 20_000
    written = i = 0
    with open(path, "wb") as f:
        f.write(b"id,prompt,completion,score\r\n")
        while written < target:
            half = written < target // 2
            rows = []
            for j in range(i, i + block):
                score = str(j % 97) if half else f"{j % 97}.5"
                prompt = f'"Question {j}: say ""why"", then\nexplain, briefly.\r\nThanks."'
                answer = f'"Because {j} is {j % 7}, and ' + "x" * (j % 200) + '."'
                rows.append(f"{j:09d},{prompt},{answer},{score}\r\n")
            data = "".join(rows).encode()
            f.write(data)
            written, i = written + len(data), i + block
    return path


def _local(path: Path) -> tuple[float, int, int]:
    """(seconds, rows, peak RSS bytes) of the local engine's read, every batch streamed as
    `convert` streams them, in a fresh process."""
    import json
    import subprocess
    import sys

    code = (
        "import json, resource, time\n"
        "from trlprep.io.readers import iter_batches\n"
        "t = time.perf_counter()\n"
        f"rows = sum(b.data.num_rows for b in iter_batches({str(path)!r}))\n"
        "took = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
        "print(json.dumps([took, rows, rss]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    took, rows, rss = json.loads(out.stdout.strip().splitlines()[-1])
    return took, rows, rss


def _noop() -> None:
    return None


def _gzip(path: Path) -> Path:
    """`path` gzip-compressed beside it (cached)."""
    import pyarrow as pa

    out = path.with_name(path.name + ".gz")
    if not out.exists():
        with open(path, "rb") as src, pa.CompressedOutputStream(str(out), "gzip") as dst:
            while chunk := src.read(16 << 20):
                dst.write(chunk)
    return out


def main(workdir: Path, gigabytes: float, cpus: int, fmt: str = "jsonl") -> None:
    path = make_csv(workdir, gigabytes) if fmt == "csv" else make_jsonl(workdir, gigabytes)[0]
    size = path.stat().st_size
    print(f"{path.name}: {size / 1e9:.2f} GB; local Ray instance with {cpus} CPUs")
    results = []
    if fmt == "csv":
        took, rows, rss = _local(path)
        results.append(
            ("local engine", "-", f"{rows:,}", f"{took:.1f}", "-", f"{rss / 1e6:,.0f}", "-")
        )
        for name, whole in (("gzip: whole, one task", True), ("gzip: handed out", False)):
            took, rows, tasks, peaks = _read(_gzip(path), cpus, whole)
            mb = [f"{x / 1e6:,.0f}" for x in (peaks.uss, peaks.one, peaks.all)]
            results.append((name, str(tasks), f"{rows:,}", f"{took:.1f}", *mb))
    for name, whole in (("whole file, one task", True), ("byte ranges", False)):
        took, rows, tasks, peaks = _read(path, cpus, whole)
        mb = [f"{x / 1e6:,.0f}" for x in (peaks.uss, peaks.one, peaks.all)]
        results.append((name, str(tasks), f"{rows:,}", f"{took:.1f}", *mb))
    header = ("read", "tasks", "rows", "seconds", "one worker USS MB", "RSS MB", "all RSS MB")
    print_table(results, header)
