"""Policy-gradient losses of the online algorithms (GRPO, RLOO, PPO) and their advantages.

Per-token tensors are `(num_seqs, max_tokens)` over each sequence's completion tokens, with a
`mask` marking the real ones; per-sequence tensors are `(num_seqs,)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

GRPO_LOSS_TYPES: tuple[str, ...] = ("grpo", "bnpo", "dr_grpo", "dapo")
SCALE_REWARDS: tuple[str, ...] = ("group", "batch", "none")
KL_ESTIMATORS: tuple[str, ...] = ("k1", "k3")
STD_EPS = 1e-4  # added to the reward std before dividing (TRL's value)


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of `x` where `mask` is set (over everything, or along `dim`)."""
    mask = mask.to(x.dtype)
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def masked_var(x: Tensor, mask: Tensor, unbiased: bool = True) -> Tensor:
    """Variance of `x` where `mask` is set (Bessel-corrected by default)."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    if unbiased:
        n = mask.sum()
        var = var * n / (n - 1).clamp(min=1)
    return var


def masked_whiten(x: Tensor, mask: Tensor, shift_mean: bool = True) -> Tensor:
    """`x` scaled to unit variance over the masked entries (and centred unless `shift_mean`
    is False, which keeps the mean). Masked-out entries come back as 0."""
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    out = (x - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        out = out + mean
    return out * mask.to(x.dtype)


def kl_estimate(logps: Tensor, ref_logps: Tensor, estimator: str = "k1") -> Tensor:
    """Per-token estimate of KL(pi || ref) from tokens sampled from pi.

    k1 = log pi - log ref (unbiased, can be negative); k3 = (r - 1) - log r with
    r = ref / pi (unbiased and never negative). Schulman, 2020, "Approximating KL
    Divergence" (http://joschu.net/blog/kl-approx.html).
    """
    if estimator == "k1":
        return logps - ref_logps
    if estimator == "k3":
        log_r = ref_logps - logps
        return torch.expm1(log_r) - log_r
    raise ValueError(f"unknown KL estimator {estimator!r}; use one of {', '.join(KL_ESTIMATORS)}")


# ------------------------------------------------------------------ advantages


def group_advantages(rewards: Tensor, group_size: int, scale: str = "group") -> Tensor:
    """GRPO's group-relative advantages: each reward minus its group's mean, divided by the
    group's std (`scale="group"`, Shao et al., 2024, "DeepSeekMath", Sec. 4.1.2,
    arXiv:2402.03300), by the whole batch's std (`"batch"`, Liu et al., 2025, "Tricks or
    Traps? A Deep Dive into RL for LLM Reasoning", arXiv:2508.08221) or not at all
    (`"none"`, Dr. GRPO: Liu et al., 2025, "Understanding R1-Zero-Like Training",
    arXiv:2503.20783).

    `rewards` `(num_groups * group_size,)`, groups contiguous; NaN rewards (no score) are left
    out of the statistics and get advantage 0. Stds are unbiased, as TRL's.
    """
    grouped = rewards.view(-1, group_size)
    mean = torch.nanmean(grouped, dim=1, keepdim=True)
    advantages = grouped - mean
    if scale == "group":
        std = nanstd(grouped, dim=1, keepdim=True) if group_size > 1 else torch.zeros_like(mean)
        advantages = advantages / (std + STD_EPS)
    elif scale == "batch":
        std = nanstd(rewards) if rewards.numel() > 1 else rewards.new_zeros(())
        advantages = advantages / (std + STD_EPS)
    elif scale != "none":
        raise ValueError(f"unknown scale_rewards {scale!r}; use one of {', '.join(SCALE_REWARDS)}")
    return torch.nan_to_num(advantages.view(-1), nan=0.0)


def nanstd(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Unbiased std of the values that are not NaN (0 where fewer than two are)."""
    if dim is None:
        x = x[~torch.isnan(x)]
        return x.std() if x.numel() > 1 else x.new_zeros(())
    mean = torch.nanmean(x, dim=dim, keepdim=True)
    count = (~torch.isnan(x)).sum(dim=dim, keepdim=keepdim)
    sq = torch.nansum((x - mean) ** 2, dim=dim, keepdim=keepdim)
    return torch.sqrt(sq / (count - 1).clamp(min=1))


