"""The data report: `trlprep.report` versus the notebook way, a tokenizer call per row.

Data: conversational explicit preference (Parquet), the shipped tiny model's chat template
and tokenizer. trlprep streams the file, renders with its template engine and tokenises in
batches (the fast tokenizer's batch API, all cores); the reference renders each row with
`tokenizer.apply_chat_template` and measures prompt/chosen/rejected with `tokenizer(...)`
in a Python loop (run on `--ref-rows` rows). trlprep runs as the command a user types (its
start-up counted). Peak RSS: its main process's high-water mark, and the peak of the summed
resident memory of the whole process tree (the main process and its template workers),
sampled every 50 ms. `--rows 1000000` reproduces the README's bounded-memory figure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.measure import Measurement, in_process, print_table

TINY = str(Path(__file__).resolve().parent.parent / "examples" / "tiny-chat-model")


def make_data(workdir: Path, rows: int) -> Path:
    import pyarrow.parquet as pq

    from benchmarks.synth import preference

    path = workdir / f"report_preference_conv_{rows}.parquet"
    if not path.exists():
        pq.write_table(preference(rows, conversational=True), path, row_group_size=65_536)
    return path


def run_loop(path: str, rows: int) -> tuple[float, int, dict]:
    import pyarrow.parquet as pq
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(TINY)
    data = pq.read_table(path).slice(0, rows).to_pylist()
    t0 = time.perf_counter()
    longest = 0
    for r in data:
        p = tok.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True)
        n_p = len(tok(p, add_special_tokens=False)["input_ids"])
        for side in ("chosen", "rejected"):
            full = tok.apply_chat_template(r["prompt"] + r[side], tokenize=False)
            longest = max(longest, len(tok(full, add_special_tokens=False)["input_ids"]))
        longest = max(longest, n_p)
    return time.perf_counter() - t0, len(data), {"max": longest}


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of `pid` and all its descendants, in kB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(x.split()[1]) for x in f if x.startswith("VmRSS:")), 0)
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
    return total


def run_tree(argv: list[str]) -> tuple[float, int, float, float]:
    """(wall s, exit code, main process peak MB, process tree peak MB) of a command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    hwm = tree = 0
    while proc.poll() is None:
        tree = max(tree, _tree_rss_kb(proc.pid))
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                hwm = max(hwm, next((int(x.split()[1]) for x in f if x.startswith("VmHWM:")), 0))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
        time.sleep(0.05)
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode:
        raise RuntimeError(f"trlprep report failed: {err[-500:]}")
    return time.perf_counter() - t0, proc.returncode, hwm / 1024, tree / 1024


def main(workdir: Path, rows: int, ref_rows: int) -> None:
    path = make_data(workdir, rows)
    argv = [sys.executable, "-m", "trlprep", "report", str(path), "--chat-template", TINY,
            "--max-length", "2048", "--no-validate"]  # fmt: skip
    seconds, _, hwm, tree = run_tree(argv)
    ours = Measurement("trlprep report (batched, all cores; start-up included)", seconds, rows,
                       hwm, {"tree": tree})  # fmt: skip
    ref = in_process(f"apply_chat_template + tokenizer per row ({ref_rows:,})", run_loop,
                     str(path), ref_rows)  # fmt: skip
    table = [
        (m.name, f"{m.rows:,}", f"{m.seconds:.2f}", f"{m.rows_per_s:,.0f}",
         f"{m.peak_rss_mb:,.0f}", f"{m.extra.get('tree', m.peak_rss_mb):,.0f}")
        for m in (ours, ref)
    ]  # fmt: skip
    print(f"\nreport: {rows:,}-row conversational preference Parquet, tiny model's template,")
    print(f"{os.cpu_count()} CPU cores")
    print_table(table, ("side", "rows", "wall s", "rows/s", "peak RSS MB", "tree peak MB"))
    print(f"speed-up (rows/s, trlprep / per-row loop): {ours.rows_per_s / ref.rows_per_s:,.1f}x")
