"""The online algorithms' losses and advantages against values computed by hand from their
published formulas on fixed tensors, and against TRL's implementation where `trl` has it
(GRPO, RLOO, GKD; TRL 1.x no longer ships PPO, Nash-MD or XPO)."""

from __future__ import annotations

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

from trlprep.trainers.losses import (  # noqa: E402
    AdaptiveKLController,
    clipped_surrogate,
    gae,
    generalized_jsd,
    group_advantages,
    grpo_aggregate,
    kl_estimate,
    masked_whiten,
    nanstd,
    nash_md_loss,
    online_dpo_loss,
    ppo_policy_loss,
    ppo_value_loss,
    rloo_advantages,
    rloo_loss,
    xpo_loss,
)

T = torch.tensor
approx = pytest.approx


def test_kl_estimators():
    logps, ref = T([-1.0, -2.0]), T([-1.5, -1.0])
    assert kl_estimate(logps, ref, "k1").tolist() == approx([0.5, -1.0])
    # k3 = (r - 1) - log r, r = ref / pi: never negative
    want = [math.exp(-0.5) - 1 + 0.5, math.exp(1.0) - 1 - 1.0]
    assert kl_estimate(logps, ref, "k3").tolist() == approx(want, rel=1e-6)
    with pytest.raises(ValueError, match="k1"):
        kl_estimate(logps, ref, "k2")


def test_group_advantages_scalings():
    rewards = T([1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 1.0, 1.0])
    s1, s2 = math.sqrt(5 / 3), math.sqrt(1 / 3)  # unbiased group stds
    group = [-1.5 / (s1 + 1e-4), -0.5 / (s1 + 1e-4), 0.5 / (s1 + 1e-4), 1.5 / (s1 + 1e-4)]
    group += [-0.5 / (s2 + 1e-4)] * 2 + [0.5 / (s2 + 1e-4)] * 2
    assert group_advantages(rewards, 4, "group").tolist() == approx(group, rel=1e-6)
    dev = [-1.5, -0.5, 0.5, 1.5, -0.5, -0.5, 0.5, 0.5]
    assert group_advantages(rewards, 4, "none").tolist() == approx(dev)
    batch_std = math.sqrt(2.0)  # of all 8 rewards
    want = [d / (batch_std + 1e-4) for d in dev]
    assert group_advantages(rewards, 4, "batch").tolist() == approx(want, rel=1e-6)


def test_group_advantages_leave_unscored_rewards_out():
    got = group_advantages(T([1.0, math.nan, 3.0, 5.0]), 4, "group")
    assert got.tolist() == approx([-2 / 2.0001, 0.0, 0.0, 2 / 2.0001], rel=1e-6)
    equal = group_advantages(T([2.0, 2.0, 2.0, 2.0]), 4, "group")
    assert equal.tolist() == [0.0] * 4  # a group without spread carries no signal


def test_rloo_leave_one_out_baselines():
    got = rloo_advantages(T([1.0, 2.0, 3.0, 4.0, 6.0, 8.0]), 3)
    assert got.tolist() == approx([-1.5, 0.0, 1.5, -3.0, 0.0, 3.0])
    assert rloo_advantages(T([1.0, math.nan, 3.0]), 3).tolist() == approx([-2.0, 0.0, 2.0])


def test_rloo_normalized_advantages_leave_unscored_samples_out():
    rewards = T([1.0, 2.0, 3.0, 4.0, math.nan, 8.0])
    raw = [-1.5, 0.0, 1.5, -4.0, 0.0, 4.0]  # the NaN is out of its prompt's baselines
    assert rloo_advantages(rewards, 3).tolist() == approx(raw)
    scored = T([-1.5, 0.0, 1.5, -4.0, 4.0])  # the unscored sample is out of the statistics
    want = ((scored - scored.mean()) / (scored.std() + 1e-4)).tolist()
    got = rloo_advantages(rewards, 3, normalize=True).tolist()
    assert got[:4] + got[5:] == approx(want, rel=1e-6) and got[4] == 0.0
    # a prompt with one scored sample has no baseline: no advantage, as TRL
    assert rloo_advantages(T([2.0, math.nan]), 2).tolist() == [0.0, 0.0]


def test_nanstd_is_unbiased_and_ignores_nan():
    x = T([[1.0, 3.0, math.nan], [2.0, math.nan, math.nan]])
    assert nanstd(x, dim=1).tolist() == approx([math.sqrt(2.0), 0.0])
    assert nanstd(x).item() == approx(T([1.0, 3.0, 2.0]).std().item())


