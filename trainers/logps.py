"""Completion-token log-probabilities from hidden states, without the full logits tensor.

A causal LM's `[batch, length, vocab]` float32 logits dominate training memory at large
vocabularies (128k x 1024 tokens x 4 bytes = 512 MiB per sequence). Here only the positions
that are trained on go through the LM head, a chunk of tokens at a time, and the log-prob
is the target logit minus a log-sum-exp; the backward pass recomputes each chunk's logits
instead of keeping them. Peak extra memory is one chunk's `[chunk, vocab]` float32 logits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from trlprep.trainers.batch import SequenceBatch

CHUNK_BYTES = 256 * 2**20  # float32 logits held at once
STATS = ("is_top1", "log_sum_sq_probs", "entropy")
# stats only metrics read: computed on logging steps only (`LogpsModel.log_metrics`)
METRIC_STATS = ("is_top1", "entropy")
# config attributes that transform logits after the LM head; such models take the plain path
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_mult")


def chunk_tokens(vocab_size: int, budget_bytes: int = CHUNK_BYTES) -> int:
    """Tokens per chunk so that one chunk's float32 logits fit in `budget_bytes`."""
    return max(16, budget_bytes // (4 * vocab_size))


def _compute_dtype(x: Tensor) -> torch.dtype:
    if torch.is_autocast_enabled(x.device.type):
        return torch.get_autocast_dtype(x.device.type)
    return x.dtype


class _ChunkedLogProbs(torch.autograd.Function):
    """log softmax(h W^T + b)[y], chunked over tokens, recomputing logits in backward."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk, stats):  # type: ignore[override]
        dtype = _compute_dtype(hidden)
        n = hidden.shape[0]
        logps = torch.empty(n, dtype=torch.float32, device=hidden.device)
        lse = torch.empty_like(logps)
        extra = {k: torch.empty(n, device=hidden.device) for k in stats if k != "is_top1"}
        if "is_top1" in stats:
            extra["is_top1"] = torch.empty(n, dtype=torch.bool, device=hidden.device)
        w = weight.to(dtype)
        b = None if bias is None else bias.to(dtype)
        with torch.autocast(hidden.device.type, enabled=False):
            for i in range(0, n, chunk):
                sl = slice(i, i + chunk)
                logits = F.linear(hidden[sl].to(dtype), w, b).float()
                lse[sl] = torch.logsumexp(logits, dim=-1)
                target = logits.gather(1, targets[sl].unsqueeze(1)).squeeze(1)
                logps[sl] = target - lse[sl]
                if "is_top1" in extra:
                    extra["is_top1"][sl] = logits.argmax(-1) == targets[sl]
                if "log_sum_sq_probs" in extra:
                    extra["log_sum_sq_probs"][sl] = torch.logsumexp(2 * logits, -1) - 2 * lse[sl]
                if "entropy" in extra:
                    probs = torch.softmax(logits, dim=-1)
                    extra["entropy"][sl] = lse[sl] - (probs * logits).sum(-1)
        ctx.save_for_backward(hidden, weight, bias, targets, lse)
        ctx.chunk, ctx.dtype = chunk, dtype
        outs = [extra[k] for k in stats]
        ctx.mark_non_differentiable(*outs)
        return (logps, *outs)

    @staticmethod
    def backward(ctx, grad_logps, *_):  # type: ignore[override]
        hidden, weight, bias, targets, lse = ctx.saved_tensors
        dtype, chunk = ctx.dtype, ctx.chunk
        w = weight.to(dtype)
        b = None if bias is None else bias.to(dtype)
        grad_hidden = torch.zeros_like(hidden) if ctx.needs_input_grad[0] else None
        grad_weight = (
            torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
            if ctx.needs_input_grad[1]
            else None
        )
        grad_bias = (
            torch.zeros(weight.shape[0], dtype=torch.float32, device=weight.device)
            if bias is not None and ctx.needs_input_grad[2]
            else None
        )
        rows = torch.arange(min(chunk, hidden.shape[0]), device=hidden.device)
        for i in range(0, hidden.shape[0], chunk):
            sl = slice(i, i + chunk)
            h = hidden[sl].to(dtype)
            g = grad_logps[sl].float()
            # d logp / d logits = onehot(y) - softmax(logits), scaled by the incoming grad
            if dtype == torch.float32:
                grad_logits = F.linear(h, w, b).float().sub_(lse[sl].unsqueeze(1)).exp_()
                grad_logits.mul_(-g.unsqueeze(1))
                grad_logits[rows[: h.shape[0]], targets[sl]] += g
            else:
                grad_logits = _low_precision_grad_logits(
                    F.linear(h, w, b), lse[sl], g, targets[sl], rows[: h.shape[0]]
                )
            if grad_bias is not None:
                grad_bias += grad_logits.sum(0, dtype=torch.float32)
            if grad_hidden is not None:
                grad_hidden[sl] = (grad_logits @ w).to(hidden.dtype)
            if grad_weight is None:
                continue
            if dtype == torch.float32:
                grad_weight.addmm_(grad_logits.t(), h)
            else:  # each chunk's product in the compute dtype, summed in float32
                grad_weight = _add_product_fp32(grad_weight, grad_logits.t(), h)
        if grad_weight is not None:
            grad_weight = grad_weight.to(weight.dtype)
        if grad_bias is not None:
            grad_bias = grad_bias.to(bias.dtype)
        return grad_hidden, grad_weight, grad_bias, None, None, None


def _low_precision_grad_logits(
    logits: Tensor, lse: Tensor, g: Tensor, targets: Tensor, rows: Tensor
) -> Tensor:
    """`g * (onehot(y) - softmax(logits))` in the logits' low-precision dtype, for the GEMMs.

    The softmax runs as one kernel (float32 inside, the compute dtype out) instead of
    separate float32 cast, subtract, exp, scale and cast passes over `[chunk, vocab]`: on a
    GPU those passes, not the GEMMs, were half a DPO step (see trainers/README.md). The
    target entries, `g * (1 - p)`, are computed in float32 from the saved log-sum-exp and
    written once: in bf16, `1 - p` of a confident token would cancel to nothing."""
    out = torch.softmax(logits, dim=-1).mul_(-g.unsqueeze(1).to(logits.dtype))
    target_p = (logits[rows, targets].float() - lse).exp()
    out[rows, targets] = (g * (1 - target_p)).to(logits.dtype)
    return out


_ADDMM_OUT_DTYPE = True  # False once this PyTorch refused addmm(..., out_dtype=float32)


def _add_product_fp32(acc: Tensor, a: Tensor, b: Tensor) -> Tensor:
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


def chunked_token_logps(
    hidden: Tensor,
    weight: Tensor,
    targets: Tensor,
    bias: Tensor | None = None,
    *,
    chunk: int | None = None,
    stats: Iterable[str] = (),
) -> tuple[Tensor, dict[str, Tensor]]:
    """Log-probs of `targets` `(N,)` under logits `hidden @ weight.T + bias`, never holding
    more than `chunk` rows of logits; differentiable in `hidden`, `weight` and `bias`.

    `stats` (no gradient) may ask for `is_top1` (the target is the argmax),
    `log_sum_sq_probs` (log sum_v p_v^2, for WPO) and `entropy`.
    """
    stats = tuple(stats)
    unknown = set(stats) - set(STATS)
    if unknown:
        raise ValueError(f"unknown token stats {sorted(unknown)}; use {STATS}")
    chunk = chunk or chunk_tokens(weight.shape[0])
    logps, *outs = _ChunkedLogProbs.apply(hidden, weight, bias, targets, chunk, stats)
    return logps, dict(zip(stats, outs, strict=True))


def liger_available() -> bool:
    """Whether Liger Kernel's fused linear cross-entropy can run here (CUDA + the package)."""
    return torch.cuda.is_available() and liger_import_error() is None


def liger_import_error() -> str | None:
    """Why Liger Kernel's functional API does not import here (None when it does): an
    installed release can fail against the installed torch or Triton (0.8.5 raised an
    AttributeError under torch 2.11 / Triton 3.6), which must be found before training."""
    import importlib

    try:
        importlib.import_module("liger_kernel.transformers.functional")
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] == "liger_kernel":
            return "the liger-kernel package is not installed"
        return f"{type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001 - any failure to import means Liger cannot run
        return f"{type(e).__name__}: {e}"
    return None