def rloo_advantages(rewards: Tensor, k: int, normalize: bool = False) -> Tensor:
    """REINFORCE leave-one-out: each reward minus the mean of the other k - 1 rewards of its
    prompt. Kool et al., 2019, "Buy 4 REINFORCE Samples, Get a Baseline for Free!";
    Ahmadian et al., 2024, "Back to Basics: Revisiting REINFORCE Style Optimization for
    Learning from Human Feedback in LLMs", Eq. 9 (arXiv:2402.14740).

    `rewards` `(num_prompts * k,)`, each prompt's samples contiguous; NaN rewards are left out
    of the baselines and get advantage 0, as does a prompt's only scored sample. `normalize`
    scales the advantages of the scored samples to mean 0 and std 1 (TRL's
    `normalize_advantages`).
    """
    grouped = rewards.view(-1, k)
    if k < 2:
        return torch.zeros_like(rewards)
    count = (~torch.isnan(grouped)).sum(dim=1, keepdim=True)
    baseline = (torch.nansum(grouped, dim=1, keepdim=True) - grouped) / (count - 1)
    advantages = (grouped - baseline).view(-1)
    if normalize:
        advantages = (advantages - torch.nanmean(advantages)) / (nanstd(advantages) + STD_EPS)
    return torch.nan_to_num(advantages, nan=0.0)


def gae(
    rewards: Tensor, values: Tensor, mask: Tensor, gamma: float = 1.0, lam: float = 0.95
) -> tuple[Tensor, Tensor]:
    """Generalized advantage estimation over each completion's tokens; returns (advantages,
    returns = advantages + values). Schulman et al., 2016, "High-Dimensional Continuous
    Control Using Generalized Advantage Estimation", Eq. 16 (arXiv:1506.02438).

    Past a sequence's end (mask 0) rewards and values count as 0, so the last real token
    bootstraps from nothing.
    """
    m = mask.to(rewards.dtype)
    rewards, values = rewards * m, values * m
    last = torch.zeros_like(rewards[:, 0])
    out = torch.zeros_like(rewards)
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        out[:, t] = last
    out = out * m
    return out, (out + values) * m


# ------------------------------------------------------------------ losses


def clipped_surrogate(
    logps: Tensor, old_logps: Tensor, advantages: Tensor, eps_low: float, eps_high: float
) -> tuple[Tensor, Tensor]:
    """PPO's clipped objective as a loss, per token: -min(r A, clip(r, 1 - eps_low,
    1 + eps_high) A) with r = pi / pi_old; returns (loss, r).

    Schulman et al., 2017, "Proximal Policy Optimization Algorithms", Eq. 7
    (arXiv:1707.06347); the separate upper bound (clip-higher) is DAPO's, Yu et al., 2025,
    arXiv:2503.14476. `advantages` broadcast against `logps` (`(S, 1)` per sequence).
    """
    ratio = torch.exp(logps - old_logps)
    clipped = torch.clamp(ratio, 1 - eps_low, 1 + eps_high)
    return -torch.min(ratio * advantages, clipped * advantages), ratio


def grpo_aggregate(
    per_token: Tensor,
    mask: Tensor,
    loss_type: str = "grpo",
    *,
    max_completion_length: int | None = None,
    num_items: float | None = None,
) -> Tensor:
    """Reduce per-token GRPO losses to the micro-batch loss, as `loss_type` says:

    - grpo: mean over sequences of each sequence's token mean (Shao et al., 2024,
      "DeepSeekMath", Eq. 3, arXiv:2402.03300);
    - bnpo: mean over the micro-batch's tokens;
    - dr_grpo: sum over tokens / (sequences * max_completion_length) (Liu et al., 2025,
      "Understanding R1-Zero-Like Training", arXiv:2503.20783);
    - dapo: sum over tokens / the tokens of the whole accumulated batch, `num_items` (Yu et
      al., 2025, "DAPO", Eq. 8, arXiv:2503.14476).
    """
    m = mask.to(per_token.dtype)
    if loss_type == "grpo":
        return ((per_token * m).sum(-1) / m.sum(-1).clamp(min=1)).mean()
    if loss_type == "bnpo":
        return (per_token * m).sum() / m.sum().clamp(min=1)
    if loss_type == "dr_grpo":
        if max_completion_length is None:
            raise ValueError("dr_grpo needs max_completion_length")
        return (per_token * m).sum() / (per_token.shape[0] * max_completion_length)
    if loss_type == "dapo":
        count = m.sum() if num_items is None else torch.as_tensor(num_items)
        return (per_token * m).sum() / count.to(per_token.dtype).clamp(min=1)
    raise ValueError(f"unknown GRPO loss type {loss_type!r}; use one of {GRPO_LOSS_TYPES}")


