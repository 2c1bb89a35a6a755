"""What online algorithms' rollouts are made of and with.

    rows ──rollout──> Experience (sequences + per-sequence / per-token tensors)
         ──plan────> [optimizer step: [micro-batch: RolloutBatch, ...], ...]

An algorithm supplies the rollout function (`OnlineSpec.rollout`), which samples, scores and
computes what its loss needs through a `RolloutContext` (generation, log-probs and rewards
in micro-batch chunks), and returns a `Rollout`. `source.Rollouts` serves rollouts to
the training loop as optimizer steps.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from trlprep.trainers.batch import SequenceBatch
from trlprep.trainers.collate import Collator, _to
from trlprep.trainers.logps import LogpsModel
from trlprep.trainers.models import AdapterOff
from trlprep.trainers.online.generation import Generated, Sampling, generate
from trlprep.trainers.online.rewards import Rewards, Scores

Metrics = dict[str, float]
# keys of the prompt rows (`data_layouts.LAYOUTS["prompts"]`) that are not dataset columns
PROMPT_KEYS = ("prompt", "prompt_text", "prompt_messages")


@dataclass
class RolloutBatch:
    """One micro-batch of generated sequences and what the loss needs of them.

    Per-token tensors are `(seqs, max_targets)` over completion tokens (as `CompletionLogps`),
    per-sequence ones `(seqs,)`. With `unit` > 1 sequences per prompt the order is the first
    sequence of every prompt, then the second, ... (`num_units` prompts).
    """

    seqs: SequenceBatch
    num_units: int
    old_logps: Tensor | None = None
    ref_logps: Tensor | None = None
    advantages: Tensor | None = None
    returns: Tensor | None = None
    values: Tensor | None = None
    scores: Tensor | None = None

    to = _to


_FIELDS = ("old_logps", "ref_logps", "advantages", "returns", "values", "scores")


@dataclass
class Experience:
    """The sequences of one rollout (`unit` consecutive sequences per prompt) and their
    tensors (keys of `RolloutBatch`), row i for sequence i."""

    prompts: list[list[int]]
    completions: list[list[int]]
    unit: int = 1
    fields: dict[str, Tensor] = field(default_factory=dict)

    @property
    def num_units(self) -> int:
        return len(self.prompts) // self.unit

    def batch(self, units: Sequence[int], collator: Collator) -> RolloutBatch:
        """The micro-batch of the given prompts (units), member-major."""
        index = [j * self.unit + k for k in range(self.unit) for j in units]
        seqs = collator.sequences([_sequence(self.prompts[i], self.completions[i]) for i in index])
        rows = torch.as_tensor(index)
        picked = {}
        for name, value in self.fields.items():
            v = value[rows.to(value.device)]
            picked[name] = v[:, : seqs.max_targets] if v.dim() == 2 else v
        return RolloutBatch(seqs, len(units), **picked)


def _sequence(prompt: list[int], completion: list[int]) -> tuple[list[int], list[int]]:
    return list(prompt) + list(completion), [0] * len(prompt) + [1] * len(completion)


@dataclass
class Rollout:
    """What an algorithm's rollout returns: the experience, metrics (TRL's names), histogram
    values for the trackers, sample records for `completions.jsonl`, and each sequence's
    k1 estimate of KL(policy || reference) when there is a reference (negative-KL check)."""

    experience: Experience
    metrics: Metrics
    histograms: dict[str, Tensor] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    seq_kl: Tensor | None = None


@dataclass(frozen=True)
class OnlineSpec:
    """How an online algorithm rolls out and how many optimizer steps a rollout serves:
    `passes` over it (GRPO's num_iterations, PPO's epochs), each in `mini_batches` steps.
    `units_per_prompt` sequences count against `batch_size` per prompt (GRPO/RLOO's
    num_generations; pairwise algorithms count prompts)."""

    rollout: Callable[[RolloutContext, list[dict]], Rollout]
    units_per_prompt: Callable[[Any], int] = lambda o: 1
    passes: Callable[[Any], int] = lambda o: 1
    mini_batches: Callable[[Any], int] = lambda o: 1
    needs_rewards: bool = True
    state: Callable[[Any], dict[str, Any]] = lambda o: {}  # checkpointed (state_dict())


# ------------------------------------------------------------------ what a rollout uses


@contextlib.contextmanager
def generating(module: nn.Module) -> Iterator[nn.Module]:
    """The Hugging Face model behind a `LogpsModel` (or, for a LoRA run's reference, the
    model with its adapters off) to call `generate` on."""
    if isinstance(module, AdapterOff):
        with module.peft_model.disable_adapter():
            yield module.peft_model
    else:
        yield module.model if isinstance(module, LogpsModel) else module


class _AdaptersOff(nn.Module):
    """A LoRA run's reference as a plain forward (adapters off only during each call)."""

    def __init__(self, peft_model: nn.Module) -> None:
        super().__init__()
        self.peft_model = peft_model

    def forward(self, **kwargs: Any) -> Any:
        with self.peft_model.disable_adapter():
            return self.peft_model(**kwargs)


