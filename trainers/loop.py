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
        self.train_data = self._prepare(cfg.data, training=True)
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
        causal = algo.head == "causal-lm"  # log-probs through the LM head, chunk tokens at a time
        vocab = model.get_output_embeddings().weight.shape[0] if causal else 0
        chunk = chunk_tokens(vocab, cfg.logits_chunk_mib * 2**20) if causal else None
        policy = LogpsModel(model, algo.stats(self.options), chunk) if causal else model
        policy.train()
        reference = self._reference(model, chunk) if algo.needs_reference(self.options) else None

        self.stream = BatchStream(
            self.train_data.rows,
            cfg.batch_size,
            seed=cfg.seed,
            rank=acc.process_index,
            world=acc.num_processes,
            group_by_length=cfg.group_by_length,
        )
        per_epoch = math.ceil(self.stream.per_epoch / cfg.gradient_accumulation_steps)
        self.total_steps = (
            cfg.max_steps if cfg.max_steps > 0 else max(1, math.ceil(per_epoch * cfg.num_epochs))
        )
        self.lr = cfg.learning_rate if cfg.learning_rate is not None else algo.learning_rate
        optimizer = make_optimizer(policy, cfg, self.lr)
        warmup = cfg.warmup_steps or math.ceil(cfg.warmup_ratio * self.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lr_lambda(cfg.lr_scheduler_type, warmup, self.total_steps)
        )
        self.policy, self.optimizer = acc.prepare(policy, optimizer)
        self.ctx = StepContext(self.policy, reference, self.options, gather=self._gather)

        self.step, self.position, self.num_tokens = 0, (0, 0), 0
        self.last_saved: Path | None = None
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

    def _reference(self, model: nn.Module, chunk: int | None) -> nn.Module | None:
        """A frozen copy of the model; with LoRA the adapters-off model; with
        `precompute_ref` none (its log-probs become columns of the data)."""
        cfg = self.cfg
        dtype = torch.bfloat16 if self.bf16 else torch.float32

        def make_reference() -> LogpsModel:
            m = load_model(cfg.model, self.algo.head, self.tokenizer, dtype)
            return LogpsModel(frozen_copy(m), (), chunk).to(self.acc.device)

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
            return AdapterOff(LogpsModel(model, (), chunk), model)
        return make_reference()

    def _resume(self, folder: Path) -> None:
        state = ckpt.restore(folder, self.optimizer, self.scheduler, self.algo.name)
        self.step = state["global_step"]
        self.position = (state["epoch"], state["batch_index"])
        self.num_tokens = state["num_tokens"]
        for name, saved in state.get("algo_state", {}).items():
            self.ctx.state[name] = RunningMean()
            self.ctx.state[name].load_state_dict(saved)
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
                folder, model, self.tokenizer, self.optimizer, self.scheduler, state
            )
            ckpt.rotate(self.out, self.cfg.save_total_limit)
        self.last_saved = folder
        return folder

    def evaluate(self) -> dict[str, float]:
        """The algorithm's metrics over `eval_data`, prefixed `eval_`."""
        assert self.eval_data is not None
        values = evaluate(
            self.algo,
            self.ctx,
            self.eval_data.rows,
            self.collate,
            batch_size=self.cfg.eval_batch_size or self.cfg.batch_size,
            acc=self.acc,
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
        cfg, acc, algo = self.cfg, self.acc, self.algo
        self.out.mkdir(parents=True, exist_ok=True)
        if acc.is_main_process:
            snapshot = {**cfg.to_json(), "learning_rate": self.lr, "options": vars(self.options)}
            (self.out / CONFIG_FILE).write_text(json.dumps(snapshot, indent=2, default=list))
        accum = cfg.gradient_accumulation_steps
        eval_every = cfg.eval_steps if self.eval_data is not None else None
        stream = self.stream.iterate(*self.position)
        window: dict[str, list[float]] = defaultdict(list)
        last: dict[str, float] = {}
        t0 = time.perf_counter()
        bar = progress_bar(self.total_steps, self.step, cfg.progress and acc.is_main_process)
        while self.step < self.total_steps:
            micro = []
            for _ in range(accum):
                epoch, index, rows = next(stream)
                micro.append(self.collate(rows).to(acc.device))
                self.position = (epoch, index + 1)
            if algo.token_normalised:  # the loss divides by the tokens of every micro-batch
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
                    acc.backward(loss if algo.token_normalised else loss / accum)
                step_loss += float(loss.detach()) / (1 if algo.token_normalised else accum)
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
            bar(step_loss, {k: window[k][-1] for k in algo.metrics[:2] if window.get(k)})

            if self.step % cfg.logging_steps == 0 or self.step == self.total_steps:
                last = self.metrics.reduce(mean_metrics(window))
                window.clear()
                epoch, index = self.position
                self.metrics.write(
                    {
                        "step": self.step,
                        "epoch": round(epoch + index / self.stream.per_epoch, 4),
                        **last,
                        "learning_rate": self.scheduler.get_last_lr()[0],
                        "num_tokens": self.num_tokens,
                        "train_steps_per_second": round(self.step / (time.perf_counter() - t0), 4),
                    }
                )
            if eval_every and self.step % eval_every == 0:
                self.metrics.write({"step": self.step, **self.evaluate()})
            if self.step % cfg.save_steps == 0:
                self.save()

        bar(None)
        if self.last_saved is None or self.last_saved.name != f"checkpoint-{self.step}":
            self.save()
        if self.eval_data is not None and not (eval_every and self.step % eval_every == 0):
            self.metrics.write({"step": self.step, **self.evaluate()})
        acc.wait_for_everyone()
        if acc.is_main_process:
            final = self._unwrapped()
            if is_peft(final):  # keep the adapters, and save the merged model
                final.save_pretrained(self.out / "adapter")
                final = final.merge_and_unload()
            final.save_pretrained(self.out)
            self.tokenizer.save_pretrained(self.out)
        self.metrics.close()
        return TrainResult(self.out, self.step, last, self.metrics.history)


def batch_tokens(batch: Any) -> int:
    """Real (non-pad) tokens in a batch, for `num_tokens`."""
    return batch.seqs.num_tokens if hasattr(batch, "seqs") else batch.num_tokens


def train(config: TrainConfig | dict[str, Any] | str, log: Callable = print) -> TrainResult:
    """Train as `config` says (a TrainConfig, a dict or a YAML path); see `TrainConfig`."""
    return Trainer(config, log=log).train()
