"""Every loss against values computed by hand (plain `math`) from its published formula."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from trlprep.trainers.losses import (  # noqa: E402
    DPO_LOSSES,
    DPOLossConfig,
    PairLogps,
    RunningMean,
    alphapo_reward,
    bco_loss,
    cpo_loss,
    dpo_loss,
    kto_kl_estimate,
    kto_loss,
    length_desensitised_logps,
    nll_loss,
    orpo_log_odds,
    orpo_loss,
    reward_loss,
    token_classification_loss,
    wpo_weights,
)

# Three pairs of summed completion log-probs (policy and reference), with their lengths.
CHOSEN = [-10.0, -12.5, -8.0]
REJECTED = [-11.0, -9.0, -15.0]
REF_CHOSEN = [-10.5, -12.0, -9.0]
REF_REJECTED = [-10.0, -10.0, -14.0]
CHOSEN_LEN = [4, 5, 3]
REJECTED_LEN = [6, 2, 7]
NLL = 1.75
BETA = 0.1


def s(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def logs(x: float) -> float:
    return math.log(s(x))


def pairs() -> PairLogps:
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return PairLogps(
        t(CHOSEN),
        t(REJECTED),
        t(REF_CHOSEN),
        t(REF_REJECTED),
        t(CHOSEN_LEN),
        t(REJECTED_LEN),
        t(NLL),
    )


def rw(i: int) -> float:
    return CHOSEN[i] - REF_CHOSEN[i]


def rl(i: int) -> float:
    return REJECTED[i] - REF_REJECTED[i]


def delta(i: int) -> float:
    return rw(i) - rl(i)


def by_hand(name: str, eps: float = 0.0, tau: float = 0.05, bco_delta: float = 0.0) -> list[float]:
    """The per-pair loss, written out from each paper's formula."""
    b = BETA
    out = []
    for i in range(3):
        d = delta(i)
        if name == "sigmoid":
            v = -(1 - eps) * logs(b * d) - eps * logs(-b * d)
        elif name == "hinge":
            v = max(0.0, 1 - b * d)
        elif name in ("ipo", "sigmoid_norm"):
            dn = rw(i) / CHOSEN_LEN[i] - rl(i) / REJECTED_LEN[i]
            v = (dn - 1 / (2 * b)) ** 2 if name == "ipo" else -logs(b * dn)
        elif name == "exo_pair":
            e = eps or 1e-3
            qw, ql = s(b * d), s(-b * d)
            v = qw * (math.log(qw) - math.log(1 - e)) + ql * (math.log(ql) - math.log(e))
        elif name == "nca_pair":
            v = -logs(b * rw(i)) - 0.5 * logs(-b * rw(i)) - 0.5 * logs(-b * rl(i))
        elif name == "robust":
            v = (-(1 - eps) * logs(b * d) + eps * logs(-b * d)) / (1 - 2 * eps)
        elif name == "bco_pair":
            v = -logs(b * rw(i) - bco_delta) - logs(-(b * rl(i) - bco_delta))
        elif name == "sppo_hard":
            v = (rw(i) - 1 / (2 * b)) ** 2 + (rl(i) + 1 / (2 * b)) ** 2
        elif name == "apo_zero":
            v = 1 - s(b * rw(i)) + s(b * rl(i))
        elif name == "apo_down":
            v = s(b * rw(i)) + 1 - s(b * d)
        elif name == "discopop":
            x = b * d
            m = s(x / tau)
            v = (1 - m) * -logs(x) + m * math.exp(-x)
        elif name == "sft":
            v = NLL
        elif name in ("aot", "aot_unpaired"):
            v = 0.0  # batch-coupled: computed below
        else:
            raise AssertionError(name)
        out.append(v)
    if name in ("aot", "aot_unpaired"):
        if name == "aot":
            a = sorted(CHOSEN[i] - REJECTED[i] for i in range(3))
            r = sorted(REF_CHOSEN[i] - REF_REJECTED[i] for i in range(3))
        else:
            a = sorted(rw(i) for i in range(3))
            r = sorted(rl(i) for i in range(3))
        out = [
            -(1 - eps) * logs(b * (x - y)) - eps * logs(-b * (x - y))
            for x, y in zip(a, r, strict=True)
        ]
    return out