def rloo_loss(
    seq_logps: Tensor, old_seq_logps: Tensor, advantages: Tensor, eps_low: float, eps_high: float
) -> tuple[Tensor, Tensor]:
    """RLOO with a clipped sequence-level ratio: mean over sequences of
    -min(r A, clip(r) A), r = pi(y|x) / pi_old(y|x); returns (loss, r). Ahmadian et al.,
    2024, arXiv:2402.14740, with PPO's clipping as TRL's RLOOTrainer (1.x)."""
    losses, ratio = clipped_surrogate(seq_logps, old_seq_logps, advantages, eps_low, eps_high)
    return losses.mean(), ratio


@dataclass
class PPOPolicyLoss:
    loss: Tensor
    clipfrac: Tensor
    approxkl: Tensor  # 0.5 * mean((log pi - log pi_old)^2), the k2 estimator
    policykl: Tensor  # mean(log pi_old - log pi), the k1 estimator


def ppo_policy_loss(
    logps: Tensor, old_logps: Tensor, advantages: Tensor, mask: Tensor, cliprange: float = 0.2
) -> PPOPolicyLoss:
    """PPO's clipped policy loss over completion tokens, masked mean of
    max(-A r, -A clip(r, 1 - c, 1 + c)). Schulman et al., 2017, Eq. 7 (arXiv:1707.06347)."""
    diff = logps - old_logps
    ratio = torch.exp(diff)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - cliprange, 1 + cliprange)
    per_token = torch.max(unclipped, clipped)
    with torch.no_grad():
        clipfrac = masked_mean((clipped > unclipped).float(), mask)
        approxkl = 0.5 * masked_mean(diff.detach() ** 2, mask)
        policykl = masked_mean(-diff.detach(), mask)
    return PPOPolicyLoss(masked_mean(per_token, mask), clipfrac, approxkl, policykl)


def ppo_value_loss(
    values: Tensor, old_values: Tensor, returns: Tensor, mask: Tensor, cliprange_value: float = 0.2
) -> tuple[Tensor, Tensor]:
    """Clipped value loss 0.5 * masked mean of max((v - R)^2, (clip(v, v_old +- c) - R)^2),
    and the fraction of tokens where the clipped term was larger. As in the PPO
    implementation of Ziegler et al., 2019 (arXiv:1909.08593) and TRL's PPOTrainer."""
    clipped = old_values + torch.clamp(values - old_values, -cliprange_value, cliprange_value)
    loss1, loss2 = (values - returns) ** 2, (clipped - returns) ** 2
    loss = 0.5 * masked_mean(torch.max(loss1, loss2), mask)
    clipfrac = masked_mean((loss2 > loss1).float(), mask).detach()
    return loss, clipfrac


@dataclass
class AdaptiveKLController:
    """The KL coefficient, adapted towards a target KL: beta <- beta * (1 + e * n / horizon),
    e = clip(KL / target - 1, -0.2, 0.2). Ziegler et al., 2019, "Fine-Tuning Language Models
    from Human Preferences", Sec. 2.2 (arXiv:1909.08593). Fixed when `adaptive` is False."""

    value: float
    target: float = 6.0
    horizon: int = 10000
    adaptive: bool = False

    def update(self, current_kl: float, n_steps: int) -> float:
        if self.adaptive:
            error = min(max(current_kl / self.target - 1, -0.2), 0.2)
            self.value *= 1 + error * n_steps / self.horizon
        return self.value

    def state_dict(self) -> dict[str, float]:
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.value = float(state["value"])
