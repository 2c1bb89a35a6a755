"""Evaluation: the algorithm's loss and metrics over a dataset, in order, without gradients."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch
from trlprep.trainers.metrics import mean_metrics
from trlprep.trainers.sampling import BatchStream


def num_items(batches: list[Any]) -> int:
    """Trained-on tokens in a list of batches (the divisor of token-normalised losses)."""
    return sum(int(b.seqs.target_pos.numel()) for b in batches)


@torch.no_grad()
def evaluate(
    algo: Any,
    ctx: Any,
    rows: dict[str, list],
    collate: Callable[[list[dict]], Any],
    *,
    batch_size: int,
    acc: Any,
) -> dict[str, float]:
    """Mean loss and metrics of `algo.step` over `rows` (this process's shard), unprefixed.

    The policy is put in eval mode and the step told it is not training (no running-mean
    updates), both restored afterwards.
    """
    stream = BatchStream(
        rows,
        batch_size,
        seed=0,
        shuffle=False,
        rank=acc.process_index,
        world=acc.num_processes,
    )
    ctx.policy.eval()
    ctx.training = False
    values: dict[str, list[float]] = defaultdict(list)
    try:
        for index in range(stream.per_epoch):
            batch = collate(stream.batch(0, index)).to(acc.device)
            ctx.num_items = num_items([batch]) if algo.token_normalised else None
            with acc.autocast():
                loss, metrics = algo.step(ctx, batch)
            values["loss"].append(float(loss.detach()))
            for k, v in metrics.items():
                values[k].append(v)
    finally:
        ctx.policy.train()
        ctx.training = True
    return mean_metrics(values)
