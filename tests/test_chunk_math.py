"""The LM head's per-chunk arithmetic: the fused (compiled) forms equal the eager ones, a
fused kernel that fails falls back to eager with one warning, and `auto` picks the fused
kernel on CUDA only, with larger chunks where the device has room."""

from __future__ import annotations

import shutil
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from trlprep.trainers import chunk_math as cm  # noqa: E402
from trlprep.trainers.config import TrainConfig  # noqa: E402
from trlprep.trainers.lm_head import chunked_nll, chunked_token_logps  # noqa: E402
from trlprep.trainers.logps import plain_token_logps  # noqa: E402
from trlprep.trainers.setup import chunk_budget, logps_kernel  # noqa: E402

from trlprep.errors import UsageError  # noqa: E402

# torch.compile on CPU builds C++ (inductor); the GPU tests cover the Triton side
needs_compiler = pytest.mark.skipif(
    not any(shutil.which(c) for c in ("g++", "clang++")),
    reason="torch.compile needs a C++ compiler",
)


def _inputs(n=70, h=16, v=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, h, generator=g, requires_grad=True)
    weight = (0.3 * torch.randn(v, h, generator=g)).requires_grad_()
    targets = torch.randint(0, v, (n,), generator=g)
    g_out = torch.randn(n, generator=g)
    return hidden, weight, targets, g_out


def _values_and_grads(fused, autocast, inputs):
    hidden, weight, targets, g_out = inputs
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        logps, _ = chunked_token_logps(hidden, weight, targets, chunk=32, fused=fused)
    return logps, torch.autograd.grad((logps * g_out).sum(), [hidden, weight])


@needs_compiler
def test_fused_log_probs_and_gradients_equal_the_eager_ones():
    """float32: equal to rounding; bf16 autocast: as close to float32 as the eager bf16 path
    (the chunks are 32, 32 and 6 rows: the shorter last chunk reuses the compiled kernel)."""
    inputs = _inputs()
    exact, exact_grads = _values_and_grads(False, False, inputs)
    for autocast, tol in ((False, 1e-5), (True, 0.02)):
        got, grads = _values_and_grads(True, autocast, inputs)
        assert got.dtype == torch.float32
        assert (got - exact).abs().max() <= tol * exact.abs().max()
        for a, b in zip(grads, exact_grads, strict=True):
            assert a.dtype == torch.float32
            assert (a - b).abs().max() <= 5 * tol * b.abs().max()
    assert not cm.fused_lse_and_target.failed and not cm.fused_grad_logits.failed


@needs_compiler
def test_fused_nll_equals_the_eager_one():
    hidden, weight, targets, g_out = _inputs(seed=1)
    weights = g_out.abs()
    results = []
    for fused in (False, True):
        loss, _ = chunked_nll(hidden, weight, targets, weights, chunk=32, fused=fused)
        results.append((loss, *torch.autograd.grad(loss, [hidden, weight])))
    for got, want in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert not cm.fused_lse_and_target.failed and not cm.fused_grad_logits.failed


@needs_compiler
def test_fused_pair_loss_equals_the_eager_one():
    """The pair-local loss with gradients in the forward (pieces of 23 to 70 rows, one pair
    longer than a chunk) through the compiled kernels."""
    import torch.nn.functional as F
    from trlprep.trainers.lm_head import SeqLoss, chunked_sequence_loss

    hidden, weight, targets, _ = _inputs(seed=2)
    counts = [10, 25, 5, 13, 12, 5]  # pairs (0, 3), (1, 4), (2, 5)
    seq = torch.repeat_interleave(torch.arange(6), torch.tensor(counts))
    loss = SeqLoss.pairs(lambda s: -F.logsigmoid(0.1 * (s[:3] - s[3:])).mean(), 3)
    results = []
    for fused in (False, True):
        got, _ = chunked_sequence_loss(
            hidden, weight, targets, seq, counts, loss, chunk=32, fused=fused
        )
        results.append((got, *torch.autograd.grad(got, [hidden, weight])))
    for got, want in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert not cm.fused_lse_and_target.failed and not cm.fused_grad_logits.failed


