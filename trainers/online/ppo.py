"""PPO: a policy with a value head, a reward score at the last token, a per-token KL penalty,
GAE advantages, then epochs of clipped policy and value updates over mini-batches.

Rollout (Ziegler et al., 2019, arXiv:1909.08593; Ouyang et al., 2022, arXiv:2203.02155):
sample one completion per prompt, score it (reward model or functions, less
`missing_eos_penalty` without an EOS), and build per-token rewards
`-kl_coef * KL_t` (+ the score at the last token), with `KL_t` the k1 or k3 estimate;
GAE turns them into advantages (whitened) and returns. The KL coefficient adapts towards
`kl_target` with `adaptive_kl`. Metric names are those of the guide's PPO logging section.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn
from trlprep.trainers.logps import CompletionLogps, LogpsModel, completion_logps
from trlprep.trainers.losses import (
    AdaptiveKLController,
    gae,
    kl_estimate,
    masked_mean,
    masked_var,
    masked_whiten,
    ppo_policy_loss,
    ppo_value_loss,
)
from trlprep.trainers.online.rollout import (
    Experience,
    Rollout,
    RolloutBatch,
    RolloutContext,
    sample_records,
)
from trlprep.trainers.steps import StepContext

Metrics = dict[str, float | Tensor]  # step metrics stay on the device until logged
VALUE_HEAD_FILE = "value_head.safetensors"


class ValueHeadModel(LogpsModel):
    """A causal LM whose forward returns completion log-probs and a linear value head's
    values at the same positions (the state before each completion token)."""

    def __init__(self, model: nn.Module, stats=(), chunk=None, temperature: float = 1.0):
        super().__init__(model, stats, chunk, temperature)
        hidden = model.config.get_text_config().hidden_size
        self.v_head = nn.Linear(hidden, 1)

    def forward(self, batch) -> CompletionLogps:  # type: ignore[override]
        return completion_logps(
            self.model,
            batch,
            stats=self.stats,
            chunk=self.chunk,
            temperature=self.temperature,
            value_head=self.v_head,
            kernel=self.kernel,
        )

    def save_extra(self, folder: Path) -> None:
        """Write the value head next to the saved model."""
        from safetensors.torch import save_file

        state = {
            k: v.detach().float().cpu().contiguous() for k, v in self.v_head.state_dict().items()
        }
        save_file(state, str(Path(folder) / VALUE_HEAD_FILE))

    def load_extra(self, folder: Path) -> None:
        path = Path(folder) / VALUE_HEAD_FILE
        if path.is_file():
            from safetensors.torch import load_file

            self.v_head.load_state_dict(load_file(str(path)))


def kl_controller(options) -> AdaptiveKLController:
    return AdaptiveKLController(
        options.kl_coef, options.kl_target, options.kl_horizon, options.adaptive_kl
    )


def _std(x: Tensor) -> float:
    return float(x.std()) if x.numel() > 1 else 0.0


def ppo_rollout(ctx: RolloutContext, rows: list[dict]) -> Rollout:
    o = ctx.options
    prompts = [r["prompt"] for r in rows]
    gen = ctx.generate(prompts)
    scores = ctx.score(rows, gen, prompts)
    score = torch.nan_to_num(scores.total, nan=0.0)
    has_eos = torch.tensor(gen.has_eos)
    if o.missing_eos_penalty is not None:
        score = score - o.missing_eos_penalty * (~has_eos).float()
    old = ctx.forward(ctx.policy, prompts, gen.completions)
    ref = ctx.forward(ctx.reference, prompts, gen.completions).logps
    mask = old.mask.float()
    kl = kl_estimate(old.logps, ref, o.kl_estimator) * mask
    controller: AdaptiveKLController = ctx.state.setdefault("kl_ctl", kl_controller(o))
    coef = controller.value
    non_score = -coef * kl
    rewards = non_score.clone()
    last = (old.mask.sum(-1) - 1).clamp(min=0)
    rows_index = torch.arange(len(prompts), device=rewards.device)
    rewards[rows_index, last] += score.to(rewards.device)
    if o.whiten_rewards:
        rewards = masked_whiten(rewards, mask, shift_mean=False)
    values = old.values * mask
    advantages, returns = gae(rewards, values, mask, o.gamma, o.lam)
    advantages = masked_whiten(advantages, mask)

    seq_kl = kl.sum(-1)
    mean_kl = float(ctx.gather(seq_kl).mean())
    if ctx.training:
        controller.update(mean_kl, len(prompts) * ctx.num_processes)
    q_len = torch.tensor([len(p) for p in prompts], dtype=torch.float32)
    r_len = torch.tensor([len(c) for c in gen.completions], dtype=torch.float32)
    metrics = {
        "env/reward_mean": float(score.mean()),
        "env/reward_std": _std(score),
        "ppo/mean_scores": float(score.mean()),
        "ppo/std_scores": _std(score),
        "objective/kl": mean_kl,
        "objective/kl_coef": coef,
        "objective/entropy": float(-(old.logps * mask).sum(-1).mean()),
        "ppo/mean_non_score_reward": float(non_score.sum(-1).mean()),
        "ppo/learning_rate": ctx.learning_rate(),
        "ppo/policy/advantages_mean": float(masked_mean(advantages, mask)),
        "ppo/returns/mean": float(masked_mean(returns, mask)),
        "ppo/returns/var": float(masked_var(returns, mask)),
        "ppo/val/mean": float(masked_mean(values, mask)),
        "ppo/val/var": float(masked_var(values, mask)),
        "tokens/queries_len_mean": float(q_len.mean()),
        "tokens/queries_len_std": _std(q_len),
        "tokens/responses_len_mean": float(r_len.mean()),
        "tokens/responses_len_std": _std(r_len),
        "val/contain_eos_token": float(has_eos.float().mean()),
    }
    fields = {
        "old_logps": old.logps,
        "values": values,
        "advantages": advantages,
        "returns": returns,
    }
    histograms = {
        "env/reward_dist": score,
        "objective/kl_dist": seq_kl,
        "ppo/policy/advantages": advantages[mask.bool()],
        "tokens/queries_dist": q_len,
        "tokens/responses_dist": r_len,
    }
    return Rollout(
        Experience(prompts, gen.completions, 1, fields),
        metrics,
        histograms,
        samples=sample_records(ctx, rows, gen, scores, score=score, kl=seq_kl.cpu()),
        # the negative-KL check reads the k1 estimate (k3 is never negative)
        seq_kl=((old.logps - ref) * mask).sum(-1),
    )


def ppo_step(ctx: StepContext, batch: RolloutBatch) -> tuple[Tensor, Metrics]:
    """Clipped policy loss + vf_coef * clipped value loss on one micro-batch."""
    o = ctx.options
    out: CompletionLogps = ctx.policy(batch.seqs)
    mask = out.mask
    pg = ppo_policy_loss(out.logps, batch.old_logps, batch.advantages, mask, o.cliprange)
    vf_loss, vf_clipfrac = ppo_value_loss(
        out.values, batch.values, batch.returns, mask, o.cliprange_value
    )
    loss = pg.loss + o.vf_coef * vf_loss
    vpred = out.values.detach()
    return loss, {
        "ppo/loss/policy": pg.loss.detach(),
        "ppo/loss/value": vf_loss.detach(),
        "ppo/loss/total": loss.detach(),
        "ppo/policy/entropy": masked_mean(out.stats["entropy"], mask).detach(),
        "ppo/policy/clipfrac": pg.clipfrac.detach(),
        "ppo/policy/approxkl": pg.approxkl.detach(),
        "ppo/policy/policykl": pg.policykl.detach(),
        "ppo/val/clipfrac": vf_clipfrac.detach(),
        "ppo/val/error": masked_mean((vpred - batch.returns) ** 2, mask).detach(),
        "ppo/val/vpred": masked_mean(vpred, mask).detach(),
    }
