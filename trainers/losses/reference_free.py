"""Preference losses without a reference model: CPO (with SimPO and AlphaPO) and ORPO."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

CPO_LOSS_TYPES: tuple[str, ...] = ("sigmoid", "hinge", "ipo", "simpo")
# CPO averages the completion log-probs for these loss types (TRL: `average_log_prob`)
CPO_AVERAGED: frozenset[str] = frozenset({"ipo", "simpo"})


def alphapo_reward(logps: Tensor, alpha: float) -> Tensor:
    """AlphaPO's reward shape r = (1 - p^(-alpha)) / alpha with p = exp(logps).

    Gupta et al., 2025, "AlphaPO: Reward Shape Matters for LLM Alignment", Eq. 6
    (arXiv:2501.03884). alpha -> 0 recovers log p; `alpha == 0` returns `logps`.
    """
    if alpha == 0.0:
        return logps
    return (1 - torch.exp(-alpha * logps)) / alpha


def cpo_loss(
    chosen_logps: Tensor,
    rejected_logps: Tensor,
    *,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
    simpo_gamma: float = 0.5,
    alpha: float = 0.0,
) -> Tensor:
    """The per-pair preference term of CPO, SimPO and AlphaPO (no reference model).

    With d = r(y_w) - r(y_l), r = `alphapo_reward(logps, alpha)`:
    sigmoid: -(1 - eps) log s(beta d) - eps log s(-beta d)  (Xu et al., 2024, "Contrastive
    Preference Optimization", Eq. 3, arXiv:2401.08417); hinge: relu(1 - beta d);
    ipo: (d - 1/(2 beta))^2; simpo: the sigmoid form on d - gamma/beta (Meng et al., 2024,
    "SimPO: Simple Preference Optimization with a Reference-Free Reward", Eq. 6,
    arXiv:2405.14734). For `ipo`/`simpo` pass per-token averaged log-probs.
    The full CPO objective adds `cpo_alpha` times the chosen NLL.
    """
    d = alphapo_reward(chosen_logps, alpha) - alphapo_reward(rejected_logps, alpha)
    if loss_type == "simpo":
        d = d - simpo_gamma / beta
    if loss_type in ("sigmoid", "simpo"):
        return (
            -F.logsigmoid(beta * d) * (1 - label_smoothing)
            - F.logsigmoid(-beta * d) * label_smoothing
        )
    if loss_type == "hinge":
        return torch.relu(1 - beta * d)
    if loss_type == "ipo":
        return (d - 1 / (2 * beta)) ** 2
    raise ValueError(f"unknown CPO loss type {loss_type!r}; use one of {', '.join(CPO_LOSS_TYPES)}")


def log1mexp(x: Tensor) -> Tensor:
    """log(1 - exp(x)) for x < 0, accurate on both sides of -log 2 (Maechler, 2012)."""
    return torch.where(x < -math.log(2), torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))


def orpo_log_odds(chosen_logps: Tensor, rejected_logps: Tensor) -> Tensor:
    """log(odds(y_w) / odds(y_l)), odds(y) = P(y) / (1 - P(y)), on averaged log-probs."""
    chosen_logps, rejected_logps = chosen_logps.float(), rejected_logps.float()
    return (chosen_logps - rejected_logps) - (log1mexp(chosen_logps) - log1mexp(rejected_logps))


def orpo_loss(chosen_logps: Tensor, rejected_logps: Tensor, *, beta: float = 0.1) -> Tensor:
    """ORPO's per-pair odds-ratio term, -beta * log s(log odds ratio) (lambda = beta).

    Hong et al., 2024, "ORPO: Monolithic Preference Optimization without Reference Model",
    Eqs. 4-7 (arXiv:2403.07691). Takes per-token averaged log-probs; the full objective is
    the chosen NLL plus the mean of this term.
    """
    return -beta * F.logsigmoid(orpo_log_odds(chosen_logps, rejected_logps))
