"""Run a benchmark case in a fresh process and report its wall time and peak RSS."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Measurement:
    name: str
    seconds: float
    rows: int
    peak_rss_mb: float
    extra: dict[str, Any]

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else float("inf")


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it is not inherited across exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(fn: Callable, args: tuple, env: dict[str, str], threads: int | None, q) -> None:
    os.environ.update(env)
    if threads:
        _limit_threads(threads)
    try:
        result = fn(*args)  # returns (seconds, rows, extra)
        q.put(("ok", result, peak_rss_mb()))
    except BaseException as e:  # report, don't hang the parent
        import traceback

        where = "".join(traceback.format_exc().splitlines(keepends=True)[-12:])
        q.put(("error", f"{e!r}\n{where}", 0.0))


def _limit_threads(threads: int) -> None:
    """Hold this process to `threads` cores: CPU affinity (every thread, native ones
    included, runs there) and the thread pools of Arrow (CPU and I/O) sized to match."""
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cores[-threads:])
    import pyarrow as pa

    pa.set_cpu_count(threads)
    pa.set_io_thread_count(threads)


def in_process(name: str, fn: Callable, *args: Any, threads: int | None = None) -> Measurement:
    """Run `fn(*args)` in a spawned process (optionally limited to `threads` cores: thread
    pools sized by environment before any library loads, and CPU affinity)."""
    env = {}
    if threads:
        env = {
            "POLARS_MAX_THREADS": str(threads),
            "OMP_NUM_THREADS": str(threads),
            "OMP_THREAD_LIMIT": str(threads),
            "RAYON_NUM_THREADS": str(threads),
            "ARROW_IO_THREADS": str(threads),
            "TRLPREP_THREADS": str(threads),
        }
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn, args, env, threads, q))
    t0 = time.perf_counter()
    p.start()
    while True:
        try:
            status, result, rss = q.get(timeout=1.0)
            break
        except queue.Empty:
            # a child killed outright (a crash, the OOM killer) reports nothing: don't wait on it
            if not p.is_alive() and q.empty():
                p.join()
                died = f"its process died (exit code {p.exitcode})"
                raise RuntimeError(f"{name} failed: {died}") from None
    p.join()
    if status != "ok":
        raise RuntimeError(f"{name} failed: {result}")
    seconds, rows, extra = result
    # the whole process, start and exit included: what a time budget has to plan for
    extra = {**(extra or {}), "process_s": time.perf_counter() - t0}
    return Measurement(name, seconds, rows, rss, extra)


def tried(failures: list[str], name: str, fn: Callable, *args: Any) -> Measurement | None:
    """`in_process(name, fn, *args)`, but a failure is printed and added to `failures`
    instead of raised, so that the other sides and cases of a benchmark still run."""
    try:
        return in_process(name, fn, *args)
    except RuntimeError as e:
        print(f"FAILED: {e}", flush=True)
        failures.append(name)
        return None


def print_row(row: tuple[str, ...]) -> None:
    """Print a table row as soon as it is measured: a benchmark stopped by its time limit
    keeps the figures it had (the full table follows at the end)."""
    print("measured: " + "  ".join(c for c in row if c), flush=True)


def print_time_spent(measured: list[Measurement]) -> None:
    """One line per side saying where its process's wall time went (`process_s` from
    `in_process`; `setup_s`, `train_s` when the side measured them): the figures a time
    budget such as benchmarks/gpu.sh's is planned from."""
    for m in measured:
        e = m.extra
        parts = [f"{e[k]:.1f} s {what}" for k, what in PHASES if e.get(k) is not None]
        if "train_s" in e:
            parts.append(f"of which timed steps {m.seconds:.1f} s")
        inside = f" ({', '.join(parts)})" if parts else ""
        print(f"time spent: {m.name}: process {e['process_s']:.1f} s{inside}", flush=True)


# the phases a side may report, in the order they happen
PHASES = (("setup_s", "imports and setup"), ("train_s", "training"))


def device_name() -> str:
    """The CUDA device's name, or CPU."""
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"


