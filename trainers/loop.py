"""The training loop shared by every algorithm (the algorithm supplies batch -> loss, metrics).

    for each optimizer step:
        for each of the gradient-accumulation micro-batches:
            loss, metrics = algorithm.step(ctx, batch); backward
        clip gradients; AdamW step; scheduler step
        every logging_steps: metrics.jsonl; every eval_steps: evaluate; every save_steps: save

Accelerate places the model, runs mixed precision and synchronises gradients across
processes (`accelerate launch -m trlprep train ...`). What is not the loop lives beside it:
the data (`data.py`), the model and reference (`models.py`, `reference.py`), batches
(`sampling.py`, `collate.py`), the optimizer (`optim.py`), metrics and the progress bar
(`metrics.py`), evaluation (`evaluate.py`) and checkpoints (`checkpoint.py`).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from trlprep.trainers import checkpoint as ckpt
from trlprep.trainers import reference as ref
from trlprep.trainers.algorithms import Algorithm, get_algorithm
from trlprep.trainers.collate import Collator
from trlprep.trainers.config import TrainConfig
from trlprep.trainers.data import Prepared, prepare
from trlprep.trainers.evaluate import evaluate, num_items
from trlprep.trainers.logps import LogpsModel, chunk_tokens
from trlprep.trainers.losses import RunningMean
from trlprep.trainers.metrics import MetricsLog, mean_metrics, progress_bar
from trlprep.trainers.models import (
    AdapterOff,
    build_model,
    frozen_copy,
    is_peft,
    load_model,
    load_tokenizer,
    packs_sequences,
)
from trlprep.trainers.optim import lr_lambda, make_optimizer
from trlprep.trainers.rollout import RolloutContext, Rollouts
from trlprep.trainers.sampling import BatchStream
from trlprep.trainers.steps import StepContext

from trlprep.errors import TrlprepError, UsageError

CONFIG_FILE = "train_config.json"  # the resolved configuration of the run


class TrainingError(TrlprepError):
    """Training went wrong (NaN loss, ...); exit code 1."""

    exit_code = 1


@dataclass
class TrainResult:
    output_dir: Path
    global_step: int
    last_metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Holds the state of one run; `train()` is the loop."""

    def __init__(self, config: TrainConfig | dict[str, Any] | str, log: Callable = print) -> None:
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        cfg = self.cfg = TrainConfig.from_any(config)
        algo: Algorithm = get_algorithm(cfg.algo)
        self.algo, self.options = algo, algo.make_options(cfg.options)
        if cfg.algo == "kto" and self.options.loss_type == "kto" and cfg.batch_size < 2:
            raise UsageError(
                "KTO's KL estimate pairs each prompt with another row's completion",
                hint="use --batch-size 2 or more (or --loss-type apo_zero_unpaired)",
            )
        self.out = Path(cfg.output_dir)
        self.resume_from = ckpt.resolve_resume(cfg.resume, self.out)
        bf16 = cfg.bf16
        if bf16 is None:
            bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        self.bf16 = bf16
        self.acc = acc = Accelerator(
            mixed_precision="bf16" if bf16 else "no",
            log_with=list(cfg.report_to) or None,
            project_dir=str(self.out),
        )
        self.log = log if acc.is_main_process else (lambda *_: None)
        set_seed(cfg.seed)

        self.tokenizer = load_tokenizer(cfg.model)
        # no data: the batches are given to `optimizer_step` (the iterative SFT API)
        self.train_data = None if cfg.data is None else self._prepare(cfg.data, training=True)
        self.eval_data = None
        if cfg.eval_data is not None:
            self.eval_data = self._prepare(cfg.eval_data, training=False)

        model = build_model(cfg, algo.head, self.tokenizer, self.resume_from)
        padding_free = packs_sequences(model) if cfg.padding_free is None else cfg.padding_free
        if padding_free and algo.head != "causal-lm":
            raise UsageError(f"padding-free batches are for causal LMs, not {algo.name}")
        kl = getattr(self.options, "loss_type", None) == "kto"
        self.collate = Collator(
            algo.layout, self.tokenizer.pad_token_id, padding_free=padding_free, kl=kl
        )
        self.token_normalised = algo.token_normalised(self.options)
        if algo.online is not None and cfg.precompute_ref:
            raise UsageError(
                f"{algo.name} generates its completions: --precompute-ref cannot apply"
            )
        causal = algo.head == "causal-lm"  # log-probs through the LM head, chunk tokens at a time
        vocab = model.get_output_embeddings().weight.shape[0] if causal else 0
        chunk = self.chunk = chunk_tokens(vocab, cfg.logits_chunk_mib * 2**20) if causal else None
        # online algorithms score their samples at the sampling temperature
        self.temperature = getattr(self.options, "temperature", 1.0)
        policy = model
        if causal:
            wrapper = algo.policy or LogpsModel
            policy = wrapper(model, algo.stats(self.options), chunk, self.temperature)
            if self.resume_from is not None and hasattr(policy, "load_extra"):
                policy.load_extra(self.resume_from)  # e.g. PPO's value head
        policy.train()
        reference = self._reference(model, chunk) if algo.needs_reference(self.options) else None

        self.rollouts: Rollouts | None = None
        self.teacher: nn.Module | None = None
        rows_per_batch = cfg.batch_size
        if algo.online is not None:
            rows_per_batch = self._online_setup(policy, reference)
        self.stream: BatchStream | None = None
        self.total_steps = cfg.max_steps if cfg.max_steps > 0 else 0
        if self.train_data is not None:
            self.stream = BatchStream(
                self.train_data.rows,
                rows_per_batch,
                seed=cfg.seed,
                rank=acc.process_index,
                world=acc.num_processes,
                group_by_length=cfg.group_by_length,
            )
            if self.rollouts is not None:  # each rollout serves a fixed number of steps
                per_epoch = self.stream.per_epoch * self.rollouts.steps_per_rollout
            else:
                per_epoch = math.ceil(self.stream.per_epoch / cfg.gradient_accumulation_steps)
            if cfg.max_steps <= 0:
                self.total_steps = max(1, math.ceil(per_epoch * cfg.num_epochs))
        self.lr = cfg.learning_rate if cfg.learning_rate is not None else algo.learning_rate
        optimizer = make_optimizer(policy, cfg, self.lr)
        warmup = cfg.warmup_steps or math.ceil(cfg.warmup_ratio * self.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lr_lambda(cfg.lr_scheduler_type, warmup, self.total_steps)
        )
        self.policy, self.optimizer = acc.prepare(policy, optimizer)
        self.ctx = StepContext(
            self.policy, reference, self.options, gather=self._gather, teacher=self.teacher
        )
        if self.rollouts is not None:
            self.rollouts.ctx.policy = acc.unwrap_model(self.policy)
            self.rollouts.ctx.state = self.ctx.state
            self.ctx.state.update(algo.online.state(self.options))

        self.step, self.position, self.num_tokens = 0, (0, 0), 0
        self.last_saved: Path | None = None
        self._window: dict[str, list[float]] = defaultdict(list)
        self._last: dict[str, float] = {}
        self._started: float | None = None
        self._bar: Callable[..., None] = lambda *_: None
        if self.resume_from is not None:
            self._resume(self.resume_from)
        self.metrics = MetricsLog(acc, self.out, cfg.report_to, cfg.to_json())

    # ------------------------------------------------------------ set-up

    def _prepare(self, data: Any, training: bool) -> Prepared:
        a, cfg = self.algo, self.cfg
        return prepare(
            data,
            a.layout,
            a.accepts,
            self.tokenizer,
            max_length=cfg.max_length,
            truncation=cfg.truncation_mode,
            chat_template=cfg.chat_template,
            algo=a.name,
            options=self.options,
            training=training,
            log=self.log,
        )

    def _online_setup(self, policy: nn.Module, reference: nn.Module | None) -> int:
        """Rewards, teacher and the rollout source of an online algorithm; returns the prompts
        each rollout draws."""
        from trlprep.trainers.generation import kl_warning
        from trlprep.trainers.rewards import RewardModel, Rewards

        cfg, o, spec = self.cfg, self.options, self.algo.online
        dtype = torch.bfloat16 if self.bf16 else torch.float32
        warning = kl_warning(o.sampling())
        if warning:
            self.log(warning)
        rewards = None
        if spec.needs_rewards:
            models = [
                RewardModel(p, self.tokenizer, self.acc.device, dtype, cfg.batch_size)
                for p in o.reward_model
            ]
            rewards = Rewards(o.reward_fn, models, o.reward_weights)
        if hasattr(o, "teacher_model"):  # distillation
            if not o.teacher_model:
                raise UsageError(
                    f"{self.algo.name} needs a teacher", hint="add --teacher-model PATH"
                )
            teacher = load_model(o.teacher_model, "causal-lm", self.tokenizer, dtype)
            ours = policy.model.get_output_embeddings().weight.shape[0]
            theirs = teacher.get_output_embeddings().weight.shape[0]
            if ours != theirs:
                raise UsageError(
                    f"the teacher's vocabulary ({theirs}) differs from the student's ({ours})",
                    hint="distillation compares next-token distributions: use a teacher "
                    "with the student's tokenizer",
                )
            self.teacher = LogpsModel(frozen_copy(teacher), (), self.chunk, self.temperature)
            self.teacher.to(self.acc.device)
        every = o.log_completions_steps
        ctx = RolloutContext(
            policy=policy,
            reference=reference,
            rewards=rewards,
            tokenizer=self.tokenizer,
            options=o,
            collator=self.collate,
            device=self.acc.device,
            autocast=self.acc.autocast,
            gather=self._gather,
            state={},
            micro_size=cfg.batch_size,
            learning_rate=lambda: self.scheduler.get_last_lr()[0],
            teacher=self.teacher,
            num_processes=self.acc.num_processes,
        )
        self.rollouts = Rollouts(
            spec,
            ctx,
            batch_size=cfg.batch_size,
            accum=cfg.gradient_accumulation_steps,
            output_dir=self.out,
            completions_every=cfg.logging_steps if every is None else every,
            is_main=self.acc.is_main_process,
            log=self.log,
        )
        return self.rollouts.prompts_per_rollout

    def _reference(self, model: nn.Module, chunk: int | None) -> nn.Module | None:
        """A frozen copy of the model; with LoRA the adapters-off model; with
        `precompute_ref` none (its log-probs become columns of the data)."""
        cfg = self.cfg
        dtype = torch.bfloat16 if self.bf16 else torch.float32

        def make_reference() -> LogpsModel:
            m = load_model(cfg.model, self.algo.head, self.tokenizer, dtype)
            return LogpsModel(frozen_copy(m), (), chunk, self.temperature).to(self.acc.device)

        if cfg.precompute_ref:
            for data in (self.train_data, self.eval_data):
                if data is not None:
                    ref.precompute(
                        data.rows,
                        self.algo.layout,
                        cfg.model,
                        make_reference,
                        self.collate,
                        batch_size=cfg.eval_batch_size or cfg.batch_size,
                        ld_alpha=getattr(self.options, "ld_alpha", None),
                        dtype=str(dtype),
                        acc=self.acc,
                        log=self.log,
                    )
            return None
        if cfg.lora_r is not None:  # the base model, adapters off: no second copy
            return AdapterOff(LogpsModel(model, (), chunk, self.temperature), model)
        return make_reference()

    def _resume(self, folder: Path) -> None:
        state = ckpt.restore(folder, self.optimizer, self.scheduler, self.algo.name)
        self.step = state["global_step"]
        self.position = (state["epoch"], state["batch_index"])
        self.num_tokens = state["num_tokens"]
        for name, saved in state.get("algo_state", {}).items():
            self.ctx.state.setdefault(name, RunningMean()).load_state_dict(saved)
        self.log(f"resumed from {folder} at step {self.step}")

    # ------------------------------------------------------------ helpers

    def _gather(self, x: Tensor) -> Tensor:
        return self.acc.gather(x) if self.acc.num_processes > 1 else x

    def _unwrapped(self) -> nn.Module:
        m = self.acc.unwrap_model(self.policy)
        return m.model if isinstance(m, LogpsModel) else m

    def save(self) -> Path:
        """A checkpoint of the current step (model, tokenizer, optimizer, scheduler, RNG,
        position in the data, algorithm state)."""
        folder = self.out / f"checkpoint-{self.step}"
        self.acc.wait_for_everyone()
        if self.acc.is_main_process:
            epoch, index = self.position
            state = {
                "global_step": self.step,
                "epoch": epoch,
                "batch_index": index,
                "num_tokens": self.num_tokens,
                "algo_state": {k: v.state_dict() for k, v in self.ctx.state.items()},
                "algo": self.algo.name,
            }
            model = self._unwrapped()
            ckpt.save_checkpoint(
                folder,
                model,
                self.tokenizer,
                self.optimizer,
                self.scheduler,
                state,
                extra=getattr(self.acc.unwrap_model(self.policy), "save_extra", None),
            )
            ckpt.rotate(self.out, self.cfg.save_total_limit)
        self.last_saved = folder
        return folder

    def evaluate(self) -> dict[str, float]:
        """The algorithm's metrics over `eval_data`, prefixed `eval_`."""
        assert self.eval_data is not None
        rows = self.cfg.eval_batch_size or self.cfg.batch_size
        if self.rollouts is not None:
            make_batches = self.rollouts.eval_batches
            rows = max(1, rows // self.algo.online.units_per_prompt(self.options))
        else:
            make_batches = lambda r: ([self.collate(r).to(self.acc.device)], {})  # noqa: E731
        values = evaluate(
            self.algo,
            self.ctx,
            self.eval_data.rows,
            make_batches,
            batch_size=rows,
            acc=self.acc,
            token_normalised=self.token_normalised,
        )
        return {f"eval_{k}": v for k, v in self.metrics.reduce(values).items()}

    def _nan(self, value: Tensor, what: str = "loss") -> None:
        kept = self.last_saved or (ckpt.checkpoints(self.out) or [None])[-1]
        raise TrainingError(
            f"the {what} became {float(value.detach())} at step {self.step + 1}; training stopped",
            hint=(f"the last good checkpoint is {kept}" if kept else "no checkpoint was saved yet")
            + "; lower --learning-rate or check the data",
        )

    # ------------------------------------------------------------ the loop

    def train(self) -> TrainResult:
        """Train for `total_steps` optimizer steps (from the resumed step), evaluating and
        saving as configured, then save the final model."""
        cfg = self.cfg
        if self.stream is None:
            raise UsageError("no training data", hint="give data, or call optimizer_step()")
        self._begin()
        eval_every = cfg.eval_steps if self.eval_data is not None else None
        stream = self.stream.iterate(*self.position)
        while self.step < self.total_steps:
            self.optimizer_step(*self._micro_batches(stream))
            if eval_every and self.step % eval_every == 0:
                self.metrics.write({"step": self.step, **self.evaluate()})
            if self.step % cfg.save_steps == 0:
                self.save()
        self._bar(None)
        if self.last_saved is None or self.last_saved.name != f"checkpoint-{self.step}":
            self.save()
        if self.eval_data is not None and not (eval_every and self.step % eval_every == 0):
            self.metrics.write({"step": self.step, **self.evaluate()})
        self.save_final()
        return TrainResult(self.out, self.step, self._last, self.metrics.history)

    def _begin(self) -> None:
        """Once per run: the output folder, the resolved configuration, the progress bar."""
        if self._started is not None:
            return
        self._started = time.perf_counter()
        self.out.mkdir(parents=True, exist_ok=True)
        if self.acc.is_main_process:
            snapshot = {
                **self.cfg.to_json(),
                "learning_rate": self.lr,
                "options": vars(self.options),
            }
            (self.out / CONFIG_FILE).write_text(json.dumps(snapshot, indent=2, default=_jsonable))
        enabled = self.cfg.progress and self.acc.is_main_process
        self._bar = progress_bar(self.total_steps, self.step, enabled)

    def optimizer_step(self, micro: list[Any], made: dict[str, float] | None = None) -> float:
        """One optimizer step over `micro`, its gradient-accumulation micro-batches (`made`:
        metrics of generating them); metrics are logged every `logging_steps`. Returns the
        step's loss."""
        cfg, acc, algo, window = self.cfg, self.acc, self.algo, self._window
        self._begin()
        for k, v in (made or {}).items():  # metrics of generating the batches (online)
            window[k].append(v)
        if self.token_normalised:  # the loss divides by the tokens of every micro-batch
            total = torch.tensor([float(num_items(micro))], device=acc.device)
            self.ctx.num_items = float(self._gather(total).sum()) / acc.num_processes

        step_loss = 0.0
        for i, batch in enumerate(micro):
            sync = i == len(micro) - 1  # gradients are all-reduced on the last one only
            no_sync = contextlib.nullcontext() if sync else acc.no_sync(self.policy)
            with no_sync, acc.autocast():
                loss, metrics = algo.step(self.ctx, batch)
                if not torch.isfinite(loss):
                    self._nan(loss)
                acc.backward(loss if self.token_normalised else loss / len(micro))
            step_loss += float(loss.detach()) / (1 if self.token_normalised else len(micro))
            for k, v in metrics.items():
                window[k].append(v)
            tokens = torch.tensor([batch_tokens(batch)], device=acc.device)
            self.num_tokens += int(self._gather(tokens).sum())

        grad_norm = acc.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
        if grad_norm is not None and not torch.isfinite(grad_norm):
            self._nan(grad_norm, what="gradient norm")
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        window["loss"].append(step_loss)
        if grad_norm is not None:
            window["grad_norm"].append(float(grad_norm))
        self._bar(step_loss, {k: window[k][-1] for k in algo.metrics[:2] if window.get(k)})
        if self.step % cfg.logging_steps == 0 or self.step == self.total_steps:
            self._log_window()
        return step_loss

    def _log_window(self) -> None:
        self._last = self.metrics.reduce(mean_metrics(self._window))
        self._window.clear()
        record: dict[str, Any] = {"step": self.step}
        if self.stream is not None:
            epoch, index = self.position
            record["epoch"] = round(epoch + index / self.stream.per_epoch, 4)
        elapsed = time.perf_counter() - (self._started or time.perf_counter())
        self.metrics.write(
            {
                **record,
                **self._last,
                "learning_rate": self.scheduler.get_last_lr()[0],
                "num_tokens": self.num_tokens,
                "train_steps_per_second": round(self.step / max(elapsed, 1e-9), 4),
            }
        )
        if self.rollouts is not None:
            self.metrics.histograms(self.rollouts.pop_histograms(), self.step)

    def save_final(self) -> None:
        """The final model and tokenizer in the output folder (merged with LoRA, adapters in
        `adapter/`; PPO's value head beside it)."""
        acc = self.acc
        acc.wait_for_everyone()
        if acc.is_main_process:
            final = self._unwrapped()
            if is_peft(final):  # keep the adapters, and save the merged model
                final.save_pretrained(self.out / "adapter")
                final = final.merge_and_unload()
            final.save_pretrained(self.out)
            self.tokenizer.save_pretrained(self.out)
            extra = getattr(acc.unwrap_model(self.policy), "save_extra", None)
            if extra is not None:
                extra(self.out)
        self.metrics.close()

    def _micro_batches(self, stream: Any) -> tuple[list[Any], dict[str, float]]:
        """The micro-batches of the next optimizer step (from the data, or generated by an
        online algorithm's rollouts, with the metrics of making them)."""
        if self.rollouts is not None:
            micro, made, position = self.rollouts.next_step(stream, self.step + 1)
            if position is not None:
                self.position = position
            return micro, made
        micro = []
        for _ in range(self.cfg.gradient_accumulation_steps):
            epoch, index, rows = next(stream)
            micro.append(self.collate(rows).to(self.acc.device))
            self.position = (epoch, index + 1)
        return micro, {}


def _jsonable(x: Any) -> Any:
    """Options JSON cannot hold: sets as lists, callables (reward functions) by name."""
    if isinstance(x, (set, frozenset)):
        return sorted(x)
    return getattr(x, "__name__", None) or str(x)


def batch_tokens(batch: Any) -> int:
    """Real (non-pad) tokens in a batch, for `num_tokens`."""
    return batch.seqs.num_tokens if hasattr(batch, "seqs") else batch.num_tokens


def train(config: TrainConfig | dict[str, Any] | str, log: Callable = print) -> TrainResult:
    """Train as `config` says (a TrainConfig, a dict or a YAML path); see `TrainConfig`."""
    return Trainer(config, log=log).train()
