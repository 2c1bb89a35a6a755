"""Chunked log-probs equal the plain full-logits computation (values, stats and gradients)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from train_support import tiny_causal_lm  # noqa: E402
from trlprep.trainers.batch import build_batch  # noqa: E402
from trlprep.trainers.logps import (  # noqa: E402
    LogpsModel,
    chunk_tokens,
    chunked_token_logps,
    completion_logps,
    plain_token_logps,
)

V = 37


def _inputs(n=23, h=16, bias=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, h, generator=g, requires_grad=True)
    weight = torch.randn(V, h, generator=g, requires_grad=True)
    b = torch.randn(V, generator=g, requires_grad=True) if bias else None
    targets = torch.randint(0, V, (n,), generator=g)
    return hidden, weight, b, targets


@pytest.mark.parametrize("chunk", [1, 5, 23, 64])
@pytest.mark.parametrize("bias", [False, True])
def test_chunked_equals_plain_values_and_gradients(chunk, bias):
    hidden, weight, b, targets = _inputs(bias=bias)
    g_out = torch.randn(hidden.shape[0], generator=torch.Generator().manual_seed(1))

    got, _ = chunked_token_logps(hidden, weight, targets, b, chunk=chunk)
    grads = torch.autograd.grad((got * g_out).sum(), [hidden, weight, *([b] if bias else [])])

    logits = hidden @ weight.T + (b if bias else 0)
    want = plain_token_logps(logits, targets)
    want_grads = torch.autograd.grad((want * g_out).sum(), [hidden, weight, *([b] if bias else [])])

    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    for a, e in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(a, e, atol=1e-5, rtol=1e-5)


def test_token_stats_equal_the_plain_ones():
    hidden, weight, b, targets = _inputs()
    targets[:4] = (hidden[:4] @ weight.T + b).argmax(-1)  # some tokens are the argmax
    _, stats = chunked_token_logps(
        hidden, weight, targets, b, chunk=6, stats=("is_top1", "log_sum_sq_probs", "entropy")
    )
    logp = torch.log_softmax(hidden @ weight.T + b, -1)
    assert stats["is_top1"].dtype == torch.bool
    assert torch.equal(stats["is_top1"], logp.argmax(-1) == targets)
    assert stats["is_top1"][:4].all()
    torch.testing.assert_close(stats["log_sum_sq_probs"], (2 * logp).exp().sum(-1).log())
    torch.testing.assert_close(stats["entropy"], -(logp.exp() * logp).sum(-1))
    assert not any(v.requires_grad for v in stats.values())
    with pytest.raises(ValueError, match="unknown token stats"):
        chunked_token_logps(hidden, weight, targets, b, stats=("nope",))


def test_chunk_size_follows_the_memory_budget():
    assert chunk_tokens(128_256) == 256 * 2**20 // (4 * 128_256)
    assert chunk_tokens(10**9) == 16


def _sequences():
    # (input_ids, completion_mask): a prompt then a completion, different lengths
    return [
        ([1, 5, 6, 7, 8, 9, 2], [0, 0, 0, 1, 1, 1, 1]),
        ([1, 10, 11, 2], [0, 0, 1, 1]),
        ([1, 12, 13, 14, 15, 16, 17, 18, 2], [0, 0, 0, 0, 1, 1, 1, 1, 1]),
    ]


def _plain_model_logps(model, seqs):
    """Per-sequence completion log-probs through the model's own full logits, one by one."""
    out = []
    for ids, mask in seqs:
        ids_t = torch.tensor([ids])
        logits = model(input_ids=ids_t).logits[0]
        lp = plain_token_logps(logits[:-1], ids_t[0, 1:])
        out.append(lp[torch.tensor(mask[1:], dtype=torch.bool)])
    return out


@pytest.mark.parametrize("padding_free", [False, True])
def test_model_completion_logps_equal_the_plain_computation(padding_free):
    model = tiny_causal_lm(40)
    seqs = _sequences()
    batch = build_batch(seqs, pad_token_id=0, padding_free=padding_free)
    calls = []
    model.lm_head.register_forward_hook(lambda *a: calls.append(1))
    got = completion_logps(model, batch, stats=("is_top1",), chunk=4)
    assert not calls, "the LM head module ran on the full hidden states"
    want = _plain_model_logps(model, seqs)
    assert got.logps.shape == (3, 5)
    for i, w in enumerate(want):
        n = len(w)
        assert got.lengths[i] == n
        torch.testing.assert_close(got.logps[i, :n], w, atol=1e-5, rtol=0)
        assert (got.logps[i, n:] == 0).all()
    torch.testing.assert_close(got.sums, torch.stack([w.sum() for w in want]), atol=1e-5, rtol=0)


def test_mean_logits_and_gradients_through_the_model():
    model = tiny_causal_lm(40)
    seqs = _sequences()
    batch = build_batch(seqs, pad_token_id=0)
    got = completion_logps(model, batch, chunk=3)
    got.sums.sum().backward()
    chunked_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()

    total = 0
    for i, (ids, mask) in enumerate(seqs):
        ids_t = torch.tensor([ids])
        logits = model(input_ids=ids_t).logits[0, :-1]
        sel = torch.tensor(mask[1:], dtype=torch.bool)
        total = total + plain_token_logps(logits, ids_t[0, 1:])[sel].sum()
        n = int(sel.sum())
        torch.testing.assert_close(
            got.mean_logits[i, :n], logits[sel].mean(-1).detach(), atol=1e-5, rtol=1e-5
        )
    total.backward()
    for a, p in zip(chunked_grads, model.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad, atol=1e-5, rtol=1e-4)