@pytest.mark.parametrize("name", sorted(DPO_LOSSES))
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_each_dpo_loss_type_matches_its_formula(name, eps):
    cfg = DPOLossConfig(beta=BETA, label_smoothing=eps, discopop_tau=0.05)
    got = DPO_LOSSES[name](pairs(), cfg)
    assert got.shape == (3,)
    assert got.tolist() == pytest.approx(by_hand(name, eps=eps), rel=1e-9, abs=1e-12)


def test_bco_pair_shifts_by_the_running_delta():
    cfg = DPOLossConfig(beta=BETA, bco_delta=0.03)
    got = DPO_LOSSES["bco_pair"](pairs(), cfg)
    assert got.tolist() == pytest.approx(by_hand("bco_pair", bco_delta=0.03), rel=1e-9)
    assert not torch.allclose(got, DPO_LOSSES["bco_pair"](pairs(), DPOLossConfig(beta=BETA)))


def test_combined_loss_types_are_weighted_means():
    cfg = DPOLossConfig(beta=BETA)
    got = dpo_loss(pairs(), cfg, ["sigmoid", "bco_pair", "sft"], [0.8, 0.2, 1.0])
    want = 0.8 * sum(by_hand("sigmoid")) / 3 + 0.2 * sum(by_hand("bco_pair")) / 3 + 1.0 * NLL
    assert got.item() == pytest.approx(want, rel=1e-9)
    # unweighted: every weight is 1
    got = dpo_loss(pairs(), cfg, ["sigmoid", "hinge"])
    assert got.item() == pytest.approx(
        sum(by_hand("sigmoid")) / 3 + sum(by_hand("hinge")) / 3, rel=1e-9
    )
    with pytest.raises(ValueError, match="loss weights"):
        dpo_loss(pairs(), cfg, ["sigmoid", "hinge"], [1.0])
    with pytest.raises(ValueError, match="unknown DPO loss type 'nope'"):
        dpo_loss(pairs(), cfg, ["nope"])


def test_reference_free_is_a_zero_reference():
    p = pairs()
    zero = torch.zeros(3, dtype=torch.float64)
    free = PairLogps(p.chosen, p.rejected, zero, zero)
    got = dpo_loss(free, DPOLossConfig(beta=BETA))
    want = sum(-logs(BETA * (CHOSEN[i] - REJECTED[i])) for i in range(3)) / 3
    assert got.item() == pytest.approx(want, rel=1e-9)


def test_wpo_weights_multiply_each_pair():
    # 2 pairs, 3 completion tokens max; per-token log-probs and log sum_v p_v^2
    logps = torch.tensor(
        [[-0.5, -1.0, 0.0], [-0.2, -0.3, -0.4], [-2.0, 0.0, 0.0], [-0.1, -0.6, 0.0]],
        dtype=torch.float64,
    )
    lssp = torch.tensor(
        [[-0.7, -0.9, 0.0], [-0.5, -0.4, -0.6], [-1.5, 0.0, 0.0], [-0.3, -0.2, 0.0]],
        dtype=torch.float64,
    )
    mask = torch.tensor([[1, 1, 0], [1, 1, 1], [1, 0, 0], [1, 1, 0]])
    got = wpo_weights(logps, lssp, mask, num_pairs=2)

    def w(row: int) -> float:
        n = int(mask[row].sum())
        return math.exp(sum(float(logps[row, t] - lssp[row, t]) for t in range(n)) / n)

    assert got.tolist() == pytest.approx([w(0) * w(2), w(1) * w(3)], rel=1e-12)
    p = PairLogps(
        *(torch.tensor(v[:2], dtype=torch.float64) for v in (CHOSEN, REJECTED)),
        *(torch.tensor(v[:2], dtype=torch.float64) for v in (REF_CHOSEN, REF_REJECTED)),
    )
    weighted = dpo_loss(p, DPOLossConfig(beta=BETA), pair_weights=got)
    want = (w(0) * w(2) * -logs(BETA * delta(0)) + w(1) * w(3) * -logs(BETA * delta(1))) / 2
    assert weighted.item() == pytest.approx(want, rel=1e-12)


