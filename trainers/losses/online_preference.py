"""Losses of the online preference algorithms: Online DPO, Nash-MD and XPO.

Inputs are summed completion log-probabilities `(num_pairs,)` or per-token ones
`(num_seqs, max_tokens)` with a `mask`; each function returns per-pair (per-sequence) losses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

ONLINE_DPO_LOSS_TYPES: tuple[str, ...] = ("sigmoid", "ipo")


def online_dpo_loss(
    chosen_logratios: Tensor, rejected_logratios: Tensor, beta: float, loss_type: str = "sigmoid"
) -> Tensor:
    """DPO on the policy's own samples, ranked by a reward: -log s(beta d) (sigmoid) or
    (d - 1 / (2 beta))^2 (ipo) with d = (log pi/ref)(y_w) - (log pi/ref)(y_l) on summed
    log-probs. Guo et al., 2024, "Direct Language Model Alignment from Online AI Feedback"
    (arXiv:2402.04792); the losses of Rafailov et al., 2023 (arXiv:2305.18290) and Azar et
    al., 2023 (arXiv:2310.12036). Unlike the offline `ipo`, no length averaging (as TRL's
    OnlineDPOTrainer)."""
    delta = chosen_logratios - rejected_logratios
    if loss_type == "sigmoid":
        return -F.logsigmoid(beta * delta)
    if loss_type == "ipo":
        return (delta - 1 / (2 * beta)) ** 2
    raise ValueError(f"unknown online DPO loss type {loss_type!r}; use sigmoid or ipo")


def nash_md_loss(
    logps: Tensor, ref_logps: Tensor, mask: Tensor, probability: Tensor, beta: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Nash-MD's policy-gradient loss on the policy's samples y ~ pi, played against samples
    of the geometric mixture pi^(1-a) ref^a: beta * KL - score, per sequence, where
    score = (P(y beats y') - 1/2) * log pi(y) (REINFORCE with 1/2 as control variate) and
    KL = sum_t sg(log pi/ref) log pi (its REINFORCE gradient). Munos et al., 2023, "Nash
    Learning from Human Feedback" (arXiv:2312.00886); the estimator of Calandriello et al.,
    2024, "Human Alignment of Large Language Models through Online Preference Optimisation"
    (arXiv:2403.08635), as TRL's NashMDTrainer. Returns (loss, score, kl) per sequence."""
    m = mask.to(logps.dtype)
    seq_logps = (logps * m).sum(-1)
    score = (probability - 0.5) * seq_logps
    log_ratio = ((logps - ref_logps) * m).detach()
    kl_loss = (log_ratio * logps).sum(-1)
    return beta * kl_loss - score, score.detach(), log_ratio.sum(-1)


def xpo_loss(
    policy_on_policy: Tensor,
    policy_on_ref: Tensor,
    ref_on_policy: Tensor,
    ref_on_ref: Tensor,
    policy_chosen: Tensor,
    *,
    beta: float,
    alpha: float,
    loss_type: str = "sigmoid",
) -> tuple[Tensor, Tensor]:
    """Exploratory Preference Optimization: the online DPO loss between the policy's sample
    and the reference's sample (the preferred one is chosen, `policy_chosen` per pair), plus
    alpha * log pi(y_ref | x), which pushes probability away from what the reference would
    say and so explores. Xie et al., 2024, "Exploratory Preference Optimization" (Alg. 1,
    arXiv:2405.21046), as TRL's XPOTrainer. Inputs are summed log-probs of the policy's
    (`*_on_policy`) and the reference's (`*_on_ref`) samples under the policy and the
    reference. Returns (dpo, xpo) per-pair losses."""
    chosen = torch.where(
        policy_chosen, policy_on_policy - ref_on_policy, policy_on_ref - ref_on_ref
    )
    rejected = torch.where(
        policy_chosen, policy_on_ref - ref_on_ref, policy_on_policy - ref_on_policy
    )
    return online_dpo_loss(chosen, rejected, beta, loss_type), alpha * policy_on_ref
