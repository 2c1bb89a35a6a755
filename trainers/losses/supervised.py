"""Supervised losses: next-token NLL (SFT), Bradley-Terry reward modelling, PRM step labels."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def nll_loss(token_logps: Tensor, mask: Tensor, num_items: int | Tensor | None = None) -> Tensor:
    """Negative log-likelihood of the masked tokens, summed and divided by their number.

    `num_items` overrides the divisor (the token count of the whole accumulated batch, so
    micro-batches with more tokens weigh more, as transformers' `num_items_in_batch`).
    """
    total = -(token_logps * mask.to(token_logps.dtype)).sum()
    return total / nll_divisor(mask.sum(), num_items, total)


def nll_divisor(
    count: int | Tensor, num_items: int | float | Tensor | None, like: Tensor
) -> Tensor:
    """What `nll_loss` divides by: `num_items`, else the token `count`; at least 1."""
    divisor = count if num_items is None else num_items
    return torch.as_tensor(divisor, dtype=like.dtype, device=like.device).clamp(min=1)


def reward_loss(
    chosen_rewards: Tensor,
    rejected_rewards: Tensor,
    margin: Tensor | None = None,
    center_rewards_coefficient: float | None = None,
) -> Tensor:
    """Bradley-Terry pairwise loss -log s(r_w - r_l - margin), plus optional reward centering.

    Bradley & Terry, 1952; as used for reward models by Ouyang et al., 2022, "Training
    language models to follow instructions with human feedback", Eq. 1 (arXiv:2203.02155).
    `margin` (per pair) is Llama 2's margin loss (Touvron et al., 2023, Eq. 2,
    arXiv:2307.09288); centering adds coef * mean((r_w + r_l)^2) (Eisenstein et al., 2023,
    "Helping or Herding? Reward Model Ensembles Mitigate but do not Eliminate Reward
    Hacking", Eq. 2, arXiv:2312.09244).
    """
    diff = chosen_rewards - rejected_rewards
    if margin is not None:
        diff = diff - margin
    loss = -F.logsigmoid(diff).mean()
    if center_rewards_coefficient is not None:
        loss = loss + center_rewards_coefficient * torch.mean(
            (chosen_rewards + rejected_rewards) ** 2
        )
    return loss


def token_classification_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy over the labelled tokens (label -100 elsewhere).

    The process reward model objective: each step's last token carries the step's label.
    Lightman et al., 2023, "Let's Verify Step by Step" (arXiv:2305.20050); Wang et al.,
    2023, "Math-Shepherd" (arXiv:2312.08935).
    """
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100
    )