def test_gae_by_hand():
    rewards = T([[0.0, 0.0, 1.0], [0.0, 1.0, 5.0]])
    values = T([[0.5, 0.6, 0.7], [0.2, 0.4, 9.0]])
    mask = T([[1, 1, 1], [1, 1, 0]])
    adv, ret = gae(rewards, values, mask, gamma=1.0, lam=0.95)
    # row 0: deltas 0.1, 0.1, 0.3 -> A2 = 0.3, A1 = 0.1 + .95 * .3, A0 = 0.1 + .95 * A1
    a1 = 0.1 + 0.95 * 0.3
    assert adv[0].tolist() == approx([0.1 + 0.95 * a1, a1, 0.3])
    assert ret[0].tolist() == approx([0.1 + 0.95 * a1 + 0.5, a1 + 0.6, 1.0])
    # row 1 ends after two tokens: the masked position's reward and value do not count
    assert adv[1].tolist() == approx([0.2 + 0.95 * 0.6, 0.6, 0.0])
    assert ret[1].tolist() == approx([0.97, 1.0, 0.0])
    adv9, _ = gae(rewards[:1], values[:1], mask[:1], gamma=0.9, lam=1.0)
    # lam = 1: A_t = discounted return - V_t
    assert adv9[0].tolist() == approx([0.81 - 0.5, 0.9 - 0.6, 1.0 - 0.7])


def test_clipped_surrogate_by_hand():
    logps = T([math.log(1.5), math.log(0.5), math.log(1.1)])
    losses, ratio = clipped_surrogate(logps, torch.zeros(3), T([1.0, 1.0, -1.0]), 0.2, 0.28)
    assert ratio.tolist() == approx([1.5, 0.5, 1.1])
    # min(r A, clip(r) A): 1.28 (clip-higher), 0.5 (no lower clip for A > 0), -1.1
    assert losses.tolist() == approx([-1.28, -0.5, 1.1])


def test_grpo_aggregations_by_hand():
    per_token = T([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]])
    mask = T([[1, 1, 1], [1, 1, 0]])
    assert grpo_aggregate(per_token, mask, "grpo").item() == approx((2 + 4.5) / 2)
    assert grpo_aggregate(per_token, mask, "bnpo").item() == approx(15 / 5)
    dr = grpo_aggregate(per_token, mask, "dr_grpo", max_completion_length=4)
    assert dr.item() == approx(15 / 8)
    assert grpo_aggregate(per_token, mask, "dapo", num_items=10).item() == approx(1.5)
    assert grpo_aggregate(per_token, mask, "dapo").item() == approx(3.0)


def test_rloo_sequence_loss_by_hand():
    loss, ratio = rloo_loss(T([math.log(2.0), 0.0]), torch.zeros(2), T([1.0, -1.0]), 0.2, 0.2)
    assert ratio.tolist() == approx([2.0, 1.0])
    assert loss.item() == approx((-1.2 + 1.0) / 2)


def test_ppo_policy_loss_by_hand():
    logps = T([[math.log(1.5), math.log(0.5)]])
    out = ppo_policy_loss(logps, torch.zeros(1, 2), T([[1.0, -1.0]]), torch.ones(1, 2), 0.2)
    assert out.loss.item() == approx((-1.2 + 0.8) / 2)
    assert out.clipfrac.item() == 1.0
    assert out.approxkl.item() == approx(0.5 * (math.log(1.5) ** 2 + math.log(0.5) ** 2) / 2)
    assert out.policykl.item() == approx((-math.log(1.5) - math.log(0.5)) / 2)


def test_ppo_value_loss_by_hand():
    loss, clipfrac = ppo_value_loss(
        T([[1.0, 0.0]]), T([[0.5, 0.0]]), T([[2.0, 0.5]]), torch.ones(1, 2), 0.2
    )
    # token 0: max((1 - 2)^2, (0.7 - 2)^2) = 1.69 (clipped); token 1: 0.25
    assert loss.item() == approx(0.5 * (1.69 + 0.25) / 2)
    assert clipfrac.item() == 0.5


def test_masked_whiten():
    x, mask = T([1.0, 2.0, 3.0, 100.0]), T([1, 1, 1, 0])
    assert masked_whiten(x, mask).tolist() == approx([-1.0, 0.0, 1.0, 0.0], abs=1e-6)
    kept = masked_whiten(x, mask, shift_mean=False)
    assert kept.tolist() == approx([1.0, 2.0, 3.0, 0.0], abs=1e-6)


