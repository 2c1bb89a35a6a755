"""The data report: `trlprep report` versus the notebook way, a tokenizer call per row.

Data: conversational explicit preference (Parquet), the shipped tiny model's tokenizer.
trlprep runs as the command a user types (its start-up counted), three ways: with the
model's template (ChatML: the string-column renderer, no per-row Jinja), with the same
template under another name (`--chat-template FILE.jinja`: rendered by Jinja, row by row),
and in one process (`--num-proc 1`); a run on 1,000 rows gives its fixed start-up cost.
Workers read, render and tokenise pieces of rows (the fast tokenizer's `encode_batch_fast`,
one thread each: all cores), the main process merges their numbers in order. The reference
renders each row with `tokenizer.apply_chat_template` and measures prompt/chosen/rejected
with `tokenizer(...)` in a Python loop (run on `--ref-rows` rows). Peak RSS: the main
process's high-water mark, and the peak of the summed resident memory of the whole process
tree (the main process and its workers), sampled every 50 ms. The load average before and
after is printed: the figures depend on what else runs on the machine.
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


def _jinja_copy(workdir: Path) -> Path:
    """The tiny model's template under another text (a comment added): Jinja renders it."""
    path = workdir / "chatml_by_jinja.jinja"
    text = (Path(TINY) / "chat_template.jinja").read_text()
    path.write_text(
        "{#- benchmark: the same template, not recognised by the fast renderer -#}" + text
    )
    return path


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(workdir: Path, rows: int, ref_rows: int) -> None:
    path = make_data(workdir, rows)
    small = make_data(workdir, 1000)
    load_before = _load()
    base = [sys.executable, "-m", "trlprep", "report"]
    opts = ["--max-length", "2048", "--no-validate"]
    runs = [
        ("trlprep report, start-up (1,000 rows)", small, ["--chat-template", TINY], 1000),
        ("trlprep report (fast renderer, all cores)", path, ["--chat-template", TINY], rows),
        ("trlprep report (Jinja renderer, all cores)", path,
         ["--chat-template", str(_jinja_copy(workdir)), "--tokenizer", TINY], rows),
        ("trlprep report (fast renderer, --num-proc 1)", path,
         ["--chat-template", TINY, "--num-proc", "1"], rows),
    ]  # fmt: skip
    refs = [in_process(f"apply_chat_template + tokenizer per row ({ref_rows:,}), first",
                       run_loop, str(path), ref_rows)]  # fmt: skip
    measured = []
    for name, data, extra, n in runs:
        seconds, _, hwm, tree = run_tree([*base, str(data), *extra, *opts])
        measured.append(Measurement(name, seconds, n, hwm, {"tree": tree}))
    refs.append(in_process(f"apply_chat_template + tokenizer per row ({ref_rows:,}), last",
                           run_loop, str(path), ref_rows))  # fmt: skip
    # the reference before and after (the machine's load changes): their mean rate
    ref = Measurement("reference", sum(r.seconds for r in refs), ref_rows * len(refs), 0, {})
    start = measured[0].seconds
    table = [
        (m.name, f"{m.rows:,}", f"{m.seconds:.2f}", f"{m.rows_per_s:,.0f}",
         f"{m.rows / (m.seconds - start):,.0f}" if m is not measured[0] and m.seconds > start
         else "", f"{m.rows_per_s / ref.rows_per_s:.1f}x",
         f"{m.peak_rss_mb:,.0f}", f"{m.extra.get('tree', m.peak_rss_mb):,.0f}")
        for m in (*measured, *refs)
    ]  # fmt: skip
    print(f"\nreport: {rows:,}-row conversational preference Parquet, tiny model's tokenizer,")
    print(f"{os.cpu_count()} CPU cores, load average {load_before} before, {_load()} after")
    header = ("side", "rows", "wall s", "rows/s", "rows/s past start-up", "vs per-row loop (mean)",
              "peak RSS MB", "tree peak MB")  # fmt: skip
    print_table(table, header)
