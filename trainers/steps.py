"""One function per algorithm: a batch in, the loss and TRL-named metrics out.

The training loop calls `step(ctx, batch)`; `ctx.policy` is the trained model (wrapped in
`LogpsModel` for causal LMs), `ctx.reference` the frozen reference (or None), and
`ctx.options` the algorithm's options. Metrics are floats or 0-d tensors left on the
device (read by the loop only when it logs: no host synchronisation per micro-batch).
Metrics from token stats and mean logits appear only when the policy computed them (on
logging steps, see `LogpsModel.log_metrics`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from trlprep.trainers.collate import ClassifierBatch, LMBatch, PairBatch
from trlprep.trainers.lm_head import SeqLoss
from trlprep.trainers.logps import CompletionLogps
from trlprep.trainers.losses import (
    CPO_AVERAGED,
    PAIR_LOCAL,
    DPOLossConfig,
    PairLogps,
    RunningMean,
    alphapo_reward,
    cpo_loss,
    dpo_loss,
    length_desensitised_logps,
    orpo_log_odds,
    orpo_loss,
    reward_loss,
    token_classification_loss,
    wpo_weights,
)

# a value, or (value, weight) for a mean whose weight is not the batch's rows (per-label
# means over the rows of every process: weighted by how many rows have the label)
Metrics = dict[str, float | Tensor | tuple[Tensor, Tensor]]


@dataclass
class StepContext:
    policy: nn.Module
    reference: nn.Module | None
    options: Any
    state: dict[str, Any] = field(default_factory=dict)
    training: bool = True
    # tokens trained on in the whole accumulated batch (token-normalised losses)
    num_items: float | None = None
    gather: Callable[[Tensor], Tensor] = lambda x: x
    teacher: nn.Module | None = None  # GKD's teacher
    # the batch only fills in for a process the global batch has no row for (weight 0): its
    # rows are left out of everything pooled over processes (KL, running means, metrics)
    filler: bool = False
    # KTO's KL estimate of the whole optimizer step (set by the loop before its micro-batches)
    kl: Tensor | None = None


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of `values` where `mask` is set (0 when nothing is), without a host sync."""
    return (values.detach().float() * mask).sum() / mask.sum().clamp(min=1)


def _mean(x: Tensor) -> Tensor | float:
    return x.detach().float().mean() if x.numel() else float("nan")


def _reward_metrics(chosen: Tensor, rejected: Tensor) -> Metrics:
    chosen, rejected = chosen.detach(), rejected.detach()
    return {
        "rewards/chosen": _mean(chosen),
        "rewards/rejected": _mean(rejected),
        "rewards/accuracies": _mean((chosen > rejected).float()),
        "rewards/margins": _mean(chosen - rejected),
    }


def _token_mean(values: Tensor, mask: Tensor, filler: bool) -> tuple[Tensor, Tensor]:
    """A mean over tokens with its tokens as its weight: pooled over micro-batches and
    processes, the mean over the tokens of the whole batch, as one process computes it."""
    return _masked_mean(values, mask), mask.sum() * (0.0 if filler else 1.0)


def _token_metrics(ctx: StepContext, out: CompletionLogps, n: int, seq_logps: Tensor) -> Metrics:
    m, filler = out.mask.float(), ctx.filler
    metrics: Metrics = {
        "logps/chosen": _mean(seq_logps[:n].detach()),
        "logps/rejected": _mean(seq_logps[n:].detach()),
    }
    if out.mean_logits is not None:
        metrics["logits/chosen"] = _token_mean(out.mean_logits[:n], m[:n], filler)
        metrics["logits/rejected"] = _token_mean(out.mean_logits[n:], m[n:], filler)
    if "is_top1" in out.stats:
        is_top1 = out.stats["is_top1"][:n].float()
        metrics["mean_token_accuracy"] = _token_mean(is_top1, m[:n], filler)
    return metrics


def gather_kept(ctx: StepContext, cols: list[Tensor]) -> list[Tensor]:
    """Per-row columns of every process's rows (rank order), plus a last column that is 1
    for real rows and 0 for a filler batch's."""
    keep = cols[0].new_full(cols[0].shape, 0.0 if ctx.filler else 1.0)
    stacked = torch.stack([c.detach().float() for c in cols] + [keep.float()], dim=1)
    return list(ctx.gather(stacked).unbind(1))


def kept_rewards(ctx: StepContext, rewards: Tensor) -> Tensor:
    """`rewards` of the real rows of every process (a host sync, as the running mean's)."""
    values, keep = gather_kept(ctx, [rewards])
    return values[keep > 0]


