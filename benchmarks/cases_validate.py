"""Validation: trlprep's vectorised validator versus jsonschema row by row."""

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


def run_trlprep(path: str) -> tuple[float, int, dict]:
    import trlprep

    t0 = time.perf_counter()
    report = trlprep.validate(path)
    seconds = time.perf_counter() - t0
    return seconds, report.num_rows, {"valid": report.valid}


def run_jsonschema(path: str, sample: int) -> tuple[float, int, dict]:
    import jsonschema
    import pyarrow.parquet as pq

    from trlprep.schemas_io import schema_for

    rows = pq.read_table(path).slice(0, sample).to_pylist()
    validator = jsonschema.Draft202012Validator(schema_for("preference", "conversational"))
    t0 = time.perf_counter()
    bad = sum(1 for r in rows if not validator.is_valid(r))
    return time.perf_counter() - t0, len(rows), {"invalid": bad}


def main(workdir: Path, rows: int, sample: int) -> None:
    path = make_data(workdir, rows)
    ours = in_process("trlprep validate (1 thread)", run_trlprep, str(path), threads=1)
    ours_all = in_process("trlprep validate (all cores)", run_trlprep, str(path))
    ref = in_process(f"jsonschema per row ({sample:,} rows)", run_jsonschema, str(path), sample)
    table = [
        (m.name, f"{m.rows:,}", f"{m.seconds:.2f}", f"{m.rows_per_s:,.0f}", f"{m.peak_rss_mb:,.0f}")
        for m in (ours, ours_all, ref)
    ]
    print(f"\nvalidate: {rows:,}-row explicit conversational preference Parquet")
    print_table(table, ("side", "rows", "seconds", "rows/s", "peak RSS MB"))
    print(
        f"ratio (trlprep 1 thread / jsonschema): {ours.rows_per_s / ref.rows_per_s:,.0f}x  "
        f"[targets: >= 1,000,000 rows/s on one core; >= 50x]"
    )
