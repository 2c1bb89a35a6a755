"""Options of the online algorithms, with TRL's documented defaults (TRL's option names;
`max_new_tokens` is GRPO/RLOO's `max_completion_length` and PPO's `response_length`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trlprep.trainers.losses import (
    GRPO_LOSS_TYPES,
    KL_ESTIMATORS,
    ONLINE_DPO_LOSS_TYPES,
    SCALE_REWARDS,
)
from trlprep.trainers.online.generation import Sampling

from trlprep.errors import UsageError


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UsageError(f"unknown {name} {value!r}", hint="use one of: " + ", ".join(choices))


def _numbers(name: str, value: Any) -> tuple[float, ...]:
    """Floats from a number, a comma-separated string or a list of either."""
    items = value if isinstance(value, (list, tuple)) else [value]
    parts = [x for v in items for x in (v.split(",") if isinstance(v, str) else [v])]
    try:
        return tuple(float(x) for x in parts)
    except (TypeError, ValueError):
        raise UsageError(
            f"{name} takes numbers, not {value!r}", hint="e.g. --reward-weights 1,0.5"
        ) from None


def _strings(value: Any) -> tuple[Any, ...]:
    """A tuple from one string (or callable) or a list of them."""
    if value is None:
        return ()
    if isinstance(value, str) or isinstance(value, Callable):
        return (value,)
    return tuple(value)


CACHES = ("auto", "static", "dynamic")


@dataclass
class GenerationOptions:
    """How completions are sampled (the Training FAQ's safe settings by default) and how often
    samples are written to `completions.jsonl` (None: every logging step; 0: never)."""

    max_new_tokens: int = 256
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    min_length: int = -1
    repetition_penalty: float = 1.0
    generation_batch_size: int | None = None  # prompts per `generate` call (default batch size)
    log_completions_steps: int | None = None
    # KV cache of `generate`: static (compiled decode step, CUDA graphs) or dynamic; auto:
    # static on CUDA, dynamic elsewhere
    generation_cache: str = "auto"

    def __post_init__(self) -> None:
        if self.generation_cache not in CACHES:
            raise UsageError(
                f"unknown generation_cache {self.generation_cache!r}",
                hint="use one of: " + ", ".join(CACHES),
            )
        if self.max_new_tokens < 1:
            raise UsageError("max_new_tokens must be at least 1")
        if self.temperature <= 0:
            raise UsageError("temperature must be positive (sampling)")
        if not 0 < self.top_p <= 1:
            raise UsageError("top_p must be in (0, 1]")

    def sampling(self) -> Sampling:
        return Sampling(
            self.max_new_tokens,
            self.temperature,
            self.top_k,
            self.top_p,
            self.min_length,
            self.repetition_penalty,
            self.generation_cache,
        )


@dataclass
class OnlineOptions(GenerationOptions):
    """Generation plus rewards: `reward_fn` (module:function, file.py:function or a built-in)
    and `reward_model` paths, repeatable, with one weight each (functions first)."""

    reward_fn: tuple[str, ...] = ()
    reward_model: tuple[str, ...] = ()
    reward_weights: tuple[float, ...] | None = None
    missing_eos_penalty: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.reward_fn = _strings(self.reward_fn)
        self.reward_model = _strings(self.reward_model)
        if self.reward_weights is not None:
            self.reward_weights = _numbers("reward_weights", self.reward_weights)


class _ClippedGroup:
    """Shared by GRPO and RLOO: groups of samples and a clipped ratio."""

    epsilon: float
    epsilon_high: float | None

    @property
    def eps_high(self) -> float:
        return self.epsilon if self.epsilon_high is None else self.epsilon_high


def _check_group(opts, why: str) -> None:
    if opts.num_generations < 2:
        raise UsageError(f"num_generations must be at least 2 ({why})")
    if opts.num_iterations < 1:
        raise UsageError("num_iterations must be at least 1")


@dataclass
class GRPOOptions(_ClippedGroup, OnlineOptions):
    max_new_tokens: int = 512
    num_generations: int = 8
    beta: float = 0.0
    epsilon: float = 0.2
    epsilon_high: float | None = None
    loss_type: str = "dapo"
    scale_rewards: str = "group"
    num_iterations: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        _choice("loss_type", self.loss_type, GRPO_LOSS_TYPES)
        # TRL's booleans: True is "group", False is "none"
        aliases = {"true": "group", "false": "none"}
        self.scale_rewards = aliases.get(str(self.scale_rewards).lower(), self.scale_rewards)
        _choice("scale_rewards", self.scale_rewards, SCALE_REWARDS)
        _check_group(self, "advantages compare a group")


@dataclass
class RLOOOptions(_ClippedGroup, OnlineOptions):
    max_new_tokens: int = 512
    num_generations: int = 2
    beta: float = 0.05
    epsilon: float = 0.2
    epsilon_high: float | None = None
    num_iterations: int = 1
    normalize_advantages: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_group(self, "leave-one-out baselines")


@dataclass
class OnlineDPOOptions(OnlineOptions):
    max_new_tokens: int = 64
    temperature: float = 0.9
    beta: float = 0.1
    loss_type: str = "sigmoid"

    def __post_init__(self) -> None:
        super().__post_init__()
        _choice("loss_type", self.loss_type, ONLINE_DPO_LOSS_TYPES)


@dataclass
class NashMDOptions(OnlineOptions):
    max_new_tokens: int = 64
    temperature: float = 0.9
    beta: float = 0.1
    mixture_coef: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.mixture_coef <= 1:
            raise UsageError("mixture_coef must be in [0, 1]")


@dataclass
class XPOOptions(OnlineDPOOptions):
    alpha: float = 1e-5


@dataclass
class PPOOptions(OnlineOptions):
    max_new_tokens: int = 53
    temperature: float = 0.7
    kl_coef: float = 0.05
    kl_estimator: str = "k1"
    adaptive_kl: bool = False
    kl_target: float = 6.0
    kl_horizon: int = 10000
    cliprange: float = 0.2
    cliprange_value: float = 0.2
    vf_coef: float = 0.1
    gamma: float = 1.0
    lam: float = 0.95
    whiten_rewards: bool = False
    num_ppo_epochs: int = 4
    num_mini_batches: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        _choice("kl_estimator", self.kl_estimator, KL_ESTIMATORS)
        if self.num_ppo_epochs < 1 or self.num_mini_batches < 1:
            raise UsageError("num_ppo_epochs and num_mini_batches must be at least 1")


@dataclass
class GKDOptions(GenerationOptions):
    teacher_model: str | None = None
    max_new_tokens: int = 128
    temperature: float = 0.9
    lmbda: float = 0.5
    beta: float = 0.5
    seq_kd: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.lmbda <= 1 or not 0 <= self.beta <= 1:
            raise UsageError("lmbda and beta must be in [0, 1]")
