"""Log-probabilities of target tokens through a causal LM's head, without the full logits.

A causal LM's `[batch, length, vocab]` float32 logits dominate training memory at large
vocabularies (128k x 1024 tokens x 4 bytes = 512 MiB per sequence). Here the head runs on a
chunk of tokens at a time, and a log-prob is the target logit minus a log-sum-exp. Peak
extra memory is one chunk's `[chunk, vocab]` float32 logits.

- `chunked_token_logps`: the log-probs, differentiable; the backward pass recomputes each
  chunk's logits instead of keeping them (any loss can follow).
- `chunked_nll`: the weighted negative log-likelihood `-sum_t w_t logp_t` (SFT), whose
  per-token gradients `-w_t` are known before the loss is: each chunk's gradients are
  computed in the forward from the logits at hand, so the logits are computed once, not
  twice, and the backward only scales them.
- `chunked_sequence_loss`: the same for a loss of the sequences' summed log-probs that is a
  sum of independent terms, one per group of sequences (a DPO pair, a KTO row): chunks hold
  whole groups, so a group's loss, and with it each of its tokens' gradient, is known once
  its chunk's log-probs are (as Liger Kernel's fused preference losses).

The three products (logits, and the gradients of the hidden states and of the head's
weight) run in the compute dtype (bf16 under autocast: tensor cores), the softmax
arithmetic in float32 (`chunk_math`), each chunk's weight gradient summed in float32.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from trlprep.trainers import chunk_math as cm

CHUNK_BYTES = 256 * 2**20  # float32 logits held at once
STATS = ("is_top1", "log_sum_sq_probs", "entropy")


def chunk_tokens(vocab_size: int, budget_bytes: int = CHUNK_BYTES) -> int:
    """Tokens per chunk so that one chunk's float32 logits fit in `budget_bytes`."""
    return max(16, budget_bytes // (4 * vocab_size))


def _compute_dtype(x: Tensor) -> torch.dtype:
    if torch.is_autocast_enabled(x.device.type):
        return torch.get_autocast_dtype(x.device.type)
    return x.dtype


@dataclass
class _Head:
    """The head's weight and bias in the compute dtype, and the float32 gradient sums."""

    w: Tensor
    b: Tensor | None
    dtype: torch.dtype
    fused: bool
    param_dtypes: tuple[torch.dtype, torch.dtype | None]  # the weight's and the bias's
    grad_hidden: Tensor | None = None
    grad_weight: Tensor | None = None
    grad_bias: Tensor | None = None

    @classmethod
    def of(cls, hidden, weight, bias, dtype, fused, needs=(False, False, False)) -> _Head:
        b, b_dtype = (None, None) if bias is None else (bias.to(dtype), bias.dtype)
        head = cls(weight.to(dtype), b, dtype, fused, (weight.dtype, b_dtype))
        if needs[0]:
            head.grad_hidden = torch.zeros_like(hidden)
        f32 = dict(dtype=torch.float32, device=weight.device)
        if needs[1]:
            head.grad_weight = torch.zeros(weight.shape, **f32)
        if bias is not None and needs[2]:
            head.grad_bias = torch.zeros(weight.shape[0], **f32)
        return head

    def logits(self, h: Tensor) -> Tensor:
        return F.linear(h.to(self.dtype), self.w, self.b)

    def grad_logits(self, logits: Tensor, lse: Tensor, g: Tensor, targets: Tensor) -> Tensor:
        """`g * (onehot(target) - softmax(logits))`: the gradient of `g * logp` in the logits."""
        if self.fused:
            return cm.fused_grad_logits(logits, lse, g, targets)
        if self.dtype != torch.float32:
            return cm.grad_logits_softmax(logits, lse, g, targets)
        out = logits.sub_(lse.unsqueeze(1)).exp_().mul_(-g.unsqueeze(1))
        out[torch.arange(len(targets), device=out.device), targets] += g
        return out

    def add_grads(self, sl: slice, h: Tensor, grad_logits: Tensor) -> None:
        """Add the chunk `sl`'s gradients (hidden states `h`) to the sums."""
        if self.grad_bias is not None:
            self.grad_bias += grad_logits.sum(0, dtype=torch.float32)
        if self.grad_hidden is not None:
            self.grad_hidden[sl] = (grad_logits @ self.w).to(self.grad_hidden.dtype)
        if self.grad_weight is None:
            return
        h = h.to(self.dtype)
        if self.dtype == torch.float32:
            self.grad_weight.addmm_(grad_logits.t(), h)
        else:  # each chunk's product in the compute dtype, summed in float32
            self.grad_weight = cm.add_product_fp32(self.grad_weight, grad_logits.t(), h)

    def grads(self, scale: Tensor | None = None) -> list[Tensor | None]:
        """The gradients of the hidden states, weight and bias (`scale` times the sums)."""
        out = [self.grad_hidden, self.grad_weight, self.grad_bias]
        if scale is not None:  # the sums are this call's own: scaled in place
            out = [None if g is None else g.mul_(scale.to(g.dtype)) for g in out]
        for k, dtype in ((1, self.param_dtypes[0]), (2, self.param_dtypes[1])):
            if out[k] is not None:
                out[k] = out[k].to(dtype)
        return out


def _chunk_logps(head: _Head, logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """`(logps, lse, logits)` of a chunk; the logits are float32 unless fused."""
    if head.fused:
        lse, target = cm.fused_lse_and_target(logits, targets)
        return target - lse, lse, logits
    logits = logits.float()
    lse = torch.logsumexp(logits, dim=-1)
    target = logits.gather(1, targets.unsqueeze(1)).squeeze(1)
    return target - lse, lse, logits


def _chunk_stats(logits: Tensor, lse: Tensor, targets: Tensor, stats) -> dict[str, Tensor]:
    logits = logits.float()
    out: dict[str, Tensor] = {}
    if "is_top1" in stats:
        out["is_top1"] = logits.argmax(-1) == targets
    if "log_sum_sq_probs" in stats:
        out["log_sum_sq_probs"] = torch.logsumexp(2 * logits, -1) - 2 * lse
    if "entropy" in stats:
        out["entropy"] = lse - (torch.softmax(logits, dim=-1) * logits).sum(-1)
    return out


class _ChunkedLogProbs(torch.autograd.Function):
    """log softmax(h W^T + b)[y], chunked over tokens, recomputing logits in backward."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk, stats, fused):  # type: ignore[override]
        n = hidden.shape[0]
        logps = torch.empty(n, dtype=torch.float32, device=hidden.device)
        lse = torch.empty_like(logps)
        extra = {k: torch.empty(n, device=hidden.device) for k in stats if k != "is_top1"}
        if "is_top1" in stats:
            extra["is_top1"] = torch.empty(n, dtype=torch.bool, device=hidden.device)
        dtype = _compute_dtype(hidden)
        # chunks whose stats are asked for take the eager ops, which keep float32 logits
        head = _Head.of(hidden, weight, bias, dtype, fused and not stats)
        with torch.autocast(hidden.device.type, enabled=False):
            for i in range(0, n, chunk):
                sl = slice(i, i + chunk)
                logps[sl], lse[sl], logits = _chunk_logps(
                    head, head.logits(hidden[sl]), targets[sl]
                )
                for k, v in _chunk_stats(logits, lse[sl], targets[sl], stats).items():
                    extra[k][sl] = v
                del logits  # before the next chunk's are made: one chunk's logits at a time
        ctx.save_for_backward(hidden, weight, bias, targets, lse)
        ctx.chunk, ctx.dtype, ctx.fused = chunk, dtype, fused
        outs = [extra[k] for k in stats]
        ctx.mark_non_differentiable(*outs)
        return (logps, *outs)

    @staticmethod
    def backward(ctx, grad_logps, *_):  # type: ignore[override]
        hidden, weight, bias, targets, lse = ctx.saved_tensors
        head = _Head.of(hidden, weight, bias, ctx.dtype, ctx.fused, ctx.needs_input_grad)
        for i in range(0, hidden.shape[0], ctx.chunk):
            sl = slice(i, i + ctx.chunk)
            logits = head.logits(hidden[sl])
            head.add_grads(
                sl,
                hidden[sl],
                head.grad_logits(logits, lse[sl], grad_logps[sl].float(), targets[sl]),
            )
            del logits
        return (*head.grads(), None, None, None, None)


class _ChunkedNLL(torch.autograd.Function):
    """`-sum_t w_t log softmax(h_t W^T + b)[y_t]`, the gradients computed in the forward."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, token_weights, chunk, fused):  # type: ignore[override]
        n = hidden.shape[0]
        logps = torch.empty(n, dtype=torch.float32, device=hidden.device)
        head = _Head.of(hidden, weight, bias, _compute_dtype(hidden), fused, ctx.needs_input_grad)
        g = -token_weights.float()
        with torch.autocast(hidden.device.type, enabled=False):
            for i in range(0, n, chunk):
                sl = slice(i, i + chunk)
                logits = head.logits(hidden[sl])  # compute dtype, as the backward's would be
                logps[sl], lse, _ = _chunk_logps(head, logits, targets[sl])
                head.add_grads(sl, hidden[sl], head.grad_logits(logits, lse, g[sl], targets[sl]))
                del logits
        ctx.head = head
        ctx.mark_non_differentiable(logps)
        return (g * logps).sum(), logps

    @staticmethod
    def backward(ctx, grad_loss, _):  # type: ignore[override]
        head, ctx.head = ctx.head, None
        return (*head.grads(grad_loss), None, None, None, None)


def chunked_token_logps(
    hidden: Tensor,
    weight: Tensor,
    targets: Tensor,
    bias: Tensor | None = None,
    *,
    chunk: int | None = None,
    stats: Iterable[str] = (),
    fused: bool = False,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Log-probs of `targets` `(N,)` under logits `hidden @ weight.T + bias`, never holding
    more than `chunk` rows of logits; differentiable in `hidden`, `weight` and `bias`.

    `stats` (no gradient) may ask for `is_top1` (the target is the argmax),
    `log_sum_sq_probs` (log sum_v p_v^2, for WPO) and `entropy`. `fused` computes each
    chunk's softmax arithmetic with compiled kernels (`chunk_math`); a forward that computes
    stats stays eager.
    """
    stats = tuple(stats)
    unknown = set(stats) - set(STATS)
    if unknown:
        raise ValueError(f"unknown token stats {sorted(unknown)}; use {STATS}")
    chunk = chunk or chunk_tokens(weight.shape[0])
    logps, *outs = _ChunkedLogProbs.apply(hidden, weight, bias, targets, chunk, stats, fused)
    return logps, dict(zip(stats, outs, strict=True))


def chunked_nll(
    hidden: Tensor,
    weight: Tensor,
    targets: Tensor,
    token_weights: Tensor,
    bias: Tensor | None = None,
    *,
    chunk: int | None = None,
    fused: bool = False,
) -> tuple[Tensor, Tensor]:
    """`(loss, logps)`: `loss = -sum_t token_weights[t] * logp_t` (differentiable in
    `hidden`, `weight` and `bias`) and the log-probs themselves (no gradient).

    Equal to `-(token_weights * chunked_token_logps(...)).sum()` up to rounding, at three
    head products a token instead of four. Without gradients (evaluation) it is exactly
    that."""
    chunk = chunk or chunk_tokens(weight.shape[0])
    params = (hidden, weight) if bias is None else (hidden, weight, bias)
    if not (torch.is_grad_enabled() and any(p.requires_grad for p in params)):
        logps, _ = chunked_token_logps(hidden, weight, targets, bias, chunk=chunk, fused=fused)
        return -(token_weights.float() * logps).sum(), logps
    return _ChunkedNLL.apply(hidden, weight, bias, targets, token_weights, chunk, fused)


@dataclass(frozen=True)
class SeqLoss:
    """A loss of the sequences' summed completion log-probs, `fn(sums) -> scalar`, that is a
    sum of independent terms, one per group of `groups` (each sequence in exactly one): a
    group's gradient must not depend on the other groups' sums. DPO's per-pair losses
    averaged over the pairs are; AOT's (sorted over the batch) are not."""

    fn: Callable[[Tensor], Tensor]
    groups: tuple[tuple[int, ...], ...]

    @classmethod
    def pairs(cls, fn: Callable[[Tensor], Tensor], num_pairs: int) -> SeqLoss:
        """Pairs `(i, num_pairs + i)`: chosen sequences first, then the rejected ones."""
        return cls(fn, tuple((i, num_pairs + i) for i in range(num_pairs)))

    @classmethod
    def rows(cls, fn: Callable[[Tensor], Tensor], num_seqs: int) -> SeqLoss:
        """One term per sequence."""
        return cls(fn, tuple((i,) for i in range(num_seqs)))


def _plan(
    counts: Sequence[int], groups: Sequence[Sequence[int]], chunk: int, device=None
) -> list[Tensor]:
    """Token indices (tokens ordered by sequence, `counts` a sequence) of each piece, made on
    `device`: whole groups, consecutive ones together up to `chunk` tokens (a larger group
    alone); pieces without tokens are left out."""
    seen = sorted(s for g in groups for s in g)
    if seen != list(range(len(counts))):
        raise ValueError(f"the groups must hold each of the {len(counts)} sequences once")
    starts = [0]
    for c in counts:
        starts.append(starts[-1] + c)
    pieces: list[list[tuple[int, int]]] = [[]]
    size = 0
    for group in groups:
        n = sum(counts[s] for s in group)
        if size and size + n > chunk:
            pieces.append([])
            size = 0
        pieces[-1] += [(starts[s], starts[s + 1]) for s in group]
        size += n
    # made where they are used: a copy from the host would wait for the device's queue
    out = [torch.cat([torch.arange(a, b, device=device) for a, b in p]) for p in pieces if p]
    return [idx for idx in out if len(idx)]  # groups without tokens add nothing


def _group_grads(fn: Callable[[Tensor], Tensor], part: Tensor, seq: Tensor) -> Tensor:
    """d fn / d sums at `part` (the sums of the sequences `seq` lists, zeros elsewhere), kept
    where `seq` points: with independent groups, the other groups' values do not matter."""
    with torch.enable_grad():
        sums = part.clone().requires_grad_()
        loss = fn(sums)
        grad = None
        if loss.requires_grad:
            (grad,) = torch.autograd.grad(loss, sums, allow_unused=True)
    if grad is None:
        return torch.zeros_like(part)
    inside = torch.zeros_like(part, dtype=torch.bool).index_fill_(0, seq, True)
    return torch.where(inside, grad, 0.0)


class _ChunkedSequenceLoss(torch.autograd.Function):
    """`fn(per-sequence sums of log softmax(h W^T + b)[y])`, the gradients computed in the
    forward a piece of whole groups at a time (`_plan`)."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, token_seq, pieces, num_seqs, fn, chunk, fused):  # type: ignore[override]
        dev = hidden.device
        logps = torch.empty(hidden.shape[0], dtype=torch.float32, device=dev)
        sums = torch.zeros(num_seqs, dtype=torch.float32, device=dev)
        head = _Head.of(hidden, weight, bias, _compute_dtype(hidden), fused, ctx.needs_input_grad)
        with torch.autocast(dev.type, enabled=False):
            for idx in pieces:
                # a group longer than a chunk: the logits of all but its last sub-chunk are
                # computed again once its loss is known
                subs, lses = idx.split(chunk), []
                for sub in subs:
                    logits = None  # one sub-chunk's logits at a time
                    logits = head.logits(hidden[sub])
                    logps[sub], lse, _ = _chunk_logps(head, logits, targets[sub])
                    lses.append(lse)
                seq = token_seq[idx]
                part = torch.zeros_like(sums).index_add_(0, seq, logps[idx])
                g = _group_grads(fn, part, seq)[seq].split(chunk)
                for k in reversed(range(len(subs))):  # the last sub-chunk's logits first
                    if k < len(subs) - 1:
                        logits = head.logits(hidden[subs[k]])
                    grad = head.grad_logits(logits, lses[k], g[k], targets[subs[k]])
                    del logits
                    head.add_grads(subs[k], hidden[subs[k]], grad)
                    del grad
                sums += part
            loss = fn(sums).float()
        ctx.head = head
        ctx.mark_non_differentiable(logps)
        return loss, logps

    @staticmethod
    def backward(ctx, grad_loss, _):  # type: ignore[override]
        head, ctx.head = ctx.head, None
        return (*head.grads(grad_loss), *[None] * 7)


def chunked_sequence_loss(
    hidden: Tensor,
    weight: Tensor,
    targets: Tensor,
    token_seq: Tensor,
    counts: Sequence[int],
    loss: SeqLoss,
    bias: Tensor | None = None,
    *,
    chunk: int | None = None,
    fused: bool = False,
) -> tuple[Tensor, Tensor]:
    """`(loss.fn(sums), logps)` where `sums[s]` adds the log-probs of the targets of sequence
    `s` (`token_seq`, tokens ordered by sequence, `counts[s]` of them): the loss
    differentiable in `hidden`, `weight` and `bias`, the log-probs without gradient.

    Equal to `loss.fn` of the sums of `chunked_token_logps` up to rounding, at three head
    products a token instead of four, for a loss whose groups are independent (`SeqLoss`).
    Without gradients it is exactly that."""
    chunk = chunk or chunk_tokens(weight.shape[0])
    params = (hidden, weight) if bias is None else (hidden, weight, bias)
    if not (torch.is_grad_enabled() and any(p.requires_grad for p in params)):
        logps, _ = chunked_token_logps(hidden, weight, targets, bias, chunk=chunk, fused=fused)
        sums = torch.zeros(len(counts), dtype=torch.float32, device=logps.device)
        return loss.fn(sums.index_add_(0, token_seq, logps)), logps
    pieces = _plan(counts, loss.groups, chunk, hidden.device)
    return _ChunkedSequenceLoss.apply(
        hidden, weight, bias, targets, token_seq, pieces, len(counts), loss.fn, chunk, fused
    )
