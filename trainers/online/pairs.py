"""Online DPO, Nash-MD and XPO: two completions per prompt, compared by the reward.

- Online DPO: two policy samples; the better-scored one is chosen; DPO (or IPO) loss.
- Nash-MD: a policy sample against a sample of the geometric mixture of policy and
  reference; the probability the policy's wins drives a policy-gradient loss.
- XPO: a policy sample against a reference sample; DPO loss plus an exploration term.

The rollout samples, scores and computes the reference's log-probs (and the policy's, for
the KL the FAQ asks to watch); the step computes the policy's log-probs with gradient.
`missing_eos_penalty` is subtracted from the score of completions without an EOS.
"""

from __future__ import annotations

import torch
from torch import Tensor
from trlprep.trainers.logps import CompletionLogps
from trlprep.trainers.losses import nash_md_loss, online_dpo_loss, xpo_loss
from trlprep.trainers.online.generation import Generated
from trlprep.trainers.online.rewards import Scores
from trlprep.trainers.online.rollout import (
    Experience,
    Rollout,
    RolloutBatch,
    RolloutContext,
    length_metrics,
    sample_records,
)
from trlprep.trainers.steps import StepContext

Metrics = dict[str, float | Tensor]  # step metrics stay on the device until logged


def _rewards(ctx: RolloutContext, scores: Scores, gen: Generated) -> Tensor:
    """The weighted reward (no score counts as 0, as TRL's nansum), less the EOS penalty."""
    rewards = torch.nan_to_num(scores.total, nan=0.0)
    penalty = ctx.options.missing_eos_penalty
    if penalty is not None:
        rewards = rewards - penalty * (~torch.tensor(gen.has_eos)).float()
    return rewards


def _concat(a: Generated, b: Generated) -> Generated:
    return Generated(a.completions + b.completions, a.has_eos + b.has_eos)


def _two_samples(ctx: RolloutContext, rows: list[dict], second: str):
    """A policy sample and a `second`-source sample for every prompt, scored; both halves in
    prompt order (first all policy samples, then all second samples)."""
    prompts = [r["prompt"] for r in rows]
    first = ctx.generate(prompts)
    other = ctx.generate(prompts, source=second)
    gen = _concat(first, other)
    both_rows, both_prompts = rows + rows, prompts + prompts
    scores = ctx.score(both_rows, gen, both_prompts)
    return both_rows, both_prompts, gen, scores, _rewards(ctx, scores, gen)


def _interleave(n: int, first: Tensor) -> list[int]:
    """Sequence order (pair j: sequences 2j, 2j+1) from halves [0, n) and [n, 2n), the first
    of each pair taken from the first half where `first` is set."""
    order = []
    for j, f in enumerate(first.tolist()):
        order += [j, j + n] if f else [j + n, j]
    return order


def _pair_experience(
    ctx: RolloutContext, prompts: list, gen: Generated, order: list[int], **fields: Tensor
) -> tuple[Experience, Tensor, Tensor, Tensor]:
    """Experience of pairs in `order`, with the reference's and the policy's log-probs; also
    returns the policy's per-token log-probs, their mask and each sequence's k1 KL."""
    p = [prompts[i] for i in order]
    c = [gen.completions[i] for i in order]
    old = ctx.forward(ctx.policy, p, c)
    ref = ctx.forward(ctx.reference, p, c).logps
    seq_kl = ((old.logps - ref) * old.mask).sum(-1)
    index = torch.as_tensor(order)
    picked = {k: v[index].to(ctx.device) for k, v in fields.items()}
    exp = Experience(p, c, 2, {"ref_logps": ref, "old_logps": old.logps, **picked})
    return exp, old.logps, old.mask, seq_kl


