"""The online algorithms' source of batches for the training loop: draw prompts, run the
algorithm's rollout, and serve the experience as optimizer steps (GRPO's `num_iterations`
passes, PPO's epochs over mini-batches); check the KL to the reference for the negative
values the Training FAQ warns about; write sample generations to `completions.jsonl`.
`make_rollouts` sets it all up for a `Trainer`: rewards, teacher, context.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from trlprep.trainers.logps import LogpsModel
from trlprep.trainers.models import frozen_copy, load_model
from trlprep.trainers.online.generation import kl_warning
from trlprep.trainers.online.rewards import RewardModel, Rewards
from trlprep.trainers.online.rollout import (
    Experience,
    Metrics,
    OnlineSpec,
    Rollout,
    RolloutBatch,
    RolloutContext,
)

from trlprep.errors import UsageError

COMPLETIONS_FILE = "completions.jsonl"
NEGATIVE_KL_TOLERANCE = 1e-2  # nats per sequence, the least a batch's KL counts as negative by
KL_CHECK_SEQUENCES = 16  # the fewest sequences the negative-KL check judges at once


def plan(
    num_units: int, micro_units: int, passes: int, mini_batches: int, shuffle: bool = True
) -> list[list[list[int]]]:
    """Optimizer steps over an experience of `num_units` units: `passes` passes, each in
    `mini_batches` steps of micro-batches of `micro_units` units (reshuffled each pass)."""
    steps = []
    per_mini = num_units // mini_batches
    for _ in range(passes):
        order = torch.randperm(num_units).tolist() if shuffle else list(range(num_units))
        for m in range(mini_batches):
            mini = order[m * per_mini : (m + 1) * per_mini]
            steps.append([mini[i : i + micro_units] for i in range(0, len(mini), micro_units)])
    return steps


class Rollouts:
    """The online algorithms' source of micro-batches for the training loop."""

    def __init__(
        self,
        spec: OnlineSpec,
        ctx: RolloutContext,
        *,
        batch_size: int,
        accum: int,
        output_dir: Path,
        completions_every: int,
        is_main: bool = True,
        log: Callable[[str], None] = print,
    ) -> None:
        o = ctx.options
        self.spec, self.ctx, self.log, self.is_main = spec, ctx, log, is_main
        self.passes, self.mini_batches = spec.passes(o), spec.mini_batches(o)
        per_prompt = spec.units_per_prompt(o)
        self.micro_units = batch_size
        units = batch_size * accum * self.mini_batches
        if units % per_prompt:
            raise UsageError(
                f"batch_size x gradient_accumulation_steps ({units}) must be a multiple of "
                f"num_generations ({per_prompt}): each prompt's completions form one group",
                hint=f"use --batch-size {per_prompt} (or a multiple)",
            )
        self.prompts_per_rollout = units // per_prompt
        self.path = Path(output_dir) / COMPLETIONS_FILE
        self.every = completions_every
        self.last_written: int | None = None
        self.queue: list[list[list[int]]] = []
        self.experience: Experience | None = None
        self.histograms: dict[str, list[Tensor]] = {}
        self.negative_kl = 0
        self._kl_pool: list[Tensor] = []

    @property
    def steps_per_rollout(self) -> int:
        return self.passes * self.mini_batches

    def _rollout(self, rows: list[dict]) -> Rollout:
        self.ctx.policy.eval()
        try:
            return self.spec.rollout(self.ctx, rows)
        finally:
            self.ctx.policy.train(self.ctx.training)

    def next_step(
        self, stream: Iterator[tuple[int, int, list[dict]]], step: int
    ) -> tuple[list[RolloutBatch], Metrics, tuple[int, int] | None]:
        """The micro-batches of optimizer step `step`, the metrics of the rollout that made
        them (on the first step it serves) and the data position after the rows drawn."""
        metrics: Metrics = {}
        position = None
        if not self.queue:
            epoch, index, rows = next(stream)
            position = (epoch, index + 1)
            rollout = self._rollout(rows)
            metrics = dict(rollout.metrics)
            metrics |= self._check_kl(rollout.seq_kl, step)
            for k, v in rollout.histograms.items():
                self.histograms.setdefault(k, []).append(v.detach().float().cpu())
            self._write_samples(rollout.samples, step)
            self.experience = rollout.experience
            self.queue = plan(
                self.experience.num_units, self.micro_units, self.passes, self.mini_batches
            )
        assert self.experience is not None
        units = self.queue.pop(0)
        batches = [self.experience.batch(u, self.ctx.collator).to(self.ctx.device) for u in units]
        return batches, metrics, position

    def eval_batches(self, rows: list[dict]) -> tuple[list[RolloutBatch], Metrics]:
        """Micro-batches of a fresh rollout on evaluation rows (nothing updated)."""
        self.ctx.training = False
        try:
            rollout = self._rollout(rows)
        finally:
            self.ctx.training = True
        exp = rollout.experience
        units = plan(exp.num_units, self.micro_units, 1, 1, shuffle=False)[0]
        batches = [exp.batch(u, self.ctx.collator).to(self.ctx.device) for u in units]
        return batches, rollout.metrics

    def pop_histograms(self) -> dict[str, Tensor]:
        out = {k: torch.cat([x.flatten() for x in v]) for k, v in self.histograms.items()}
        self.histograms.clear()
        return out

    def _check_kl(self, seq_kl: Tensor | None, step: int) -> Metrics:
        """The FAQ's warning sign: a KL estimate to the reference that is negative beyond its
        sampling noise (three standard errors), judged over at least `KL_CHECK_SEQUENCES`
        sequences (rollouts are pooled until there are that many)."""
        if seq_kl is None or not self.ctx.training:
            return {}
        self._kl_pool.append(self.ctx.gather(seq_kl.detach().float()).cpu())
        kl = torch.cat(self._kl_pool)
        if kl.numel() < KL_CHECK_SEQUENCES:
            return {}
        self._kl_pool.clear()
        mean = float(kl.mean())
        noise = 3 * float(kl.std()) / math.sqrt(kl.numel())
        negative = mean < -max(NEGATIVE_KL_TOLERANCE, noise)
        if negative:
            self.negative_kl += 1
            if self.negative_kl <= 5:
                self.log(
                    f"warning: negative KL to the reference at step {step} (mean {mean:.4g} "
                    f"per sequence over {kl.numel()} sequences): the policy may be exploiting "
                    "the generation settings (Training FAQ); use top_k=0, top_p=1.0, "
                    "min_length=-1"
                    + ("; further occurrences are only counted" if self.negative_kl == 5 else "")
                )
        return {"objective/negative_kl": float(negative)}

    def _write_samples(self, samples: list[dict[str, Any]], step: int) -> None:
        due = self.every > 0 and (
            self.last_written is None or step - self.last_written >= self.every
        )
        if not due:
            return
        self.last_written = step
        samples = _every_process(samples)  # a collective: every process is here at this step
        if not samples or not self.is_main:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            for rec in samples:
                f.write(json.dumps({"step": step, **rec}) + "\n")