def test_length_desensitised_logps_split_at_the_shared_length():
    # pair 0: chosen 3 tokens, rejected 1 -> shared length 1; pair 1: 2 and 3 -> 2
    logps = torch.tensor(
        [[-1.0, -2.0, -3.0], [-0.5, -0.5, 0.0], [-4.0, 0.0, 0.0], [-1.0, -1.0, -6.0]],
        dtype=torch.float64,
    )
    mask = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 1, 1]])
    got = length_desensitised_logps(logps, mask, num_pairs=2, alpha=0.25)
    want = [-1.0 + 0.25 * -5.0, -1.0, -4.0, -2.0 + 0.25 * -6.0]
    assert got.tolist() == pytest.approx(want)
    # alpha = 1 is plain summation
    full = length_desensitised_logps(logps, mask, num_pairs=2, alpha=1.0)
    assert full.tolist() == pytest.approx((logps * mask).sum(-1).tolist())


@pytest.mark.parametrize("loss_type", ["sigmoid", "hinge", "ipo", "simpo"])
@pytest.mark.parametrize("alpha", [0.0, 0.25])
def test_cpo_simpo_alphapo(loss_type, alpha):
    c = torch.tensor([-0.8, -2.0], dtype=torch.float64)
    r = torch.tensor([-1.1, -0.5], dtype=torch.float64)
    got = cpo_loss(
        c, r, beta=2.0, loss_type=loss_type, label_smoothing=0.1, simpo_gamma=0.5, alpha=alpha
    )
    want = []
    for cw, cl in zip(c.tolist(), r.tolist(), strict=True):
        f = (lambda x: (1 - math.exp(x) ** -alpha) / alpha) if alpha else (lambda x: x)
        d = f(cw) - f(cl)
        if loss_type == "simpo":
            d -= 0.5 / 2.0
        if loss_type in ("sigmoid", "simpo"):
            want.append(-0.9 * logs(2.0 * d) - 0.1 * logs(-2.0 * d))
        elif loss_type == "hinge":
            want.append(max(0.0, 1 - 2.0 * d))
        else:
            want.append((d - 1 / 4.0) ** 2)
    assert got.tolist() == pytest.approx(want, rel=1e-9)


def test_alphapo_reward_tends_to_log_probability():
    x = torch.tensor([-0.3, -2.0], dtype=torch.float64)
    assert alphapo_reward(x, 0.0) is x
    assert alphapo_reward(x, 1e-7).tolist() == pytest.approx(x.tolist(), rel=1e-5)


def test_orpo_odds_ratio():
    c = torch.tensor([-0.4, -1.5, -1e-4], dtype=torch.float64)
    r = torch.tensor([-0.9, -0.7, -3.0], dtype=torch.float64)
    log_odds = [
        math.log(math.exp(a) / (1 - math.exp(a))) - math.log(math.exp(b) / (1 - math.exp(b)))
        for a, b in zip(c.tolist(), r.tolist(), strict=True)
    ]
    assert orpo_log_odds(c, r).tolist() == pytest.approx(log_odds, rel=1e-6)
    assert orpo_loss(c, r, beta=0.1).tolist() == pytest.approx(
        [-0.1 * logs(x) for x in log_odds], rel=1e-6
    )