def _objective_metrics(ctx: RolloutContext, logps: Tensor, mask: Tensor, kl: Tensor) -> Metrics:
    beta = ctx.options.beta
    seq_logps = (logps * mask).sum(-1)
    return {
        "objective/kl": float(kl.mean()),
        "objective/entropy": float(-seq_logps.mean()),
        "objective/non_score_reward": float((-beta * kl).mean()),
        "beta": beta,
    }


# ------------------------------------------------------------------ Online DPO


def online_dpo_rollout(ctx: RolloutContext, rows: list[dict]) -> Rollout:
    n = len(rows)
    both_rows, prompts, gen, scores, rewards = _two_samples(ctx, rows, "policy")
    first_better = rewards[:n] >= rewards[n:]
    order = _interleave(n, first_better)  # chosen, rejected
    exp, logps, mask, kl = _pair_experience(ctx, prompts, gen, order, scores=rewards)
    r = rewards[torch.as_tensor(order)].view(n, 2)
    metrics = _objective_metrics(ctx, logps, mask, kl.cpu())
    metrics |= {
        "objective/scores": float(rewards.mean()),
        "objective/scores_margin": float((r[:, 0] - r[:, 1]).mean()),
        "objective/rlhf_reward": float((r.flatten() - ctx.options.beta * kl.cpu()).mean()),
        "val/contain_eos_token": float(torch.tensor(gen.has_eos).float().mean()),
    }
    metrics |= length_metrics(gen)
    return Rollout(
        exp,
        metrics,
        histograms={"rewards": rewards},
        samples=sample_records(ctx, both_rows, gen, scores),
        seq_kl=kl,
    )


def _pair_logps(ctx: StepContext, batch: RolloutBatch) -> tuple[CompletionLogps, Tensor, Tensor]:
    out: CompletionLogps = ctx.policy(batch.seqs)
    m = out.mask.to(out.logps.dtype)
    return out, (out.logps * m).sum(-1), (batch.ref_logps * m).sum(-1)


def _preference_metrics(chosen: Tensor, rejected: Tensor, beta: float, logps: Tensor) -> Metrics:
    rc, rr = beta * chosen.detach(), beta * rejected.detach()
    n = chosen.shape[0]
    return {
        "rewards/chosen": rc.mean(),
        "rewards/rejected": rr.mean(),
        "rewards/accuracies": (rc > rr).float().mean(),
        "rewards/margins": (rc - rr).mean(),
        "logps/chosen": logps[:n].detach().mean(),
        "logps/rejected": logps[n:].detach().mean(),
    }


def online_dpo_step(ctx: StepContext, batch: RolloutBatch) -> tuple[Tensor, Metrics]:
    """DPO (or IPO) on the pair, chosen first."""
    o, n = ctx.options, batch.num_units
    _, logps, ref = _pair_logps(ctx, batch)
    ratios = logps - ref
    loss = online_dpo_loss(ratios[:n], ratios[n:], o.beta, o.loss_type).mean()
    return loss, _preference_metrics(ratios[:n], ratios[n:], o.beta, logps)


# ------------------------------------------------------------------ Nash-MD


def nash_md_rollout(ctx: RolloutContext, rows: list[dict]) -> Rollout:
    n = len(rows)
    both_rows, prompts, gen, scores, rewards = _two_samples(ctx, rows, "mixture")
    probability = torch.sigmoid(rewards[:n] - rewards[n:])  # P(policy sample beats mixture's)
    model_gen = Generated(gen.completions[:n], gen.has_eos[:n])
    old = ctx.forward(ctx.policy, prompts[:n], model_gen.completions)
    ref = ctx.forward(ctx.reference, prompts[:n], model_gen.completions).logps
    kl = ((old.logps - ref) * old.mask).sum(-1)
    exp = Experience(
        prompts[:n],
        model_gen.completions,
        1,
        {"ref_logps": ref, "old_logps": old.logps, "scores": probability.to(ctx.device)},
    )
    eos = torch.tensor(gen.has_eos).float()
    metrics = _objective_metrics(ctx, old.logps, old.mask, kl.cpu())
    metrics |= {
        "objective/model_scores": float(rewards[:n].mean()),
        "objective/mixture_scores": float(rewards[n:].mean()),
        "rewards/probabilities": float(probability.mean()),
        "mixture_coef": ctx.options.mixture_coef,
        "val/model_contain_eos_token": float(eos[:n].mean()),
        "val/mixture_contain_eos_token": float(eos[n:].mean()),
    }
    metrics |= length_metrics(model_gen)
    return Rollout(
        exp,
        metrics,
        histograms={"rewards": rewards[:n]},
        samples=sample_records(ctx, both_rows[:n], model_gen, probability=probability),
        seq_kl=kl,
    )


