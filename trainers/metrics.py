"""Where the loop's numbers go: averaged over steps and processes, written to `metrics.jsonl`
in the output folder and to Accelerate's trackers (`--report-to`), shown on a progress bar.

Metric names are TRL's (`loss`, `grad_norm`, `learning_rate`, `rewards/chosen`, ...);
evaluation metrics carry the `eval_` prefix.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from trlprep.errors import UsageError

METRICS_FILE = "metrics.jsonl"


def to_floats(values: dict[str, list[Any]]) -> dict[str, list[float]]:
    """Each metric's values as floats; 0-d tensors (left on the device by the steps) are
    read in one host transfer."""
    tensors = [x for v in values.values() for x in v if isinstance(x, torch.Tensor)]
    if not tensors:
        return {k: [float(x) for x in v] for k, v in values.items()}
    read = iter(torch.stack([t.detach().float().reshape(()) for t in tensors]).tolist())
    return {
        k: [next(read) if isinstance(x, torch.Tensor) else float(x) for x in v]
        for k, v in values.items()
    }


def mean_metrics(values: dict[str, list[Any]]) -> dict[str, float]:
    """The mean of each metric's values (floats or 0-d tensors), NaNs (undefined for a
    batch) left out."""
    out = {}
    for k, v in to_floats(values).items():
        finite = [x for x in v if not math.isnan(x)]
        if finite:
            out[k] = sum(finite) / len(finite)
    return out


def weighted_sums(
    values: dict[str, list[Any]], weights: dict[str, list[Any]] | None = None
) -> dict[str, tuple[float, float]]:
    """Each metric's weighted sum and total weight (weight 1 where none is given; weights
    may be 0-d tensors), NaNs (undefined for a batch) left out: what `MetricsLog.pool`
    combines over processes."""
    out = {}
    weights = to_floats(weights or {})
    for k, v in to_floats(values).items():
        w = weights.get(k) or [1.0] * len(v)
        pairs = [(x, c) for x, c in zip(v, w, strict=True) if not math.isnan(x) and c]
        if pairs:
            out[k] = (sum(x * c for x, c in pairs), sum(c for _, c in pairs))
    return out


def tracker_config(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The run's configuration as trackers take it: nested options flattened to `a/b` keys,
    values other than numbers, strings and booleans as text (TensorBoard's hparams refuse
    lists and None)."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out |= tracker_config(v, f"{prefix}{k}/")
        else:
            out[f"{prefix}{k}"] = v if isinstance(v, (bool, int, float, str)) else str(v)
    return out


class MetricsLog:
    """Records of one run: kept in `history`, appended to `metrics.jsonl` by the main process
    and sent to the trackers named in `report_to`."""

    def __init__(self, acc: Any, output_dir: Path, report_to: tuple[str, ...], config: dict):
        self.acc, self.path, self.report_to = acc, Path(output_dir) / METRICS_FILE, report_to
        self.history: list[dict[str, Any]] = []
        if report_to:
            acc.init_trackers("trlprep", config=tracker_config(config))
            started = {t.name for t in acc.trackers}
            missing = [n for n in report_to if n != "all" and n not in started]
            if missing and acc.is_main_process:  # Accelerate only warns, then logs nothing
                raise UsageError(
                    f"--report-to {','.join(missing)}: the tracker is not installed",
                    hint=f"pip install {' '.join(missing)}, or leave it out of --report-to",
                )

    def reduce(self, metrics: dict[str, float]) -> dict[str, float]:
        """The mean of each metric over processes."""
        if self.acc.num_processes == 1 or not metrics:
            return metrics
        keys = sorted(metrics)  # the same order in every process
        t = torch.tensor([metrics[k] for k in keys], device=self.acc.device)
        means = dict(zip(keys, self.acc.reduce(t, reduction="mean").tolist(), strict=True))
        return {k: means[k] for k in metrics}  # in the order one process logs them

    def pool(self, sums: dict[str, tuple[float, float]]) -> dict[str, float]:
        """Weighted means from each process's `weighted_sums`, pooled over processes (a
        metric only some processes have is the mean of theirs)."""
        if self.acc.num_processes > 1:
            import torch.distributed as dist

            parts: list[Any] = [None] * self.acc.num_processes
            dist.all_gather_object(parts, sums)
            pooled: dict[str, tuple[float, float]] = {}
            for part in parts:
                for k, (s, w) in part.items():
                    s0, w0 = pooled.get(k, (0.0, 0.0))
                    pooled[k] = (s0 + s, w0 + w)
            sums = pooled  # in the main process's order (then the others'), as one logs
        return {k: s / w for k, (s, w) in sums.items()}

    def write(self, record: dict[str, Any]) -> None:
        """One record (it has a `step`)."""
        self.history.append(record)
        if self.acc.is_main_process:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        if self.report_to:
            values = {k: v for k, v in record.items() if k != "step"}
            self.acc.log(values, step=record["step"])

    def drop_after(self, step: int) -> int:
        """Remove the records of steps after `step` from `metrics.jsonl` (a resumed run redoes
        them; HF Trainer likewise takes its log history from the checkpoint); the file is
        replaced atomically. Returns the number of records removed (a line cut short by a
        killed run counts as one)."""
        if not self.acc.is_main_process or not self.path.is_file():
            return 0
        lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [x for x in lines if (logged := _step_of(x)) is not None and logged <= step]
        if len(kept) == len(lines):
            return 0
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(x if x.endswith("\n") else x + "\n" for x in kept), "utf-8")
        os.replace(tmp, self.path)
        return len(lines) - len(kept)

    def histograms(self, values: dict[str, Any], step: int) -> None:
        """Distributions (rewards, KL, ...) to the trackers that draw them: TensorBoard's
        histograms and W&B's; `metrics.jsonl` keeps scalars only."""
        if not values or not self.report_to or not self.acc.is_main_process:
            return
        arrays = {k: v.detach().float().cpu().numpy() for k, v in values.items() if v.numel()}
        for tracker in self.acc.trackers:
            if tracker.name == "tensorboard":
                for k, v in arrays.items():
                    tracker.tracker.add_histogram(k, v, step)
            elif tracker.name == "wandb":
                import wandb

                tracker.tracker.log({k: wandb.Histogram(v) for k, v in arrays.items()}, step=step)

    def close(self) -> None:
        if self.report_to:
            self.acc.end_training()


def _step_of(line: str) -> int | None:
    """The step of one `metrics.jsonl` line; None for a line that is not a whole record."""
    try:
        step = json.loads(line).get("step")
    except (ValueError, AttributeError):
        return None
    return step if isinstance(step, int) else None


def progress_bar(total: int, initial: int, enabled: bool) -> Callable[..., None]:
    """A progress bar over optimizer steps; call it after each step (with the loss and key
    metrics on logging steps, shown until the next), and with `done=True` to close it."""
    if not enabled:
        return lambda *_, **__: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)

    def update(
        loss: float | None = None, metrics: dict[str, float] | None = None, done: bool = False
    ) -> None:
        if done:
            bar.close()
            return
        if loss is not None:
            shown = {k: f"{v:.3g}" for k, v in (metrics or {}).items()}
            bar.set_postfix({"loss": f"{loss:.4f}", **shown}, refresh=False)
        bar.update(1)

    return update