# ------------------------------------------------------------------ SFT


def sft_step(ctx: StepContext, batch: LMBatch) -> tuple[Tensor, Metrics]:
    """Next-token NLL on the completion (or every) token, normalised by the tokens of the
    whole accumulated batch."""
    out: CompletionLogps = ctx.policy(batch.seqs, nll=True, num_items=ctx.num_items)
    loss = out.loss
    m = out.mask.float()
    metrics: Metrics = {}
    if "is_top1" in out.stats:
        metrics["mean_token_accuracy"] = _masked_mean(out.stats["is_top1"].float(), m)
    if "entropy" in out.stats:
        metrics["entropy"] = _masked_mean(out.stats["entropy"], m)
    return loss, metrics


# ------------------------------------------------------------------ paired preferences


def _sequence_logps(out: CompletionLogps, n: int, ld_alpha: float | None) -> Tensor:
    if ld_alpha is None:
        return out.sums
    return length_desensitised_logps(out.logps, out.mask, n, ld_alpha)


def _chosen_nll(sums: Tensor, lengths: Tensor, n: int) -> Tensor:
    """Mean NLL of the chosen completions' tokens (the first `n` sequences), from the
    sequences' summed log-probs and token counts."""
    return -sums[:n].sum() / lengths[:n].sum().clamp(min=1)


def dpo_step(ctx: StepContext, batch: PairBatch) -> tuple[Tensor, Metrics]:
    """DPO and its loss types, with RPO's NLL term, LD-DPO and WPO weighting.

    When each pair's loss depends on that pair alone (no LD-DPO, WPO, AOT or bco_pair), the
    policy computes it from its sequences' sums a chunk of whole pairs at a time, the LM
    head's gradients in the forward (`SeqLoss`)."""
    o = ctx.options
    n = batch.num_pairs
    if o.reference_free:
        ref = None
    elif batch.ref_logps is not None:
        ref = batch.ref_logps.float()
    else:
        with torch.no_grad():
            ref = _sequence_logps(ctx.reference(batch.seqs), n, o.ld_alpha).float()
    lengths = batch.seqs.target_counts.float()

    def pairs_of(logps: Tensor, sums: Tensor) -> PairLogps:
        """`logps`: the sequences' (LD-DPO's) log-probs; `sums`: their tokens' plain sums."""
        r = torch.zeros_like(logps) if ref is None else ref.to(logps.dtype)
        nll = _chosen_nll(sums, lengths, n)
        return PairLogps(logps[:n], logps[n:], r[:n], r[n:], lengths[:n], lengths[n:], nll)

    def objective(pairs: PairLogps, delta, weights: Tensor | None) -> Tensor:
        cfg = DPOLossConfig(o.beta, o.label_smoothing, o.discopop_tau, delta)
        loss = dpo_loss(pairs, cfg, o.loss_type, o.loss_weights, weights)
        if o.rpo_alpha is not None:
            mean_weight = weights.mean() if weights is not None else 1.0
            loss = loss + o.rpo_alpha * pairs.chosen_nll * mean_weight
        return loss

    local = o.ld_alpha is None and not o.use_weighting and PAIR_LOCAL.issuperset(o.loss_type)
    if local:
        out: CompletionLogps = ctx.policy(
            batch.seqs, seq_loss=SeqLoss.pairs(lambda s: objective(pairs_of(s, s), 0.0, None), n)
        )
        loss, logps = out.loss, out.sums
    else:
        out = ctx.policy(batch.seqs)
        logps = _sequence_logps(out, n, o.ld_alpha)
    pairs = pairs_of(logps, out.sums)
    if not local:
        delta = 0.0
        if "bco_pair" in o.loss_type:
            running: RunningMean = ctx.state.setdefault("running", RunningMean())
            rewards = o.beta * torch.cat((pairs.chosen_logratios, pairs.rejected_logratios))
            delta = running.mean
            if ctx.training:
                delta = running.update(kept_rewards(ctx, rewards.detach()))
        weights = None
        if o.use_weighting:
            weights = wpo_weights(out.logps, out.stats["log_sum_sq_probs"], out.mask, n)
        loss = objective(pairs, delta, weights)

    metrics = _reward_metrics(o.beta * pairs.chosen_logratios, o.beta * pairs.rejected_logratios)
    metrics |= _token_metrics(ctx, out, n, logps)
    if o.rpo_alpha is not None or "sft" in o.loss_type:
        metrics["nll_loss"] = pairs.chosen_nll.detach()
    return loss, metrics