def nash_md_step(ctx: StepContext, batch: RolloutBatch) -> tuple[Tensor, Metrics]:
    """beta * REINFORCE KL - (P(win) - 1/2) * log pi(y), on the policy's samples."""
    o = ctx.options
    out: CompletionLogps = ctx.policy(batch.seqs)
    losses, score, kl = nash_md_loss(out.logps, batch.ref_logps, out.mask, batch.scores, o.beta)
    return losses.mean(), {"loss/kl": kl.mean().detach(), "loss/score": score.mean().detach()}


# ------------------------------------------------------------------ XPO


def xpo_rollout(ctx: RolloutContext, rows: list[dict]) -> Rollout:
    n = len(rows)
    both_rows, prompts, gen, scores, rewards = _two_samples(ctx, rows, "reference")
    order = [i for j in range(n) for i in (j, j + n)]  # (policy sample, reference sample)
    exp, logps, mask, kl = _pair_experience(ctx, prompts, gen, order, scores=rewards)
    eos = torch.tensor(gen.has_eos).float()
    policy_kl = kl.view(n, 2)[:, 0].cpu()  # the KL of the policy's own samples
    metrics = _objective_metrics(
        ctx, logps.view(n, 2, -1)[:, 0], mask.view(n, 2, -1)[:, 0], policy_kl
    )
    metrics |= {
        "objective/model_scores": float(rewards[:n].mean()),
        "objective/ref_scores": float(rewards[n:].mean()),
        "val/model_contain_eos_token": float(eos[:n].mean()),
        "val/ref_contain_eos_token": float(eos[n:].mean()),
        "alpha": ctx.options.alpha,
    }
    metrics |= length_metrics(Generated(gen.completions[:n], gen.has_eos[:n]))
    return Rollout(
        exp,
        metrics,
        histograms={"rewards": rewards},
        samples=sample_records(ctx, both_rows, gen, scores),
        seq_kl=kl.view(n, 2)[:, 0],
    )


def xpo_step(ctx: StepContext, batch: RolloutBatch) -> tuple[Tensor, Metrics]:
    """Online DPO between the policy's and the reference's samples + alpha log pi(y_ref)."""
    o, n = ctx.options, batch.num_units
    _, logps, ref = _pair_logps(ctx, batch)
    policy_chosen = batch.scores[:n] >= batch.scores[n:]
    dpo, xpo = xpo_loss(
        logps[:n], logps[n:], ref[:n], ref[n:], policy_chosen,
        beta=o.beta, alpha=o.alpha, loss_type=o.loss_type,
    )  # fmt: skip
    ratios = logps - ref
    chosen = torch.where(policy_chosen, ratios[:n], ratios[n:])
    rejected = torch.where(policy_chosen, ratios[n:], ratios[:n])
    chosen_logps = torch.where(policy_chosen, logps[:n], logps[n:])
    rejected_logps = torch.where(policy_chosen, logps[n:], logps[:n])
    metrics = _preference_metrics(
        chosen, rejected, o.beta, torch.cat((chosen_logps, rejected_logps))
    )
    metrics |= {"loss/dpo": dpo.detach().mean(), "loss/xpo": xpo.detach().mean()}
    return (dpo + xpo).mean(), metrics
