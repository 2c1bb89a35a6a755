"""GRPO and RLOO: several completions per prompt, advantages from comparing them.

Rollout: every prompt is sampled `num_generations` times, the completions are scored, and the
rewards become advantages (GRPO: group-normalised; RLOO: leave-one-out, after a sequence-level
KL penalty). Step: the clipped ratio to the log-probs at sampling time (token-level for GRPO,
sequence-level for RLOO), plus GRPO's k3 KL to the reference when `beta` is not 0.
"""

from __future__ import annotations

import torch
from torch import Tensor
from trlprep.trainers.logps import CompletionLogps
from trlprep.trainers.losses import (
    clipped_surrogate,
    group_advantages,
    grpo_aggregate,
    kl_estimate,
    masked_mean,
    nanstd,
    rloo_advantages,
    rloo_loss,
)
from trlprep.trainers.losses.policy import STD_EPS
from trlprep.trainers.online.rollout import (
    Experience,
    Rollout,
    RolloutBatch,
    RolloutContext,
    length_metrics,
    reward_metrics,
    sample_records,
)
from trlprep.trainers.steps import StepContext

Metrics = dict[str, float | Tensor]  # step metrics stay on the device until logged


def _sample_groups(ctx: RolloutContext, rows: list[dict], k: int):
    """Each prompt `k` times (contiguous), sampled and scored."""
    rows = [r for r in rows for _ in range(k)]
    prompts = [r["prompt"] for r in rows]
    gen = ctx.generate(prompts)
    scores = ctx.score(rows, gen, prompts)
    return rows, prompts, gen, scores


def _zero_std_fraction(rewards: Tensor, k: int) -> float:
    """The share of groups whose scored rewards are all equal (no signal), as TRL's
    `frac_reward_zero_std`."""
    std = nanstd(rewards.view(-1, k), dim=1)
    return float(torch.isclose(std, torch.zeros_like(std)).float().mean())


def grpo_rollout(ctx: RolloutContext, rows: list[dict]) -> Rollout:
    """Sample, score and normalise rewards within each prompt's group."""
    o = ctx.options
    k = o.num_generations
    rows, prompts, gen, scores = _sample_groups(ctx, rows, k)
    rewards = scores.total
    if o.scale_rewards == "batch":  # the std of the whole batch, over processes
        everything = ctx.gather(rewards.to(ctx.device)).cpu()
        advantages = group_advantages(rewards, k, "none") / (nanstd(everything) + STD_EPS)
    else:
        advantages = group_advantages(rewards, k, o.scale_rewards)
    fields = {"advantages": advantages.to(ctx.device)}
    seq_kl = None
    if o.num_iterations > 1 or ctx.reference is not None:
        old = ctx.forward(ctx.policy, prompts, gen.completions)
        fields["old_logps"] = old.logps
        if ctx.reference is not None:
            fields["ref_logps"] = ctx.forward(ctx.reference, prompts, gen.completions).logps
            seq_kl = ((old.logps - fields["ref_logps"]) * old.mask).sum(-1)
    metrics = reward_metrics(scores) | length_metrics(gen)
    metrics["frac_reward_zero_std"] = _zero_std_fraction(rewards, k)
    return Rollout(
        Experience(prompts, gen.completions, 1, fields),
        metrics,
        histograms={"rewards": rewards, "advantages": advantages},
        samples=sample_records(ctx, rows, gen, scores, advantage=advantages),
        seq_kl=seq_kl,
    )


def _clip_metrics(ratio: Tensor, advantages: Tensor, mask: Tensor, lo: float, hi: float) -> Metrics:
    low = (ratio < 1 - lo) & (advantages < 0)
    high = (ratio > 1 + hi) & (advantages > 0)
    m = mask.float()
    per_seq = lambda x: (x.float() * m).sum(-1) / m.sum(-1).clamp(min=1)  # noqa: E731
    return {
        "clip_ratio/low_mean": masked_mean(low.float(), m).detach(),
        "clip_ratio/low_min": per_seq(low).min().detach(),
        "clip_ratio/high_mean": masked_mean(high.float(), m).detach(),
        "clip_ratio/high_max": per_seq(high).max().detach(),
        "clip_ratio/region_mean": masked_mean((low | high).float(), m).detach(),
    }


