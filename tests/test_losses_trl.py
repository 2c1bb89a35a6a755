"""The losses against TRL's own implementation on the same inputs (skipped without `trl`).

TRL 1.x computes its losses inside the trainers' `_compute_loss`, so these tests call those
methods on a stand-in trainer (only the attributes the method reads) with a stand-in model
that returns fixed per-token log-probabilities. When TRL's internals differ from the ones
these stand-ins mimic, the test skips and says so rather than compare the wrong thing.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from trlprep.trainers.losses import (  # noqa: E402
    LOSS_TYPES,
    DPOLossConfig,
    PairLogps,
    cpo_loss,
    dpo_loss,
    kto_kl_estimate,
    kto_loss,
    length_desensitised_logps,
    orpo_log_odds,
    orpo_loss,
    reward_loss,
    wpo_weights,
)

B, T = 3, 6  # pairs (or examples), sequence length after the shift


class _Accelerator:
    device = torch.device("cpu")
    use_distributed = False
    num_processes = 1

    @staticmethod
    def gather(x):
        return x

    gather_for_metrics = gather


class _Stub(torch.nn.Module):
    """A module (TRL asks `is_peft_model` of it) that is training, without checkpointing."""

    is_gradient_checkpointing = False


def _trainer(**attrs) -> SimpleNamespace:
    base = dict(
        model=_Stub(),
        accelerator=_Accelerator(),
        aux_loss_enabled=False,
        precompute_ref_logps=False,
        args=SimpleNamespace(discopop_tau=0.05, gradient_checkpointing_kwargs=None),
        _metrics=defaultdict(lambda: defaultdict(list)),
        _total_train_tokens=0,
        _tp_size=1,
    )
    base.update(attrs)
    return SimpleNamespace(**base)


class _Model(_Stub):
    """Returns fixed per-token outputs; `by_input` maps id(input_ids) to per-token log-probs."""

    def __init__(self, by_input: dict[int, torch.Tensor], lssp: torch.Tensor | None = None):
        super().__init__()
        self.by_input = by_input
        self.lssp = lssp

    def forward(self, **kw):
        logps = self.by_input[id(kw["input_ids"])]
        zeros = torch.zeros_like(logps)
        return SimpleNamespace(
            log_probs=logps,
            entropy=zeros,
            mean_logits=zeros,
            is_top1=torch.zeros_like(logps, dtype=torch.bool),
            log_sum_sq_probs=self.lssp if self.lssp is not None else zeros,
        )


def _sequences(n: int, prompt_lens: list[int], comp_lens: list[int], seed: int):
    """input_ids/attention/completion masks of T+1 tokens, and per-token log-probs [n, T]."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 50, (n, T + 1), generator=g)
    completion = torch.zeros(n, T + 1, dtype=torch.long)
    for i in range(n):
        completion[i, prompt_lens[i] : prompt_lens[i] + comp_lens[i]] = 1
    attention = torch.zeros_like(completion)
    for i in range(n):
        attention[i, : prompt_lens[i] + comp_lens[i]] = 1
    logps = -torch.rand(n, T, generator=g, dtype=torch.float64) * 2 * completion[:, 1:]
    return ids, attention, completion, logps


def _call(method, trainer, model, inputs):
    try:
        return method(trainer, model, inputs, False)
    except (AttributeError, KeyError, TypeError) as e:  # pragma: no cover - TRL version drift
        pytest.skip(f"TRL's trainer internals differ from this harness: {e!r}")


def _dpo_inputs(seed: int = 0):
    ids, att, comp, logps = _sequences(2 * B, [1, 2, 1, 2, 1, 1], [3, 2, 4, 1, 5, 2], seed)
    _, _, _, ref = _sequences(2 * B, [1, 2, 1, 2, 1, 1], [3, 2, 4, 1, 5, 2], seed + 1)
    return ids, att, comp, logps, ref


def _trl_dpo(
    loss_types, weights=None, *, label_smoothing=0.0, ld_alpha=None, use_weighting=False, lssp=None
):
    from trl import DPOTrainer

    ids, att, comp, logps, ref = _dpo_inputs()
    ref_ids = ids  # the reference is called with the same inputs
    trainer = _trainer(
        ld_alpha=ld_alpha,
        f_divergence_type="reverse_kl",
        loss_types=list(loss_types),
        loss_weights=list(weights or [1.0] * len(loss_types)),
        beta=0.1,
        label_smoothing=label_smoothing,
        use_weighting=use_weighting,
        ref_model=_Model({id(ref_ids): ref}),
    )
    inputs = {"input_ids": ids, "attention_mask": att, "completion_mask": comp}
    loss = _call(DPOTrainer._compute_loss, trainer, _Model({id(ids): logps}, lssp), inputs)
    return loss, trainer._metrics["train"], (comp, logps, ref)