def test_adaptive_kl_controller():
    c = AdaptiveKLController(0.1, target=6.0, horizon=100, adaptive=True)
    assert c.update(12.0, 10) == approx(0.1 * 1.02)  # error clipped at +0.2
    assert c.update(3.0, 10) == approx(0.1 * 1.02 * 0.98)  # and at -0.2
    fixed = AdaptiveKLController(0.1, adaptive=False)
    assert fixed.update(100.0, 10) == 0.1
    restored = AdaptiveKLController(0.5)
    restored.load_state_dict(c.state_dict())
    assert restored.value == c.value


def test_online_dpo_losses_by_hand():
    sig = online_dpo_loss(T([1.0]), T([-1.0]), 0.1, "sigmoid")
    assert sig.item() == approx(math.log1p(math.exp(-0.2)))
    assert online_dpo_loss(T([1.0]), T([-1.0]), 0.1, "ipo").item() == approx((2 - 5) ** 2)


def test_nash_md_loss_and_its_gradient_by_hand():
    logps = T([[-1.0, -2.0]], requires_grad=True)
    loss, score, kl = nash_md_loss(logps, T([[-1.5, -1.0]]), torch.ones(1, 2), T([0.8]), 0.1)
    # score = (0.8 - 0.5) * -3; KL term = sum(sg(log-ratio) * logp) = 0.5 * -1 + -1 * -2
    assert loss.item() == approx(0.1 * 1.5 + 0.9)
    assert score.item() == approx(-0.9) and kl.item() == approx(-0.5)
    loss.sum().backward()
    # d/dlogp = beta * log-ratio - (P - 1/2): the REINFORCE gradients
    assert logps.grad.tolist() == [approx([0.05 - 0.3, -0.1 - 0.3])]


def test_xpo_loss_by_hand():
    args = (T([2.0, 2.0]), T([-1.0, -1.0]), T([1.0, 1.0]), T([0.0, 0.0]))
    dpo, xpo = xpo_loss(*args, T([True, False]), beta=0.1, alpha=0.5)
    # policy sample chosen: d = (2 - 1) - (-1 - 0) = 2; else d = -2
    assert dpo.tolist() == approx([math.log1p(math.exp(-0.2)), math.log1p(math.exp(0.2))])
    assert xpo.tolist() == approx([-0.5, -0.5])  # alpha * log pi(y_ref)


def test_generalized_jsd_by_hand():
    student = T([[0.0, 0.0]])  # Q = (1/2, 1/2)
    teacher = T([[math.log(3.0), 0.0]])  # P = (3/4, 1/4)
    kl_pq = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    kl_qp = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(2.0)
    assert generalized_jsd(student, teacher, 0.0).item() == approx(kl_pq, rel=1e-6)
    assert generalized_jsd(student, teacher, 1.0).item() == approx(kl_qp, rel=1e-6)
    m = (0.625, 0.375)  # 1/2 P + 1/2 Q
    kl_pm = 0.75 * math.log(0.75 / m[0]) + 0.25 * math.log(0.25 / m[1])
    kl_qm = 0.5 * math.log(0.5 / m[0]) + 0.5 * math.log(0.5 / m[1])
    assert generalized_jsd(student, teacher, 0.5).item() == approx(
        0.5 * kl_pm + 0.5 * kl_qm, rel=1e-5
    )
    t2 = generalized_jsd(student, teacher, 0.3, temperature=2.0)
    assert t2.item() == approx(generalized_jsd(student / 2, teacher / 2, 0.3).item(), rel=1e-6)
    assert generalized_jsd(teacher, teacher, 0.5).item() == approx(0.0, abs=1e-7)


# ------------------------------------------------------------------ against TRL


class _Acc:
    num_processes = 1
    sync_gradients = True

    @staticmethod
    def gather(x):
        return x

    gather_for_metrics = gather

    @staticmethod
    def reduce(x, reduction="sum"):
        return x


def _call(fn, *args):
    try:
        return fn(*args)
    except (AttributeError, KeyError, TypeError) as e:  # pragma: no cover - TRL version drift
        pytest.skip(f"TRL's trainer internals differ from this harness: {e!r}")


def _rollout_tensors(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mask = T([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]])
    logps = -torch.rand(3, 4, generator=g, dtype=torch.float64) * 3 * mask
    old = logps + 0.4 * (torch.rand(3, 4, generator=g, dtype=torch.float64) - 0.5) * mask
    ref = logps + 0.6 * (torch.rand(3, 4, generator=g, dtype=torch.float64) - 0.5) * mask
    entropy = torch.rand(3, 4, generator=g, dtype=torch.float64)
    return logps, old, ref, entropy, mask, T([1.5, -0.7, 0.2], dtype=torch.float64)