def test_kto_and_apo_zero_unpaired():
    cw = torch.tensor([0.5, -0.2], dtype=torch.float64)
    cl = torch.tensor([0.3], dtype=torch.float64)
    got = kto_loss(cw, cl, 0.1, beta=0.5, desirable_weight=1.5, undesirable_weight=0.7)
    want = [1.5 * (1 - s(0.5 * (x - 0.1))) for x in (0.5, -0.2)] + [
        0.7 * (1 - s(0.5 * (0.1 - 0.3)))
    ]
    assert got.tolist() == pytest.approx(want, rel=1e-12)
    got = kto_loss(cw, cl, 0.1, beta=0.5, loss_type="apo_zero_unpaired")
    want = [1 - s(0.25), 1 - s(-0.1), s(0.15)]
    assert got.tolist() == pytest.approx(want, rel=1e-12)
    # a batch with no undesirable example
    assert kto_loss(cw, cl[:0], 0.0).shape == (2,)


def test_kto_kl_estimate_is_a_clamped_detached_mean():
    kl_logps = torch.tensor([-3.0, -5.0], requires_grad=True)
    got = kto_kl_estimate(kl_logps, torch.tensor([-4.0, -4.5]))
    assert got.item() == pytest.approx(0.25)  # (1 - 0.5) / 2
    assert not got.requires_grad
    assert kto_kl_estimate(torch.tensor([-5.0]), torch.tensor([-4.0])).item() == 0.0


def test_bco_loss_and_running_mean():
    rm = RunningMean()
    assert rm.update(torch.tensor([1.0, 3.0])) == pytest.approx(2.0)  # first batch sets it
    assert rm.update(torch.tensor([6.0, 6.0])) == pytest.approx(4.0)
    rm2 = RunningMean()
    rm2.load_state_dict(rm.state_dict())
    assert rm2 == rm
    cw, cl = torch.tensor([0.4]), torch.tensor([0.1, -0.2])
    got = bco_loss(cw, cl, 0.05)
    want = [-logs(0.4 - 0.05), -logs(-(0.1 - 0.05)), -logs(-(-0.2 - 0.05))]
    assert got.tolist() == pytest.approx(want, rel=1e-6)


def test_reward_loss_margin_and_centering():
    rc = torch.tensor([1.0, 0.2], dtype=torch.float64)
    rr = torch.tensor([0.5, 0.4], dtype=torch.float64)
    assert reward_loss(rc, rr).item() == pytest.approx((-logs(0.5) - logs(-0.2)) / 2)
    m = torch.tensor([0.3, 0.0], dtype=torch.float64)
    assert reward_loss(rc, rr, m).item() == pytest.approx((-logs(0.2) - logs(-0.2)) / 2)
    centred = reward_loss(rc, rr, center_rewards_coefficient=0.01).item()
    assert centred == pytest.approx((-logs(0.5) - logs(-0.2)) / 2 + 0.01 * (1.5**2 + 0.6**2) / 2)


def test_nll_and_token_classification():
    logps = torch.tensor([[-1.0, -2.0, -9.0], [-0.5, -9.0, -9.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert nll_loss(logps, mask).item() == pytest.approx(3.5 / 3)
    assert nll_loss(logps, mask, num_items=7).item() == pytest.approx(3.5 / 7)
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [5.0, 5.0]]])
    labels = torch.tensor([[0, -100, 1]])
    want = (-math.log(math.exp(2) / (math.exp(2) + 1)) - math.log(0.5)) / 2
    assert token_classification_loss(logits, labels).item() == pytest.approx(want, rel=1e-6)


def test_losses_have_gradients_where_the_formula_does():
    p = pairs()
    chosen = p.chosen.clone().requires_grad_(True)
    q = PairLogps(
        chosen,
        p.rejected,
        p.ref_chosen,
        p.ref_rejected,
        p.chosen_lengths,
        p.rejected_lengths,
        p.chosen_nll,
    )
    for name in DPO_LOSSES:
        if name == "sft":
            continue
        (g,) = torch.autograd.grad(DPO_LOSSES[name](q, DPOLossConfig()).sum(), chosen)
        assert torch.isfinite(g).all() and g.abs().sum() > 0, name
