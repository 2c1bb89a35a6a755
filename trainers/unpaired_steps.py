"""The steps of the unpaired preference algorithms, KTO and BCO: each row is a prompt and
one completion labelled desirable or not; their metrics are means per label over the rows
of every process (see `trainers.steps` for the step contract)."""

from __future__ import annotations

import torch
from torch import Tensor
from trlprep.trainers.collate import UnpairedBatch
from trlprep.trainers.lm_head import SeqLoss
from trlprep.trainers.logps import CompletionLogps
from trlprep.trainers.losses import RunningMean, bco_loss, kto_kl_estimate, kto_loss
from trlprep.trainers.steps import Metrics, StepContext, gather_kept, kept_rewards


def _label_mean(values: Tensor, rows: Tensor) -> tuple[Tensor, Tensor]:
    """Mean of the selected rows' values (NaN, left out of the logged mean, when none is),
    weighted by how many there are."""
    n = rows.sum()
    return (values * rows).sum() / n, n


def _unpaired_metrics(ctx: StepContext, out: CompletionLogps, labels: Tensor, rewards: Tensor):
    """Per-label means over the real rows of every process, each weighted by its row (or
    token) count, so that the logged means are those of every row of the logging window
    however it was split into processes and micro-batches (TRL's KTO sums and counts too);
    `rewards/margins` is chosen minus rejected of the logged means (`derived_metrics`)."""
    cols = [labels.float(), rewards, out.sums]
    if out.mean_logits is not None:
        m = out.mask.float()
        cols += [(out.mean_logits.detach().float() * m).sum(-1), m.sum(-1)]
    cols = gather_kept(ctx, cols)
    keep = cols[-1]
    chosen = cols[0] * keep
    metrics: Metrics = {}
    for name, sel in (("chosen", chosen), ("rejected", (1 - cols[0]) * keep)):
        metrics[f"rewards/{name}"] = _label_mean(cols[1], sel)
        metrics[f"logps/{name}"] = _label_mean(cols[2], sel)
        if out.mean_logits is not None:
            tokens = cols[4] * sel
            metrics[f"logits/{name}"] = ((cols[3] * sel).sum() / tokens.sum(), tokens.sum())
    return metrics


def derived_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """`rewards/margins` from the logged per-label means where a step did not log it (KTO,
    BCO: chosen and rejected are different rows)."""
    if "rewards/margins" not in metrics and {"rewards/chosen", "rewards/rejected"} <= set(metrics):
        metrics = {**metrics}
        metrics["rewards/margins"] = metrics["rewards/chosen"] - metrics["rewards/rejected"]
    return metrics


def _reference_sums(ctx: StepContext, batch: UnpairedBatch) -> Tensor:
    if batch.ref_logps is not None:
        return batch.ref_logps.float()
    with torch.no_grad():
        return ctx.reference(batch.seqs).sums.float()


def _unpaired_logratios(ctx: StepContext, batch: UnpairedBatch) -> tuple[CompletionLogps, Tensor]:
    ref = _reference_sums(ctx, batch)
    out: CompletionLogps = ctx.policy(batch.seqs)
    return out, out.sums - ref.to(out.sums.dtype)


@torch.no_grad()
def kto_kl(
    ctx: StepContext, batches: list[UnpairedBatch], fillers: set[int] | None = None
) -> Tensor:
    """KTO's KL estimate z_0 over the real rows of `batches` on every process: the mean
    log-ratio of the mismatched pairs (`kl_seqs`), clamped at 0. The loop calls it once per
    optimizer step with all its micro-batches, so the estimate is that of the step's whole
    global batch whatever the processes and gradient accumulation (`fillers`: indices of
    batches that only fill in, left out)."""
    diffs, keeps = [], []
    for i, batch in enumerate(batches):
        kl_logps = ctx.policy(batch.kl_seqs).sums
        if batch.ref_kl_logps is not None:
            ref_kl_logps = batch.ref_kl_logps.to(device=kl_logps.device, dtype=kl_logps.dtype)
        else:
            ref_kl_logps = ctx.reference(batch.kl_seqs).sums
        diffs.append((kl_logps - ref_kl_logps).float())
        keeps.append(diffs[-1].new_full(diffs[-1].shape, 0.0 if i in (fillers or ()) else 1.0))
    diff, keep = ctx.gather(torch.stack((torch.cat(diffs), torch.cat(keeps)), dim=1)).unbind(1)
    return kto_kl_estimate(diff, torch.zeros_like(diff), keep)


def kto_step(ctx: StepContext, batch: UnpairedBatch) -> tuple[Tensor, Metrics]:
    """KTO (with the mismatched-pair KL estimate) or APO-zero unpaired; each row's loss
    computed from its own sum in the policy's forward (`SeqLoss`), the KL estimate first."""
    o = ctx.options
    kl = torch.zeros((), device=batch.labels.device)
    if o.loss_type == "kto":  # the step's estimate, or this batch's (evaluation)
        kl = ctx.kl if ctx.kl is not None else kto_kl(ctx, [batch], {0} if ctx.filler else set())
    ref = _reference_sums(ctx, batch)
    labels = batch.labels

    def objective(sums: Tensor) -> Tensor:
        ratios = sums - ref.to(sums.dtype)
        return kto_loss(
            ratios[labels],
            ratios[~labels],
            kl,
            beta=o.beta,
            desirable_weight=o.desirable_weight,
            undesirable_weight=o.undesirable_weight,
            loss_type=o.loss_type,
        ).mean()

    out = ctx.policy(batch.seqs, seq_loss=SeqLoss.rows(objective, batch.seqs.num_seqs))
    ratios = out.sums.detach() - ref.to(out.sums.dtype)
    metrics = {"kl": kl.detach()} | _unpaired_metrics(ctx, out, labels, o.beta * ratios)
    return out.loss, metrics


def bco_step(ctx: StepContext, batch: UnpairedBatch) -> tuple[Tensor, Metrics]:
    """BCO: a binary classifier on the implicit reward, shifted by its running mean (updated
    with each global micro-batch's real rows before its loss, as TRL's BCO does)."""
    o = ctx.options
    out, ratios = _unpaired_logratios(ctx, batch)
    rewards = o.beta * ratios
    running: RunningMean = ctx.state.setdefault("running", RunningMean())
    if ctx.training:
        running.update(kept_rewards(ctx, rewards.detach()))
    labels = batch.labels
    losses = bco_loss(rewards[labels], rewards[~labels], running.mean)
    metrics = {"delta": running.mean} | _unpaired_metrics(ctx, out, labels, rewards)
    return losses.mean(), metrics