def test_tied_embeddings_get_both_gradients():
    model = tiny_causal_lm(40, tie_word_embeddings=True)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    batch = build_batch(_sequences(), pad_token_id=0)
    LogpsModel(model, chunk=2)(batch).sums.sum().backward()
    chunked = model.lm_head.weight.grad.clone()
    model.zero_grad()
    total = sum(w.sum() for w in _plain_model_logps(model, _sequences()))
    total.backward()
    torch.testing.assert_close(chunked, model.lm_head.weight.grad, atol=1e-5, rtol=1e-4)


def test_bf16_autocast_stays_close_to_the_float32_values():
    model = tiny_causal_lm(40)
    batch = build_batch(_sequences(), pad_token_id=0)
    exact = completion_logps(model, batch).logps
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = completion_logps(model, batch, chunk=2)
    assert low.logps.dtype == torch.float32
    torch.testing.assert_close(low.logps, exact, atol=0.05, rtol=0.05)


@settings(max_examples=25, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 9), min_size=1, max_size=5),
    data=st.data(),
)
def test_build_batch_targets_are_the_next_completion_tokens(lengths, data):
    seqs = []
    for n in lengths:
        ids = data.draw(st.lists(st.integers(3, 30), min_size=n, max_size=n))
        mask = data.draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n))
        seqs.append((ids, mask))
    for padding_free in (False, True):
        b = build_batch(seqs, pad_token_id=0, padding_free=padding_free)
        flat_ids = b.input_ids.reshape(-1)
        flat_pos = b.position_ids.reshape(-1)
        for s, (ids, mask) in enumerate(seqs):
            sel = b.target_seq == s
            want = [ids[t] for t in range(1, len(ids)) if mask[t]]
            assert b.target_ids[sel].tolist() == want
            assert b.target_tok[sel].tolist() == list(range(len(want)))
            # the input at each target position is the token before the target
            prev = [ids[t - 1] for t in range(1, len(ids)) if mask[t]]
            assert flat_ids[b.target_pos[sel]].tolist() == prev
            assert flat_pos[b.target_pos[sel]].tolist() == [
                t - 1 for t in range(1, len(ids)) if mask[t]
            ]
        assert b.num_tokens == sum(lengths)
        assert b.target_counts.tolist() == [sum(m[1:]) for _, m in seqs]


def test_bf16_backward_gemms_stay_close_to_float32_gradients():
    """Under bf16 autocast the LM-head gradient GEMMs run in bf16 (tensor cores on a GPU),
    the softmax in float32: gradients stay close to the float32 ones."""
    hidden, weight, b, targets = _inputs(n=40, h=32)
    g_out = torch.randn(40, generator=torch.Generator().manual_seed(1))
    exact_logps, _ = chunked_token_logps(hidden, weight, targets, b, chunk=7)
    exact = torch.autograd.grad((exact_logps * g_out).sum(), [hidden, weight, b])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low_logps, _ = chunked_token_logps(hidden, weight, targets, b, chunk=7)
    low = torch.autograd.grad((low_logps * g_out).sum(), [hidden, weight, b])
    for got, want in zip(low, exact, strict=True):
        assert got.dtype == want.dtype == torch.float32
        scale = want.abs().max()
        assert (got - want).abs().max() <= 0.05 * scale


def test_metric_stats_are_skipped_when_the_step_logs_nothing():
    model = tiny_causal_lm(40)
    batch = build_batch(_sequences(), pad_token_id=0)
    policy = LogpsModel(model, stats=("is_top1", "entropy", "log_sum_sq_probs"), chunk=4)
    full = policy(batch)
    policy.log_metrics = False
    quiet = policy(batch)
    assert set(full.stats) == {"is_top1", "entropy", "log_sum_sq_probs"}
    assert set(quiet.stats) == {"log_sum_sq_probs"}  # a loss input (WPO) stays
    assert quiet.mean_logits is None and full.mean_logits is not None
    assert torch.equal(quiet.logps, full.logps)


def test_bf16_gradient_of_a_confident_target_does_not_cancel():
    """A target at probability ~0.999 has logit gradient g * (1 - p) ~ 0.001 g: in bf16 that
    difference would round to 0 or to 0.004; it is computed in float32 and stays close."""
    g = torch.Generator().manual_seed(0)
    n, h = 12, 16
    basis = torch.linalg.qr(torch.randn(h, h, generator=g))[0][:n]  # orthonormal rows
    targets = torch.randperm(V, generator=g)[:n]
    weight = 0.01 * torch.randn(V, h, generator=g)
    weight[targets] = 10.0 * basis  # each target's logit 10, every other about 0
    hidden = basis.clone().requires_grad_()
    weight.requires_grad_()
    exact_logps, _ = chunked_token_logps(hidden, weight, targets, chunk=5)
    assert exact_logps.exp().min() > 0.99
    (exact,) = torch.autograd.grad(exact_logps.sum(), [hidden])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low_logps, _ = chunked_token_logps(hidden, weight, targets, chunk=5)
    (low,) = torch.autograd.grad(low_logps.sum(), [hidden])
    assert (low - exact).abs().max() <= 0.1 * exact.abs().max()


def test_liger_import_failures_are_found_before_training(monkeypatch):
    """An installed Liger Kernel that fails to import (a release against another Triton) is
    reported as unavailable with its error, not found at the first step."""
    import importlib

    from trlprep.trainers.logps import liger_import_error

    real = importlib.import_module

    def broken(name, *args):
        if name.startswith("liger_kernel"):
            raise AttributeError("module 'triton.language' has no attribute 'xyz'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", broken)
    assert liger_import_error() == "AttributeError: module 'triton.language' has no attribute 'xyz'"

    def missing(name, *args):
        if name.startswith("liger_kernel"):
            raise ModuleNotFoundError("No module named 'liger_kernel'", name="liger_kernel")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", missing)
    assert liger_import_error() == "the liger-kernel package is not installed"
