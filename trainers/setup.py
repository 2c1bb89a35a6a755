"""Setting up a run: what `Trainer` is built from, in order: the configuration and the
algorithm, the accelerator (processes, mixed precision), the tokenizer and the data, the
model (wrapped for log-probs) and the reference, online rollouts, the batch stream and the
step count, the optimizer and schedule, prepared by Accelerate. The loop (`loop.py`) only
reads what this leaves on the trainer."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from trlprep.trainers import checkpoint as ckpt
from trlprep.trainers import reference as ref
from trlprep.trainers.algorithms import Algorithm, get_algorithm
from trlprep.trainers.collate import Collator
from trlprep.trainers.config import CONFIG_FILE, TrainConfig, resolved
from trlprep.trainers.data import Prepared, prepare
from trlprep.trainers.hub_bars import data_progress
from trlprep.trainers.logps import LogpsModel, chunk_tokens, liger_available, liger_import_error
from trlprep.trainers.models import (
    build_model,
    compile_forward,
    load_tokenizer,
    packs_sequences,
)
from trlprep.trainers.online.source import Rollouts, make_rollouts
from trlprep.trainers.optim import make_optimizer, make_scheduler
from trlprep.trainers.preflight import check_trackers
from trlprep.trainers.resume import BY_DATA, check_data_mask, check_resume
from trlprep.trainers.sampling import BatchStream
from trlprep.trainers.saved_template import keep_chat_template
from trlprep.trainers.shares import gather_rows
from trlprep.trainers.steps import StepContext

from trlprep.errors import UsageError, in_callers_words

if TYPE_CHECKING:
    from trlprep.trainers.loop import Trainer


def _check_online_options(t: Trainer) -> None:
    """Options an online algorithm cannot take, and its missing reward, refused before the
    data is read and the model loaded."""
    algo, cfg = t.algo, t.cfg
    if algo.online is None:
        return
    if cfg.torch_compile:
        raise UsageError(
            "--torch-compile is for the offline algorithms",
            hint=f"{algo.name} generates with the same model: leave --torch-compile out",
        )
    if cfg.precompute_ref:
        raise UsageError(f"{algo.name} generates its completions: --precompute-ref cannot apply")
    given = getattr(t.options, "reward_fn", None) or getattr(t.options, "reward_model", None)
    if algo.online.needs_rewards and not given:
        from trlprep.trainers.online.rewards import BUILTINS

        raise UsageError(
            "no reward: online algorithms need a reward function or a reward model",
            hint="add --reward-fn module:function (or a built-in: "
            + ", ".join(BUILTINS)
            + ") or --reward-model PATH",
        )
    spec, o = algo.online, t.options
    units = cfg.batch_size * cfg.gradient_accumulation_steps * spec.mini_batches(o)
    if units % spec.units_per_prompt(o):  # as `Rollouts` checks it, before the data
        per_prompt = spec.units_per_prompt(o)
        raise UsageError(
            f"batch_size x gradient_accumulation_steps ({units}) must be a multiple of "
            f"num_generations ({per_prompt}): each prompt's completions form one group",
            hint=f"use --batch-size {per_prompt} (or a multiple)",
        )


def _keep_chat_template(t: Trainer) -> None:
    """The template the data was rendered with, kwargs and all, saved with the model (a
    tokenised file's: those its record names, unless the run gives its own)."""
    data = [d for d in (t.train_data, t.eval_data) if d is not None and d.templated]
    if data:
        cfg, made = t.cfg, data[0].rendered_by or {}
        kwargs = cfg.template_kwargs if cfg.template_kwargs is not None else made.get("kwargs")
        tools = cfg.tool_schemas() or made.get("tools")
        keep_chat_template(t.tokenizer, cfg.chat_template, kwargs, tools, t.log, made or None)


def set_up(t: Trainer, config: TrainConfig | dict[str, Any] | str, log: Callable) -> None:
    """Build everything `t` trains with from `config` (a TrainConfig, a dict or a YAML path)."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    cfg = t.cfg = TrainConfig.from_any(config)
    algo: Algorithm = get_algorithm(cfg.algo)
    t.algo, t.options = algo, algo.make_options(cfg.options)
    t.out = Path(cfg.output_dir)
    check_trackers(cfg.report_to, t.out)  # before any data or model is loaded
    t.resume_from = ckpt.resolve_resume(cfg.resume, t.out)
    bf16 = cfg.bf16
    if bf16 is None:
        bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    t.bf16 = bf16
    t.acc = acc = Accelerator(
        mixed_precision="bf16" if bf16 else "no",
        log_with=list(cfg.report_to) or None,
        project_dir=str(t.out),
        cpu=launched_on_cpu(),
    )
    check_processes(acc.num_processes)
    step_rows = cfg.batch_size * acc.num_processes * cfg.gradient_accumulation_steps
    if cfg.algo == "kto" and t.options.loss_type == "kto" and step_rows < 2:
        raise UsageError(  # the pairs are taken within an optimizer step's global batch
            "KTO's KL estimate pairs each prompt with another row's completion",
            hint="use --batch-size 2 or more (or --loss-type apo_zero_unpaired)",
        )
    t.log = log if acc.is_main_process else (lambda *_: None)
    t.resumed_mask = None  # the resumed SFT run's loss mask, kept for its training data
    if t.resume_from is not None:  # before any data or model is loaded
        lr = cfg.learning_rate if cfg.learning_rate is not None else algo.learning_rate
        saved = t.resume_from.parent / CONFIG_FILE
        t.resumed_mask = check_resume(saved, resolved(cfg, lr, t.options), t.log)
    set_seed(cfg.seed)
    _check_online_options(t)  # before any data or model is loaded

    t.tokenizer = load_tokenizer(cfg.model)
    # no data: the batches are given to `optimizer_step` (the iterative SFT API)
    t.train_data = None if cfg.data is None else prepare_data(t, cfg.data, training=True)
    t.eval_data = None
    if cfg.eval_data is not None:
        t.eval_data = prepare_data(t, cfg.eval_data, training=False)
        if _same_rows(cfg):
            t.log(
                in_callers_words(
                    "eval data: warning: the evaluation rows are the training rows (--eval-data "
                    "is --data, split and layout alike): its metrics say how well the model "
                    "fits them, not how it generalises; --eval-split NAME reads held-out rows"
                )
            )
    _keep_chat_template(t)

    seqs = cfg.batch_size * (2 if algo.layout == "pairs" else 1)
    model = build_model(cfg, algo.head, t.tokenizer, t.resume_from, seqs)
    if cfg.torch_compile:
        compile_forward(model, algo.head)
    padding_free = packs_sequences(model) if cfg.padding_free is None else cfg.padding_free
    if padding_free and algo.head != "causal-lm":
        raise UsageError(f"padding-free batches are for causal LMs, not {algo.name}")
    kl = getattr(t.options, "loss_type", None) == "kto"
    t.collate = Collator(algo.layout, t.tokenizer.pad_token_id, padding_free=padding_free, kl=kl)
    t.token_normalised = algo.token_normalised(t.options)
    causal = algo.head == "causal-lm"  # log-probs through the LM head, chunk tokens at a time
    vocab = model.get_output_embeddings().weight.shape[0] if causal else 0
    chunk = t.chunk = chunk_tokens(vocab, chunk_budget(cfg, acc.device)) if causal else None
    kernel = logps_kernel(cfg, acc.device)
    # online algorithms score their samples at the sampling temperature
    t.temperature = getattr(t.options, "temperature", 1.0)
    policy = model
    if causal:
        wrapper = algo.policy or LogpsModel
        policy = wrapper(model, algo.stats(t.options), chunk, t.temperature)
        policy.kernel = kernel
        policy.loss_in_forward = cfg.loss_in_forward
        # FSDP wraps the layers the model names (its decoder layer), looked up on the root
        policy._no_split_modules = getattr(model, "_no_split_modules", None)
        if t.resume_from is not None and hasattr(policy, "load_extra"):
            policy.load_extra(t.resume_from)  # e.g. PPO's value head
    policy.train()
    dtype = torch.bfloat16 if t.bf16 else torch.float32
    reference = None
    if algo.needs_reference(t.options):
        reference = ref.build_reference(
            cfg,
            model,
            t.tokenizer,
            head=algo.head,
            layout=algo.layout,
            chunk=chunk,
            kernel=kernel,
            temperature=t.temperature,
            dtype=dtype,
            collator=t.collate,
            row_sets=[d.rows for d in (t.train_data, t.eval_data) if d is not None],
            ld_alpha=getattr(t.options, "ld_alpha", None),
            acc=acc,
            log=t.log,
        )

    t.rollouts: Rollouts | None = None
    t.teacher: nn.Module | None = None
    rows_per_batch = cfg.batch_size
    if algo.online is not None:  # batches are generated: rewards, teacher, rollouts
        t.rollouts, t.teacher = make_rollouts(
            algo.online,
            t.options,
            cfg,
            policy=policy,
            reference=reference,
            tokenizer=t.tokenizer,
            collator=t.collate,
            acc=t.acc,
            dtype=dtype,
            chunk=chunk,
            learning_rate=lambda: t.scheduler.get_last_lr()[0],
            log=t.log,
        )
        rows_per_batch = t.rollouts.prompts_per_rollout
    t.stream: BatchStream | None = None
    t.total_steps = cfg.max_steps if cfg.max_steps > 0 else 0
    if t.train_data is not None:
        t.stream = BatchStream(
            t.train_data.rows,
            rows_per_batch,
            seed=cfg.seed,
            rank=acc.process_index,
            world=acc.num_processes,
            group_by_length=cfg.group_by_length,
            pair_previous="completion" if t.collate.kl else None,
            accumulation=cfg.gradient_accumulation_steps if t.rollouts is None else 1,
        )
        if t.rollouts is not None:  # each rollout serves a fixed number of steps
            per_epoch = t.stream.per_epoch * t.rollouts.steps_per_rollout
        else:
            per_epoch = math.ceil(t.stream.per_epoch / cfg.gradient_accumulation_steps)
        if cfg.max_steps <= 0:
            t.total_steps = max(1, math.ceil(per_epoch * cfg.num_epochs))
    t.lr = cfg.learning_rate if cfg.learning_rate is not None else algo.learning_rate
    policy.to(acc.device)  # before the optimizer, which is fused when it is on CUDA
    optimizer = make_optimizer(policy, cfg, t.lr)
    t.scheduler = make_scheduler(optimizer, cfg, t.total_steps)
    t.policy, t.optimizer = acc.prepare(policy, optimizer)
    t.ctx = StepContext(
        t.policy, reference, t.options, gather=partial(gather_rows, t.acc), teacher=t.teacher
    )
    if t.rollouts is not None:
        t.rollouts.ctx.policy = acc.unwrap_model(t.policy)
        t.rollouts.ctx.state = t.ctx.state
        t.ctx.state.update(algo.online.state(t.options))


def prepare_data(t: Trainer, data: Any, training: bool) -> Prepared:
    """`data` detected, converted, templated and tokenised for `t`'s algorithm (a resumed
    SFT run's training data with the loss mask the run was started with)."""
    options = t.options
    kept = getattr(t, "resumed_mask", None)  # set by `set_up` (None: not resuming)
    if training and kept == BY_DATA:
        return _as_data_made_it(t, data)
    if training and kept is not None and getattr(options, "assistant_only_loss", True) is None:
        options = replace(options, assistant_only_loss=kept)
        flag = "--assistant-only-loss" if kept else "--no-assistant-only-loss"
        t.log(in_callers_words(f"resume: {flag}, as the run being resumed was trained"))
    return _prepare(t, data, training, options, t.log)


def _as_data_made_it(t: Trainer, data: Any) -> Prepared:
    """The training data of a resumed SFT run saved before its loss mask was recorded and
    started without --[no-]assistant-only-loss: read so, its mask is the one the run
    trained with, except on prompt-completion rows (trained on their completion then, their
    messages' weights not read); a run asking for another mask is refused."""
    said: list[str] = []
    unset = replace(t.options, assistant_only_loss=None)
    got = _prepare(t, data, True, unset, said.append)
    if got.assistant_masks and got.route[-1] == "prompt-completion":
        said.clear()
        got = _prepare(t, data, True, replace(t.options, assistant_only_loss=False), said.append)
    asked = t.options.assistant_only_loss
    check_data_mask(t.resume_from.parent / CONFIG_FILE, got.assistant_masks, got.loss_on, asked)
    if asked is None:
        flag = "--assistant-only-loss" if got.assistant_masks else "--no-assistant-only-loss"
        t.log(in_callers_words(f"resume: {flag}, as the run being resumed was trained"))
    for line in said:
        t.log(line)
    return got


def _prepare(
    t: Trainer, data: Any, training: bool, options: Any, log: Callable[[str], None]
) -> Prepared:
    a, cfg = t.algo, t.cfg
    return prepare(
        data,
        a.layout,
        a.accepts,
        t.tokenizer,
        max_length=cfg.max_length,
        truncation=cfg.truncation_mode,
        chat_template=cfg.chat_template,
        template_kwargs=cfg.template_kwargs,
        tools=cfg.tools,
        data_layout=cfg.data_from if training or cfg.eval_data_from is None else cfg.eval_data_from,
        column_map=cfg.data_map if training or cfg.eval_data_map is None else cfg.eval_data_map,
        import_options=cfg.import_options(),
        on_error=cfg.on_error,
        label="data" if training else "eval data",
        algo=a.name,
        options=options,
        training=training,
        log=log,
        split=cfg.split if training else cfg.eval_split,
        progress=data_progress(cfg.progress) and t.acc.is_main_process,
    )


def _same_rows(cfg: TrainConfig) -> bool:
    """Whether `eval_data` is `data` read alike (the same file or folder, split and import)."""
    if not isinstance(cfg.data, (str, os.PathLike)) or not isinstance(
        cfg.eval_data, (str, os.PathLike)
    ):
        return False
    if os.path.realpath(cfg.data) != os.path.realpath(cfg.eval_data):
        return False
    layout = cfg.eval_data_from or cfg.data_from, cfg.eval_data_map or cfg.data_map
    return cfg.split == cfg.eval_split and layout == (cfg.data_from, cfg.data_map)


def logps_kernel(cfg: TrainConfig, device: torch.device) -> str:
    """The log-prob kernel to use (`auto`: fused on CUDA, eager elsewhere), refused when it
    cannot run here."""
    if cfg.logps_kernel == "liger" and not liger_available():
        why = liger_import_error() if torch.cuda.is_available() else "no CUDA device"
        raise UsageError(
            f"--logps-kernel liger needs CUDA and the liger-kernel package ({why})",
            hint='pip install "trlprep[gpu]" on a CUDA machine, or leave the option out',
        )
    if cfg.logps_kernel == "auto":
        return "fused" if device.type == "cuda" else "torch"
    return cfg.logps_kernel


BIG_CHUNK_FREE_BYTES = 16 * 2**30


def chunk_budget(cfg: TrainConfig, device: torch.device) -> int:
    """Bytes of one chunk's float32 logits (`--logits-chunk-mib`; automatic: 1 GiB on a CUDA
    device with 16 GiB free, 256 MiB otherwise). Larger chunks mean fewer, larger GEMMs,
    and fewer passes adding a chunk's LM-head gradient into its float32 sum: at 128k
    vocabulary a 256 MiB chunk is 523 tokens, and the GEMM adding its weight gradient moves
    more bytes than it computes."""
    if cfg.logits_chunk_mib is not None:
        return cfg.logits_chunk_mib * 2**20
    if device.type == "cuda" and torch.cuda.mem_get_info(device)[0] >= BIG_CHUNK_FREE_BYTES:
        return 1024 * 2**20
    return 256 * 2**20


def launched_on_cpu() -> bool:
    """Several processes (torchrun, `accelerate launch --multi_gpu`) on a machine without
    CUDA: Accelerate then needs `cpu=True` to join them with gloo (otherwise each process
    trains alone, unaware of the others)."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    return world > 1 and not torch.cuda.is_available()


def check_processes(started: int) -> None:
    """Refuse a run whose launcher asked for several processes but started one."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world > 1 and started != world:
        raise UsageError(f"launched as {world} processes, but Accelerate joined {started}")
    simple_launcher = (
        os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("true", "1")
        and "MASTER_ADDR" in os.environ
        and "WORLD_SIZE" not in os.environ
        and not any(k in os.environ for k in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"))
    )
    if simple_launcher and started == 1:
        raise UsageError(
            "`accelerate launch --cpu --num_processes N` starts ONE process (Accelerate's "
            "multi-CPU launch is mpirun with a hostfile); this run would train alone",
            hint="on CPU: `torchrun --nproc_per_node N -m trlprep train ...` or `accelerate "
            "launch --multi_gpu --num_processes N -m trlprep train ...` (trlprep joins the "
            "processes with gloo); drop --num_processes for one process",
        )