def _stub(logps, entropy, **attrs):
    base = dict(
        _get_per_token_logps_and_entropies=lambda *a, **k: (logps, entropy, None),
        accelerator=_Acc(),
        aux_loss_enabled=False,
        model=SimpleNamespace(training=True),
        _metrics=defaultdict(lambda: defaultdict(list)),
        epsilon_low=0.2,
        epsilon_high=0.28,
    )
    return SimpleNamespace(**(base | attrs))


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo", "dapo"])
@pytest.mark.parametrize("beta", [0.0, 0.04])
def test_grpo_loss_matches_trl(loss_type, beta):
    pytest.importorskip("trl")
    from trl import GRPOTrainer

    logps, old, ref, entropy, mask, adv = _rollout_tensors()
    stub = _stub(
        logps,
        entropy,
        top_entropy_quantile=1.0,
        off_policy_mask_threshold=None,
        importance_sampling_level="token",
        beta=beta,
        loss_type=loss_type,
        use_vllm=False,
        vllm_importance_sampling_correction=False,
        current_gradient_accumulation_steps=1,
        max_completion_length=6,
        _entropy_bonus_enabled=False,
        args=SimpleNamespace(use_bias_correction_kl=False, delta=None, steps_per_generation=1),
    )
    ids = torch.zeros(3, 2, dtype=torch.long)
    inputs = {
        "prompt_ids": ids,
        "prompt_mask": torch.ones_like(ids),
        "completion_ids": torch.zeros(3, 4, dtype=torch.long),
        "completion_mask": mask,
        "advantages": adv,
        "old_per_token_logps": old,
        "ref_per_token_logps": ref,
        "num_items_in_batch": mask.sum().double(),
    }
    trl_loss = _call(GRPOTrainer._compute_loss, stub, None, inputs)
    per_token, ratio = clipped_surrogate(logps, old, adv.unsqueeze(1), 0.2, 0.28)
    if beta:
        per_token = per_token + beta * kl_estimate(logps, ref, "k3")
    ours = grpo_aggregate(
        per_token, mask, loss_type, max_completion_length=6, num_items=float(mask.sum())
    )
    assert ours.item() == approx(trl_loss.item(), rel=1e-9)
    if beta:
        kl = (kl_estimate(logps, ref, "k3") * mask).sum() / mask.sum()
        assert stub._metrics["train"]["kl"][0] == approx(kl.item(), rel=1e-9)


def test_rloo_loss_matches_trl():
    pytest.importorskip("trl")
    from trl import RLOOTrainer

    logps, old, _, entropy, mask, adv = _rollout_tensors(1)
    stub = _stub(logps, entropy)
    old_seq = (old * mask).sum(1)
    ids = torch.zeros(3, 2, dtype=torch.long)
    inputs = {
        "prompt_ids": ids,
        "prompt_mask": torch.ones_like(ids),
        "completion_ids": torch.zeros(3, 4, dtype=torch.long),
        "completion_mask": mask,
        "advantages": adv,
        "old_logps": old_seq,
    }
    trl_loss = _call(RLOOTrainer._compute_loss, stub, None, inputs)
    ours, _ = rloo_loss((logps * mask).sum(1), old_seq, adv, 0.2, 0.28)
    assert ours.item() == approx(trl_loss.item(), rel=1e-9)


@pytest.mark.parametrize("beta", [0.0, 0.3, 0.5, 1.0])
def test_generalized_jsd_matches_trl(beta):
    pytest.importorskip("trl")
    try:
        from trl.experimental.gkd import GKDTrainer
    except ImportError:  # pragma: no cover - older TRL
        from trl import GKDTrainer
    g = torch.Generator().manual_seed(3)
    student = torch.randn(2, 5, 7, generator=g, dtype=torch.float64)
    teacher = torch.randn(2, 5, 7, generator=g, dtype=torch.float64)
    labels = torch.ones(2, 5, dtype=torch.long)
    labels[0, :2] = -100
    labels[1, 4] = -100
    trl_loss = GKDTrainer.generalized_jsd_loss(
        student, teacher, labels=labels, beta=beta, temperature=0.9
    )
    keep = labels != -100
    ours = generalized_jsd(student[keep], teacher[keep], beta, 0.9)
    assert ours.sum().item() / keep.sum().item() == approx(trl_loss.item(), rel=1e-6)