def liger_token_logps(
    hidden: Tensor, weight: Tensor, targets: Tensor, bias: Tensor | None = None, top1: bool = False
) -> tuple[Tensor, dict[str, Tensor]]:
    """`chunked_token_logps` through Liger Kernel's fused linear cross-entropy (Triton, CUDA
    only): per-token losses (`reduction="none"`) are minus the log-probs; `top1` also
    returns `is_top1`. Entropy and log-sum-of-squares are not covered (use the chunked
    path)."""
    from liger_kernel.transformers.functional import liger_fused_linear_cross_entropy

    out = liger_fused_linear_cross_entropy(
        hidden, weight, targets, bias, reduction="none", return_token_accuracy=top1
    )
    if not top1:
        return -out.float(), {}
    return -out.loss.float(), {"is_top1": out.token_accuracy.detach() > 0.5}


def plain_token_logps(logits: Tensor, targets: Tensor) -> Tensor:
    """The straightforward computation: full float32 log-softmax, then gather."""
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


@dataclass
class CompletionLogps:
    """Per-token values of each sequence's completion, `(num_seqs, max_targets)`, zero-padded.

    `logps` carries gradient; `mean_logits` (mean over the vocabulary, as TRL logs it; None
    when not asked for) and the requested `stats` do not. `mask` marks real completion
    tokens. `values` (with gradient) are a value head's outputs at the same positions, when
    the model has one (PPO).
    """

    logps: Tensor
    mask: Tensor
    mean_logits: Tensor | None
    stats: dict[str, Tensor]
    values: Tensor | None = None

    @property
    def sums(self) -> Tensor:
        return self.logps.sum(-1)

    @property
    def lengths(self) -> Tensor:
        return self.mask.sum(-1)


