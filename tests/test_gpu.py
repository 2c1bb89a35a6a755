"""CUDA-only checks (`pytest -m gpu`; skipped without a GPU): bf16 numerics against float32
on the same batch, the fused (compiled) log-prob kernels, the losses with gradients in the
forward and Liger Kernel against the eager chunked log-probs, padding-free equal to padded,
the fused AdamW, the compiled forward and the static-cache generation."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

from train_support import tiny_causal_lm  # noqa: E402
from trlprep.trainers.batch import build_batch  # noqa: E402
from trlprep.trainers.logps import (  # noqa: E402
    chunked_token_logps,
    completion_logps,
    liger_available,
    liger_import_error,
    liger_token_logps,
)

SEQS = [
    ([1, 5, 6, 7, 8, 9, 2], [0, 0, 0, 1, 1, 1, 1]),
    ([1, 10, 11, 2], [0, 0, 1, 1]),
    ([1, 12, 13, 14, 15, 16, 17, 18, 2], [0, 0, 0, 0, 1, 1, 1, 1, 1]),
]


def _head_inputs(n=300, h=64, v=5000, seed=0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    hidden = torch.randn(n, h, device="cuda", generator=g).requires_grad_()
    weight = (0.1 * torch.randn(v, h, device="cuda", generator=g)).requires_grad_()
    targets = torch.randint(0, v, (n,), device="cuda", generator=g)
    return hidden, weight, targets


def _close(got, want, rel):
    scale = want.abs().max().clamp(min=1e-6)
    assert (got.float() - want.float()).abs().max() <= rel * scale


def _close_in_bf16(got, want, params):
    """A bf16-autocast loss `got` against the float32 `want`: values within 2%, the
    (float32) gradients in `params` within 5% of the largest."""
    _close(got, want, 0.02)
    got_grads = torch.autograd.grad(got, params)
    for a, b in zip(got_grads, torch.autograd.grad(want, params), strict=True):
        assert a.dtype == torch.float32
        _close(a, b, 0.05)


def test_bf16_log_probs_and_gradients_stay_close_to_float32():
    hidden, weight, targets = _head_inputs()
    exact, _ = chunked_token_logps(hidden, weight, targets, chunk=64)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        low, _ = chunked_token_logps(hidden, weight, targets, chunk=64)
    assert low.dtype == torch.float32
    _close(low, exact, 0.02)
    _close_in_bf16(low.sum(), exact.sum(), [hidden, weight])


@pytest.mark.parametrize("bf16", [False, True])
def test_fused_kernels_equal_the_eager_ones_on_cuda(bf16):
    """The compiled (Triton) per-chunk arithmetic, the default on CUDA, against the eager
    ops: values and gradients, with a shorter last chunk; no fallback warning."""
    import warnings

    from trlprep.trainers import chunk_math

    hidden, weight, targets = _head_inputs()
    g_out = torch.randn(hidden.shape[0], device="cuda")
    ctx = torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16)
    results = []
    for fused in (False, True):
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="the fused log-prob kernel")
            with ctx:
                logps, _ = chunked_token_logps(hidden, weight, targets, chunk=64, fused=fused)
            grads = torch.autograd.grad((logps * g_out).sum(), [hidden, weight])
        results.append((logps, *grads))
    tol = 0.02 if bf16 else 1e-5
    for got, want in zip(results[1], results[0], strict=True):
        _close(got, want, 5 * tol)
    assert not chunk_math.fused_lse_and_target.failed
    assert not chunk_math.fused_grad_logits.failed


@pytest.mark.parametrize("fused", [False, True])
def test_sft_nll_with_gradients_in_the_forward_on_cuda(fused):
    """SFT's loss with the head's gradients computed in the forward, under bf16 autocast,
    against the float32 NLL of the recomputing log-probs."""
    from trlprep.trainers.lm_head import chunked_nll

    hidden, weight, targets = _head_inputs()
    weights = torch.full((hidden.shape[0],), 1 / hidden.shape[0], device="cuda")
    exact, _ = chunked_token_logps(hidden, weight, targets, chunk=64)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        got, _ = chunked_nll(hidden, weight, targets, weights, chunk=64, fused=fused)
    _close_in_bf16(got, -(weights * exact).sum(), [hidden, weight])


@pytest.mark.parametrize("fused", [False, True])
def test_pair_loss_with_gradients_in_the_forward_on_cuda(fused):
    """A DPO-like loss of whole pairs with the head's gradients computed in the forward,
    under bf16 autocast, against the float32 loss of the recomputing log-probs; chunks of
    several pairs and a pair longer than a chunk."""
    import torch.nn.functional as F
    from trlprep.trainers.lm_head import SeqLoss, chunked_sequence_loss

    hidden, weight, targets = _head_inputs()
    counts = [40, 30, 120, 10, 50, 50]  # pairs (0, 3), (1, 4), (2, 5)
    seq = torch.repeat_interleave(torch.arange(6), torch.tensor(counts)).cuda()
    loss = SeqLoss.pairs(lambda s: -F.logsigmoid(0.1 * (s[:3] - s[3:])).mean(), 3)
    exact, _ = chunked_token_logps(hidden, weight, targets, chunk=64)
    want = loss.fn(torch.zeros(6, device="cuda").index_add(0, seq, exact))
    with torch.autocast("cuda", dtype=torch.bfloat16):
        got, _ = chunked_sequence_loss(
            hidden, weight, targets, seq, counts, loss, chunk=128, fused=fused
        )
    _close_in_bf16(got, want, [hidden, weight])


def test_model_bf16_autocast_matches_float32_on_the_same_batch():
    model = tiny_causal_lm(40).cuda()
    batch = build_batch(SEQS, pad_token_id=0).to("cuda")
    exact = completion_logps(model, batch).logps
    with torch.autocast("cuda", dtype=torch.bfloat16):
        low = completion_logps(model, batch, chunk=4).logps
    torch.testing.assert_close(low, exact, atol=0.05, rtol=0.05)


@pytest.mark.skipif(
    not liger_available(),
    reason=f"Liger cannot run here: {liger_import_error() or 'no CUDA device'}",
)
@pytest.mark.parametrize("bf16", [False, True])
def test_liger_log_probs_equal_the_chunked_ones(bf16):
    hidden, weight, targets = _head_inputs()
    ctx = torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16)
    with ctx:
        want, want_stats = chunked_token_logps(hidden, weight, targets, stats=("is_top1",))
    want_grads = torch.autograd.grad(want.sum(), [hidden, weight])
    with ctx:
        got, got_stats = liger_token_logps(hidden, weight, targets, top1=True)
    got_grads = torch.autograd.grad(got.sum(), [hidden, weight])
    tol = 0.02 if bf16 else 1e-4
    _close(got, want, tol)
    assert (got_stats["is_top1"] == want_stats["is_top1"]).float().mean() > 0.99
    for a, b in zip(got_grads, want_grads, strict=True):
        _close(a, b, 5 * tol)


def test_padding_free_equals_padded_on_cuda():
    model = tiny_causal_lm(40).cuda()
    padded = completion_logps(model, build_batch(SEQS, 0).to("cuda"))
    packed = completion_logps(model, build_batch(SEQS, 0, padding_free=True).to("cuda"))
    torch.testing.assert_close(packed.logps, padded.logps, atol=1e-4, rtol=1e-4)


def test_adamw_is_fused_on_cuda():
    from trlprep.trainers.config import TrainConfig
    from trlprep.trainers.optim import make_optimizer

    cfg = TrainConfig(algo="sft", model="m", data=[], output_dir="o")
    assert make_optimizer(tiny_causal_lm(40).cuda(), cfg, 1e-3).defaults["fused"]


def test_compiled_forward_gives_the_same_log_probs():
    from trlprep.trainers.models import compile_forward

    model = tiny_causal_lm(40).cuda()
    batch = build_batch(SEQS, pad_token_id=0).to("cuda")
    want = completion_logps(model, batch).logps
    compile_forward(model, "causal-lm")
    got = completion_logps(model, batch).logps
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_static_cache_generation_on_cuda():
    from trlprep.trainers.online.generation import Sampling, generate

    model = tiny_causal_lm(40).cuda()
    out = generate(
        model, [[1, 5, 6], [1, 7]] * 4, Sampling(8), pad_token_id=0, eos_token_ids=[2],
        batch_size=8,
    )  # fmt: skip
    assert len(out.completions) == 8
    assert all(1 <= len(c) <= 8 for c in out.completions)


def test_static_cache_generation_under_bf16_autocast():
    """A float32 model under bf16 autocast (how the trainer generates): the static cache
    holds keys and values of one dtype, and no fallback warning is raised."""
    import warnings

    from trlprep.trainers.online.generation import Sampling, generate

    model = tiny_causal_lm(40).cuda()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = generate(
                model, [[1, 5, 6], [1, 7]] * 4, Sampling(8, cache="static"), pad_token_id=0,
                eos_token_ids=[2], batch_size=8,
            )  # fmt: skip
    assert len(out.completions) == 8
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_batches_reach_the_gpu_without_waiting_and_intact():
    """Micro-batches go to the GPU through pinned memory with non-blocking copies (a plain
    copy from pageable memory waits for the device's queue): same values once there."""
    from dataclasses import fields

    from trlprep.trainers.collate import PairBatch

    seqs = build_batch(SEQS + SEQS[:1], pad_token_id=0)
    batch = PairBatch(seqs, num_pairs=2, ref_logps=torch.randn(4))
    moved = batch.to("cuda")
    torch.cuda.synchronize()
    assert moved.ref_logps.is_cuda and torch.equal(moved.ref_logps.cpu(), batch.ref_logps)
    for f in fields(seqs):
        value = getattr(seqs, f.name)
        if isinstance(value, torch.Tensor):
            assert getattr(moved.seqs, f.name).is_cuda
            assert torch.equal(getattr(moved.seqs, f.name).cpu(), value)
