"""Losses of the sequences' summed log-probs with the LM head's gradients computed in the
forward, a chunk of whole pairs (or rows) at a time (`chunked_sequence_loss`): values and
gradients equal those of the recomputing log-probs, in the head and through every step that
uses it (DPO's pair-local loss types, CPO, ORPO, KTO)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch.nn.functional as F  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from train_support import tiny_causal_lm  # noqa: E402
from trlprep.trainers.batch import build_batch  # noqa: E402
from trlprep.trainers.collate import PairBatch, UnpairedBatch  # noqa: E402
from trlprep.trainers.lm_head import (  # noqa: E402
    SeqLoss,
    _plan,
    chunked_sequence_loss,
    chunked_token_logps,
)
from trlprep.trainers.logps import LogpsModel  # noqa: E402
from trlprep.trainers.losses import LOSS_TYPES, PAIR_LOCAL  # noqa: E402
from trlprep.trainers.offline_options import (  # noqa: E402
    CPOOptions,
    DPOOptions,
    KTOOptions,
    ORPOOptions,
)
from trlprep.trainers.steps import StepContext, cpo_step, dpo_step, orpo_step  # noqa: E402
from trlprep.trainers.unpaired_steps import kto_step  # noqa: E402


def _pair_loss(ref: torch.Tensor, n: int):  # a DPO-like loss: nonlinear in each pair
    def fn(s):
        delta = (s[:n] - ref[:n]) - (s[n:] - ref[n:])
        return -F.logsigmoid(0.3 * delta).mean() - 0.5 * s[:n].sum() / 7

    return fn


def _row_loss(ref: torch.Tensor):
    return lambda s: (1 - torch.sigmoid(0.2 * (s - ref))).mean()


@settings(max_examples=30, deadline=None)
@given(
    counts=st.lists(st.integers(0, 9), min_size=1, max_size=8),
    paired=st.booleans(),
    chunk=st.integers(1, 30),
    v=st.integers(2, 50),
    bias=st.booleans(),
    scale=st.sampled_from([1.0, 0.25, -3.0]),
    seed=st.integers(0, 2**16),
)
def test_loss_and_gradients_equal_those_of_the_log_probs(
    counts, paired, chunk, v, bias, scale, seed
):
    """Any token counts (empty sequences too), pairs or rows, chunks smaller than a group
    (its logits then computed twice) or holding several, bias, and an upstream scale."""
    if paired and len(counts) % 2:
        counts = counts + [3]
    g = torch.Generator().manual_seed(seed)
    n_tok, h = sum(counts), 6
    hidden = torch.randn(n_tok, h, generator=g, requires_grad=True)
    weight = (0.5 * torch.randn(v, h, generator=g)).requires_grad_()
    b = torch.randn(v, generator=g, requires_grad=True) if bias else None
    targets = torch.randint(0, v, (n_tok,), generator=g)
    seq = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    ref = torch.randn(len(counts), generator=g)
    n = len(counts) // 2
    loss = SeqLoss.rows(_row_loss(ref), len(counts))
    if paired:
        loss = SeqLoss.pairs(_pair_loss(ref, n), n)
    params = [hidden, weight, *([b] if bias else [])]

    logps, _ = chunked_token_logps(hidden, weight, targets, b, chunk=chunk)
    want = loss.fn(torch.zeros(len(counts)).index_add(0, seq, logps))
    want_grads = torch.autograd.grad(scale * want, params)
    got, got_logps = chunked_sequence_loss(
        hidden, weight, targets, seq, counts, loss, b, chunk=chunk
    )
    assert not got_logps.requires_grad
    torch.testing.assert_close(got_logps, logps.detach(), atol=1e-5, rtol=0)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-6)
    for a, w in zip(torch.autograd.grad(scale * got, params), want_grads, strict=True):
        torch.testing.assert_close(a, w, atol=1e-5, rtol=1e-5)


def test_bf16_autocast_stays_close():
    g = torch.Generator().manual_seed(3)
    counts = [20, 15, 25, 10]
    hidden = torch.randn(sum(counts), 16, generator=g, requires_grad=True)
    weight = (0.5 * torch.randn(300, 16, generator=g)).requires_grad_()
    targets = torch.randint(0, 300, (sum(counts),), generator=g)
    seq = torch.repeat_interleave(torch.arange(4), torch.tensor(counts))
    loss = SeqLoss.pairs(_pair_loss(torch.zeros(4), 2), 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logps, _ = chunked_token_logps(hidden, weight, targets, chunk=16)
        want = loss.fn(torch.zeros(4).index_add(0, seq, logps))
        got, _ = chunked_sequence_loss(hidden, weight, targets, seq, counts, loss, chunk=40)
    for a, w in zip(
        torch.autograd.grad(got, [hidden, weight]),
        torch.autograd.grad(want, [hidden, weight]),
        strict=True,
    ):
        assert a.dtype == torch.float32
        assert (a - w).abs().max() <= 0.02 * w.abs().max()


def test_pieces_hold_whole_groups_up_to_the_chunk():
    pieces = _plan([3, 2, 4, 1], ((0, 2), (1, 3)), chunk=8)
    assert [p.tolist() for p in pieces] == [[0, 1, 2, 5, 6, 7, 8], [3, 4, 9]]
    # a group larger than the chunk is a piece of its own
    assert [len(p) for p in _plan([3, 2, 4, 1], ((0, 2), (1, 3)), chunk=2)] == [7, 3]
    with pytest.raises(ValueError, match="each of the 4 sequences once"):
        _plan([3, 2, 4, 1], ((0, 2), (1, 2)), chunk=8)


# ------------------------------------------------------------------ through the steps


def _pair_batch():
    rows = [  # (prompt + chosen, mask), then the rejected
        ([1, 5, 6, 7, 8, 9, 2], [0, 0, 0, 1, 1, 1, 1]),
        ([1, 10, 11, 12, 2], [0, 0, 1, 1, 1]),
        ([1, 13, 14, 15, 16, 17, 18, 2], [0, 0, 0, 0, 1, 1, 1, 1]),
        ([1, 5, 6, 20, 21, 2], [0, 0, 0, 1, 1, 1]),
        ([1, 10, 22, 23, 24, 25, 26, 2], [0, 0, 1, 1, 1, 1, 1, 1]),
        ([1, 13, 14, 15, 27, 2], [0, 0, 0, 0, 1, 1]),
    ]
    return PairBatch(build_batch(rows, pad_token_id=0), num_pairs=3)


def _unpaired_batch():
    seqs = build_batch(
        [
            ([1, 5, 6, 7, 8, 2], [0, 0, 1, 1, 1, 1]),
            ([1, 9, 10, 2], [0, 0, 1, 1]),
            ([1, 11, 12, 13, 14, 15, 2], [0, 0, 0, 1, 1, 1, 1]),
        ],
        pad_token_id=0,
    )
    kl = build_batch(
        [([1, 5, 6, 15, 2], [0, 0, 1, 1, 1]), ([1, 9, 7, 8, 2], [0, 0, 1, 1, 1])]
        + [([1, 11, 12, 13, 10, 2], [0, 0, 0, 1, 1, 1])],
        pad_token_id=0,
    )
    return UnpairedBatch(seqs, labels=torch.tensor([True, False, True]), kl_seqs=kl)


class _Recording(LogpsModel):
    """A policy that keeps the outputs of its calls with gradient."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def forward(self, *args, **kwargs):
        out = super().forward(*args, **kwargs)
        if torch.is_grad_enabled():
            self.seen.append(out)
        return out