def _every_process(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The samples of every process in rank order (this process's alone when it is the only
    one): the whole global batch's completions, as one process would write them."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return samples
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, samples)
    return [rec for part in parts for rec in part]


def make_rollouts(
    spec: OnlineSpec,
    options: Any,
    cfg: Any,
    *,
    policy: nn.Module,
    reference: nn.Module | None,
    tokenizer: Any,
    collator: Any,
    acc: Any,
    dtype: torch.dtype,
    chunk: int | None,
    learning_rate: Callable[[], float],
    log: Callable[[str], None],
) -> tuple[Rollouts, nn.Module | None]:
    """The rollout source of an online algorithm (and GKD's teacher): warns about sampling
    settings that can drive the KL negative, loads the reward models and the teacher."""
    warning = kl_warning(options.sampling())
    if warning:
        log(warning)
    rewards = None
    if spec.needs_rewards:
        models = [
            RewardModel(p, tokenizer, acc.device, dtype, cfg.batch_size)
            for p in options.reward_model
        ]
        rewards = Rewards(options.reward_fn, models, options.reward_weights)
    teacher = None
    if hasattr(options, "teacher_model"):  # distillation
        teacher = _teacher(options, policy, tokenizer, dtype, chunk).to(acc.device)
    every = options.log_completions_steps
    ctx = RolloutContext(
        policy=policy,
        reference=reference,
        rewards=rewards,
        tokenizer=tokenizer,
        options=options,
        collator=collator,
        device=acc.device,
        autocast=acc.autocast,
        gather=(lambda x: acc.gather(x)) if acc.num_processes > 1 else (lambda x: x),
        state={},
        micro_size=cfg.batch_size,
        learning_rate=learning_rate,
        teacher=teacher,
        num_processes=acc.num_processes,
    )
    source = Rollouts(
        spec,
        ctx,
        batch_size=cfg.batch_size,
        accum=cfg.gradient_accumulation_steps,
        output_dir=Path(cfg.output_dir),
        completions_every=cfg.logging_steps if every is None else every,
        is_main=acc.is_main_process,
        log=log,
    )
    return source, teacher


def _teacher(options: Any, policy: nn.Module, tokenizer: Any, dtype, chunk) -> LogpsModel:
    if not options.teacher_model:
        raise UsageError("distillation needs a teacher", hint="add --teacher-model PATH")
    teacher = load_model(options.teacher_model, "causal-lm", tokenizer, dtype)
    ours = policy.model.get_output_embeddings().weight.shape[0]
    theirs = teacher.get_output_embeddings().weight.shape[0]
    if ours != theirs:
        raise UsageError(
            f"the teacher's vocabulary ({theirs}) differs from the student's ({ours})",
            hint="distillation compares next-token distributions: use a teacher with the "
            "student's tokenizer",
        )
    return LogpsModel(frozen_copy(teacher), (), chunk, options.temperature)