@dataclass
class Forward:
    """Dense per-token log-probs `(n, T)` of n sequences' completions, their mask, and the
    value head's values when the model has one."""

    logps: Tensor
    mask: Tensor
    values: Tensor | None = None


@dataclass
class RolloutContext:
    """Generation, log-probs and rewards for rollouts, `micro_size` sequences at a time."""

    policy: nn.Module  # the unwrapped LogpsModel being trained
    reference: nn.Module | None
    rewards: Rewards | None
    tokenizer: Any
    options: Any
    collator: Collator
    device: torch.device
    autocast: Callable[[], Any]
    gather: Callable[[Tensor], Tensor]
    state: dict[str, Any]
    micro_size: int
    learning_rate: Callable[[], float] = lambda: float("nan")
    teacher: nn.Module | None = None
    training: bool = True
    num_processes: int = 1

    @property
    def eos_ids(self) -> list[int]:
        ids = [self.tokenizer.eos_token_id]
        extra = getattr(getattr(self.policy, "model", None), "generation_config", None)
        extra = getattr(extra, "eos_token_id", None)
        ids += extra if isinstance(extra, list) else [extra] if extra is not None else []
        return sorted({i for i in ids if i is not None})

    def sampling(self) -> Sampling:
        return self.options.sampling()

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        source: str = "policy",
        sampling: Sampling | None = None,
    ) -> Generated:
        """One completion per prompt from the policy, the reference, the teacher or the
        geometric mixture of policy and reference (`source="mixture"`)."""
        sampling = sampling or self.sampling()
        size = getattr(self.options, "generation_batch_size", None) or self.micro_size
        kw = dict(
            pad_token_id=self.tokenizer.pad_token_id, eos_token_ids=self.eos_ids, batch_size=size
        )
        module = {"policy": self.policy, "reference": self.reference, "teacher": self.teacher}
        if source == "mixture":
            ref = self.reference
            ref_model = _AdaptersOff(ref.peft_model) if isinstance(ref, AdapterOff) else ref.model
            mixture = (ref_model, self.options.mixture_coef)
            with generating(self.policy) as model, self.autocast():
                return generate(model, prompts, sampling, mixture=mixture, **kw)
        with generating(module[source]) as model, self.autocast():
            return generate(model, prompts, sampling, **kw)

    @torch.no_grad()
    def forward(
        self, module: nn.Module, prompts: Sequence[list[int]], completions: Sequence[list[int]]
    ) -> Forward:
        """`module`'s per-token log-probs of the completions, without gradient."""
        parts: list[Any] = []
        for start in range(0, len(prompts), self.micro_size):
            p = prompts[start : start + self.micro_size]
            c = completions[start : start + self.micro_size]
            seqs = self.collator.sequences([_sequence(a, b) for a, b in zip(p, c, strict=True)]).to(
                self.device
            )
            with self.autocast():
                parts.append(module(seqs))
        width = max(x.logps.shape[1] for x in parts)
        cat = lambda ts: torch.cat([_widen(t, width) for t in ts])  # noqa: E731
        values = None if parts[0].values is None else cat([x.values for x in parts])
        return Forward(cat([x.logps.float() for x in parts]), cat([x.mask for x in parts]), values)

    def decode(self, completions: Sequence[list[int]]) -> list[str]:
        return self.tokenizer.batch_decode(completions, skip_special_tokens=True)

    def score(self, rows: list[dict], gen: Generated, prompts: Sequence[list[int]]) -> Scores:
        """Rewards of each completion (`rows[i]` is the dataset row of completion i)."""
        assert self.rewards is not None
        texts = self.decode(gen.completions)
        conversational = "prompt_messages" in rows[0]
        prompt_values = [r["prompt_messages" if conversational else "prompt_text"] for r in rows]
        completions: list[Any] = texts
        if conversational:
            completions = [[{"role": "assistant", "content": t}] for t in texts]
        columns = {k: [r[k] for r in rows] for k in rows[0] if k not in PROMPT_KEYS}
        seqs = [list(p) + c for p, c in zip(prompts, gen.completions, strict=True)]
        return self.rewards(prompt_values, completions, gen.completions, seqs, columns)


