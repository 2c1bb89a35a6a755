"""The trainer's speed work, checked on CPU: no host synchronisation on steps that log
nothing, metric-only work on logging steps only, padding-free batches equal padded ones,
the attention / compile / checkpointing / optimizer choices."""

from __future__ import annotations

import json
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from train_support import save_tiny_model, tiny_causal_lm  # noqa: E402
from trlprep.trainers.config import TrainConfig  # noqa: E402
from trlprep.trainers.loop import Trainer  # noqa: E402
from trlprep.trainers.models import (  # noqa: E402
    activation_bytes,
    attention_kernel,
    needs_checkpointing,
)
from trlprep.trainers.optim import make_optimizer  # noqa: E402

from trlprep.errors import UsageError  # noqa: E402

PREFERENCE = [
    {"prompt": "what color is the sky ?", "chosen": " blue .", "rejected": " green is it ."},
    {"prompt": "what color is the grass ?", "chosen": " green .", "rejected": " red ."},
    {"prompt": "the sun ?", "chosen": " yellow .", "rejected": " blue ."},
    {"prompt": "what color is the sea ?", "chosen": " blue and deep .", "rejected": " yellow ."},
]
SFT = [
    {"prompt": "what color is the sky ?", "completion": " blue ."},
    {"prompt": "the grass ?", "completion": " green , mostly ."},
    {"prompt": "what color is the sun at noon ?", "completion": " yellow ."},
    {"prompt": "sea ?", "completion": " blue ."},
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


# the offline algorithms whose loss goes through the LM head's chunked log-probs
LM_HEAD_ALGOS = [("sft", SFT)] + [(a, PREFERENCE) for a in ("dpo", "cpo", "orpo", "kto")]


def _trainer(model_dir, out, algo, data, **kw):
    cfg = dict(
        algo=algo,
        model=str(model_dir),
        data=data,
        output_dir=str(out),
        batch_size=4,
        max_steps=kw.pop("max_steps", 4),
        logging_steps=kw.pop("logging_steps", 4),
        save_steps=1000,
        learning_rate=1e-3,
        progress=False,
        gradient_checkpointing=False,
        **kw,
    )
    return Trainer(cfg, log=lambda *_: None)


class _Syncs:
    """Counts calls of the Tensor methods that copy a value to the host (a sync on a GPU)
    made by trlprep's or Accelerate's code (not torch's CPU AdamW reading its host-side step
    counter, nor transformers checking a padding mask)."""

    NAMES = ("item", "tolist", "__float__", "__int__", "__bool__")

    def __init__(self, monkeypatch):
        self.count = 0
        self.on = False
        for name in self.NAMES:
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._wrap(original))

    def _wrap(self, original):
        def wrapper(t, *a, **k):
            if self.on:
                caller = sys._getframe(1).f_code.co_filename
                if "/torch/" not in caller and "/transformers/" not in caller:
                    self.count += 1
            return original(t, *a, **k)

        return wrapper


