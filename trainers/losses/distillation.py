"""Knowledge distillation: the generalized Jensen-Shannon divergence of GKD."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def generalized_jsd(
    student_logits: Tensor, teacher_logits: Tensor, beta: float = 0.5, temperature: float = 1.0
) -> Tensor:
    """Per-token generalized JSD between teacher P and student Q (`(..., vocab)` logits):
    beta KL(P || M) + (1 - beta) KL(Q || M) with M = beta P + (1 - beta) Q; beta = 0 is
    KL(P || Q) (forward KL), beta = 1 is KL(Q || P) (reverse KL). Agarwal et al., 2024,
    "On-Policy Distillation of Language Models: Learning from Self-Generated Mistakes",
    Eq. 1 (arXiv:2306.13649); the beta = 0 / 1 limits and the mixture weights follow TRL's
    GKDTrainer. Both logits are divided by `temperature` first."""
    s = F.log_softmax(student_logits.float() / temperature, dim=-1)
    t = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    if beta == 0:
        return (t.exp() * (t - s)).sum(-1)
    if beta == 1:
        return (s.exp() * (s - t)).sum(-1)
    m = torch.logsumexp(torch.stack((s + math.log1p(-beta), t + math.log(beta))), dim=0)
    kl_teacher = (t.exp() * (t - m)).sum(-1)
    kl_student = (s.exp() * (s - m)).sum(-1)
    return beta * kl_teacher + (1 - beta) * kl_student