def _widen(t: Tensor, width: int) -> Tensor:
    return torch.nn.functional.pad(t, (0, width - t.shape[1])) if t.shape[1] < width else t


# ------------------------------------------------------------------ shared metrics


def length_metrics(gen: Generated, prefix: str = "completions/") -> Metrics:
    """TRL's completion-length metrics; `clipped_ratio` is the share without an EOS."""
    lengths = torch.tensor([len(c) for c in gen.completions], dtype=torch.float32)
    ended = torch.tensor(gen.has_eos, dtype=torch.bool)
    out = {
        f"{prefix}mean_length": float(lengths.mean()),
        f"{prefix}min_length": float(lengths.min()),
        f"{prefix}max_length": float(lengths.max()),
        f"{prefix}clipped_ratio": float((~ended).float().mean()),
    }
    if ended.any():
        out[f"{prefix}mean_terminated_length"] = float(lengths[ended].mean())
    return out


def reward_metrics(scores: Scores) -> Metrics:
    """`reward`, `reward_std` and `rewards/<name>/mean|std` (NaN scores left out)."""
    total = scores.total
    out = {"reward": _nanmean(total), "reward_std": _nanstd(total)}
    for i, name in enumerate(scores.names):
        out[f"rewards/{name}/mean"] = _nanmean(scores.per_source[:, i])
        out[f"rewards/{name}/std"] = _nanstd(scores.per_source[:, i])
    return out


def _nanmean(x: Tensor) -> float:
    x = x[~torch.isnan(x)]
    return float(x.mean()) if x.numel() else math.nan


def _nanstd(x: Tensor) -> float:
    x = x[~torch.isnan(x)]
    return float(x.std()) if x.numel() > 1 else math.nan


def sample_records(
    ctx: RolloutContext,
    rows: list[dict],
    gen: Generated,
    scores: Scores | None = None,
    **extra: Tensor,
) -> list[dict[str, Any]]:
    """Records of prompt, completion, reward (and each source's), plus `extra` per sequence."""
    texts = ctx.decode(gen.completions)
    out = []
    for i, (row, text) in enumerate(zip(rows, texts, strict=True)):
        rec: dict[str, Any] = {"prompt": row["prompt_text"], "completion": text}
        if scores is not None:
            rec["reward"] = _json_float(scores.total[i])
            for j, name in enumerate(scores.names):
                rec[f"rewards/{name}"] = _json_float(scores.per_source[i, j])
        for k, v in extra.items():
            rec[k] = _json_float(v[i])
        out.append(rec)
    return out


def _json_float(x: Tensor | float) -> float | None:
    v = float(x)
    return None if math.isnan(v) else round(v, 6)
