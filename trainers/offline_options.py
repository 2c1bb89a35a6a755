"""Options of the offline algorithms (SFT, DPO, CPO, ORPO, KTO, BCO, reward and process-reward
modelling), with TRL's documented defaults (TRL's option names)."""

from __future__ import annotations

from dataclasses import dataclass

from trlprep.trainers.losses import CPO_LOSS_TYPES, KTO_LOSS_TYPES, LOSS_TYPES

from trlprep.errors import UsageError


@dataclass
class SFTOptions:
    completion_only_loss: bool | None = None  # None: on completions when there is a prompt
    # None: on assistant messages when the messages carry weights (as OpenAI trains them)
    assistant_only_loss: bool | None = None


@dataclass
class DPOOptions:
    beta: float = 0.1
    loss_type: tuple[str, ...] = ("sigmoid",)
    loss_weights: tuple[float, ...] | None = None
    label_smoothing: float = 0.0
    reference_free: bool = False
    rpo_alpha: float | None = None
    ld_alpha: float | None = None
    use_weighting: bool = False
    discopop_tau: float = 0.05

    def __post_init__(self) -> None:
        if isinstance(self.loss_type, str):
            self.loss_type = tuple(s.strip() for s in self.loss_type.split(",") if s.strip())
        self.loss_type = tuple(self.loss_type)
        if isinstance(self.loss_weights, str):
            self.loss_weights = tuple(float(w) for w in self.loss_weights.split(","))
        if self.loss_weights is not None:
            self.loss_weights = tuple(float(w) for w in self.loss_weights)
            if len(self.loss_weights) != len(self.loss_type):
                raise UsageError(
                    f"{len(self.loss_type)} loss types but {len(self.loss_weights)} loss weights",
                    hint="give one --loss-weights value per --loss-type",
                )
        _check_choices("loss_type", self.loss_type, LOSS_TYPES)
        if not 0 <= self.label_smoothing < 0.5:
            raise UsageError("label_smoothing must be in [0, 0.5)")
        if self.ld_alpha is not None and not 0 <= self.ld_alpha <= 1:
            raise UsageError("ld_alpha must be in [0, 1]")
        if self.reference_free and {"aot", "aot_unpaired"} & set(self.loss_type):
            raise UsageError("the AOT losses need a reference model; drop --reference-free")


@dataclass
class CPOOptions:
    beta: float = 0.1
    loss_type: str = "sigmoid"  # or hinge, ipo, simpo; "alphapo" = simpo with cpo_alpha 0
    label_smoothing: float = 0.0
    cpo_alpha: float = 1.0
    simpo_gamma: float = 0.5
    alpha: float = 0.0

    def __post_init__(self) -> None:
        if self.loss_type == "alphapo":  # TRL's shorthand
            self.loss_type, self.cpo_alpha = "simpo", 0.0
        _check_choices("loss_type", (self.loss_type,), CPO_LOSS_TYPES + ("alphapo",))


@dataclass
class ORPOOptions:
    beta: float = 0.1


@dataclass
class KTOOptions:
    beta: float = 0.1
    loss_type: str = "kto"
    desirable_weight: float = 1.0
    undesirable_weight: float = 1.0

    def __post_init__(self) -> None:
        _check_choices("loss_type", (self.loss_type,), KTO_LOSS_TYPES)


@dataclass
class BCOOptions:
    beta: float = 0.1


@dataclass
class RewardOptions:
    center_rewards_coefficient: float | None = None


@dataclass
class PRMOptions:
    step_separator: str = "\n"
    train_on_last_step_only: bool = False


def _check_choices(name: str, values: tuple[str, ...], choices: tuple[str, ...]) -> None:
    bad = [v for v in values if v not in choices]
    if bad or not values:
        raise UsageError(
            f"unknown {name} {', '.join(map(repr, bad)) or '(none given)'}",
            hint="use one of: " + ", ".join(choices),
        )
