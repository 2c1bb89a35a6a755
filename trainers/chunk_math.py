"""The per-chunk arithmetic of the LM head's log-probs: the log-sum-exp of a chunk's logits
(forward) and the gradient of its log-probs with respect to its logits (backward).

Each comes in two forms with the same results up to rounding:
- eager PyTorch ops, the default (on the CPU in float32, bit for bit the historic path);
- `torch.compile`d ("fused"), one generated kernel per function: on a GPU the eager forms
  run several full passes over the `[chunk, vocab]` logits (cast to float32, max,
  subtract, exp, sum; softmax, scale, scatter), which the H200 profile showed at about
  half of a DPO step, while the fused kernel reads the low-precision logits and writes the
  result once. A fused function that fails to compile or run warns once and falls back to
  its eager form for the rest of the process.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import Tensor

from trlprep.errors import warn_user


def lse_and_target(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """`(logsumexp(logits), logits[target])` per row, float32, from logits of any dtype."""
    lse = torch.logsumexp(logits.float(), dim=-1)
    return lse, logits.gather(1, targets.unsqueeze(1)).squeeze(1).float()


def grad_logits_from_lse(logits: Tensor, lse: Tensor, g: Tensor, targets: Tensor) -> Tensor:
    """`g * (onehot(target) - softmax(logits))` in the logits' dtype, from the saved log-sum-exp.

    The subtraction is float32 before the cast, so a confident target's `1 - p` keeps its
    digits in bf16."""
    p = torch.exp(logits.float() - lse.unsqueeze(1))
    vocab = torch.arange(logits.shape[1], device=logits.device)
    onehot = (vocab.unsqueeze(0) == targets.unsqueeze(1)).float()
    return (g.unsqueeze(1) * (onehot - p)).to(logits.dtype)


def grad_logits_softmax(logits: Tensor, lse: Tensor, g: Tensor, targets: Tensor) -> Tensor:
    """`grad_logits_from_lse` for low-precision logits in eager PyTorch: the softmax runs as
    one kernel (float32 inside, the logits' dtype out) instead of separate cast, subtract,
    exp, scale and cast passes. The target entries, `g * (1 - p)`, are computed in float32
    from the saved log-sum-exp and written once: in bf16, `1 - p` of a confident token
    would cancel to nothing."""
    rows = torch.arange(logits.shape[0], device=logits.device)
    out = torch.softmax(logits, dim=-1).mul_(-g.unsqueeze(1).to(logits.dtype))
    target_p = (logits[rows, targets].float() - lse).exp()
    out[rows, targets] = (g * (1 - target_p)).to(logits.dtype)
    return out


class Fused:
    """`fn` through `torch.compile` (dynamic shapes: the last chunk is shorter), or `eager`
    from the first failure on."""

    def __init__(self, fn: Callable[..., object], eager: Callable[..., object]):
        self.fn, self.eager = fn, eager
        self.compiled: Callable[..., object] | None = None
        self.failed = False

    def __call__(self, *args: Tensor):
        if self.failed:
            return self.eager(*args)
        first = self.compiled is None
        if first:
            self.compiled = torch.compile(self.fn, dynamic=True, fullgraph=True)
        try:
            if first:  # compiles now; inductor's TF32 advice concerns matmuls, not these
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="TensorFloat32 tensor cores")
                    return self.compiled(*args)
            return self.compiled(*args)
        except torch.OutOfMemoryError:
            raise
        except Exception as e:  # noqa: BLE001 - any compiler failure means: run eager
            self.failed = True
            warn_user(
                f"the fused log-prob kernel {self.fn.__name__} failed "
                f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                "computing it with eager PyTorch from now on (--logps-kernel torch)",
                UserWarning,
            )
            return self.eager(*args)


fused_lse_and_target = Fused(lse_and_target, lse_and_target)
fused_grad_logits = Fused(grad_logits_from_lse, grad_logits_softmax)

_ADDMM_OUT_DTYPE = True  # False once this PyTorch refused addmm(..., out_dtype=float32)


def add_product_fp32(acc: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """`acc + a @ b` for low-precision `a`, `b` and a float32 `acc`.

    On CUDA one GEMM adds into float32 in its epilogue (`out_dtype`), instead of a
    low-precision product tensor the size of the LM head plus a separate addition (the
    largest elementwise kernel of a 128k-vocabulary step in the profile)."""
    global _ADDMM_OUT_DTYPE
    if _ADDMM_OUT_DTYPE and acc.is_cuda:
        try:
            return torch.addmm(acc, a, b, out_dtype=torch.float32)
        except (TypeError, RuntimeError, NotImplementedError):
            _ADDMM_OUT_DTYPE = False
    return acc.add_(a @ b)