def _grads_both_ways(step, options, batch, reference=True):
    """The step's loss, metrics and gradients on a logging step (the recomputing path, which
    computes token stats) and on a quiet one (gradients in the forward)."""
    model = tiny_causal_lm(40, seed=1)
    ref = LogpsModel(tiny_causal_lm(40, seed=2), chunk=4) if reference else None
    policy = _Recording(model, stats=("is_top1",), chunk=4)
    results = []
    for logging in (True, False):
        policy.log_metrics = logging
        model.zero_grad()
        ctx = StepContext(policy=policy, reference=ref, options=options)
        policy.seen.clear()
        loss, metrics = step(ctx, batch)
        # one call with the loss; its log-probs carry the gradient only when recomputing
        assert [out.logps.requires_grad for out in policy.seen] == [logging]
        loss.backward()
        results.append((loss.detach(), metrics, [p.grad.clone() for p in model.parameters()]))
    return results


def _same(results, keys=()):
    (loss_a, metrics_a, grads_a), (loss_b, metrics_b, grads_b) = results
    torch.testing.assert_close(loss_a, loss_b, atol=1e-6, rtol=1e-5)
    assert loss_a.abs() > 0
    for k in keys:
        torch.testing.assert_close(
            torch.as_tensor(metrics_a[k]), torch.as_tensor(metrics_b[k]), atol=1e-6, rtol=1e-5
        )
    assert any(g.abs().sum() > 0 for g in grads_b)
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("loss_type", sorted(PAIR_LOCAL))
def test_dpo_pair_local_losses_train_as_before(loss_type):
    _same(
        _grads_both_ways(dpo_step, DPOOptions(loss_type=loss_type, beta=0.3), _pair_batch()),
        ("rewards/margins", "logps/chosen"),
    )


