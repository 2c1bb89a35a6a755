"""`python -m benchmarks convert --engine ray`: the local engine versus Ray Data on this machine.

The same conversions, end to end (read Parquet, convert, write Parquet), run by the local
engine (`trlprep convert`) and by `--engine ray` on a local Ray instance with `--cpus`
CPUs, in one process after Ray has started (its start-up is printed apart). The gap is the
engine's overhead on one machine; rows/s per core is what a cluster multiplies.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.cases_convert import make_input
from benchmarks.measure import print_table

CASES = [  # (source, format, target, extra convert options)
    ("preference", "conversational", "unpaired-preference", {}),
    ("preference-implicit", "standard", "preference", {}),
    ("unpaired-preference", "standard", "preference", {}),  # pairing: Ray's groupby + sort
    ("preference", "conversational", "preference", {"chat_template": "chatml"}),
]


def _local(path: Path, out: Path, dst: str, extra: dict) -> None:
    from trlprep.converters.base import ConvertOptions

    from trlprep.cli.pipeline import Request, run

    run(Request(str(path), str(out), to=dst, overwrite=True, convert_options=ConvertOptions(),
                progress=False, **extra))  # fmt: skip


def _ray(path: Path, out: Path, dst: str, extra: dict) -> None:
    from trlprep.cli.ray_cmd import convert_ray

    convert_ray(str(path), str(out), address=None, to=dst, overwrite=True, **extra)


def _best(fn, *args, repeat: int = 2) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return min(times)


def main(workdir: Path, rows: int, only: str | None, cpus: int) -> None:
    import ray

    from trlprep import ray as engine

    t = time.perf_counter()
    engine.init(num_cpus=cpus)
    started = time.perf_counter() - t
    print(f"Ray start-up: {started:.1f} s (local instance, {cpus} CPUs); {rows:,} rows per case")
    results = []
    for src, fmt, dst, extra in CASES:
        name = f"{src} -> {dst}" + (f" ({extra['chat_template']})" if extra else "")
        if only and only not in name:
            continue
        path = make_input(workdir, src, fmt, rows)
        out_local, out_ray = workdir / "ray_local_out.parquet", workdir / "ray_out.parquet"
        local = _best(_local, path, out_local, dst, extra)
        remote = _best(_ray, path, out_ray, dst, extra)
        out_ray.unlink(missing_ok=True)
        results.append(
            (
                name,
                fmt,
                f"{rows / local:,.0f}",
                f"{rows / remote:,.0f}",
                f"{rows / remote / cpus:,.0f}",
                f"{remote / local:.1f}x",
            )
        )
    ray.shutdown()
    header = ("conversion", "format", "local rows/s", "ray rows/s", "ray rows/s/core", "ray/local")
    print_table(results, header)