def _ours_dpo(
    comp,
    logps,
    ref,
    loss_types,
    weights=None,
    *,
    label_smoothing=0.0,
    ld_alpha=None,
    pair_weights=None,
):
    mask = comp[:, 1:]
    if ld_alpha is None:
        seq, ref_seq = logps.sum(-1), ref.sum(-1)
    else:
        seq = length_desensitised_logps(logps, mask, B, ld_alpha)
        ref_seq = length_desensitised_logps(ref, mask, B, ld_alpha)
    lengths = mask.sum(-1).double()
    nll = -(logps[:B] * mask[:B]).sum() / mask[:B].sum()
    p = PairLogps(seq[:B], seq[B:], ref_seq[:B], ref_seq[B:], lengths[:B], lengths[B:], nll)
    cfg = DPOLossConfig(beta=0.1, label_smoothing=label_smoothing)
    return dpo_loss(p, cfg, loss_types, weights, pair_weights), p


# TRL 1.x's sigmoid has no label smoothing and its bco_pair no running shift; with the
# defaults used here (label_smoothing 0 except where named, delta 0) all loss types agree.
@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_dpo_loss_types_match_trl(loss_type):
    eps = 0.1 if loss_type in ("robust", "exo_pair", "aot", "aot_unpaired") else 0.0
    trl_loss, metrics, (comp, logps, ref) = _trl_dpo([loss_type], label_smoothing=eps)
    ours, p = _ours_dpo(comp, logps, ref, [loss_type], label_smoothing=eps)
    rel = 1e-6 if loss_type == "exo_pair" else 1e-9  # TRL holds eps in a float32 tensor
    assert ours.item() == pytest.approx(trl_loss.item(), rel=rel, abs=1e-12)
    rewards_chosen = 0.1 * p.chosen_logratios
    assert metrics["rewards/chosen"][0] == pytest.approx(rewards_chosen.mean().item(), rel=1e-9)


def test_mpo_combination_matches_trl():
    types, weights = ["sigmoid", "bco_pair", "sft"], [0.8, 0.2, 1.0]
    trl_loss, _, (comp, logps, ref) = _trl_dpo(types, weights)
    ours, _ = _ours_dpo(comp, logps, ref, types, weights)
    assert ours.item() == pytest.approx(trl_loss.item(), rel=1e-9)


def test_ld_alpha_matches_trl():
    trl_loss, _, (comp, logps, ref) = _trl_dpo(["sigmoid"], ld_alpha=0.3)
    ours, _ = _ours_dpo(comp, logps, ref, ["sigmoid"], ld_alpha=0.3)
    assert ours.item() == pytest.approx(trl_loss.item(), rel=1e-9)
    plain, _ = _ours_dpo(comp, logps, ref, ["sigmoid"])
    assert plain.item() != pytest.approx(ours.item(), rel=1e-6)  # the option changes something


def test_wpo_weighting_matches_trl():
    g = torch.Generator().manual_seed(7)
    lssp = -torch.rand(2 * B, T, generator=g, dtype=torch.float64)
    trl_loss, _, (comp, logps, ref) = _trl_dpo(["sigmoid"], use_weighting=True, lssp=lssp)
    weights = wpo_weights(logps, lssp, comp[:, 1:], B)
    ours, _ = _ours_dpo(comp, logps, ref, ["sigmoid"], pair_weights=weights)
    assert ours.item() == pytest.approx(trl_loss.item(), rel=1e-9)


