"""Fitting token ids into `--max-length`: which side loses tokens, counted in the report."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trlprep.templates.tokenize import TokenizeReport


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
) -> tuple[list[int], list[list[int]]]:
    """Truncate prompt + each tail to `max_length`, keeping one shared prompt."""
    longest = max((len(t) for t in tails), default=0)
    if max_length is None or len(prompt) + longest <= max_length:
        return prompt, tails
    report.truncated += 1
    n = len(prompt)
    if mode == "keep_end":  # drop the prompt's start first, then the tails' ends
        prompt = prompt[max(0, len(prompt) + longest - max_length) :]
    else:  # keep_start: keep the prompt's start, then the tails' starts
        prompt = prompt[:max_length]
    room = max_length - len(prompt)
    report.prompt_cut += len(prompt) < n
    report.completion_cut += longest > room
    return prompt, [t[:room] for t in tails]


def fit_steps(
    prompt: list[int],
    steps: list[list[int]],
    max_length: int | None,
    mode: str,
    report: TokenizeReport,
) -> tuple[list[int], list[list[int]]]:
    """Truncate like `fit`, then keep the steps that fit whole."""
    total = sum(map(len, steps))
    if max_length is None or len(prompt) + total <= max_length:
        return prompt, steps
    report.truncated += 1
    n = len(prompt)
    if mode == "keep_end":
        prompt = prompt[max(0, len(prompt) + total - max_length) :]
    else:
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


__all__ = ["common_prefix", "fit", "fit_steps", "truncate"]
