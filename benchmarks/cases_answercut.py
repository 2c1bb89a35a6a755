"""Tokenising with `--max-length` inside the reasoning: the reasoning-end check's cost.

python -m benchmarks answercut [--rows 4000] [--words 700] [--repeat 3]

Data: prompt-completion rows of standard text, the completion `<think> ... </think>` then an
answer, and the same rows without the markers (as many words); the shipped tiny model's
tokenizer. Each trlprep side is `tokenize_table` as `convert --tokenize` calls it on standard
text (the tokenizer's EOS appended), with `--max-length` inside every reasoning (every row
cut before its end: the check re-tokenises them all) or past every row (nothing cut). The
reference is the tokenizer alone on prompt + completion, one batch call: the floor any
tokenisation pays. Prints best-of-`--repeat` wall and CPU seconds per side (CPU time: what
a busy machine inflates least), the CPU time's ratio to the reference's,
and what the check said (rows cut before their end, the length that keeps them): the same
figures before and after a change, or the change altered the output.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

TINY = str(Path(__file__).resolve().parent.parent / "examples" / "tiny-chat-model")
WORDS = ("because", "then", "so", "we", "add", "the", "two", "numbers", "and", "check")


def make_rows(rows: int, words: int, reasoning: bool) -> list[dict]:
    """`rows` prompt-completion rows of about `words` words of reasoning and an answer."""
    out = []
    for i in range(rows):
        think = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(words))
        answer = f" The answer is {i}." * 5
        body = f"<think>{think}</think>{answer}" if reasoning else f"{think} {answer}"
        out.append({"prompt": f"Question {i}: what is {i} + {i}?", "completion": body})
    return out


def _best(fn, repeat: int) -> tuple[float, float, object]:
    """(best wall seconds, best CPU seconds of this process's threads, the last result)."""
    wall, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, out


def main(rows: int = 4000, words: int = 700, repeat: int = 3) -> dict[str, float]:
    import pyarrow as pa
    from transformers import AutoTokenizer

    from trlprep.templates.tokenize import tokenize_table

    tok = AutoTokenizer.from_pretrained(TINY)
    thinking = pa.Table.from_pylist(make_rows(rows, words, True))
    plain = pa.Table.from_pylist(make_rows(rows, words, False))
    texts = [r["prompt"] + r["completion"] for r in thinking.to_pylist()]
    heads = [t.split("</think>")[0] for t in texts]
    shortest_head = min(map(len, tok(heads, add_special_tokens=False)["input_ids"]))
    inside = shortest_head - 10  # every row cut before its reasoning's end

    def reference():
        return tok(texts, add_special_tokens=False)["input_ids"]

    def side(table, max_length):
        return lambda: tokenize_table(
            table, "prompt-completion", tok, max_length=max_length, add_eos=True
        )[1]

    sides = {
        "tokenizer alone (reference)": reference,
        f"reasoning, --max-length {inside} (all cut before the end)": side(thinking, inside),
        f"no reasoning, --max-length {inside} (all cut)": side(plain, inside),
        "reasoning, no --max-length": side(thinking, None),
    }
    print(f"{rows:,} prompt-completion rows of ~{words} words, tiny tokenizer, best of {repeat}")
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    results: dict[str, float] = {}
    ref = None
    for name, fn in sides.items():
        wall, cpu, out = _best(fn, repeat)
        results[name] = cpu
        ref = ref or cpu
        said = ""
        if hasattr(out, "answer_cut"):
            said = f"  truncated {out.truncated}, cut before the end {out.answer_cut}"
            said += f", need {out.answer_need}" if out.answer_cut else ""
        print(f"  {name:56} wall {wall:6.2f} s  cpu {cpu:6.2f} s  {cpu / ref:5.2f}x{said}")
    print(f"  load average {os.getloadavg()[0]:.1f} at the end; x: CPU time over the reference's")
    return results


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--words", type=int, default=700)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    main(a.rows, a.words, a.repeat)
