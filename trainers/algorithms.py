"""The algorithm registry: for each algorithm, the dataset type it trains on, the model head,
its options (with TRL's documented defaults, in `offline_options.py` and `online/options.py`)
and its batch -> (loss, metrics) function.

Dataset types come from `trlprep.registry` (TRL's "Which dataset type to use?" table); the
first of `accepts` is the one other data is converted to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from trlprep.trainers import steps, unpaired_steps
from trlprep.trainers.fieldtypes import coerce_values
from trlprep.trainers.offline_options import (
    BCOOptions,
    CPOOptions,
    DPOOptions,
    KTOOptions,
    ORPOOptions,
    PRMOptions,
    RewardOptions,
    SFTOptions,
)
from trlprep.trainers.online import gkd, group_rl, ppo
from trlprep.trainers.online import options as oo
from trlprep.trainers.online import pairs as online_pairs
from trlprep.trainers.online.rollout import OnlineSpec

from trlprep.errors import UsageError
from trlprep.registry import Format, get_type

Head = Literal["causal-lm", "sequence-classification", "token-classification"]


@dataclass(frozen=True)
class Algorithm:
    name: str
    title: str
    accepts: tuple[str, ...]  # dataset types trained on as they are; others convert to [0]
    layout: str  # how rows are tokenised and batched (trainers.data_layouts.LAYOUTS)
    head: Head
    options: type
    step: Callable[..., Any]
    learning_rate: float  # TRL's documented default for this trainer
    paper: str
    # token statistics the step reads (beyond log-probs and mean logits)
    stats: Callable[[Any], tuple[str, ...]] = lambda o: ("is_top1",)
    needs_reference: Callable[[Any], bool] = lambda o: False
    # the loss divides by the tokens of the accumulated batch (else the loop divides by accum)
    token_normalised: Callable[[Any], bool] = lambda o: False
    metrics: tuple[str, ...] = field(default=())
    # online algorithms: how batches are generated (None: from the data, offline)
    online: OnlineSpec | None = None
    # the causal-LM wrapper trained (default `LogpsModel`): (model, stats, chunk, temp) -> module
    policy: Callable[..., Any] | None = None

    @property
    def dataset_type(self) -> str:
        return self.accepts[0]

    def make_options(self, values: dict[str, Any] | None = None) -> Any:
        """The options dataclass from `values`; unknown names raise a UsageError."""
        values = dict(values or {})
        known = {f.name for f in fields(self.options)}
        unknown = sorted(set(values) - known)
        if unknown:
            import difflib

            from trlprep.trainers.config import TrainConfig

            common = [f.name for f in fields(TrainConfig)]
            close = difflib.get_close_matches(unknown[0], [*known, *common], n=1)
            meant = f"did you mean {close[0]}? " if close else ""
            takers = algorithms_taking(unknown[0])
            elsewhere = f" (an option of {', '.join(takers)})" if takers else ""
            raise UsageError(
                f"{self.name} has no option {', '.join(unknown)}{elsewhere}",
                hint=f"{meant}{self.name} options: {', '.join(sorted(known)) or 'none'}",
            )
        return self.options(**coerce_values(self.options, values))


_PAIR_METRICS = (
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracies",
    "rewards/margins",
    "logps/chosen",
    "logps/rejected",
    "logits/chosen",
    "logits/rejected",
)

ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm(
            "sft",
            "Supervised fine-tuning",
            ("language-modeling", "prompt-completion"),
            "lm",
            "causal-lm",
            SFTOptions,
            steps.sft_step,
            learning_rate=2e-5,
            paper="",
            stats=lambda o: ("is_top1", "entropy"),
            token_normalised=lambda o: True,
            metrics=("mean_token_accuracy", "entropy"),
        ),
        Algorithm(
            "dpo",
            "Direct Preference Optimization",
            ("preference",),
            "pairs",
            "causal-lm",
            DPOOptions,
            steps.dpo_step,
            learning_rate=1e-6,
            paper="arXiv:2305.18290",
            stats=lambda o: ("is_top1",) + (("log_sum_sq_probs",) if o.use_weighting else ()),
            needs_reference=lambda o: not o.reference_free,
            metrics=_PAIR_METRICS + ("mean_token_accuracy", "nll_loss"),
        ),
        Algorithm(
            "cpo",
            "Contrastive Preference Optimization (and SimPO, AlphaPO)",
            ("preference",),
            "pairs",
            "causal-lm",
            CPOOptions,
            steps.cpo_step,
            learning_rate=1e-6,
            paper="arXiv:2401.08417",
            metrics=_PAIR_METRICS + ("nll_loss",),
        ),
        Algorithm(
            "orpo",
            "Odds Ratio Preference Optimization",
            ("preference",),
            "pairs",
            "causal-lm",
            ORPOOptions,
            steps.orpo_step,
            learning_rate=1e-6,
            paper="arXiv:2403.07691",
            metrics=_PAIR_METRICS + ("nll_loss", "log_odds_ratio", "log_odds_chosen"),
        ),
        Algorithm(
            "kto",
            "Kahneman-Tversky Optimization",
            ("unpaired-preference",),
            "unpaired",
            "causal-lm",
            KTOOptions,
            unpaired_steps.kto_step,
            learning_rate=1e-6,
            paper="arXiv:2402.01306",
            stats=lambda o: (),
            needs_reference=lambda o: True,
            metrics=_PAIR_METRICS[:2] + _PAIR_METRICS[3:] + ("kl",),
        ),
        Algorithm(
            "bco",
            "Binary Classifier Optimization",
            ("unpaired-preference",),
            "unpaired",
            "causal-lm",
            BCOOptions,
            unpaired_steps.bco_step,
            # BCOConfig keeps transformers.TrainingArguments' learning rate
            learning_rate=5e-5,
            paper="arXiv:2404.04656",
            stats=lambda o: (),
            needs_reference=lambda o: True,
            metrics=_PAIR_METRICS[:2] + _PAIR_METRICS[3:] + ("delta",),
        ),
        Algorithm(
            "reward",
            "Reward modelling (Bradley-Terry)",
            ("preference-implicit",),
            "scored-pairs",
            "sequence-classification",
            RewardOptions,
            steps.reward_step,
            learning_rate=1e-4,
            paper="arXiv:2203.02155",
            metrics=("accuracy", "margin", "min_reward", "mean_reward", "max_reward"),
        ),
        Algorithm(
            "prm",
            "Process reward modelling",
            ("stepwise-supervision",),
            "stepwise",
            "token-classification",
            PRMOptions,
            steps.prm_step,
            learning_rate=1e-5,
            paper="arXiv:2305.20050",
            token_normalised=lambda o: True,  # over the labelled tokens (as transformers')
            metrics=("accuracy",),
        ),
        # ---------------------------------------------------------- online (generating)
        Algorithm(
            "grpo",
            "Group Relative Policy Optimization",
            ("prompt-only",),
            "prompts",
            "causal-lm",
            oo.GRPOOptions,
            group_rl.grpo_step,
            learning_rate=1e-6,
            paper="arXiv:2402.03300",
            stats=lambda o: ("entropy",),
            needs_reference=lambda o: o.beta != 0.0,
            token_normalised=lambda o: o.loss_type == "dapo",
            metrics=("reward", "kl"),
            online=OnlineSpec(
                group_rl.grpo_rollout,
                units_per_prompt=lambda o: o.num_generations,
                passes=lambda o: o.num_iterations,
            ),
        ),
        Algorithm(
            "rloo",
            "REINFORCE Leave-One-Out",
            ("prompt-only",),
            "prompts",
            "causal-lm",
            oo.RLOOOptions,
            group_rl.rloo_step,
            learning_rate=1e-6,
            paper="arXiv:2402.14740",
            stats=lambda o: ("entropy",),
            needs_reference=lambda o: o.beta != 0.0,
            metrics=("reward", "kl"),
            online=OnlineSpec(
                group_rl.rloo_rollout,
                units_per_prompt=lambda o: o.num_generations,
                passes=lambda o: o.num_iterations,
            ),
        ),
        Algorithm(
            "online-dpo",
            "Online DPO",
            ("prompt-only",),
            "prompts",
            "causal-lm",
            oo.OnlineDPOOptions,
            online_pairs.online_dpo_step,
            learning_rate=5e-7,
            paper="arXiv:2402.04792",
            stats=lambda o: (),
            needs_reference=lambda o: True,
            metrics=("objective/scores", "objective/kl"),
            online=OnlineSpec(online_pairs.online_dpo_rollout),
        ),
        Algorithm(
            "nash-md",
            "Nash Mirror Descent",
            ("prompt-only",),
            "prompts",
            "causal-lm",
            oo.NashMDOptions,
            online_pairs.nash_md_step,
            learning_rate=5e-7,
            paper="arXiv:2312.00886",
            stats=lambda o: (),
            needs_reference=lambda o: True,
            metrics=("rewards/probabilities", "objective/kl"),
            online=OnlineSpec(online_pairs.nash_md_rollout),
        ),
        Algorithm(
            "xpo",
            "Exploratory Preference Optimization",
            ("prompt-only",),
            "prompts",
            "causal-lm",
            oo.XPOOptions,
            online_pairs.xpo_step,
            learning_rate=5e-7,
            paper="arXiv:2405.21046",
            stats=lambda o: (),
            needs_reference=lambda o: True,
            metrics=("objective/model_scores", "objective/kl"),
            online=OnlineSpec(online_pairs.xpo_rollout),
        ),
        Algorithm(
            "ppo",
            "Proximal Policy Optimization (RLHF)",
            ("prompt-only", "language-modeling"),
            "prompts",
            "causal-lm",
            oo.PPOOptions,
            ppo.ppo_step,
            learning_rate=3e-6,
            paper="arXiv:1909.08593",
            stats=lambda o: ("entropy",),
            needs_reference=lambda o: True,
            metrics=("env/reward_mean", "objective/kl"),
            online=OnlineSpec(
                ppo.ppo_rollout,
                passes=lambda o: o.num_ppo_epochs,
                mini_batches=lambda o: o.num_mini_batches,
                state=lambda o: {"kl_ctl": ppo.kl_controller(o)},
            ),
            policy=ppo.ValueHeadModel,
        ),
        Algorithm(
            "gkd",
            "Generalized Knowledge Distillation",
            ("prompt-completion",),
            "lm",
            "causal-lm",
            oo.GKDOptions,
            gkd.gkd_step,
            learning_rate=2e-5,
            paper="arXiv:2306.13649",
            stats=lambda o: (),
            token_normalised=lambda o: True,
            metrics=("jsd",),
            online=OnlineSpec(gkd.gkd_rollout, needs_rewards=False),
            policy=gkd.DistillationModel,
        ),
    )
}

for _a in ALGORITHMS.values():  # every declared type exists in the registry
    for _t in _a.accepts:
        get_type(_t)


def get_algorithm(name: str) -> Algorithm:
    key = name.strip().lower()
    if key not in ALGORITHMS:
        import difflib

        close = difflib.get_close_matches(key, list(ALGORITHMS), n=1, cutoff=0.6)
        raise UsageError(
            f"unknown algorithm {name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
            hint="use one of: " + ", ".join(ALGORITHMS),
        )
    return ALGORITHMS[key]


def algorithms_taking(option: str) -> list[str]:
    """The algorithms whose own options include `option` (a config key)."""
    return [n for n, a in ALGORITHMS.items() if option in {f.name for f in fields(a.options)}]


def algorithms_for(data_type: str, fmt: Format | None = None) -> tuple[list[str], list[str]]:
    """The algorithms that train on `data_type` data as it is, and those that train on it
    converted on the way in (by edges that convert `fmt` data, when given)."""
    from trlprep.conversion.graph import reachable_from

    reach = reachable_from(data_type, fmt=fmt)
    as_is = [n for n, a in ALGORITHMS.items() if data_type in a.accepts]
    converted = [n for n, a in ALGORITHMS.items() if n not in as_is and reach & set(a.accepts)]
    return as_is, converted
