"""Start-up time: `trlprep --version`, `trlprep --help`, and `trlprep detect` / `validate` /
`convert` (to JSON Lines: polars writes them; to Parquet: no polars) on 8-row files
(prompt-completion, and preference: its repeated-prompt check), each in a fresh process (the
target is under 0.3 s wall), plus `import trlprep` alone.

python -m benchmarks startup [--repeat 10]

Runs the `trlprep` console script next to the interpreter (what a user types; `python -m
trlprep` where there is none). Prints the load average, then per command the best and median
wall time and the CPU time (user + sys) of the best run; the CPU time is what a busy machine
inflates least. The `floor` line imports only what `detect` cannot do without (typer parses
the command line, pyarrow reads the file and the detection computes with pyarrow.compute):
the part of `detect`'s time that is trlprep's own is the difference.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.3
TARGETED = ("trlprep --version", "trlprep detect")  # the commands the target is for
ROW = {"prompt": "The sky is", "completion": " blue."}
PREFERENCE = {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}


def _run(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of `cmd` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _trlprep() -> list[str]:
    """The console script installed beside this interpreter, else `python -m trlprep`."""
    script = Path(sys.executable).with_name("trlprep")
    return [str(script)] if script.exists() else [sys.executable, "-m", "trlprep"]


def main(workdir: Path, repeat: int = 10) -> dict[str, dict[str, float]]:
    data = workdir / "startup-8-rows.jsonl"
    data.write_text("".join(json.dumps(ROW) + "\n" for _ in range(8)))
    pref = workdir / "startup-8-preference.jsonl"
    pref.write_text("".join(json.dumps(PREFERENCE) + "\n" for _ in range(8)))
    py = [sys.executable]
    trlprep = _trlprep()
    cases = {
        "python (nothing)": [*py, "-c", "pass"],
        "import trlprep": [*py, "-c", "import trlprep"],
        "floor of detect": [*py, "-c", "import typer, pyarrow, pyarrow.compute"],
        "trlprep --version": [*trlprep, "--version"],
        "trlprep --help": [*trlprep, "--help"],
        "trlprep detect (8 rows)": [*trlprep, "detect", str(data)],
        "trlprep detect (8 preference)": [*trlprep, "detect", str(pref)],
        "trlprep validate (8 rows)": [*trlprep, "validate", str(data)],
        "trlprep validate (8 preference)": [*trlprep, "validate", str(pref)],
        "trlprep convert (8 preference, jsonl)": [
            *trlprep, "convert", str(pref), "--overwrite", "-o", str(workdir / "startup.jsonl"),
        ],
        "trlprep convert (8 preference, parquet)": [
            *trlprep, "convert", str(pref), "--overwrite", "-o", str(workdir / "startup.parquet"),
        ],
    }  # fmt: skip
    results: dict[str, dict[str, float]] = {}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cores = os.cpu_count()
    print(
        f"start-up, best of {repeat} fresh processes of {' '.join(trlprep)} "
        f"(load average {load:.1f} on {cores} cores; target under {TARGET_S:g} s wall):"
    )
    for name, cmd in cases.items():
        _run(cmd)  # warm the file cache
        runs = [_run(cmd) for _ in range(repeat)]
        best = min(runs)
        walls = [w for w, _ in runs]
        results[name] = {"best_s": best[0], "median_s": statistics.median(walls), "cpu_s": best[1]}
        verdict = (
            ""
            if not name.startswith(TARGETED)
            else ("  ok" if best[0] < TARGET_S else f"  over {TARGET_S:g} s")
        )
        print(
            f"  {name:32} best {best[0]:.3f} s  median {statistics.median(walls):.3f} s  "
            f"cpu {best[1]:.3f} s{verdict}"
        )
    after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {after:.1f} at the end")
    return results


if __name__ == "__main__":
    import tempfile

    main(Path(tempfile.mkdtemp()))
