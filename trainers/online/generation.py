"""Sampling completions with the model's own `generate`, in the Training FAQ's safe settings.

The FAQ ("How to generate text for training?") recommends pure sampling from the model:
`min_length=-1` (never suppress EOS), `top_k=0` and `top_p=1.0` (no truncation),
`do_sample=True`, EOS as the pad token when there is none, and a `max_new_tokens` limit.
Anything else samples from a distribution other than the policy's, and the KL estimate to the
reference can go negative, which the policy then learns to exploit; `kl_risks` names such
settings so the trainer can warn. Every setting is passed to `generate` explicitly, so a
model's `generation_config.json` (often `top_k=50`) does not change the sampling silently.
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from trlprep.errors import warn_user


@dataclass(frozen=True)
class Sampling:
    """What `generate` samples with (TRL's names)."""

    max_new_tokens: int
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    min_length: int = -1
    repetition_penalty: float = 1.0
    cache: str = "auto"  # static, dynamic; auto: static on CUDA (see `generate`)


def kl_risks(s: Sampling) -> list[str]:
    """The settings of `s` that stop `generate` from sampling the policy's own distribution
    (each can drive the KL to the reference negative, see the Training FAQ)."""
    risks = []
    if s.top_k and s.top_k > 0:
        risks.append(f"top_k={s.top_k} truncates sampling to the top tokens")
    if s.top_p < 1.0:
        risks.append(f"top_p={s.top_p} truncates sampling to the nucleus")
    if s.min_length > 0:
        risks.append(f"min_length={s.min_length} suppresses EOS until that length")
    if s.repetition_penalty != 1.0:
        risks.append(f"repetition_penalty={s.repetition_penalty} reshapes the distribution")
    return risks


def kl_warning(s: Sampling) -> str | None:
    """One warning line for `kl_risks`, or None with the safe settings."""
    risks = kl_risks(s)
    if not risks:
        return None
    return (
        "warning: "
        + "; ".join(risks)
        + ": completions are not sampled from the policy, so the KL to the reference can go "
        "negative (Training FAQ); the safe settings are top_k=0, top_p=1.0, min_length=-1"
    )


@dataclass
class Generated:
    """Completion token ids (up to and including the first EOS) and whether each has one."""

    completions: list[list[int]]
    has_eos: list[bool]


def left_pad(
    prompts: Sequence[Sequence[int]], pad_id: int, multiple: int = 1
) -> tuple[Tensor, Tensor]:
    """Prompts right-aligned in one tensor (as decoder-only generation needs), and the mask;
    the width rounded up to a `multiple` (fewer distinct shapes for a compiled decode)."""
    width = -(-max(len(p) for p in prompts) // multiple) * multiple
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        if p:
            ids[i, width - len(p) :] = torch.as_tensor(list(p), dtype=torch.long)
            mask[i, width - len(p) :] = 1
    return ids, mask


def cut_at_eos(rows: Tensor, eos_ids: Sequence[int]) -> Generated:
    """Generated rows `(n, new_tokens)` cut after their first EOS."""
    is_eos = torch.isin(rows, torch.as_tensor(list(eos_ids), device=rows.device))
    has = is_eos.any(-1)
    ends = torch.where(has, is_eos.int().argmax(-1) + 1, rows.shape[1]).tolist()
    values = rows.tolist()
    return Generated([r[:n] for r, n in zip(values, ends, strict=True)], has.tolist())


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """`model` in eval mode (no activation checkpointing, KV cache allowed), restored after."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


@torch.no_grad()
def generate(
    model: nn.Module,
    prompts: Sequence[Sequence[int]],
    sampling: Sampling,
    *,
    pad_token_id: int,
    eos_token_ids: Sequence[int],
    batch_size: int,
    mixture: tuple[nn.Module, float] | None = None,
) -> Generated:
    """Sample one completion per prompt with `model.generate`, `batch_size` prompts at a time.

    `mixture=(reference, a)` samples from the geometric mixture pi^(1-a) ref^a instead
    (Nash-MD), through a logits processor that runs the reference with its own KV cache.
    With a static KV cache (`sampling.cache`; auto: on CUDA without a mixture) transformers
    compiles the decode step (CUDA graphs); prompt widths are then rounded up to 64 tokens
    so that few shapes are compiled.
    """
    device = next(model.parameters()).device
    static = sampling.cache == "static" or (
        sampling.cache == "auto" and device.type == "cuda" and mixture is None and _STATIC_OK
    )
    cache = {"cache_implementation": "static"} if static else {}
    weights = contextlib.nullcontext()
    if static and torch.is_autocast_enabled(device.type):
        weights = compute_dtype_weights(model, torch.get_autocast_dtype(device.type))
    completions: list[list[int]] = []
    has_eos: list[bool] = []
    for start in range(0, len(prompts), batch_size):
        ids, mask = left_pad(prompts[start : start + batch_size], pad_token_id, 64 if static else 1)
        ids, mask = ids.to(device), mask.to(device)
        processors = [GeometricMixture(mixture[0], mixture[1], mask)] if mixture else None
        kwargs = dict(
            input_ids=ids,
            attention_mask=mask,
            do_sample=True,
            max_new_tokens=sampling.max_new_tokens,
            temperature=sampling.temperature,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            min_length=sampling.min_length,
            repetition_penalty=sampling.repetition_penalty,
            pad_token_id=pad_token_id,
            eos_token_id=list(eos_token_ids),
            use_cache=True,
            logits_processor=processors,
        )
        with eval_mode(model):
            try:
                with weights if cache else contextlib.nullcontext():
                    out = model.generate(**kwargs, **cache)
            except Exception as e:  # the compiled static-cache path unsupported here
                if not cache or sampling.cache == "static":
                    raise
                _static_failed(e)
                cache = {}
                out = model.generate(**kwargs)
        got = cut_at_eos(out[:, ids.shape[1] :], eos_token_ids)
        completions += got.completions
        has_eos += got.has_eos
    return Generated(completions, has_eos)


_STATIC_OK = True  # False once the automatic static cache failed in this process
_GENERATION_WEIGHTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def compute_dtype_weights(model: nn.Module, dtype: torch.dtype) -> Iterator[nn.Module]:
    """`model`'s float parameters seen in `dtype` (bfloat16 under autocast) while generating,
    the float32 weights put back after, bit for bit.

    Under autocast a float32 model mixes dtypes in its KV states (rotary embeddings promote
    the keys to float32, the values stay bfloat16), which a static cache cannot hold. The
    copies live in buffers kept per model, so a compiled decode step (CUDA graphs) finds the
    weights at the same addresses on every call.
    """
    params = [p for p in model.parameters() if p.is_floating_point() and p.dtype != dtype]
    if not params:
        yield model
        return
    buffers = _GENERATION_WEIGHTS.get(model)
    if buffers is None or [b.shape for b in buffers] != [p.shape for p in params]:
        buffers = [torch.empty(p.shape, dtype=dtype, device=p.device) for p in params]
        _GENERATION_WEIGHTS[model] = buffers
    kept = [p.data for p in params]
    with torch.no_grad():
        for p, b in zip(params, buffers, strict=True):
            b.copy_(p.data)
            p.data = b
    try:
        yield model
    finally:
        for p, d in zip(params, kept, strict=True):
            p.data = d


def _static_failed(error: Exception) -> None:
    global _STATIC_OK
    _STATIC_OK = False
    warn_user(
        f"generation with a static KV cache failed ({type(error).__name__}: {error}); "
        "generating with the dynamic cache from now on (--generation-cache dynamic)",
        UserWarning,
    )


class GeometricMixture:
    """A logits processor mixing the policy's next-token logits with the reference's:
    (1 - a) * policy + a * reference, i.e. sampling from pi^(1-a) ref^a (normalised), as
    TRL's `GeometricMixtureWrapper`. Generation's temperature applies to the mixture."""

    def __init__(self, reference: nn.Module, coef: float, prompt_mask: Tensor) -> None:
        self.reference, self.coef = reference, coef
        self.mask = prompt_mask
        self.cache = None
        self.seen = 0
        # transformers 5.x names the KV cache `cache` (`past_key_values` warns it is going)
        forward = inspect.signature(getattr(reference, "module", reference).forward)
        self.cache_name = "cache" if "cache" in forward.parameters else "past_key_values"

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        new = input_ids[:, self.seen :]
        if self.seen:
            self.mask = torch.cat((self.mask, self.mask.new_ones((len(new), new.shape[1]))), 1)
        positions = (self.mask.cumsum(-1) - 1).clamp(min=0)[:, -new.shape[1] :]
        out = self.reference(
            input_ids=new,
            attention_mask=self.mask,
            position_ids=positions,
            use_cache=True,
            **{self.cache_name: self.cache},
        )
        self.cache, self.seen = out.get(self.cache_name), input_ids.shape[1]
        ref = out.logits[:, -1].to(scores.dtype)
        return (1 - self.coef) * scores + self.coef * ref
