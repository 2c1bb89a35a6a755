"""The logging window of a run: the values of each step since the last logging step (losses,
gradient norms, the algorithm's metrics with their weights), left on the device until a
logging step reads them all at once, checked for NaN/inf, pooled over processes and turned
into a `metrics.jsonl` record.

The loop (`loop.Trainer`) adds to it at each step and reads it on logging steps; what a
metric means and how processes combine is `metrics.py`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch
from torch import Tensor
from trlprep.trainers.metrics import MetricsLog, weighted_sums
from trlprep.trainers.unpaired_steps import derived_metrics


class StepWindow:
    """Values of the steps since the last logging step, and the last metrics read."""

    def __init__(self) -> None:
        self.values: dict[str, list[float | Tensor]] = defaultdict(list)
        self.weights: dict[str, list[float]] = defaultdict(list)  # of per-micro-batch values
        self.last: dict[str, float] = {}

    def add(self, name: str, value: float | Tensor, weight: float | None = None) -> None:
        """One value of `name` (with its weight among the step's micro-batches, or none:
        weight 1)."""
        self.values[name].append(value)
        if weight is not None:
            self.weights[name].append(weight)

    def not_finite(self, step: int) -> tuple[str, Tensor, int] | None:
        """(what, value, step) of the first step of the window, `step` being the last, whose
        loss or gradient norm is not finite; None when all are."""
        for what, key in (("loss", "loss"), ("gradient norm", "grad_norm")):
            values = self.values.get(key)
            if not values:
                continue
            stacked = torch.stack([torch.as_tensor(v).float().reshape(()) for v in values])
            bad = (~torch.isfinite(stacked)).nonzero().flatten().tolist()
            if bad:
                return what, stacked[bad[0]], step - len(values) + bad[0] + 1
        return None

    def read(self, metrics: MetricsLog) -> dict[str, float]:
        """The window's metrics pooled over processes (and the algorithm's derived ones);
        the window starts again empty."""
        self.last = derived_metrics(metrics.pool(weighted_sums(self.values, self.weights)))
        self.values.clear()
        self.weights.clear()
        return self.last


def step_record(
    step: int,
    last: dict[str, float],
    *,
    epoch: float | None,
    learning_rate: float,
    num_tokens: int,
    elapsed: float,
) -> dict[str, Any]:
    """The `metrics.jsonl` record of a logging step."""
    record: dict[str, Any] = {"step": step}
    if epoch is not None:
        record["epoch"] = epoch
    return {
        **record,
        **last,
        "learning_rate": learning_rate,
        "num_tokens": num_tokens,
        "train_steps_per_second": round(step / max(elapsed, 1e-9), 4),
    }


__all__ = ["StepWindow", "step_record"]