@pytest.mark.parametrize("loss_type", ["kto", "apo_zero_unpaired"])
def test_kto_matches_trl(loss_type):
    from trl import KTOTrainer

    ids, att, comp, logps = _sequences(4, [1, 2, 1, 2], [3, 2, 4, 1], 3)
    kl_ids, kl_att, kl_comp, kl_logps = _sequences(4, [1, 2, 1, 2], [1, 3, 2, 4], 4)
    _, _, _, ref = _sequences(4, [1, 2, 1, 2], [3, 2, 4, 1], 5)
    _, _, _, ref_kl = _sequences(4, [1, 2, 1, 2], [1, 3, 2, 4], 6)
    label = torch.tensor([True, False, True, True])
    trainer = _trainer(
        calculate_KL=loss_type == "kto",
        loss_type=loss_type,
        beta=0.1,
        desirable_weight=1.3,
        undesirable_weight=0.6,
        ref_model=_Model({id(ids): ref, id(kl_ids): ref_kl}),
    )
    inputs = {
        "input_ids": ids,
        "attention_mask": att,
        "completion_mask": comp,
        "label": label,
        "KL_input_ids": kl_ids,
        "KL_attention_mask": kl_att,
        "KL_completion_mask": kl_comp,
    }
    policy = _Model({id(ids): logps, id(kl_ids): kl_logps})
    trainer._compute_kl_logps = lambda m, b: KTOTrainer._compute_kl_logps(trainer, m, b)
    trl_loss = _call(KTOTrainer._compute_loss, trainer, policy, inputs)

    ratios = logps.sum(-1) - ref.sum(-1)
    kl = kto_kl_estimate(kl_logps.sum(-1), ref_kl.sum(-1)) if loss_type == "kto" else 0.0
    ours = kto_loss(
        ratios[label],
        ratios[~label],
        kl,
        beta=0.1,
        desirable_weight=1.3,
        undesirable_weight=0.6,
        loss_type=loss_type,
    ).mean()
    assert ours.item() == pytest.approx(trl_loss.item(), rel=1e-9)
    if loss_type == "kto":
        assert trainer._metrics["train"]["kl"][0] == pytest.approx(float(kl), rel=1e-9)


@pytest.mark.parametrize("loss_type", ["sigmoid", "hinge", "ipo", "simpo"])
@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_cpo_matches_trl(loss_type, alpha):
    from trl.experimental.cpo import CPOTrainer

    c = torch.tensor([-0.8, -2.0, -1.2], dtype=torch.float64)
    r = torch.tensor([-1.1, -0.5, -1.3], dtype=torch.float64)
    trainer = _trainer(
        alpha=alpha, loss_type=loss_type, simpo_gamma=0.5, beta=0.1, label_smoothing=0.05
    )
    trl_losses, _, _ = CPOTrainer.cpo_loss(trainer, c, r)
    ours = cpo_loss(
        c, r, beta=0.1, loss_type=loss_type, label_smoothing=0.05, simpo_gamma=0.5, alpha=alpha
    )
    torch.testing.assert_close(ours, trl_losses, rtol=1e-9, atol=1e-12)


def test_orpo_matches_trl():
    from trl.experimental.orpo import ORPOTrainer

    c = torch.tensor([-0.4, -1.5, -1e-3, -3.0], dtype=torch.float64)
    r = torch.tensor([-0.9, -0.7, -3.0, -1e-2], dtype=torch.float64)
    trl_losses, _, _, ratio, log_odds = ORPOTrainer.odds_ratio_loss(_trainer(beta=0.1), c, r)
    torch.testing.assert_close(orpo_loss(c, r, beta=0.1).double(), -trl_losses.double())
    assert orpo_log_odds(c, r).mean().item() == pytest.approx(log_odds.item(), rel=1e-6)


@pytest.mark.parametrize("margin", [False, True])
@pytest.mark.parametrize("center", [None, 0.01])
def test_reward_matches_trl(margin, center):
    from trl import RewardTrainer

    scores = torch.tensor([[1.0], [0.2], [-0.3], [0.5], [0.4], [0.1]], dtype=torch.float64)
    trainer = _trainer(args=SimpleNamespace(center_rewards_coefficient=center))
    model = SimpleNamespace(__call__=None)
    inputs = {
        "input_ids": torch.ones(6, 2, dtype=torch.long),
        "attention_mask": torch.ones(6, 2, dtype=torch.long),
    }
    if margin:
        inputs["margin"] = torch.tensor([0.3, 0.0, 0.5], dtype=torch.float64)

    def model(**kw):  # noqa: F811
        return SimpleNamespace(logits=scores)

    try:
        trl_loss = RewardTrainer.compute_loss(trainer, model, dict(inputs))
    except (AttributeError, KeyError, TypeError) as e:  # pragma: no cover
        pytest.skip(f"TRL's trainer internals differ from this harness: {e!r}")
    ours = reward_loss(scores[:3, 0], scores[3:, 0], inputs.get("margin"), center)
    assert ours.item() == pytest.approx(trl_loss.item(), rel=1e-9)
