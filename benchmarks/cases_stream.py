"""Bounded memory: validate and report (and convert) a JSONL file far larger than the RSS
budget; the first row is validated alone too, so the table shows the fixed part of each peak
(start-up, libraries) apart from what the data adds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.measure import command, print_table


def make_jsonl(workdir: Path, gigabytes: float) -> tuple[Path, int]:
    """Write conversational preference JSONL of about `gigabytes` GB (cached).

    Blocks of 100k synthetic rows repeat, each row made unique by an `id` column, so the
    file has no duplicate rows (as real data mostly has not).
    """
    import pyarrow as pa

    from benchmarks.synth import preference
    from trlprep.io.writers import to_jsonl_bytes

    target = int(gigabytes * (1 << 30))
    path = workdir / f"preference_conv_{gigabytes:g}GB_unique.jsonl"
    meta = path.with_suffix(".rows")
    if path.exists() and meta.exists():
        return path, int(meta.read_text())
    block = preference(100_000, conversational=True)
    written = rows = 0
    with open(path, "wb") as f:
        while written < target:
            ids = pa.array(range(rows, rows + block.num_rows), pa.int64())
            data = to_jsonl_bytes(block.append_column("id", ids))
            f.write(data)
            written += len(data)
            rows += block.num_rows
    meta.write_text(str(rows))
    return path, rows


def make_media_jsonl(workdir: Path, gigabytes: float) -> tuple[Path, int]:
    """Write conversational JSONL of about `gigabytes` GB whose user turns hold an image
    URL in a content part (each row its own image), cached."""
    from benchmarks.synth import image_conversations
    from trlprep.io.writers import to_jsonl_bytes

    target = int(gigabytes * (1 << 30))
    path = workdir / f"image_parts_conv_{gigabytes:g}GB.jsonl"
    meta = path.with_suffix(".rows")
    if path.exists() and meta.exists():
        return path, int(meta.read_text())
    written = rows = 0
    with open(path, "wb") as f:
        while written < target:
            data = to_jsonl_bytes(image_conversations(100_000, rows))
            f.write(data)
            written += len(data)
            rows += 100_000
    meta.write_text(str(rows))
    return path, rows


def _media_runs(workdir: Path, gigabytes: float) -> list:
    """JSONL with inline images -> Parquet: the default (images moved to TRL's `images`
    column, decided over the whole input) beside `--inline-media keep` (no media pass)."""
    path, rows = make_media_jsonl(workdir, gigabytes)
    out = workdir / "stream_media_out.parquet"
    base = [sys.executable, "-m", "trlprep", "convert", str(path), "-o", str(out)]
    results = []
    for name, extra in (
        ("trlprep convert -> Parquet (images moved)", []),
        ("trlprep convert -> Parquet --inline-media keep", ["--inline-media", "keep"]),
    ):
        out.unlink(missing_ok=True)
        results.append(command(name, [*base, *extra, "--no-progress"], rows))
    return results


def _one_row(workdir: Path, path: Path) -> Path:
    """The big file's first row alone: what a command holds before any data (start-up)."""
    small = workdir / "stream_one_row.jsonl"
    with open(path, "rb") as f:
        small.write_bytes(f.readline())
    return small


def main(workdir: Path, gigabytes: float, convert: bool, media: bool = False) -> None:
    path, rows = make_jsonl(workdir, gigabytes)
    size = path.stat().st_size / (1 << 30)
    validate = [sys.executable, "-m", "trlprep", "validate"]
    results = [  # the first row: the fixed part of the peak, which the data adds to
        command("trlprep validate (1 row)", [*validate, str(_one_row(workdir, path))], 1),
        command("trlprep validate", [*validate, str(path), "--format", "json"], rows),
        command(  # detection, validation and measurement on one parse of the file
            "trlprep report",
            [sys.executable, "-m", "trlprep", "report", str(path), "--format", "json"],
            rows,
        ),
    ]
    if convert:
        out = workdir / "stream_out.parquet"
        out.unlink(missing_ok=True)
        results.append(
            command(
                "trlprep convert -> Parquet",
                [sys.executable, "-m", "trlprep", "convert", str(path), "-o", str(out)]
                + ["--no-progress"],
                rows,
            )
        )
        out.unlink(missing_ok=True)
        out = workdir / "stream_out.jsonl"
        out.unlink(missing_ok=True)
        results.append(
            command(
                "trlprep convert --to unpaired",
                [
                    sys.executable,
                    "-m",
                    "trlprep",
                    "convert",
                    str(path),
                    "--to",
                    "unpaired",
                    "-o",
                    str(out),
                    "--no-progress",
                ],
                rows,
            )
        )
    if media:
        results += _media_runs(workdir, gigabytes)
    print(f"\nstreaming: {size:.2f} GB JSONL, {rows:,} rows (media: {gigabytes:g} GB)")
    print_table(
        [
            (
                m.name,
                f"{m.seconds:.1f}",
                f"{m.rows_per_s:,.0f}",
                f"{m.peak_rss_mb:,.0f}",
                f"{m.peak_rss_mb - results[0].peak_rss_mb:,.0f}",
                str(m.extra["exit_code"]),
            )
            for m in results
        ],
        ("command", "seconds", "rows/s", "peak RSS MB", "above 1 row", "exit"),
    )
    print("[target: under 1,024 MB peak RSS]")
    for m in results:
        if m.extra["exit_code"] not in (0, 1):
            print(json.dumps(m.extra), file=sys.stderr)
