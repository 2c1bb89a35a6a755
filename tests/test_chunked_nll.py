"""The SFT loss with the LM head's gradients computed in the forward (`chunked_nll`) equals
the NLL of the recomputing log-probs: values and gradients, in the head and through a model."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from train_support import tiny_causal_lm  # noqa: E402
from trlprep.trainers.batch import build_batch  # noqa: E402
from trlprep.trainers.lm_head import chunked_nll, chunked_token_logps  # noqa: E402
from trlprep.trainers.logps import LogpsModel, completion_logps  # noqa: E402
from trlprep.trainers.losses import nll_loss  # noqa: E402


def _inputs(n, h, v, bias, seed):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, h, generator=g, requires_grad=True)
    weight = (0.5 * torch.randn(v, h, generator=g)).requires_grad_()
    b = torch.randn(v, generator=g, requires_grad=True) if bias else None
    targets = torch.randint(0, v, (n,), generator=g)
    weights = torch.rand(n, generator=g)
    return hidden, weight, b, targets, weights


def _both(inputs, chunk, scale=1.0, autocast=False):
    hidden, weight, b, targets, weights = inputs
    params = [hidden, weight, *([b] if b is not None else [])]
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        logps, _ = chunked_token_logps(hidden, weight, targets, b, chunk=chunk)
        want = -(weights * logps).sum()
    want_grads = torch.autograd.grad(scale * want, params)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        got, got_logps = chunked_nll(hidden, weight, targets, weights, b, chunk=chunk)
    assert not got_logps.requires_grad
    torch.testing.assert_close(got_logps, logps.detach(), atol=1e-5, rtol=0)
    got_grads = torch.autograd.grad(scale * got, params)
    return (got, want), list(zip(got_grads, want_grads, strict=True))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 40),
    chunk=st.integers(1, 50),
    v=st.integers(2, 60),
    bias=st.booleans(),
    scale=st.sampled_from([1.0, 0.25, -3.0]),
    seed=st.integers(0, 2**16),
)
def test_nll_and_its_gradients_equal_those_of_the_log_probs(n, chunk, v, bias, scale, seed):
    """Any number of tokens, chunk size (the last chunk shorter), vocabulary, bias, and an
    upstream gradient (gradient accumulation divides the loss) scale both alike."""
    (got, want), grads = _both(_inputs(n, 8, v, bias, seed), chunk, scale)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-6)
    for a, b in grads:
        assert a.dtype == b.dtype == torch.float32
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_bf16_autocast_nll_stays_close():
    (got, want), grads = _both(_inputs(60, 16, 300, True, 0), chunk=16, autocast=True)
    assert abs(got - want) <= 1e-3 * abs(want)
    for a, b in grads:
        assert a.dtype == torch.float32
        assert (a - b).abs().max() <= 0.02 * b.abs().max()


def test_without_gradients_it_is_the_plain_nll():
    hidden, weight, b, targets, weights = _inputs(10, 8, 30, False, 1)
    with torch.no_grad():
        got, logps = chunked_nll(hidden, weight, targets, weights, b, chunk=4)
        want, _ = chunked_token_logps(hidden, weight, targets, b, chunk=4)
    assert not got.requires_grad
    torch.testing.assert_close(got, -(weights * want).sum())
    torch.testing.assert_close(logps, want)


def _sequences():
    return [
        ([1, 5, 6, 7, 8, 9, 2], [0, 0, 0, 1, 1, 1, 1]),
        ([1, 10, 11, 2], [0, 0, 1, 1]),
        ([1, 12, 13, 14, 15, 16, 17, 18, 2], [0, 0, 0, 0, 1, 1, 1, 1, 1]),
    ]


@pytest.mark.parametrize("num_items", [None, 20.0])
def test_the_model_nll_equals_the_loss_of_its_log_probs(num_items):
    """Through a model: the same loss and the same gradient in every parameter as
    `nll_loss` over the log-probs (the SFT loss before), with and without `num_items`."""
    model = tiny_causal_lm(40)
    batch = build_batch(_sequences(), pad_token_id=0)
    out = completion_logps(model, batch, chunk=3, nll=True, num_items=num_items)
    assert not out.logps.requires_grad  # the gradient came with the loss
    out.loss.backward()
    got = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    ref = completion_logps(model, batch, chunk=3)
    want = nll_loss(ref.logps, ref.mask, num_items)
    want.backward()
    torch.testing.assert_close(out.loss, want, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(out.logps, ref.logps.detach(), atol=1e-6, rtol=0)
    for a, p in zip(got, model.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad, atol=1e-6, rtol=1e-5)


def test_a_logging_step_keeps_its_stats_and_the_same_loss():
    """Steps that log compute the token stats: their NLL comes from the recomputing path."""
    model = tiny_causal_lm(40)
    batch = build_batch(_sequences(), pad_token_id=0)
    policy = LogpsModel(model, stats=("is_top1", "entropy"), chunk=4)
    logged = policy(batch, nll=True)
    policy.log_metrics = False
    quiet = policy(batch, nll=True)
    assert set(logged.stats) == {"is_top1", "entropy"} and not quiet.stats
    assert logged.logps.requires_grad and not quiet.logps.requires_grad
    torch.testing.assert_close(logged.loss, quiet.loss, atol=1e-6, rtol=1e-6)
