"""The training loop shared by every algorithm (the algorithm supplies batch -> loss, metrics).

    for each optimizer step:
        for each of the gradient-accumulation micro-batches:
            loss, metrics = algorithm.step(ctx, batch); backward
        clip gradients; AdamW step; scheduler step
        every logging_steps: metrics.jsonl; every eval_steps: evaluate; every save_steps: save

Accelerate places the model, runs mixed precision and synchronises gradients across
processes (`accelerate launch -m trlprep train ...`).
"""

from __future__ import annotations

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
from trlprep.trainers.algorithms import Algorithm, get_algorithm
from trlprep.trainers.collate import Collator
from trlprep.trainers.config import TrainConfig
from trlprep.trainers.data import Prepared, prepare
from trlprep.trainers.logps import LogpsModel, chunk_tokens
from trlprep.trainers.models import (
    AdapterOff,
    apply_lora,
    disable_dropout,
    frozen_copy,
    is_peft,
    load_model,
    load_tokenizer,
)
from trlprep.trainers.optim import lr_lambda, make_optimizer
from trlprep.trainers.sampling import BatchStream
from trlprep.trainers.steps import StepContext

from trlprep.errors import TrlprepError, UsageError

METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "train_config.json"  # the resolved configuration of the run
_PACKING_KERNELS = ("flash_attention_2", "flash_attention_3")


class TrainingError(TrlprepError):
    """Training went wrong (NaN loss, ...); exit code 1."""

    exit_code = 1


@dataclass
class TrainResult:
    output_dir: Path
    global_step: int
    last_metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)


def _mean_metrics(values: dict[str, list[float]]) -> dict[str, float]:
    out = {}
    for k, v in values.items():
        finite = [x for x in v if not math.isnan(x)]
        if finite:
            out[k] = sum(finite) / len(finite)
    return out


def _num_items(batches: list[Any]) -> int:
    """Trained-on tokens in a list of batches (for token-normalised losses)."""
    return sum(int(b.seqs.target_pos.numel()) for b in batches)


def _num_tokens(batch: Any) -> int:
    if hasattr(batch, "seqs"):
        return batch.seqs.num_tokens
    return batch.num_tokens