def test_the_eager_forms_of_the_chunk_arithmetic_agree():
    g = torch.Generator().manual_seed(3)
    logits = 4 * torch.randn(9, 50, generator=g)
    targets = torch.randint(0, 50, (9,), generator=g)
    upstream = torch.randn(9, generator=g)
    lse, target = cm.lse_and_target(logits, targets)
    torch.testing.assert_close(target - lse, plain_token_logps(logits, targets))
    want = upstream[:, None] * (
        torch.nn.functional.one_hot(targets, 50) - torch.softmax(logits, -1)
    )
    torch.testing.assert_close(cm.grad_logits_from_lse(logits, lse, upstream, targets), want)
    torch.testing.assert_close(cm.grad_logits_softmax(logits, lse, upstream, targets), want)
    low = logits.bfloat16()
    lse_low, _ = cm.lse_and_target(low, targets)
    assert lse_low.dtype == torch.float32
    a = cm.grad_logits_from_lse(low, lse_low, upstream, targets)
    b = cm.grad_logits_softmax(low, lse_low, upstream, targets)
    assert a.dtype == b.dtype == torch.bfloat16
    assert (a.float() - b.float()).abs().max() <= 0.02 * upstream.abs().max()


def test_a_confident_target_keeps_its_gradient_in_bf16():
    """p = 0.998: `g * (1 - p)` is 0.002 g; subtracting in bf16 would give 0 or 0.004 g."""
    logits = torch.zeros(1, 1000)
    logits[0, 7] = 13.0  # p(7) ~ 0.998
    lse = torch.logsumexp(logits, -1)
    p7 = (logits[0, 7] - lse).exp()
    assert 0.99 < p7 < 0.999
    got = cm.grad_logits_from_lse(logits.bfloat16(), lse, torch.ones(1), torch.tensor([7]))
    assert abs(got[0, 7].float() - (1 - p7)) <= 0.01 * (1 - p7)


def test_a_failing_fused_kernel_falls_back_to_eager_with_one_warning(monkeypatch):
    def broken(fn, **_):
        def call(*args):
            raise RuntimeError("no compiler here\nlong details")

        return call

    monkeypatch.setattr(torch, "compile", broken)
    fused = cm.Fused(cm.grad_logits_from_lse, cm.grad_logits_softmax)
    logits = torch.randn(4, 10)
    lse, _ = cm.lse_and_target(logits, torch.tensor([1, 2, 3, 4]))
    args = (logits, lse, torch.ones(4), torch.tensor([1, 2, 3, 4]))
    said = r"grad_logits_from_lse failed \(RuntimeError: no compiler here\); computing it "
    with pytest.warns(UserWarning, match=said):
        first = fused(*args)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = fused(*args)
    assert fused.failed
    torch.testing.assert_close(first, cm.grad_logits_softmax(*args))
    torch.testing.assert_close(second, first)


def test_out_of_memory_in_a_fused_kernel_is_not_hidden(monkeypatch):
    def oom(fn, **_):
        def call(*args):
            raise torch.OutOfMemoryError("CUDA out of memory")

        return call

    monkeypatch.setattr(torch, "compile", oom)
    fused = cm.Fused(cm.lse_and_target, cm.lse_and_target)
    with pytest.raises(torch.OutOfMemoryError):
        fused(torch.randn(2, 5), torch.tensor([0, 1]))
    assert not fused.failed


def _cfg(**kw):
    return TrainConfig(algo="sft", model="m", data=[], output_dir="o", **kw)


def test_auto_kernel_is_fused_on_cuda_and_eager_elsewhere():
    assert logps_kernel(_cfg(), torch.device("cpu")) == "torch"
    assert logps_kernel(_cfg(), torch.device("cuda", 0)) == "fused"
    assert logps_kernel(_cfg(logps_kernel="fused"), torch.device("cpu")) == "fused"
    assert logps_kernel(_cfg(logps_kernel="torch"), torch.device("cuda", 0)) == "torch"
    with pytest.raises(UsageError, match="use one of: auto, torch, fused, liger"):
        _cfg(logps_kernel="triton")


def test_chunks_are_larger_on_a_device_with_room(monkeypatch):
    free = {"bytes": 40 * 2**30}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free["bytes"], 80 * 2**30))
    cuda = torch.device("cuda", 0)
    assert chunk_budget(_cfg(), torch.device("cpu")) == 256 * 2**20
    assert chunk_budget(_cfg(), cuda) == 1024 * 2**20
    free["bytes"] = 8 * 2**30
    assert chunk_budget(_cfg(), cuda) == 256 * 2**20
    assert chunk_budget(_cfg(logits_chunk_mib=64), cuda) == 64 * 2**20
