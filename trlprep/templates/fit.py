"""Fitting token ids into `--max-length` as TRL's `truncation_mode` does, counted in the report.

keep_start keeps each sequence's first `max_length` tokens; keep_end keeps its last ones.
A pair is two sequences (prompt + chosen, prompt + rejected), each cut on its own, as TRL's
DPO collator cuts them, so with keep_end the two sides can keep different amounts of the
prompt (`Fitted.starts`). Stepwise rows keep whole steps only (a step's label sits on its
last token), so a row may keep fewer tokens than `max_length`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trlprep.templates.tokenize import TokenizeReport


@dataclass
class Fitted:
    """A row's prompt and tails after truncation.

    `prompt` is the most of the prompt any tail keeps; tail i's sequence is
    `prompt[starts[i]:] + tails[i]` (every start is 0 unless keep_end cut the sides unevenly).
    """

    prompt: list[int]
    tails: list[list[int]]
    starts: list[int]


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading ids `a` and `b` share."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    k = 0
    while k < n and a[k] == b[k]:
        k += 1
    return k


def truncate(
    ids: list[int], max_length: int | None, mode: str, report: TokenizeReport
) -> list[int]:
    """A whole sequence cut to `max_length` (its start kept, or its end with keep_end)."""
    if max_length is None or len(ids) <= max_length:
        return ids
    report.truncated += 1
    return ids[:max_length] if mode == "keep_start" else ids[-max_length:]


def fit(
    prompt: list[int],
    tails: list[list[int]],
    max_length: int | None,
    mode: str,
    report: TokenizeReport,
) -> Fitted:
    """Each `prompt + tail` cut to `max_length` as `truncate` cuts it (no tails: the prompt)."""
    longest = max((len(t) for t in tails), default=0)
    if max_length is None or len(prompt) + longest <= max_length:
        return Fitted(prompt, tails, [0] * len(tails))
    report.truncated += 1
    n = len(prompt)
    if mode == "keep_start":  # one prompt start for every side, then each tail's start
        prompt = prompt[:max_length]
        room = max_length - len(prompt)
        report.prompt_cut += len(prompt) < n
        report.completion_cut += longest > room
        return Fitted(prompt, [t[:room] for t in tails], [0] * len(tails))
    # keep_end: each side keeps its last max_length tokens
    keeps = [min(n, max(0, max_length - len(t))) for t in tails] or [min(n, max_length)]
    most = max(keeps)
    report.prompt_cut += min(keeps) < n
    report.completion_cut += longest > max_length
    return Fitted(
        prompt[n - most :],
        [t[-max_length:] if len(t) > max_length else t for t in tails],
        [most - k for k in keeps] if tails else [],
    )


def fit_steps(
    prompt: list[int],
    steps: list[list[int]],
    max_length: int | None,
    mode: str,
    report: TokenizeReport,
) -> tuple[list[int], list[list[int]]]:
    """Prompt + steps cut to `max_length`, keeping whole steps only.

    keep_start keeps the prompt's start and the leading steps that fit; keep_end keeps the
    trailing steps that fit and the end of the prompt in the room they leave. Steps dropped
    before the kept ones stay as empty lists, so step i's ids still sit at index i (beside
    its label); steps dropped after them are left off, as with keep_start.
    """
    total = sum(map(len, steps))
    if max_length is None or len(prompt) + total <= max_length:
        return prompt, steps
    report.truncated += 1
    n = len(prompt)
    if mode == "keep_end":
        room, first = max_length, len(steps)
        while first > 0 and len(steps[first - 1]) <= room:
            first -= 1
            room -= len(steps[first])
        prompt = prompt[n - min(n, room) :] if first == 0 else []  # a dropped step is nearer
        report.prompt_cut += len(prompt) < n
        report.completion_cut += first > 0
        return prompt, [[] for _ in steps[:first]] + steps[first:]
    prompt = prompt[:max_length]
    room, kept = max_length - len(prompt), []
    for step in steps:
        if len(step) > room:
            break
        kept.append(step)
        room -= len(step)
    report.prompt_cut += len(prompt) < n
    report.completion_cut += len(kept) < len(steps)
    return prompt, kept


__all__ = ["Fitted", "common_prefix", "fit", "fit_steps", "truncate"]