def _dense(batch: SequenceBatch, values: Tensor) -> Tensor:
    out = values.new_zeros((batch.num_seqs, batch.max_targets))
    return out.index_put((batch.target_seq, batch.target_tok), values)


def _mean_row(weight: Tensor) -> Tensor:
    """`weight.float().mean(0)`, kept on a frozen weight (a reference's) until it changes."""
    if weight.requires_grad:
        return weight.float().mean(0)
    hit = getattr(weight, "_trlprep_mean_row", None)
    if hit is None or hit[0] != weight._version or hit[1].device != weight.device:
        hit = (weight._version, weight.float().mean(0))
        weight._trlprep_mean_row = hit
    return hit[1]


def _has_logit_transform(model: nn.Module) -> bool:
    config = getattr(model, "config", None)
    return any(getattr(config, name, None) not in (None, 1, 1.0) for name in _LOGIT_TRANSFORMS)


def backbone(model: nn.Module) -> nn.Module:
    """The transformer under a causal LM's head (its `base_model_prefix` attribute)."""
    inner = getattr(model, "get_base_model", None)  # a peft model: the wrapped transformers model
    model = inner() if callable(inner) else model
    return getattr(model, model.base_model_prefix)


def completion_logps(
    model: nn.Module,
    batch: SequenceBatch,
    *,
    stats: Iterable[str] = (),
    chunk: int | None = None,
    temperature: float = 1.0,
    value_head: nn.Module | None = None,
    mean_logits: bool = True,
    kernel: str = "torch",
) -> CompletionLogps:
    """Run `model` on `batch` and return the log-probs of every completion token.

    Goes through the transformer, then the LM head on the trained-on positions only, in
    chunks. Models whose logits are transformed after the head (soft-capping, scaling) take
    the plain path through the model's own logits instead. `temperature` divides the logits
    (the distribution completions were sampled from); `value_head` maps the same positions'
    hidden states to `values`; `mean_logits=False` skips the mean logits (a metric).
    `kernel="liger"` computes the log-probs with Liger Kernel on CUDA when the stats asked
    for allow it (the chunked PyTorch path otherwise).
    """
    stats = tuple(stats)
    kwargs = dict(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        use_cache=False,
    )
    if batch.unpadded:  # no mask to build or check (a host sync in transformers on a GPU)
        kwargs = dict(input_ids=batch.input_ids, use_cache=False)
    head = model.get_output_embeddings()
    values = None
    if _has_logit_transform(model) or not isinstance(head, nn.Linear):
        res = model(**kwargs, output_hidden_states=value_head is not None)
        logits = res.logits / temperature if temperature != 1.0 else res.logits
        flat = logits.reshape(-1, logits.shape[-1])[batch.target_pos]
        if value_head is not None:
            h = res.hidden_states[-1]
            values = value_head(h.reshape(-1, h.shape[-1])[batch.target_pos]).squeeze(-1)
        logps = plain_token_logps(flat, batch.target_ids)
        with torch.no_grad():
            means = flat.float().mean(-1) if mean_logits else None
            extra = _plain_stats(flat.detach().float(), batch.target_ids, stats)
    else:
        hidden = backbone(model)(**kwargs).last_hidden_state
        flat = hidden.reshape(-1, hidden.shape[-1])[batch.target_pos]
        if value_head is not None:
            values = value_head(flat).squeeze(-1)
        bias = head.bias
        if temperature != 1.0:  # logits / T = (h / T) W^T + b / T
            flat = flat / temperature
            bias = None if bias is None else bias / temperature
        if kernel == "liger" and set(stats) <= {"is_top1"} and flat.is_cuda:
            logps, extra = liger_token_logps(
                flat, head.weight, batch.target_ids, bias, top1="is_top1" in stats
            )
        else:
            logps, extra = chunked_token_logps(
                flat, head.weight, batch.target_ids, bias, chunk=chunk, stats=stats
            )
        means = None
        if mean_logits:
            with torch.no_grad():
                means = flat.float() @ _mean_row(head.weight)
                if bias is not None:
                    means += bias.float().mean()
    mask = _dense(batch, torch.ones_like(batch.target_seq, dtype=torch.bool))
    return CompletionLogps(
        logps=_dense(batch, logps),
        mask=mask,
        mean_logits=None if means is None else _dense(batch, means),
        stats={k: _dense(batch, v) for k, v in extra.items()},
        values=None if values is None else _dense(batch, values.float()),
    )


