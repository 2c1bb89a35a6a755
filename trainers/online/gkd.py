"""GKD: distil a teacher into the student with the generalized JSD on completion tokens.

Each batch's completions are the dataset's, the teacher's own samples (`seq_kd`), or, with
probability `lmbda`, the student's own samples (on-policy distillation). The loss is the
per-token generalized JSD between the two models' next-token distributions (at temperature 1;
`temperature` only samples), summed over the completion tokens of the accumulated batch and
divided by their number. Logits are computed only at completion positions, a chunk of tokens
at a time (recomputed in backward), as the log-probs of the offline algorithms are.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint
from trlprep.trainers.batch import SequenceBatch
from trlprep.trainers.logps import LogpsModel, _has_logit_transform, backbone
from trlprep.trainers.losses import generalized_jsd
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


def gkd_rollout(ctx: RolloutContext, rows: list[dict]) -> Rollout:
    """The batch's sequences: dataset completions, or generated ones (teacher / student)."""
    o = ctx.options
    starts = [m.index(1) if 1 in m else len(m) for m in (r["mask"] for r in rows)]
    prompts = [r["ids"][:s] for r, s in zip(rows, starts, strict=True)]
    completions = [r["ids"][s:] for r, s in zip(rows, starts, strict=True)]
    source = None  # evaluation keeps the dataset's completions, as TRL's
    if ctx.training and o.seq_kd:
        source = "teacher"
    if ctx.training and random.random() <= o.lmbda:
        source = "policy"
    metrics = {"on_policy": float(source == "policy")}
    samples = []
    if source is not None:
        gen = ctx.generate(prompts, source=source)
        completions = gen.completions
        metrics |= length_metrics(gen)
        text_rows = [
            {"prompt_text": t}
            for t in ctx.tokenizer.batch_decode(prompts, skip_special_tokens=True)
        ]
        samples = sample_records(ctx, text_rows, gen)
    return Rollout(Experience(prompts, completions, 1), metrics, samples=samples)


def _targets(model: nn.Module, seqs: SequenceBatch) -> tuple[Tensor, nn.Module | None]:
    """Hidden states at the completion positions and the LM head, or (for models that
    transform their logits after the head) the logits there and None."""
    kwargs = dict(
        input_ids=seqs.input_ids,
        attention_mask=seqs.attention_mask,
        position_ids=seqs.position_ids,
        use_cache=False,
    )
    head = model.get_output_embeddings()
    if _has_logit_transform(model) or not isinstance(head, nn.Linear):
        logits = model(**kwargs).logits
        return logits.reshape(-1, logits.shape[-1])[seqs.target_pos], None
    hidden = backbone(model)(**kwargs).last_hidden_state
    return hidden.reshape(-1, hidden.shape[-1])[seqs.target_pos], head


def _jsd_sum(s: Tensor, t: Tensor, s_head, t_head, beta: float, temperature: float) -> Tensor:
    s_logits = s if s_head is None else F.linear(s, s_head.weight, s_head.bias)
    with torch.no_grad():
        t_logits = t if t_head is None else F.linear(t, t_head.weight, t_head.bias)
    return generalized_jsd(s_logits, t_logits, beta, temperature).sum()


class DistillationModel(LogpsModel):
    """The student: given a teacher, its forward returns the generalized JSD summed over the
    batch's completion tokens (inside forward, so Accelerate's DDP wrapper sees it); without
    one, the completion log-probs."""

    def forward(  # type: ignore[override]
        self,
        batch: SequenceBatch,
        teacher: nn.Module | None = None,
        beta: float = 0.5,
        temperature: float = 1.0,
    ):
        if teacher is None:
            return super().forward(batch)
        s, s_head = _targets(self.model, batch)
        with torch.no_grad():
            t, t_head = _targets(teacher, batch)
        chunk = self.chunk or 1024
        total = s.new_zeros((), dtype=torch.float32)
        for i in range(0, s.shape[0], chunk):
            args = (s[i : i + chunk], t[i : i + chunk], s_head, t_head, beta, temperature)
            if torch.is_grad_enabled():  # the chunk's logits are recomputed in backward
                total = total + checkpoint(_jsd_sum, *args, use_reentrant=False)
            else:
                total = total + _jsd_sum(*args)
        return total


def gkd_step(ctx: StepContext, batch: RolloutBatch) -> tuple[Tensor, Metrics]:
    """Generalized JSD(teacher, student) summed over completion tokens / `num_items`.

    The divergence is between the models' own next-token distributions (temperature 1, as
    the paper and TRL's GKDTrainer); `temperature` is the sampling temperature only."""
    o = ctx.options
    total = ctx.policy(batch.seqs, ctx.teacher.model, o.beta)
    tokens = int(batch.seqs.target_pos.numel())
    count = ctx.num_items if ctx.num_items is not None else tokens
    loss = total / max(float(count), 1.0)
    return loss, {"jsd": total.detach() / max(tokens, 1)}  # read when logged: no sync here
