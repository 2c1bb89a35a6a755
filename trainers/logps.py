"""Completion-token log-probabilities of a model on a `SequenceBatch`.

Only the positions that are trained on go through the LM head, a chunk of tokens at a time
(`lm_head`), never the full `[batch, length, vocab]` logits; models whose logits are
transformed after the head take the plain path through the model's own logits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from trlprep.trainers.batch import SequenceBatch
from trlprep.trainers.lm_head import (  # noqa: F401 - the public names of the log-probs
    CHUNK_BYTES,
    STATS,
    SeqLoss,
    chunk_tokens,
    chunked_nll,
    chunked_sequence_loss,
    chunked_token_logps,
)
from trlprep.trainers.losses.supervised import nll_divisor, nll_loss

# stats only metrics read: computed on logging steps only (`LogpsModel.log_metrics`)
METRIC_STATS = ("is_top1", "entropy")
# config attributes that transform logits after the LM head; such models take the plain path
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_mult")


def liger_available() -> bool:
    """Whether Liger Kernel's fused linear cross-entropy can run here (CUDA + the package)."""
    return torch.cuda.is_available() and liger_import_error() is None


def liger_import_error() -> str | None:
    """Why Liger Kernel's functional API does not import here (None when it does): an
    installed release can fail against the installed torch or Triton (or, on CPU, lack
    Triton), which must be found before training."""
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
    the model has one (PPO). `loss`, when asked for, is the completion tokens' negative
    log-likelihood (`nll_loss`) or a `SeqLoss` of the sequences' sums, with gradient; `logps`
    may then carry none.
    """

    logps: Tensor
    mask: Tensor
    mean_logits: Tensor | None
    stats: dict[str, Tensor]
    values: Tensor | None = None
    loss: Tensor | None = None

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
    nll: bool = False,
    num_items: float | Tensor | None = None,
    seq_loss: SeqLoss | None = None,
    loss_in_forward: bool = True,
) -> CompletionLogps:
    """Run `model` on `batch` and return the log-probs of every completion token.

    Goes through the transformer, then the LM head on the trained-on positions only, in
    chunks. Models whose logits are transformed after the head (soft-capping, scaling) take
    the plain path through the model's own logits instead. `temperature` divides the logits
    (the distribution completions were sampled from); `value_head` maps the same positions'
    hidden states to `values`; `mean_logits=False` skips the mean logits (a metric).
    `kernel="fused"` computes the chunked log-probs' softmax arithmetic with compiled kernels;
    `kernel="liger"` computes the log-probs with Liger Kernel on CUDA when the stats asked
    for allow it (the fused chunked path otherwise). `nll` also returns the negative
    log-likelihood of the completion tokens divided by `num_items` (default: their number),
    through `chunked_nll` where it applies: the head's gradients computed in the forward;
    `seq_loss` returns that loss of the sequences' sums, through `chunked_sequence_loss`
    where it applies. `loss_in_forward=False` computes either from the recomputing
    log-probs instead.
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
    values = loss = None
    if nll and seq_loss is not None:
        raise ValueError("ask for the NLL or a sequence loss, not both")
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
        # stats (a logging step) and Liger take the recomputing log-probs below
        in_forward = loss_in_forward and not stats and kernel != "liger"
        if nll and in_forward:
            ones = torch.ones_like(batch.target_ids, dtype=torch.float32)
            weights = ones / nll_divisor(len(ones), num_items, ones)
            loss, logps = chunked_nll(
                flat, head.weight, batch.target_ids, weights, bias, chunk=chunk,
                fused=kernel == "fused",
            )  # fmt: skip
            extra = {}
        elif seq_loss is not None and in_forward:
            loss, logps = chunked_sequence_loss(
                flat, head.weight, batch.target_ids, batch.target_seq, batch.host_counts(),
                seq_loss, bias, chunk=chunk, fused=kernel == "fused",
            )  # fmt: skip
            extra = {}
        elif kernel == "liger" and set(stats) <= {"is_top1"} and flat.is_cuda:
            logps, extra = liger_token_logps(
                flat, head.weight, batch.target_ids, bias, top1="is_top1" in stats
            )
        else:
            fused = kernel in ("fused", "liger")
            logps, extra = chunked_token_logps(
                flat, head.weight, batch.target_ids, bias, chunk=chunk, stats=stats, fused=fused
            )
        means = None
        if mean_logits:
            with torch.no_grad():
                means = flat.float() @ _mean_row(head.weight)
                if bias is not None:
                    means += bias.float().mean()
    mask = _dense(batch, torch.ones_like(batch.target_seq, dtype=torch.bool))
    dense = _dense(batch, logps)
    if nll and loss is None:
        loss = nll_loss(dense, mask, num_items)
    if seq_loss is not None and loss is None:
        loss = seq_loss.fn(dense.sum(-1))
    return CompletionLogps(
        logps=dense,
        loss=loss,
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
        *,
        kernel: str = "torch",
    ):
        super().__init__()
        self.model = model
        self.stats = tuple(stats)
        self.chunk = chunk
        self.temperature = temperature
        # False on steps that log nothing: no metric-only stats, no mean logits
        self.log_metrics = True
        self.kernel = kernel  # "torch", "fused" or "liger" (`completion_logps`)
        self.loss_in_forward = True  # `completion_logps`'s switch

    def forward(
        self,
        batch: SequenceBatch,
        nll: bool = False,
        num_items: float | Tensor | None = None,
        seq_loss: SeqLoss | None = None,
    ) -> CompletionLogps:
        """`batch`'s completion log-probs; `nll`: also their NLL over `num_items`; `seq_loss`:
        also that loss of their sums (`completion_logps`)."""
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
            nll=nll,
            num_items=num_items,
            seq_loss=seq_loss,
            loss_in_forward=self.loss_in_forward,
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