class LogpsModel(nn.Module):
    """A causal LM whose forward returns `CompletionLogps` for a `SequenceBatch`.

    Wrapping the whole computation in one module's forward lets Accelerate's DDP/FSDP
    wrappers see the LM head used inside forward, as with a plain model call. `temperature`
    divides the logits (online algorithms: the sampling temperature).
    """

    def __init__(
        self,
        model: nn.Module,
        stats: Iterable[str] = (),
        chunk: int | None = None,
        temperature: float = 1.0,
    ):
        super().__init__()
        self.model = model
        self.stats = tuple(stats)
        self.chunk = chunk
        self.temperature = temperature
        # False on steps that log nothing: no metric-only stats, no mean logits
        self.log_metrics = True
        self.kernel = "torch"  # or "liger" (`completion_logps`)

    def forward(self, batch: SequenceBatch) -> CompletionLogps:
        stats = self.stats
        if not self.log_metrics:
            stats = tuple(s for s in stats if s not in METRIC_STATS)
        return completion_logps(
            self.model,
            batch,
            stats=stats,
            chunk=self.chunk,
            temperature=self.temperature,
            mean_logits=self.log_metrics,
            kernel=self.kernel,
        )


def _plain_stats(logits: Tensor, targets: Tensor, stats: tuple[str, ...]) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    logp = torch.log_softmax(logits, -1)
    if "is_top1" in stats:
        out["is_top1"] = logits.argmax(-1) == targets
    if "log_sum_sq_probs" in stats:
        out["log_sum_sq_probs"] = torch.logsumexp(2 * logp, -1)
    if "entropy" in stats:
        out["entropy"] = -(logp.exp() * logp).sum(-1)
    return out