def cpo_step(ctx: StepContext, batch: PairBatch) -> tuple[Tensor, Metrics]:
    """CPO, SimPO (`loss_type="simpo"`, `cpo_alpha=0`) and AlphaPO (`alpha != 0`); each
    pair's loss computed from its own sums in the policy's forward (`SeqLoss`)."""
    o = ctx.options
    n = batch.num_pairs
    lengths = batch.seqs.target_counts.float()

    def scores(sums: Tensor) -> Tensor:
        return sums / lengths.clamp(min=1) if o.loss_type in CPO_AVERAGED else sums

    def objective(sums: Tensor) -> Tensor:
        logps = scores(sums)
        losses = cpo_loss(
            logps[:n],
            logps[n:],
            beta=o.beta,
            loss_type=o.loss_type,
            label_smoothing=o.label_smoothing,
            simpo_gamma=o.simpo_gamma,
            alpha=o.alpha,
        )
        return losses.mean() + o.cpo_alpha * _chosen_nll(sums, lengths, n)

    out: CompletionLogps = ctx.policy(batch.seqs, seq_loss=SeqLoss.pairs(objective, n))
    logps = scores(out.sums.detach())
    nll = _chosen_nll(out.sums.detach(), lengths, n) if o.cpo_alpha != 0 else logps.new_zeros(())
    rewards = o.beta * alphapo_reward(logps, o.alpha)
    metrics = _reward_metrics(rewards[:n], rewards[n:]) | _token_metrics(ctx, out, n, logps)
    metrics["nll_loss"] = nll
    return out.loss, metrics


def orpo_step(ctx: StepContext, batch: PairBatch) -> tuple[Tensor, Metrics]:
    """ORPO: chosen NLL plus the odds-ratio term, on per-token averaged log-probs; each
    pair's loss computed from its own sums in the policy's forward (`SeqLoss`)."""
    o = ctx.options
    n = batch.num_pairs
    lengths = batch.seqs.target_counts.float()

    def objective(sums: Tensor) -> Tensor:
        avg = sums / lengths.clamp(min=1)
        return _chosen_nll(sums, lengths, n) + orpo_loss(avg[:n], avg[n:], beta=o.beta).mean()

    out: CompletionLogps = ctx.policy(batch.seqs, seq_loss=SeqLoss.pairs(objective, n))
    sums = out.sums.detach()
    avg = sums / lengths.clamp(min=1)
    rewards = o.beta * avg
    metrics = _reward_metrics(rewards[:n], rewards[n:]) | _token_metrics(ctx, out, n, avg)
    log_odds = orpo_log_odds(avg[:n], avg[n:])
    metrics["nll_loss"] = _chosen_nll(sums, lengths, n)
    metrics["log_odds_ratio"] = _mean(F.logsigmoid(log_odds))
    metrics["log_odds_chosen"] = _mean(log_odds)
    return out.loss, metrics


# ------------------------------------------------------------------ classification heads


def reward_step(ctx: StepContext, batch: ClassifierBatch) -> tuple[Tensor, Metrics]:
    """Bradley-Terry on a sequence-classification head's scores (chosen rows first)."""
    scores = (
        ctx.policy(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False)
        .logits.squeeze(-1)
        .float()
    )
    chosen, rejected = scores.chunk(2)
    loss = reward_loss(chosen, rejected, batch.margin, ctx.options.center_rewards_coefficient)
    s = scores.detach()
    values, keep = gather_kept(ctx, [s])  # every process's rows: the global micro-batch's
    real = keep > 0  # extremes, as one process finds them (masked: no host sync)
    return loss, {
        "min_reward": torch.where(real, values, torch.inf).min(),
        "mean_reward": s.mean(),
        "max_reward": torch.where(real, values, -torch.inf).max(),
        "accuracy": _mean((chosen > rejected).float()),
        "margin": _mean((chosen - rejected).detach()),
    }


def prm_step(ctx: StepContext, batch: ClassifierBatch) -> tuple[Tensor, Metrics]:
    """Token classification of each step's last token (label -100 elsewhere)."""
    logits = ctx.policy(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    loss = token_classification_loss(logits, batch.labels)
    sel = batch.labels != -100
    if ctx.num_items is not None:  # a mean over the labelled tokens of every micro-batch and
        loss = loss * sel.sum() / ctx.num_items  # process (transformers' num_items_in_batch)
    correct = (logits.detach().argmax(-1) == batch.labels) & sel
    return loss, {"accuracy": _token_mean(correct.float(), sel.float(), ctx.filler)}
