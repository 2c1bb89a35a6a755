"""AdamW with decay on matrices only, and transformers' learning-rate schedules."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from trlprep.trainers.config import TrainConfig


def lr_lambda(kind: str, warmup: int, total: int) -> Callable[[int], float]:
    """transformers' schedules: linear/cosine decay to 0, constant, each after linear warmup."""

    def f(step: int) -> float:
        if kind == "constant":
            return 1.0
        if step < warmup:
            return step / max(1, warmup)
        if kind == "constant_with_warmup":
            return 1.0
        progress = (step - warmup) / max(1, total - warmup)
        if kind == "cosine":
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))
        return max(0.0, 1.0 - progress)

    return f


def make_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """`cfg`'s learning-rate schedule over `total_steps` optimizer steps."""
    warmup = cfg.warmup_steps or math.ceil(cfg.warmup_ratio * total_steps)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(cfg.lr_scheduler_type, warmup, total_steps)
    )


def make_optimizer(model: nn.Module, cfg: TrainConfig, lr: float) -> torch.optim.AdamW:
    """AdamW over the trainable parameters (weight decay on matrices only), fused when they
    are all on one CUDA or CPU device."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},  # biases, norms
    ]
    # one fused kernel for all parameters (CUDA or CPU, as transformers' Trainer does)
    fused = bool(params) and all(
        p.device.type in ("cuda", "cpu") and p.is_floating_point() for p in params
    )
    fused = fused and len({p.device for p in params}) == 1
    return torch.optim.AdamW(
        groups,
        lr=lr,
        betas=(cfg.adam_beta1, cfg.adam_beta2),
        eps=cfg.adam_epsilon,
        fused=fused or None,
    )