def grpo_step(ctx: StepContext, batch: RolloutBatch) -> tuple[Tensor, Metrics]:
    """The clipped token-level surrogate (+ beta * k3 KL), aggregated as `loss_type` says."""
    o = ctx.options
    out: CompletionLogps = ctx.policy(batch.seqs)
    mask = out.mask
    old = batch.old_logps if batch.old_logps is not None else out.logps.detach()
    advantages = batch.advantages.unsqueeze(1)
    per_token, ratio = clipped_surrogate(out.logps, old, advantages, o.epsilon, o.eps_high)
    metrics: Metrics = {}
    if o.beta != 0.0:
        kl = kl_estimate(out.logps, batch.ref_logps, "k3")
        per_token = per_token + o.beta * kl
        metrics["kl"] = masked_mean(kl.detach(), mask).detach()
    loss = grpo_aggregate(
        per_token,
        mask,
        o.loss_type,
        max_completion_length=o.max_new_tokens,
        num_items=ctx.num_items if ctx.training else None,
    )
    metrics["entropy"] = masked_mean(out.stats["entropy"], mask).detach()
    metrics |= _clip_metrics(ratio.detach(), advantages, mask, o.epsilon, o.eps_high)
    return loss, metrics


def rloo_rollout(ctx: RolloutContext, rows: list[dict]) -> Rollout:
    """Sample k per prompt, score, subtract beta * KL (summed k1), leave-one-out baselines."""
    o = ctx.options
    k = o.num_generations
    rows, prompts, gen, scores = _sample_groups(ctx, rows, k)
    rewards = scores.total
    old = ctx.forward(ctx.policy, prompts, gen.completions)
    fields = {"old_logps": old.logps}
    metrics = reward_metrics(scores) | length_metrics(gen)
    seq_kl = None
    if ctx.reference is not None:
        ref = ctx.forward(ctx.reference, prompts, gen.completions).logps
        token_kl = (old.logps - ref) * old.mask
        seq_kl = token_kl.sum(-1)
        rewards = rewards - o.beta * seq_kl.cpu()
        metrics["kl"] = float(token_kl.sum() / old.mask.sum().clamp(min=1))
    advantages = rloo_advantages(rewards, k, normalize=o.normalize_advantages)
    fields["advantages"] = advantages.to(ctx.device)
    metrics["frac_reward_zero_std"] = _zero_std_fraction(rewards, k)
    return Rollout(
        Experience(prompts, gen.completions, 1, fields),
        metrics,
        histograms={"rewards": scores.total, "advantages": advantages},
        samples=sample_records(ctx, rows, gen, scores, advantage=advantages),
        seq_kl=seq_kl,
    )


def rloo_step(ctx: StepContext, batch: RolloutBatch) -> tuple[Tensor, Metrics]:
    """The clipped sequence-level ratio times the leave-one-out advantage."""
    o = ctx.options
    out: CompletionLogps = ctx.policy(batch.seqs)
    m = out.mask.to(out.logps.dtype)
    seq_logps = (out.logps * m).sum(-1)
    old = (batch.old_logps * m).sum(-1)
    loss, ratio = rloo_loss(seq_logps, old, batch.advantages, o.epsilon, o.eps_high)
    adv = batch.advantages
    low = ((ratio < 1 - o.epsilon) & (adv < 0)).float()
    high = ((ratio > 1 + o.eps_high) & (adv > 0)).float()
    return loss, {
        "entropy": masked_mean(out.stats["entropy"], out.mask).detach(),
        "clip_ratio/low_mean": low.mean().detach(),
        "clip_ratio/low_min": low.min().detach(),
        "clip_ratio/high_mean": high.mean().detach(),
        "clip_ratio/high_max": high.max().detach(),
        "clip_ratio/region_mean": torch.maximum(low, high).mean().detach(),
    }