def test_dpo_combined_losses_rpo_and_reference_free_train_as_before():
    options = DPOOptions(
        loss_type="sigmoid,sft,ipo",
        loss_weights=(1.0, 0.5, 0.2),
        rpo_alpha=0.7,
        label_smoothing=0.1,
    )
    _same(_grads_both_ways(dpo_step, options, _pair_batch()), ("nll_loss", "rewards/chosen"))
    options = DPOOptions(loss_type="hinge", reference_free=True)
    _same(_grads_both_ways(dpo_step, options, _pair_batch(), reference=False))


def test_dpo_losses_that_couple_pairs_take_the_recomputing_path():
    """AOT sorts over the batch, bco_pair shifts by the batch's running mean: no pair's loss
    is known from its own sums, so the policy returns the log-probs with their gradient."""
    assert {"aot", "aot_unpaired", "bco_pair"} == set(LOSS_TYPES) - PAIR_LOCAL
    for loss_type in ("aot", "bco_pair"):
        policy = _Recording(tiny_causal_lm(40), chunk=4)
        policy.log_metrics = False
        ctx = StepContext(
            policy=policy,
            reference=LogpsModel(tiny_causal_lm(40, seed=2), chunk=4),
            options=DPOOptions(loss_type=loss_type),
        )
        loss, _ = dpo_step(ctx, _pair_batch())
        assert [out.loss for out in policy.seen] == [None]
        assert policy.seen[0].logps.requires_grad and loss.requires_grad


@pytest.mark.parametrize("loss_type", ["sigmoid", "hinge", "ipo", "simpo", "alphapo"])
def test_cpo_trains_as_before(loss_type):
    options = CPOOptions(loss_type=loss_type, alpha=0.3 if loss_type == "alphapo" else 0.0)
    _same(
        _grads_both_ways(cpo_step, options, _pair_batch(), reference=False),
        ("rewards/chosen", "nll_loss"),
    )


def test_orpo_trains_as_before():
    _same(
        _grads_both_ways(orpo_step, ORPOOptions(), _pair_batch(), reference=False),
        ("nll_loss", "log_odds_ratio"),
    )


@pytest.mark.parametrize("loss_type", ["kto", "apo_zero_unpaired"])
def test_kto_trains_as_before(loss_type):
    options = KTOOptions(loss_type=loss_type, desirable_weight=1.3)
    _same(_grads_both_ways(kto_step, options, _unpaired_batch()), ("kl", "rewards/chosen"))


def test_switched_off_the_loss_comes_from_the_recomputing_log_probs():
    """`loss_in_forward=False` (`--no-loss-in-forward`): the same loss, computed by autograd
    through log-probs that carry their gradient."""
    from trlprep.trainers.logps import completion_logps

    model = tiny_causal_lm(40)
    batch = _pair_batch()
    loss = SeqLoss.pairs(_pair_loss(torch.zeros(6), 3), 3)
    on = completion_logps(model, batch.seqs, chunk=4, seq_loss=loss)
    off = completion_logps(model, batch.seqs, chunk=4, seq_loss=loss, loss_in_forward=False)
    assert not on.logps.requires_grad and off.logps.requires_grad
    torch.testing.assert_close(on.loss, off.loss, atol=1e-6, rtol=1e-6)