@pytest.mark.parametrize("algo,data", LM_HEAD_ALGOS)
def test_steps_that_log_nothing_read_nothing_back_from_the_device(
    model_dir, tmp_path, monkeypatch, algo, data
):
    t = _trainer(model_dir, tmp_path / "out", algo, data, max_steps=3, logging_steps=3)
    syncs = _Syncs(monkeypatch)
    step = t._step
    counts = []

    def counted(*args, **kwargs):
        syncs.on, syncs.count = True, 0
        try:
            return step(*args, **kwargs)
        finally:
            syncs.on = False
            counts.append(syncs.count)

    t._step = counted
    t.train()
    assert counts[:2] == [0, 0]  # steps 1 and 2 log nothing
    assert counts[2] > 0  # step 3 logs: the window is read then
    logged = [json.loads(x) for x in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert logged[0]["step"] == 3 and "grad_norm" in logged[0] and "loss" in logged[0]


def test_token_accuracy_is_computed_on_logging_steps_only(model_dir, tmp_path):
    t = _trainer(model_dir, tmp_path / "out", "sft", SFT, max_steps=4, logging_steps=2)
    seen = []
    policy = t.policy
    forward = policy.forward

    def spy(batch, **kw):
        out = forward(batch, **kw)
        seen.append(sorted(out.stats))
        return out

    policy.forward = spy
    history = t.train().history
    assert seen == [[], ["entropy", "is_top1"], [], ["entropy", "is_top1"]]
    assert all("mean_token_accuracy" in r and "entropy" in r for r in history if "loss" in r)


def test_nan_found_at_a_logging_step_names_the_step_it_appeared(model_dir, tmp_path):
    t = _trainer(model_dir, tmp_path / "out", "sft", SFT, max_steps=4, logging_steps=4)
    step = t._step

    def poisoned(micro, made=None):
        loss = step(micro, made)
        if t.step == 2:
            t.window.values["loss"][-1] = torch.tensor(float("nan"))
        return loss

    t._step = poisoned
    with pytest.raises(Exception, match="loss became nan at step 2"):
        t.train()


@pytest.mark.parametrize("algo,data", LM_HEAD_ALGOS)
def test_padding_free_training_equals_padded(model_dir, tmp_path, algo, data):
    """Packed rows (restarting position ids; sdpa separates the sequences) give the padded
    batches' losses and weights."""
    results = {}
    for free in (False, True):
        t = _trainer(
            model_dir, tmp_path / f"o{free}", algo, data, max_steps=2, logging_steps=1,
            padding_free=free,
        )  # fmt: skip
        assert t.collate.padding_free is free
        history = t.train().history
        weights = t._unwrapped().lm_head.weight.detach().clone()
        results[free] = ([r["loss"] for r in history if "loss" in r], weights)
    (padded, w_padded), (packed, w_packed) = results[False], results[True]
    assert packed == pytest.approx(padded, rel=1e-4, abs=1e-5)
    torch.testing.assert_close(w_packed, w_padded, atol=1e-5, rtol=1e-4)


def test_attention_implementation_option(model_dir, tmp_path):
    assert attention_kernel(None) == "sdpa"  # no CUDA / no flash_attn here
    assert attention_kernel("eager") == "eager"
    with pytest.raises(UsageError, match="attn_implementation"):
        TrainConfig(algo="sft", model="m", data=[], output_dir="o", attn_implementation="fast")
    t = _trainer(model_dir, tmp_path / "out", "sft", SFT, attn_implementation="eager")
    assert t._unwrapped().config._attn_implementation == "eager"


def test_checkpointing_is_automatic_and_stays_on_on_cpu():
    model = tiny_causal_lm(40)
    assert needs_checkpointing(model, 4096)  # CPU: on, as before
    assert activation_bytes(model, 2048) == 2 * activation_bytes(model, 1024) > 0
    cfg = TrainConfig(algo="sft", model="m", data=[], output_dir="o")
    assert cfg.gradient_checkpointing is None


def test_adamw_is_fused_and_steps_as_the_plain_one():
    """One fused kernel for every parameter (CPU here; CUDA in test_gpu.py), the same update
    as the unfused (foreach) AdamW up to rounding."""
    cfg = TrainConfig(algo="sft", model="m", data=[], output_dir="o", weight_decay=0.1)
    fused_model, plain_model = tiny_causal_lm(40), tiny_causal_lm(40)
    fused = make_optimizer(fused_model, cfg, 1e-2)
    assert fused.defaults["fused"]
    plain = torch.optim.AdamW(plain_model.parameters(), lr=1e-2, weight_decay=0.1, foreach=True)
    plain.param_groups[0]["params"] = [p for p in plain_model.parameters() if p.ndim >= 2]
    plain.add_param_group(
        {"params": [p for p in plain_model.parameters() if p.ndim < 2], "weight_decay": 0.0}
    )
    ids = torch.tensor([[1, 5, 6, 7, 8]])
    for _ in range(3):
        for model, opt in ((fused_model, fused), (plain_model, plain)):
            model(input_ids=ids, labels=ids).loss.backward()
            opt.step()
            opt.zero_grad()
    for a, b in zip(fused_model.parameters(), plain_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_torch_compile_is_refused_for_online_algorithms(model_dir, tmp_path):
    with pytest.raises(UsageError, match="torch-compile"):
        _trainer(
            model_dir, tmp_path / "o", "grpo", [{"prompt": "hi"}] * 4, torch_compile=True,
            options={"reward_fn": ["length"], "num_generations": 2, "max_new_tokens": 2},
        )  # fmt: skip


def test_liger_kernel_is_refused_without_cuda(model_dir, tmp_path):
    with pytest.raises(UsageError, match="logps_kernel"):
        TrainConfig(algo="sft", model="m", data=[], output_dir="o", logps_kernel="triton")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="needs CUDA and the liger-kernel package"):
            _trainer(model_dir, tmp_path / "o", "sft", SFT, logps_kernel="liger")


@pytest.mark.skipif(
    not any(__import__("shutil").which(c) for c in ("g++", "clang++")),
    reason="torch.compile needs a C++ compiler",
)
def test_fused_kernel_trains_like_the_eager_one(model_dir, tmp_path):
    """`--logps-kernel fused` reaches the policy and the reference, and DPO's losses follow
    the eager kernel's; `auto` is the eager kernel on CPU."""
    runs = {}
    for kernel in ("fused", "auto"):
        t = _trainer(
            model_dir, tmp_path / kernel, "dpo", PREFERENCE, logps_kernel=kernel, logging_steps=1
        )
        runs[kernel] = t
        want = "fused" if kernel == "fused" else "torch"
        assert t.policy.kernel == want and t.ctx.reference.kernel == want
    losses = {k: [r["loss"] for r in t.train().history if "loss" in r] for k, t in runs.items()}
    assert len(losses["fused"]) == 4
    for a, b in zip(losses["fused"], losses["auto"], strict=True):
        assert abs(a - b) <= 1e-4 * max(1.0, abs(b))


@pytest.mark.parametrize(("algo", "data"), [("sft", SFT), ("dpo", PREFERENCE)])
def test_the_loss_in_the_forward_trains_as_the_recomputing_path(model_dir, tmp_path, algo, data):
    """`loss_in_forward` (default) and its recomputing fallback give the same trained weights;
    steps that log nothing take the forward path, so logging is off here."""
    weights = {}
    for on in (True, False):
        t = _trainer(
            model_dir, tmp_path / str(on), algo, data, loss_in_forward=on, logging_steps=100
        )
        assert t.policy.loss_in_forward is on
        start = [p.detach().clone() for p in t._unwrapped().parameters()]
        t.train()
        weights[on] = [p.detach().clone() for p in t._unwrapped().parameters()]
        assert max((a - b).abs().max() for a, b in zip(weights[on], start, strict=True)) > 1e-4
    for a, b in zip(weights[True], weights[False], strict=True):
        torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4)
