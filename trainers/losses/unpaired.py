"""Losses on unpaired preference data (one completion and a desirable/undesirable label):
KTO (and APO-zero unpaired) and BCO."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

KTO_LOSS_TYPES: tuple[str, ...] = ("kto", "apo_zero_unpaired")


def kto_kl_estimate(
    kl_logps: Tensor, ref_kl_logps: Tensor, weights: Tensor | None = None
) -> Tensor:
    """KTO's reference point z_0: mean log-ratio on mismatched (prompt, completion) pairs
    (`weights`: 1 for the pairs to count, 0 for those to leave out).

    Clamped at 0 and detached (no gradient flows through z_0). Ethayarajh et al., 2024,
    "KTO: Model Alignment as Prospect Theoretic Optimization", Sec. 4.1 (arXiv:2402.01306).
    """
    diff = kl_logps - ref_kl_logps
    if weights is not None:
        return ((diff * weights).sum() / weights.sum()).clamp(min=0).detach()
    return diff.mean().clamp(min=0).detach()


def kto_loss(
    chosen_logratios: Tensor,
    rejected_logratios: Tensor,
    kl: Tensor | float = 0.0,
    *,
    beta: float = 0.1,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
    loss_type: str = "kto",
) -> Tensor:
    """Per-example KTO losses, desirable examples first then undesirable ones.

    kto: lambda_D (1 - s(beta (r_w - z_0))) and lambda_U (1 - s(beta (z_0 - r_l))), with
    r = log pi/ref (Ethayarajh et al., 2024, "KTO", Eq. 7, arXiv:2402.01306);
    apo_zero_unpaired: lambda_D (1 - s(beta r_w)) and lambda_U s(beta r_l)
    (D'Oosterlinck et al., 2024, "Anchored Preference Optimization", Eq. 7 unpaired,
    arXiv:2408.06266). The training loss is the mean over all examples of the batch.
    """
    if loss_type == "kto":
        chosen = 1 - torch.sigmoid(beta * (chosen_logratios - kl))
        rejected = 1 - torch.sigmoid(beta * (kl - rejected_logratios))
    elif loss_type == "apo_zero_unpaired":
        chosen = 1 - torch.sigmoid(beta * chosen_logratios)
        rejected = torch.sigmoid(beta * rejected_logratios)
    else:
        raise ValueError(
            f"unknown KTO loss type {loss_type!r}; use one of {', '.join(KTO_LOSS_TYPES)}"
        )
    return torch.cat((desirable_weight * chosen, undesirable_weight * rejected), 0)


def bco_loss(chosen_rewards: Tensor, rejected_rewards: Tensor, delta: Tensor | float) -> Tensor:
    """Per-example BCO losses: -log s(r_w - delta) and -log s(-(r_l - delta)).

    r = beta * log pi/ref is the implicit reward and delta the running mean of the rewards
    (see `RunningMean`). Jung et al., 2024, "Binary Classifier Optimization for Large
    Language Model Alignment", Eq. 8 (arXiv:2404.04656). Desirable examples first.
    """
    chosen = -F.logsigmoid(chosen_rewards - delta)
    rejected = -F.logsigmoid(-(rejected_rewards - delta))
    return torch.cat((chosen, rejected), 0)


@dataclass
class RunningMean:
    """Running mean of a stream of values (BCO's reward shift delta).

    Same update as TRL's `RunningMoments` (count starts at 1e-24, so the first batch sets
    the mean). Saved and restored with checkpoints through `state_dict`.
    """

    mean: float = 0.0
    count: float = 1e-24

    @torch.no_grad()
    def update(self, values: Tensor) -> float:
        n = values.numel()
        if n == 0:
            return self.mean
        batch_mean = values.float().mean().item()
        total = self.count + n
        self.mean += (batch_mean - self.mean) * n / total
        self.count = total
        return self.mean

    def state_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "count": self.count}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.mean, self.count = float(state["mean"]), float(state["count"])
