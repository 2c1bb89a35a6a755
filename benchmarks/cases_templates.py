"""Chat templating: trlprep versus `dataset.map(trl.maybe_apply_chat_template)`, same run.

    python -m benchmarks.cases_templates --rows 200000 [--template PATH.jinja] [--workers N]

Conversational preference rows (system prompts, multi-turn prompts, each prompt shared by
two rows as in unpaired-from-preference data) are rendered with a real template (the
original Qwen 2.5 one from ../shared when present, else the built-in that reproduces it)
attached to a tiny tokenizer. Every trlprep output is checked identical to TRL's before any
timing is reported. Variants: the Jinja renderer (1 process and N), and the string-column
renderer (`fast`), which applies to this template.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

SHARED_TEMPLATE = Path(__file__).resolve().parents[2] / "shared/data/chat_templates/qwen2_5.jinja"
WORDS = (
    "the model answers every question about data formats chat templates tokens and training "
    "with short clear sentences while the user asks for more detail on each step"
).split()


def make_rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)

    def text(k: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(k))

    rows = []
    for i in range(0, n, 2):
        prompt = [{"role": "user", "content": text(rng.randint(10, 60))}]
        if i % 3 == 0:
            prompt.insert(0, {"role": "system", "content": text(12)})
        if i % 5 == 0:
            prompt[-1:-1] = [
                {"role": "user", "content": text(20)},
                {"role": "assistant", "content": text(30)},
            ]
        for _ in range(2):
            rows.append(
                {
                    "prompt": prompt,
                    "chosen": [{"role": "assistant", "content": text(rng.randint(20, 120))}],
                    "rejected": [{"role": "assistant", "content": text(rng.randint(20, 120))}],
                }
            )
    return rows[:n]


def tokenizer(template_path: str | None):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    from trlprep.templates import load_template

    text = Path(template_path).read_text() if template_path else load_template("qwen2.5").source
    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0, "<|im_end|>": 1}, "<unk>")),
        eos_token="<|im_end|>",
        unk_token="<unk>",
    )
    tok.chat_template = text
    return tok


def run_trl(path: str, template_path: str | None, workers: int):
    import datasets
    import trl

    ds = datasets.Dataset.from_parquet(path)
    datasets.disable_progress_bars()
    tok = tokenizer(template_path)
    t0 = time.perf_counter()
    out = ds.map(
        trl.maybe_apply_chat_template,
        fn_kwargs={"processing_class": tok},
        num_proc=workers if workers > 1 else None,
        load_from_cache_file=False,
        keep_in_memory=True,
    )
    seconds = time.perf_counter() - t0
    return seconds, {c: out[c] for c in ("prompt", "chosen", "rejected")}


def run_trlprep(path: str, template_path: str | None, workers: int, fast: bool):
    import pyarrow.parquet as pq

    from trlprep.templates import load_template, render_table

    table = pq.read_table(path)
    template = load_template(tokenizer(template_path))
    t0 = time.perf_counter()
    out, report = render_table(table, "preference", template, num_proc=workers, fast=fast)
    seconds = time.perf_counter() - t0
    cols = {c: out.column(c).to_pylist() for c in ("prompt", "chosen", "rejected")}
    return seconds, cols, report.to_dict()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument(
        "--template", default=str(SHARED_TEMPLATE) if SHARED_TEMPLATE.exists() else None
    )
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "trlprep-bench")
    args = ap.parse_args(argv)
    import pyarrow as pa
    import pyarrow.parquet as pq

    args.workdir.mkdir(parents=True, exist_ok=True)
    path = str(args.workdir / f"pref-{args.rows}.parquet")
    if not Path(path).exists():
        pq.write_table(pa.Table.from_pylist(make_rows(args.rows)), path)
    print(f"{args.rows:,} preference rows, template {args.template or 'built-in qwen2.5'}")
    results = []
    t_trl, ref = run_trl(path, args.template, 1)
    results.append(("trl maybe_apply_chat_template, 1 proc", t_trl))
    variants = [("trlprep jinja, 1 proc", 1, False), ("trlprep fast, 1 proc", 1, True)]
    if args.workers > 1:
        variants.append((f"trlprep jinja, {args.workers} procs", args.workers, False))
    for name, workers, fast in variants:
        seconds, cols, report = run_trlprep(path, args.template, workers, fast)
        if cols != ref:
            sys.exit(f"{name}: output differs from TRL's")
        results.append((name + (f" (fast rows {report['fast_rows']})" if fast else ""), seconds))
    if args.workers > 1:
        t, _ = run_trl(path, args.template, args.workers)
        results.append((f"trl maybe_apply_chat_template, {args.workers} procs", t))
    width = max(len(n) for n, _ in results)
    for name, seconds in results:
        print(
            f"{name.ljust(width)}  {seconds:8.2f} s  {args.rows / seconds:>12,.0f} rows/s  "
            f"{t_trl / seconds:6.1f}x vs trl 1 proc"
        )
    print("outputs identical to TRL's: yes")


if __name__ == "__main__":
    main()
