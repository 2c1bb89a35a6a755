"""DPO and its variants: one short function per `loss_type`, on sequence log-probabilities.

Every function takes a `PairLogps` (summed completion log-probs of the policy and the
reference for the chosen and rejected completions of each pair) and returns the per-pair
loss. `dpo_loss` combines several loss types with weights and applies WPO weighting, as
TRL's `DPOTrainer` does (`loss_type=[...]`, `loss_weights=[...]`, `use_weighting`).

TRL differences, all deliberate:
- `sigmoid` keeps the conservative-DPO label smoothing of TRL <= 0.2x (dropped in TRL 1.x,
  where `label_smoothing` only feeds `robust`, `exo_pair` and the AOT losses); with the default
  `label_smoothing=0` both agree.
- `bco_pair` subtracts the running mean of the implicit rewards (`delta`) as the BCO paper
  and TRL <= 0.2x do; TRL 1.x dropped the shift. `delta=0` gives TRL 1.x's value.
- `exo_pair` with `label_smoothing=0` uses the paper's epsilon 1e-3 (TRL 1.x gives inf).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

LOSS_TYPES: tuple[str, ...] = (
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sigmoid_norm",
    "sft",
)
EXO_DEFAULT_EPSILON = 1e-3
# per-pair losses that depend on their own pair alone (the others couple the batch's pairs:
# AOT sorts over it, bco_pair shifts by the running mean the batch updates first)
PAIR_LOCAL: frozenset[str] = frozenset(LOSS_TYPES) - {"aot", "aot_unpaired", "bco_pair"}


@dataclass(frozen=True)
class PairLogps:
    """Per-pair inputs of the DPO losses, each of shape `(num_pairs,)`.

    `chosen_lengths`/`rejected_lengths` count completion tokens (IPO and `sigmoid_norm`
    average by them); `chosen_nll` is the mean negative log-likelihood of the chosen
    completion tokens (a scalar; the `sft` loss type and RPO use it).
    """

    chosen: Tensor
    rejected: Tensor
    ref_chosen: Tensor
    ref_rejected: Tensor
    chosen_lengths: Tensor | None = None
    rejected_lengths: Tensor | None = None
    chosen_nll: Tensor | None = None

    @property
    def chosen_logratios(self) -> Tensor:
        return self.chosen - self.ref_chosen

    @property
    def rejected_logratios(self) -> Tensor:
        return self.rejected - self.ref_rejected

    @property
    def delta(self) -> Tensor:
        """(log pi(y_w) - log pi(y_l)) - (log ref(y_w) - log ref(y_l))."""
        return self.chosen_logratios - self.rejected_logratios


@dataclass(frozen=True)
class DPOLossConfig:
    """The knobs of the DPO losses (TRL's `DPOConfig` names and defaults)."""

    beta: float = 0.1
    label_smoothing: float = 0.0
    discopop_tau: float = 0.05
    bco_delta: float = 0.0  # running mean of the implicit rewards, for `bco_pair`


def _smoothed_sigmoid(logits: Tensor, label_smoothing: float) -> Tensor:
    return -F.logsigmoid(logits) * (1 - label_smoothing) - F.logsigmoid(-logits) * label_smoothing


def sigmoid_loss(p: PairLogps, c: DPOLossConfig) -> Tensor:
    """DPO: -log sigmoid(beta * delta), with cDPO label smoothing.

    Rafailov et al., 2023, "Direct Preference Optimization", Eq. 7 (arXiv:2305.18290);
    label smoothing: Mitchell, 2023, "A note on DPO with noisy preferences" (cDPO).
    """
    return _smoothed_sigmoid(c.beta * p.delta, c.label_smoothing)


def hinge_loss(p: PairLogps, c: DPOLossConfig) -> Tensor:
    """SLiC hinge on the normalised likelihood: relu(1 - beta * delta).

    Zhao et al., 2023, "SLiC-HF: Sequence Likelihood Calibration with Human Feedback"
    (arXiv:2305.10425).
    """
    return torch.relu(1 - c.beta * p.delta)


def _length_normalised_delta(p: PairLogps) -> Tensor:
    if p.chosen_lengths is None or p.rejected_lengths is None:
        raise ValueError("this loss type needs chosen_lengths and rejected_lengths")
    chosen = p.chosen_logratios / p.chosen_lengths.clamp(min=1)
    rejected = p.rejected_logratios / p.rejected_lengths.clamp(min=1)
    return chosen - rejected


def ipo_loss(p: PairLogps, c: DPOLossConfig) -> Tensor:
    """IPO: (delta - 1 / (2 * tau))^2 with tau = beta, on per-token averaged log-ratios.

    Azar et al., 2023, "A General Theoretical Paradigm to Understand Learning from Human
    Preferences", Eq. 17 (arXiv:2310.12036). The averaging by completion length follows
    TRL (confirmed with the IPO authors).
    """
    return (_length_normalised_delta(p) - 1 / (2 * c.beta)) ** 2


def exo_pair_loss(p: PairLogps, c: DPOLossConfig) -> Tensor:
    """EXO (pairwise): KL(softmax(beta * logratios) || [1 - eps, eps]) over {chosen, rejected}.

    Ji et al., 2024, "Towards Efficient Exact Optimization of Language Model Alignment",
    Eq. 16 (arXiv:2402.00856); eps = `label_smoothing` (1e-3 when 0, the paper's value).
    """
    eps = c.label_smoothing or EXO_DEFAULT_EPSILON
    logits = c.beta * p.delta
    chosen_term = torch.sigmoid(logits) * (F.logsigmoid(logits) - math.log1p(-eps))
    rejected_term = torch.sigmoid(-logits) * (F.logsigmoid(-logits) - math.log(eps))
    return chosen_term + rejected_term


def nca_pair_loss(p: PairLogps, c: DPOLossConfig) -> Tensor:
    """NCA (pairwise): -log s(r_w) - 0.5 log s(-r_w) - 0.5 log s(-r_l), r = beta * logratio.

    Chen et al., 2024, "Noise Contrastive Alignment of Language Models with Explicit
    Rewards" (arXiv:2402.05369).
    """
    r_w = c.beta * p.chosen_logratios
    r_l = c.beta * p.rejected_logratios
    return -F.logsigmoid(r_w) - 0.5 * F.logsigmoid(-r_w) - 0.5 * F.logsigmoid(-r_l)


def robust_loss(p: PairLogps, c: DPOLossConfig) -> Tensor:
    """Robust DPO: unbiased loss under label flips with probability eps = `label_smoothing`.

    ((1 - eps) * -log s(beta d) - eps * -log s(-beta d)) / (1 - 2 eps).
    Chowdhury et al., 2024, "Provably Robust DPO" (arXiv:2403.00409), Eq. 8.
    """
    eps = c.label_smoothing
    logits = c.beta * p.delta
    clean = -(1 - eps) * F.logsigmoid(logits)
    flipped = -eps * F.logsigmoid(-logits)
    return (clean - flipped) / (1 - 2 * eps)


def bco_pair_loss(p: PairLogps, c: DPOLossConfig) -> Tensor:
    """BCO (pairwise): -log s(r_w - delta) - log s(-(r_l - delta)), r = beta * logratio.

    Jung et al., 2024, "Binary Classifier Optimization for Large Language Model Alignment"
    (arXiv:2404.04656); delta is the running mean of the rewards (`bco_delta`).
    """
    r_w = c.beta * p.chosen_logratios
    r_l = c.beta * p.rejected_logratios
    return -F.logsigmoid(r_w - c.bco_delta) - F.logsigmoid(-(r_l - c.bco_delta))


def sppo_hard_loss(p: PairLogps, c: DPOLossConfig) -> Tensor:
    """SPPO with hard labels: (logratio_w - 1/(2 beta))^2 + (logratio_l + 1/(2 beta))^2.

    Wu et al., 2024, "Self-Play Preference Optimization for Language Model Alignment",
    Eq. 4.7 with P = 1 for the winner and 0 for the loser (arXiv:2405.00675).
    """
    winner = (p.chosen_logratios - 0.5 / c.beta) ** 2
    loser = (p.rejected_logratios + 0.5 / c.beta) ** 2
    return winner + loser


def aot_loss(p: PairLogps, c: DPOLossConfig) -> Tensor:
    """AOT (paired): smoothed sigmoid on sorted policy minus sorted reference log-ratios.

    Melnyk et al., 2024, "Distributional Preference Alignment of LLMs via Optimal Transport"
    (arXiv:2406.05882). Sorting runs over the batch, so the loss couples its pairs.
    """
    logratios, _ = torch.sort(p.chosen - p.rejected, dim=0)
    ref_logratios, _ = torch.sort(p.ref_chosen - p.ref_rejected, dim=0)
    return _smoothed_sigmoid(c.beta * (logratios - ref_logratios), c.label_smoothing)


def aot_unpaired_loss(p: PairLogps, c: DPOLossConfig) -> Tensor:
    """AOT (unpaired): smoothed sigmoid on sorted chosen minus sorted rejected log-ratios.

    Melnyk et al., 2024, "Distributional Preference Alignment of LLMs via Optimal Transport"
    (arXiv:2406.05882).
    """
    chosen, _ = torch.sort(p.chosen_logratios, dim=0)
    rejected, _ = torch.sort(p.rejected_logratios, dim=0)
    return _smoothed_sigmoid(c.beta * (chosen - rejected), c.label_smoothing)


def apo_zero_loss(p: PairLogps, c: DPOLossConfig) -> Tensor:
    """APO-zero: (1 - s(beta logratio_w)) + s(beta logratio_l).

    D'Oosterlinck et al., 2024, "Anchored Preference Optimization and Contrastive
    Revisions", Eq. 7 (arXiv:2408.06266). For chosen outputs better than the model's own.
    """
    return (1 - torch.sigmoid(c.beta * p.chosen_logratios)) + torch.sigmoid(
        c.beta * p.rejected_logratios
    )


def apo_down_loss(p: PairLogps, c: DPOLossConfig) -> Tensor:
    """APO-down: s(beta logratio_w) + (1 - s(beta (logratio_w - logratio_l))).

    D'Oosterlinck et al., 2024, "Anchored Preference Optimization and Contrastive
    Revisions", Eq. 8 (arXiv:2408.06266). For chosen outputs worse than the model's own.
    """
    return torch.sigmoid(c.beta * p.chosen_logratios) + (1 - torch.sigmoid(c.beta * p.delta))


def discopop_loss(p: PairLogps, c: DPOLossConfig) -> Tensor:
    """DiscoPOP (log-ratio modulated loss): mix of logistic and exponential losses.

    With x = beta * delta and m = s(x / tau): (1 - m) * -log s(x) + m * exp(-x).
    Chris Lu et al., 2024, "Discovering Preference Optimization Algorithms with and for
    Large Language Models", Eq. 5 (arXiv:2406.08414).
    """
    logits = c.beta * p.delta
    modulation = torch.sigmoid(logits / c.discopop_tau)
    return -F.logsigmoid(logits) * (1 - modulation) + torch.exp(-logits) * modulation


def sigmoid_norm_loss(p: PairLogps, c: DPOLossConfig) -> Tensor:
    """DPO sigmoid loss on log-ratios averaged per completion token (length-normalised DPO).

    -log s(beta * (logratio_w / |y_w| - logratio_l / |y_l|)); as in TRL's `sigmoid_norm`,
    after Rafailov et al., 2023 (arXiv:2305.18290) with the length normalisation of
    Meng et al., 2024, "SimPO" (arXiv:2405.14734).
    """
    return -F.logsigmoid(c.beta * _length_normalised_delta(p))


def sft_loss(p: PairLogps, c: DPOLossConfig) -> Tensor:
    """Negative log-likelihood of the chosen completions (the generation term of MPO).

    Wang et al., 2024, "Enhancing the Reasoning Ability of Multimodal Large Language Models
    via Mixed Preference Optimization" (arXiv:2411.10442). Broadcast to one value per pair.
    """
    if p.chosen_nll is None:
        raise ValueError("the sft loss type needs chosen_nll")
    return p.chosen_nll.expand(p.chosen.shape[0])


DPO_LOSSES: dict[str, Callable[[PairLogps, DPOLossConfig], Tensor]] = {
    "sigmoid": sigmoid_loss,
    "hinge": hinge_loss,
    "ipo": ipo_loss,
    "exo_pair": exo_pair_loss,
    "nca_pair": nca_pair_loss,
    "robust": robust_loss,
    "bco_pair": bco_pair_loss,
    "sppo_hard": sppo_hard_loss,
    "aot": aot_loss,
    "aot_unpaired": aot_unpaired_loss,
    "apo_zero": apo_zero_loss,
    "apo_down": apo_down_loss,
    "discopop": discopop_loss,
    "sigmoid_norm": sigmoid_norm_loss,
    "sft": sft_loss,
}
assert tuple(DPO_LOSSES) == LOSS_TYPES


def dpo_loss(
    p: PairLogps,
    config: DPOLossConfig,
    loss_types: Sequence[str] = ("sigmoid",),
    loss_weights: Sequence[float] | None = None,
    pair_weights: Tensor | None = None,
) -> Tensor:
    """The scalar DPO loss: sum over `loss_types` of weight * mean(per-pair loss).

    `pair_weights` (WPO, see `wpo_weights`) multiply each pair's loss before the mean.
    Equal weights (1.0) when `loss_weights` is None, as in TRL's MPO combination.
    """
    weights = [1.0] * len(loss_types) if loss_weights is None else list(loss_weights)
    if len(weights) != len(loss_types):
        raise ValueError(f"{len(loss_types)} loss types but {len(weights)} loss weights")
    total = p.chosen.new_zeros(())
    for name, weight in zip(loss_types, weights, strict=True):
        if name not in DPO_LOSSES:
            raise ValueError(f"unknown DPO loss type {name!r}; use one of {', '.join(LOSS_TYPES)}")
        per_pair = DPO_LOSSES[name](p, config)
        if pair_weights is not None:
            per_pair = per_pair * pair_weights
        total = total + weight * per_pair.mean()
    return total


def wpo_weights(
    token_logps: Tensor, log_sum_sq_probs: Tensor, mask: Tensor, num_pairs: int
) -> Tensor:
    """WPO pair weights w(x, y_w) * w(x, y_l), computed without gradient.

    w(x, y) = exp(mean_t [log pi(y_t) - log sum_v pi(v)^2]) over the completion tokens.
    Zhou et al., 2024, "WPO: Enhancing RLHF with Weighted Preference Optimization", Eq. 2
    (arXiv:2406.11827). Inputs are `(2 * num_pairs, T)`, chosen rows first.
    """
    with torch.no_grad():
        mask = mask.to(token_logps.dtype)
        lengths = mask.sum(-1).clamp(min=1)
        mean = ((token_logps - log_sum_sq_probs) * mask).sum(-1) / lengths
        weights = torch.exp(mean)
    return weights[:num_pairs] * weights[num_pairs:]


def length_desensitised_logps(
    token_logps: Tensor, mask: Tensor, num_pairs: int, alpha: float
) -> Tensor:
    """LD-DPO sequence log-probs: shared-length prefix + alpha * the longer completion's tail.

    Each pair's completions are split at the shorter one's length (the public length
    l_p); tokens past it count with weight `alpha`. Liu et al., 2024, "LD-DPO:
    Length Desensitization in Direct Preference Optimization" (arXiv:2409.06411).
    `token_logps`/`mask` are `(2 * num_pairs, T)` with each row's completion tokens first
    (left-aligned), chosen rows first. Returns `(2 * num_pairs,)`.
    """
    lengths = mask.sum(-1)
    public = torch.minimum(lengths[:num_pairs], lengths[num_pairs:]).repeat(2)
    position = torch.cumsum(mask, dim=-1)  # 1-based index among completion tokens
    shared = mask.bool() & (position <= public.unsqueeze(1))
    tail = mask.bool() & (position > public.unsqueeze(1))
    zero = token_logps.new_zeros(())
    return torch.where(shared, token_logps, zero).sum(-1) + alpha * torch.where(
        tail, token_logps, zero
    ).sum(-1)
