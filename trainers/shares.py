"""What each micro-batch and process counts for: rows, trained-on tokens, shares of a step,
and values across Accelerate's processes."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def num_items(batches: list[Any]) -> int:
    """Trained-on tokens in a list of batches (the divisor of token-normalised losses): a
    classifier batch's labelled tokens (PRM)."""
    return sum(
        int(b.seqs.target_pos.numel()) if hasattr(b, "seqs") else int((b.labels != -100).sum())
        for b in batches
    )


def step_shares(units: list[float], acc: Any) -> list[float]:
    """Each of this process's micro-batches' units (rows or tokens) of one optimizer step
    over the mean per process and micro-batch: `units * world * len(units) / total over
    processes and micro-batches` (1 for equal micro-batches)."""
    total = float(sum(units))
    if acc.num_processes > 1:
        t = torch.tensor([total], dtype=torch.float64, device=acc.device)
        total = float(acc.reduce(t, reduction="sum")[0])
    scale = acc.num_processes * len(units)
    return [u * scale / total if total else 0.0 for u in units]


def shares(units: list[float], acc: Any) -> list[float]:
    """Each of this process's units (rows or tokens) of a list of global batches over the
    mean per process: `units * world / total over processes` (1 with one process)."""
    if acc.num_processes == 1:
        return [1.0 if u else 0.0 for u in units]
    t = torch.tensor(units, dtype=torch.float64, device=acc.device)
    totals = acc.reduce(t.clone(), reduction="sum").tolist()
    return [u * acc.num_processes / n if n else 0.0 for u, n in zip(units, totals, strict=True)]


def rows(batch: Any) -> int:
    """Rows (pairs, sequences) in a batch: the unit its loss is a mean over."""
    if isinstance(getattr(batch, "num_pairs", None), int):
        return batch.num_pairs
    if hasattr(batch, "seqs"):
        return batch.seqs.num_seqs
    return int(batch.input_ids.shape[0])


def batch_tokens(batch: Any) -> int:
    """Real (non-pad) tokens in a batch, for `num_tokens`."""
    return batch.seqs.num_tokens if hasattr(batch, "seqs") else batch.num_tokens


def gather_rows(acc: Any, x: Tensor) -> Tensor:
    """`x` of every process concatenated in rank order (first dimensions may differ)."""
    if acc.num_processes == 1:
        return x
    sizes = acc.gather(torch.tensor([x.shape[0]], device=x.device)).tolist()
    if len(set(sizes)) == 1:
        return acc.gather(x)
    padded = acc.gather(acc.pad_across_processes(x, dim=0))
    width = max(sizes)
    return torch.cat([padded[r * width : r * width + n] for r, n in enumerate(sizes)])


def sum_over(acc: Any, n: int) -> int:
    """`n` summed over processes (no device round trip with one process)."""
    if acc.num_processes == 1:
        return n
    return int(gather_rows(acc, torch.tensor([n], device=acc.device)).sum())


__all__ = ["batch_tokens", "gather_rows", "num_items", "rows", "shares", "step_shares", "sum_over"]
