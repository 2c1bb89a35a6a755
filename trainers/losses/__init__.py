"""The algorithms' losses as short, pure PyTorch functions on log-probabilities or scores."""

from trlprep.trainers.losses.dpo import (
    DPO_LOSSES,
    LOSS_TYPES,
    DPOLossConfig,
    PairLogps,
    dpo_loss,
    length_desensitised_logps,
    wpo_weights,
)
from trlprep.trainers.losses.reference_free import (
    CPO_AVERAGED,
    CPO_LOSS_TYPES,
    alphapo_reward,
    cpo_loss,
    orpo_log_odds,
    orpo_loss,
)
from trlprep.trainers.losses.supervised import nll_loss, reward_loss, token_classification_loss
from trlprep.trainers.losses.unpaired import (
    KTO_LOSS_TYPES,
    RunningMean,
    bco_loss,
    kto_kl_estimate,
    kto_loss,
)

__all__ = [
    "CPO_AVERAGED",
    "CPO_LOSS_TYPES",
    "DPO_LOSSES",
    "KTO_LOSS_TYPES",
    "LOSS_TYPES",
    "DPOLossConfig",
    "PairLogps",
    "RunningMean",
    "alphapo_reward",
    "bco_loss",
    "cpo_loss",
    "dpo_loss",
    "kto_kl_estimate",
    "kto_loss",
    "length_desensitised_logps",
    "nll_loss",
    "orpo_log_odds",
    "orpo_loss",
    "reward_loss",
    "token_classification_loss",
    "wpo_weights",
]
