"""The data report: `trlprep.report` versus the notebook way, a tokenizer call per row.

Data: conversational explicit preference (Parquet), the shipped tiny model's chat template
and tokenizer. trlprep streams the file, renders with its template engine and tokenises in
batches (the fast tokenizer's batch API, all cores); the reference renders each row with
`tokenizer.apply_chat_template` and measures prompt/chosen/rejected with `tokenizer(...)`
in a Python loop (run on `--ref-rows` rows). trlprep runs as the command a user types (its
start-up counted); peak RSS is its main process's (it stays flat as rows grow).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from benchmarks.measure import command, in_process, print_table

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


def main(workdir: Path, rows: int, ref_rows: int) -> None:
    path = make_data(workdir, rows)
    argv = [sys.executable, "-m", "trlprep", "report", str(path), "--chat-template", TINY,
            "--max-length", "2048", "--no-validate"]  # fmt: skip
    ours = command("trlprep report (batched, all cores; start-up included)", argv, rows)
    if ours.extra["exit_code"] != 0:
        raise RuntimeError(f"trlprep report failed: {ours.extra['stderr_tail']}")
    ref = in_process(f"apply_chat_template + tokenizer per row ({ref_rows:,})", run_loop,
                     str(path), ref_rows)  # fmt: skip
    table = [
        (m.name, f"{m.rows:,}", f"{m.seconds:.2f}", f"{m.rows_per_s:,.0f}", f"{m.peak_rss_mb:,.0f}")
        for m in (ours, ref)
    ]
    print(f"\nreport: {rows:,}-row conversational preference Parquet, tiny model's template")
    print_table(table, ("side", "rows", "wall s", "rows/s", "peak RSS MB"))
    print(f"speed-up: {ours.rows_per_s / ref.rows_per_s:,.1f}x")