class Trainer:
    """Holds the state of one run; `train()` is the loop."""

    def __init__(self, config: TrainConfig | dict[str, Any] | str, log: Callable = print) -> None:
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        cfg = self.cfg = TrainConfig.from_any(config)
        algo: Algorithm = get_algorithm(cfg.algo)
        self.algo = algo
        self.options = algo.make_options(cfg.options)
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
        self.acc = Accelerator(
            mixed_precision="bf16" if bf16 else "no",
            log_with=list(cfg.report_to) or None,
            project_dir=str(self.out),
        )
        self.log = log if self.acc.is_main_process else (lambda *_: None)
        set_seed(cfg.seed)

        self.tokenizer = load_tokenizer(cfg.model)
        self.train_data = self._prepare(cfg.data)
        self.eval_data = self._prepare(cfg.eval_data) if cfg.eval_data is not None else None

        lora = cfg.lora_r is not None
        # a LoRA checkpoint holds only the adapters: the base comes from --model
        base = cfg.model if lora or self.resume_from is None else str(self.resume_from)
        model = load_model(base, algo.head, self.tokenizer)
        if cfg.disable_dropout:
            disable_dropout(model)
        if cfg.gradient_checkpointing:
            kwargs = {"use_reentrant": False}
            if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5
                model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
            else:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        model.config.use_cache = False
        if lora:
            model = apply_lora(
                model,
                algo.head,
                r=cfg.lora_r,
                alpha=cfg.lora_alpha,
                dropout=cfg.lora_dropout,
                target_modules=cfg.lora_target_modules,
                adapter=str(self.resume_from) if self.resume_from else None,
            )
        padding_free = cfg.padding_free
        if padding_free is None:
            padding_free = getattr(model.config, "_attn_implementation", "") in _PACKING_KERNELS
        if padding_free and algo.head != "causal-lm":
            raise UsageError(f"padding-free batches are for causal LMs, not {algo.name}")
        self.collate = Collator(
            algo.layout,
            self.tokenizer.pad_token_id,
            padding_free=padding_free,
            kl=getattr(self.options, "loss_type", None) == "kto",
        )
        stats = algo.stats(self.options)
        vocab = model.get_output_embeddings().weight.shape[0] if algo.head == "causal-lm" else 0
        chunk = chunk_tokens(vocab, cfg.logits_chunk_mib * 2**20) if vocab else None
        policy = LogpsModel(model, stats, chunk) if algo.head == "causal-lm" else model
        policy.train()

        reference = None
        if algo.needs_reference(self.options):
            ref_dtype = torch.bfloat16 if bf16 else torch.float32

            def make_reference() -> LogpsModel:
                m = load_model(cfg.model, algo.head, self.tokenizer, ref_dtype)
                return LogpsModel(frozen_copy(m), (), chunk).to(self.acc.device)

            if cfg.precompute_ref:
                for data in (self.train_data, self.eval_data):
                    if data is not None:
                        self._precompute(data, make_reference, str(ref_dtype))
            elif lora:  # the base model, adapters off: no second copy
                reference = AdapterOff(LogpsModel(model, (), chunk), model)
            else:
                reference = make_reference()

        world, rank = self.acc.num_processes, self.acc.process_index
        self.stream = BatchStream(
            self.train_data.rows,
            cfg.batch_size,
            seed=cfg.seed,
            rank=rank,
            world=world,
            group_by_length=cfg.group_by_length,
        )
        per_epoch = math.ceil(self.stream.per_epoch / cfg.gradient_accumulation_steps)
        self.total_steps = (
            cfg.max_steps if cfg.max_steps > 0 else max(1, math.ceil(per_epoch * cfg.num_epochs))
        )
        lr = cfg.learning_rate if cfg.learning_rate is not None else algo.learning_rate
        self.lr = lr
        optimizer = make_optimizer(policy, cfg, lr)
        warmup = cfg.warmup_steps or math.ceil(cfg.warmup_ratio * self.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lr_lambda(cfg.lr_scheduler_type, warmup, self.total_steps)
        )
        self.policy, self.optimizer = self.acc.prepare(policy, optimizer)
        self.ctx = StepContext(self.policy, reference, self.options, gather=self._gather)

        self.step, self.position, self.num_tokens = 0, (0, 0), 0
        self.last_saved: Path | None = None
        if self.resume_from is not None:
            self._load_state(self.resume_from)
        if cfg.report_to:
            self.acc.init_trackers("trlprep", config=cfg.to_json())

    # ------------------------------------------------------------ helpers

    def _prepare(self, data: Any) -> Prepared:
        a = self.algo
        return prepare(
            data,
            a.layout,
            a.accepts,
            self.tokenizer,
            max_length=self.cfg.max_length,
            chat_template=self.cfg.chat_template,
            algo=a.name,
            options=self.options,
            log=self.log,
        )

    def _precompute(self, data: Prepared, make_reference: Callable, dtype: str) -> None:
        from trlprep.trainers import reference

        if self.collate.kl:
            reference.add_kl_completions(data.rows)
        reference.load_or_compute(
            data.rows,
            self.algo.layout,
            self.cfg.model,
            make_reference,
            self.collate,
            batch_size=self.cfg.eval_batch_size or self.cfg.batch_size,
            ld_alpha=getattr(self.options, "ld_alpha", None),
            dtype=dtype,
            device=self.acc.device,
            autocast=self.acc.autocast,
            is_main=self.acc.is_main_process,
            wait=self.acc.wait_for_everyone,
            log=self.log,
        )

    def _gather(self, x: Tensor) -> Tensor:
        return self.acc.gather(x) if self.acc.num_processes > 1 else x

    def _reduce(self, metrics: dict[str, float]) -> dict[str, float]:
        if self.acc.num_processes == 1 or not metrics:
            return metrics
        keys = sorted(metrics)
        t = torch.tensor([metrics[k] for k in keys], device=self.acc.device)
        t = self.acc.reduce(t, reduction="mean")
        return dict(zip(keys, t.tolist(), strict=True))

    def _unwrapped(self) -> nn.Module:
        m = self.acc.unwrap_model(self.policy)
        return m.model if isinstance(m, LogpsModel) else m

    def _state(self) -> dict[str, Any]:
        epoch, index = self.position
        return {
            "global_step": self.step,
            "epoch": epoch,
            "batch_index": index,
            "num_tokens": self.num_tokens,
            "algo_state": {k: v.state_dict() for k, v in self.ctx.state.items()},
            "algo": self.algo.name,
        }

    def _load_state(self, folder: Path) -> None:
        state = ckpt.load_trainer_state(folder)
        if state.get("algo") != self.algo.name:
            raise UsageError(f"{folder} is a {state.get('algo')} checkpoint, not {self.algo.name}")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        ckpt.set_rng_state(state["rng"])
        self.step = state["global_step"]
        self.position = (state["epoch"], state["batch_index"])
        self.num_tokens = state["num_tokens"]
        for name, saved in state.get("algo_state", {}).items():
            from trlprep.trainers.losses import RunningMean

            rm = RunningMean()
            rm.load_state_dict(saved)
            self.ctx.state[name] = rm
        self.log(f"resumed from {folder} at step {self.step}")

    def save(self) -> Path:
        folder = self.out / f"checkpoint-{self.step}"
        self.acc.wait_for_everyone()
        if self.acc.is_main_process:
            ckpt.save_checkpoint(
                folder,
                self._unwrapped(),
                self.tokenizer,
                self.optimizer,
                self.scheduler,
                self._state(),
            )
            ckpt.rotate(self.out, self.cfg.save_total_limit)
        self.last_saved = folder
        return folder

    def _write(self, record: dict[str, Any]) -> None:
        if self.acc.is_main_process:
            with open(self.out / METRICS_FILE, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        if self.cfg.report_to:
            self.acc.log({k: v for k, v in record.items() if k != "step"}, step=self.step)

    # ------------------------------------------------------------ evaluation

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """The algorithm's metrics over `eval_data`, prefixed `eval_`."""
        assert self.eval_data is not None
        stream = BatchStream(
            self.eval_data.rows,
            self.cfg.eval_batch_size or self.cfg.batch_size,
            seed=0,
            shuffle=False,
            rank=self.acc.process_index,
            world=self.acc.num_processes,
        )
        self.policy.eval()
        self.ctx.training = False
        values: dict[str, list[float]] = defaultdict(list)
        try:
            for index in range(stream.per_epoch):
                batch = self.collate(stream.batch(0, index)).to(self.acc.device)
                self.ctx.num_items = _num_items([batch]) if self.algo.token_normalised else None
                with self.acc.autocast():
                    loss, metrics = self.algo.step(self.ctx, batch)
                values["loss"].append(float(loss.detach()))
                for k, v in metrics.items():
                    values[k].append(v)
        finally:
            self.policy.train()
            self.ctx.training = True
        return {f"eval_{k}": v for k, v in self._reduce(_mean_metrics(values)).items()}

    # ------------------------------------------------------------ the loop

    def train(self) -> TrainResult:
        cfg, acc, algo = self.cfg, self.acc, self.algo
        self.out.mkdir(parents=True, exist_ok=True)
        if acc.is_main_process:
            snapshot = {**cfg.to_json(), "learning_rate": self.lr, "options": vars(self.options)}
            (self.out / CONFIG_FILE).write_text(json.dumps(snapshot, indent=2, default=list))
        accum = cfg.gradient_accumulation_steps
        stream = self.stream.iterate(*self.position)
        window: dict[str, list[float]] = defaultdict(list)
        history: list[dict[str, Any]] = []
        last: dict[str, float] = {}
        t0 = time.perf_counter()
        bar = _progress(self.total_steps, self.step, cfg.progress and acc.is_main_process)
        while self.step < self.total_steps:
            micro = []
            for _ in range(accum):
                epoch, index, rows = next(stream)
                micro.append(self.collate(rows).to(acc.device))
                self.position = (epoch, index + 1)
            if algo.token_normalised:
                total = torch.tensor(float(_num_items(micro)), device=acc.device)
                self.ctx.num_items = float(self._gather(total.reshape(1)).sum()) / max(
                    1, acc.num_processes
                )
            step_loss = 0.0
            for i, batch in enumerate(micro):
                sync = i == len(micro) - 1
                with acc.no_sync(self.policy) if not sync else _null(), acc.autocast():
                    loss, metrics = algo.step(self.ctx, batch)
                    if not torch.isfinite(loss):
                        self._nan(loss)
                    acc.backward(loss if algo.token_normalised else loss / accum)
                step_loss += float(loss.detach()) / (1 if algo.token_normalised else accum)
                for k, v in metrics.items():
                    window[k].append(v)
                tokens = torch.tensor([_num_tokens(batch)], device=acc.device)
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
                last = self._reduce(_mean_metrics(window))
                record = {
                    "step": self.step,
                    "epoch": round(self.position[0] + self.position[1] / self.stream.per_epoch, 4),
                    **last,
                    "learning_rate": self.scheduler.get_last_lr()[0],
                    "num_tokens": self.num_tokens,
                    "train_steps_per_second": round(self.step / (time.perf_counter() - t0), 4),
                }
                history.append(record)
                self._write(record)
                window.clear()
            if self.eval_data is not None and cfg.eval_steps and self.step % cfg.eval_steps == 0:
                record = {"step": self.step, **self.evaluate()}
                history.append(record)
                self._write(record)
            if self.step % cfg.save_steps == 0:
                self.save()

        bar(None, {})
        if self.last_saved is None or not self.last_saved.name.endswith(f"-{self.step}"):
            self.save()
        if self.eval_data is not None and not (cfg.eval_steps and self.step % cfg.eval_steps == 0):
            record = {"step": self.step, **self.evaluate()}
            history.append(record)
            self._write(record)
        acc.wait_for_everyone()
        if acc.is_main_process:
            final = self._unwrapped()
            if is_peft(final):  # keep the adapters, and save the merged model
                final.save_pretrained(self.out / "adapter")
                final = final.merge_and_unload()
            final.save_pretrained(self.out)
            self.tokenizer.save_pretrained(self.out)
        if cfg.report_to:
            acc.end_training()
        return TrainResult(self.out, self.step, last, history)

    def _nan(self, value: Tensor, what: str = "loss") -> None:
        kept = self.last_saved or (ckpt.checkpoints(self.out) or [None])[-1]
        raise TrainingError(
            f"the {what} became {float(value.detach())} at step {self.step + 1}; training stopped",
            hint=(f"the last good checkpoint is {kept}" if kept else "no checkpoint was saved yet")
            + "; lower --learning-rate or check the data",
        )


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _progress(total: int, initial: int, enabled: bool) -> Callable[..., None]:
    """A progress bar over optimizer steps showing the loss and key metrics; call with None
    to close."""
    if not enabled:
        return lambda *_: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)

    def update(loss: float | None, metrics: dict[str, float]) -> None:
        if loss is None:
            bar.close()
        else:
            bar.set_postfix({"loss": f"{loss:.4f}", **{k: f"{v:.3g}" for k, v in metrics.items()}})
            bar.update(1)

    return update


def train(config: TrainConfig | dict[str, Any] | str, log: Callable = print) -> TrainResult:
    """Train as `config` says (a TrainConfig, a dict or a YAML path); see `TrainConfig`."""
    return Trainer(config, log=log).train()