def exit_if_failed(failures: list[str]) -> None:
    """Exit 1 naming the failed runs (after the figures of the others are printed)."""
    if failures:
        raise SystemExit(f"failed: {', '.join(failures)} (the errors are above)")


def command(name: str, argv: list[str], rows: int) -> Measurement:
    """Run a command line and measure it: wall time and the child's own peak RSS."""
    import tempfile

    err = tempfile.TemporaryFile("w+")
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, text=True)
    status = f"/proc/{proc.pid}/status"
    peak_kb = 0
    while proc.poll() is None:
        try:  # VmHWM is the process's high-water mark; poll it until the process exits
            with open(status) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - t0
    err.seek(0)
    stderr = err.read()
    extra = {"exit_code": proc.returncode, "stderr_tail": stderr[-300:]}
    return Measurement(name, seconds, rows, peak_kb / 1024, extra)


def step_timer(clock: Callable[[], float] = time.perf_counter) -> tuple[Any, list[float]]:
    """A transformers `TrainerCallback` recording `clock()` at each step's end (after the GPU
    finishes, when there is one), and the list it appends to."""
    import torch
    from transformers import TrainerCallback

    gpu = torch.cuda.is_available()
    times: list[float] = []

    class Timer(TrainerCallback):
        def on_step_end(self, *args: Any, **kwargs: Any) -> None:
            if gpu:
                torch.cuda.synchronize()
            times.append(clock())

    return Timer(), times


# dense bf16 peak FLOP/s of the chips the benchmarks run on (TRLPREP_PEAK_TFLOPS overrides)
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}


def peak_flops() -> float | None:
    """The device's dense bf16 peak in FLOP/s (None when unknown, e.g. on CPU)."""
    import torch

    if os.environ.get("TRLPREP_PEAK_TFLOPS"):
        return float(os.environ["TRLPREP_PEAK_TFLOPS"]) * 1e12
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    hits = [v for k, v in PEAK_BF16_TFLOPS.items() if k in name]
    return hits[0] * 1e12 if hits else None


def model_flops_per_token(model: Any) -> float:
    """6 N: forward and backward FLOPs per trained token of a model of N parameters (the
    input embedding, a lookup, left out)."""
    emb = model.get_input_embeddings()
    skip = {id(p) for p in emb.parameters()} if emb is not None else set()
    head = model.get_output_embeddings()
    tied = head is not None and any(id(p) in skip for p in head.parameters())
    n = sum(p.numel() for p in model.parameters() if id(p) not in skip)
    if tied:  # the tied matrix is also the LM head: its products count
        n += sum(p.numel() for p in head.parameters())
    return 6.0 * n


class Profile:
    """torch.profiler over a run's optimizer steps: call `step()` at each step's end; after
    `skip` warm-up steps, `active` steps are recorded. `report()` gives the top kernels (by
    device time on CUDA, CPU time otherwise) and host/device time per recorded step."""

    def __init__(self, active: int, skip: int = 1, rows: int = 15) -> None:
        import torch
        from torch.profiler import ProfilerActivity, profile, schedule

        self.gpu = torch.cuda.is_available()
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if self.gpu else [])
        self.active, self.rows = max(1, active), rows
        self.prof = profile(
            activities=acts, schedule=schedule(wait=0, warmup=skip, active=self.active, repeat=1)
        )
        self.prof.__enter__()
        self.done = False

    def step(self) -> None:
        if not self.done:
            self.prof.step()

    def report(self) -> str:
        if not self.done:
            self.prof.__exit__(None, None, None)
            self.done = True
        events = self.prof.key_averages()
        steps = [e for e in events if e.key.startswith("ProfilerStep")]
        host = sum(e.cpu_time_total for e in steps) / 1e6 / self.active
        lines = [f"host wall per step: {host:.3f} s"]
        if self.gpu:
            kernels = sum(getattr(e, "self_device_time_total", 0) for e in events)
            lines.append(f"device kernel time per step: {kernels / 1e6 / self.active:.3f} s")
        key = "self_cuda_time_total" if self.gpu else "self_cpu_time_total"
        lines.append(events.table(sort_by=key, row_limit=self.rows, max_name_column_width=60))
        return "\n".join(lines)


def print_table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    sys.stdout.flush()
