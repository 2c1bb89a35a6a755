"""Validation: trlprep's vectorised validator versus jsonschema row by row.

The 1-thread side runs pinned to one core (CPU affinity, Arrow/polars pools of one thread),
end to end: `trlprep.validate(path)` reads the Parquet file itself (imports are done
before the clock starts). Wall seconds are the best of `--repeat` runs in one process, and
every run is printed; CPU seconds (all threads of the process) are shown beside them, since
a machine shared with other work inflates wall time. The Parquet read alone (same reader,
same core) is measured too, as the floor validation stands on.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.measure import in_process, print_table


def make_data(workdir: Path, rows: int) -> Path:
    import pyarrow.parquet as pq

    from benchmarks.synth import preference

    path = workdir / f"preference_conv_{rows}.parquet"
    if not path.exists():
        pq.write_table(preference(rows, conversational=True), path)
    return path


def _best_of(repeat: int, fn) -> tuple[float, float, list[float]]:
    """(best wall seconds, CPU seconds of that run, every run's wall seconds)."""
    runs = []
    for _ in range(max(1, repeat)):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
    wall, cpu = min(runs)
    return wall, cpu, [round(w, 3) for w, _ in runs]


def run_trlprep(path: str, repeat: int = 1) -> tuple[float, int, dict]:
    import pyarrow as pa

    import trlprep

    pa.array([0])  # imports are not timed: pyarrow loads pandas on its first array
    reports = []
    wall, cpu, runs = _best_of(repeat, lambda: reports.append(trlprep.validate(path)))
    report = reports[-1]
    return wall, report.num_rows, {"valid": report.valid, "cpu": cpu, "runs": runs}


def run_read(path: str, repeat: int = 1) -> tuple[float, int, dict]:
    """Read the file in record batches exactly as validate does, and nothing else."""
    from trlprep.io.readers import iter_batches

    rows = []

    def read() -> None:
        rows.append(sum(b.data.num_rows for b in iter_batches(path, dictionaries=True)))

    wall, cpu, runs = _best_of(repeat, read)
    return wall, rows[-1], {"cpu": cpu, "runs": runs}


def run_jsonschema(path: str, sample: int) -> tuple[float, int, dict]:
    import jsonschema
    import pyarrow.parquet as pq

    from trlprep.validation.schemas import schema_for

    rows = pq.read_table(path).slice(0, sample).to_pylist()
    validator = jsonschema.Draft202012Validator(schema_for("preference", "conversational"))
    c0, t0 = time.process_time(), time.perf_counter()
    bad = sum(1 for r in rows if not validator.is_valid(r))
    return time.perf_counter() - t0, len(rows), {"invalid": bad, "cpu": time.process_time() - c0}


def main(workdir: Path, rows: int, sample: int, repeat: int = 3) -> None:
    path = make_data(workdir, rows)
    ours = in_process("trlprep validate (1 thread)", run_trlprep, str(path), repeat, threads=1)
    read = in_process("  of which: Parquet read (1 thread)", run_read, str(path), repeat, threads=1)
    ours_all = in_process("trlprep validate (all cores)", run_trlprep, str(path), repeat)
    ref = in_process(f"jsonschema per row ({sample:,} rows)", run_jsonschema, str(path), sample)
    table = [
        (
            m.name,
            f"{m.rows:,}",
            f"{m.seconds:.2f}",
            f"{m.extra['cpu']:.2f}",
            f"{m.rows_per_s:,.0f}",
            f"{m.rows / m.extra['cpu']:,.0f}" if m.extra["cpu"] else "-",
            f"{m.peak_rss_mb:,.0f}",
        )
        for m in (ours, read, ours_all, ref)
    ]
    print(f"\nvalidate: {rows:,}-row explicit conversational preference Parquet")
    header = ("side", "rows", "wall s", "cpu s", "rows/s (wall)", "rows/s (cpu)", "peak RSS MB")
    print_table(table, header)
    print(
        f"runs (wall s): 1 thread {ours.extra['runs']}, read {read.extra['runs']}, "
        f"all cores {ours_all.extra['runs']}; valid: {ours.extra['valid']}"
    )
    wall, cpu = ours.seconds - read.seconds, ours.extra["cpu"] - read.extra["cpu"]
    print(
        f"validation proper (1 thread, beyond the read): {wall:.2f} s wall "
        f"({wall / ours.seconds:.0%}), {cpu:.2f} s cpu ({cpu / ours.extra['cpu']:.0%})"
    )
    print(
        f"ratio (trlprep 1 thread / jsonschema): {ours.rows_per_s / ref.rows_per_s:,.0f}x  "
        f"[targets: >= 1,000,000 rows/s on one core; >= 50x]"
    )
