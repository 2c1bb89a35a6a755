"""Generation in the Training FAQ's safe settings, reward functions and reward models, the
negative-KL check and the histograms sent to trackers."""

from __future__ import annotations

import math
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from online_support import TrackingAcc  # noqa: E402
from train_support import make_tokenizer, save_tiny_model, tiny_causal_lm  # noqa: E402
from trlprep.trainers.online.generation import (  # noqa: E402
    Sampling,
    cut_at_eos,
    generate,
    kl_risks,
    kl_warning,
    left_pad,
)
from trlprep.trainers.online.rewards import RewardModel, Rewards, resolve  # noqa: E402

from trlprep.errors import InputError, UsageError  # noqa: E402

EOS, PAD = 2, 0


def test_the_faqs_settings_are_safe_and_others_are_named():
    safe = Sampling(max_new_tokens=32)
    assert (safe.top_k, safe.top_p, safe.min_length) == (0, 1.0, -1)
    assert kl_risks(safe) == [] and kl_warning(safe) is None
    risky = Sampling(32, top_k=50, top_p=0.9, min_length=10)
    assert [r.split("=")[0] for r in kl_risks(risky)] == ["top_k", "top_p", "min_length"]
    assert "KL to the reference can go negative" in kl_warning(risky)


def test_left_pad_and_cut_at_eos():
    ids, mask = left_pad([[5, 6, 7], [8]], PAD)
    assert ids.tolist() == [[5, 6, 7], [PAD, PAD, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    got = cut_at_eos(torch.tensor([[4, EOS, EOS, EOS], [4, 5, 6, 7], [EOS, 0, 0, 0]]), [EOS])
    assert got.completions == [[4, EOS], [4, 5, 6, 7], [EOS]]
    assert got.has_eos == [True, False, True]


def test_generate_samples_completions_that_stop_at_eos():
    tok = make_tokenizer()
    model = tiny_causal_lm(len(tok))
    model.generation_config.top_k = 1  # a checkpoint's default must not leak into sampling
    prompts = [[1, 5, 6, 7], [1, 8]]
    torch.manual_seed(0)
    out = generate(
        model, prompts * 8, Sampling(6), pad_token_id=EOS, eos_token_ids=[EOS], batch_size=4
    )
    assert len(out.completions) == 16
    for c, ended in zip(out.completions, out.has_eos, strict=True):
        assert 1 <= len(c) <= 6
        assert ended == (c[-1] == EOS) and EOS not in c[:-1]
    assert len({tuple(c) for c in out.completions}) > 8  # sampled, not greedy (top_k=1)


def _peaky(seed):
    tok = make_tokenizer()
    model = tiny_causal_lm(len(tok), seed=seed)
    with torch.no_grad():
        model.lm_head.weight.mul_(200)  # far from uniform, so samples tell models apart
    return model


def test_geometric_mixture_sampling_at_its_ends():
    policy, reference = _peaky(0), _peaky(1)
    prompts = [[1, 5, 6], [1, 8, 9, 10]]  # different lengths: left padding
    kw = dict(pad_token_id=PAD, eos_token_ids=[EOS], batch_size=2)

    def sample(model, **extra):
        torch.manual_seed(3)
        return generate(model, prompts, Sampling(5), **kw, **extra).completions

    assert sample(policy) != sample(reference)
    assert sample(policy, mixture=(reference, 0.0)) == sample(policy)
    assert sample(policy, mixture=(reference, 1.0)) == sample(reference)


def test_geometric_mixture_logits_step_by_step():
    from trlprep.trainers.online.generation import GeometricMixture

    reference = _peaky(1).eval()
    ids, mask = left_pad([[1, 5, 6], [1, 8, 9, 10]], PAD)
    mix = GeometricMixture(reference, 0.25, mask)
    scores = torch.randn(2, reference.config.vocab_size)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # no deprecated cache keyword
        got = mix(ids, scores)
        want = reference(input_ids=ids, attention_mask=mask).logits[:, -1]
        torch.testing.assert_close(got, 0.75 * scores + 0.25 * want, atol=1e-4, rtol=1e-4)
        longer = torch.cat((ids, torch.tensor([[11], [12]])), 1)  # one generated token each
        got = mix(longer, scores)  # through the reference's KV cache
        full_mask = torch.cat((mask, torch.ones(2, 1, dtype=torch.long)), 1)
        want = reference(input_ids=longer, attention_mask=full_mask).logits[:, -1]
        torch.testing.assert_close(got, 0.75 * scores + 0.25 * want, atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------------ rewards


def test_builtin_rewards():
    _, length = resolve("length")
    assert length(completions=["abc", "abcdef"]) == [3.0, 6.0]
    _, target = resolve("length=4")
    assert target(completions=["abc", "abcdef"]) == [-1.0, -2.0]
    _, regex = resolve(r"regex=<think>.*</think>\s*\d+")
    assert regex(completions=["<think>x\ny</think> 42", "42"]) == [1.0, 0.0]
    _, exact = resolve("exact")
    got = exact(completions=[" blue ", "red", "x"], answer=["blue", "blue", None])
    assert got == [1.0, 0.0, None]
    _, exact_col = resolve("exact=solution")
    assert exact_col(completions=["4"], solution=[4]) == [1.0]
    with pytest.raises(UsageError, match="needs the column 'answer'"):
        exact(completions=["a"])
    # conversational completions are scored on their text
    assert length(completions=[[{"role": "assistant", "content": "abcd"}]]) == [4.0]


def test_reward_functions_from_modules_and_files(tmp_path):
    (tmp_path / "my_rewards.py").write_text(
        "def shout(completions, **kw):\n    return [float(c.isupper()) for c in completions]\n"
    )
    name, fn = resolve(f"{tmp_path / 'my_rewards.py'}:shout")
    assert name == "shout" and fn(completions=["HI", "hi"]) == [1.0, 0.0]
    name, fn = resolve("trlprep.trainers.online.rewards:length_reward")
    assert name == "length_reward" and callable(fn)
    with pytest.raises(UsageError, match="unknown reward function"):
        resolve("nonsense")
    with pytest.raises(InputError, match="does not exist"):
        resolve("missing.py:f")
    with pytest.raises(InputError, match="cannot import"):
        resolve("no_such_module_xyz:f")


def test_reward_modules_that_fail_are_input_errors(tmp_path):
    (tmp_path / "broken.py").write_text("import no_such_module_xyz\n")
    (tmp_path / "raises.py").write_text("def ok(**kw):\n    pass\n\n1 / 0\n")
    (tmp_path / "fine.py").write_text("def correct(**kw):\n    pass\n")
    with pytest.raises(InputError, match="cannot import reward module .*no_such_module_xyz"):
        resolve(f"{tmp_path / 'broken.py'}:f")
    with pytest.raises(InputError, match="failed while loading: ZeroDivisionError"):
        resolve(f"{tmp_path / 'raises.py'}:ok")
    with pytest.raises(InputError, match="has no function 'corect'") as e:
        resolve(f"{tmp_path / 'fine.py'}:corect")
    assert "correct" in e.value.hint


def test_reward_weights_and_scale_rewards_options():
    from trlprep.trainers.online.options import GRPOOptions

    o = GRPOOptions(reward_fn="length", reward_weights=["1,0.5", 2])
    assert o.reward_weights == (1.0, 0.5, 2.0)  # a comma list, repeated flags, numbers
    with pytest.raises(UsageError, match="reward_weights takes numbers"):
        GRPOOptions(reward_weights="1,x")
    assert GRPOOptions(scale_rewards="true").scale_rewards == "group"  # TRL's booleans
    assert GRPOOptions(scale_rewards=False).scale_rewards == "none"


def test_eos_pads_when_the_tokenizer_has_no_pad_token(tmp_path):
    from trlprep.trainers.models import load_tokenizer

    save_tiny_model(tmp_path)
    tok = make_tokenizer()
    tok.pad_token = None
    tok.save_pretrained(tmp_path)
    assert load_tokenizer(str(tmp_path)).pad_token_id == tok.eos_token_id == EOS


def test_rewards_combine_with_weights_and_none():
    def first(completions, **kw):
        return [1.0, None, None]

    def second(completions, prompts, answer, **kw):
        assert prompts == ["p"] * 3 and answer == ["a", "b", "c"]  # dataset columns passed
        return [2.0, 3.0, None]

    rewards = Rewards([first, second], weights=[1.0, 0.5])
    ids = [[1], [2], [3]]
    s = rewards(["p"] * 3, ["x", "y", "z"], ids, ids, {"answer": list("abc")})
    assert s.names == ["first", "second"]
    total = s.total.tolist()
    assert total[:2] == [2.0, 1.5] and math.isnan(total[2])  # no score at all: NaN


def test_bad_reward_functions_are_named():
    def short(completions, **kw):
        return [1.0]

    def broken(completions, **kw):
        raise KeyError("solution")

    def strings(completions, **kw):
        return ["1"] * len(completions)

    args = (["p", "q"], ["x", "y"], [[1], [2]], [[1], [2]], {})
    with pytest.raises(UsageError, match="short returned 1 values for 2"):
        Rewards([short])(*args)
    with pytest.raises(UsageError, match="broken failed: KeyError"):
        Rewards([broken])(*args)
    with pytest.raises(UsageError, match="strings returned str"):
        Rewards([strings])(*args)
    with pytest.raises(UsageError, match="no reward"):
        Rewards([])
    with pytest.raises(UsageError, match="2 reward weights"):
        Rewards([short], weights=[1.0, 2.0])


def test_a_reward_model_scores_like_the_model_itself(tmp_path):
    from transformers import AutoModelForSequenceClassification

    path = save_tiny_model(tmp_path / "lm")
    tok = make_tokenizer()
    with pytest.raises(UsageError, match="no reward model: its checkpoint has no score.weight"):
        RewardModel(str(path), tok, torch.device("cpu"))  # a causal LM: a random head
    torch.manual_seed(0)  # the head a reward run would start from, saved as trained
    AutoModelForSequenceClassification.from_pretrained(path, num_labels=1).save_pretrained(
        path := tmp_path / "rm"
    )
    tok.save_pretrained(path)
    rm = RewardModel(str(path), tok, torch.device("cpu"), batch_size=2)
    assert rm.shares_ids
    seqs = [[1, 5, 6, 7, EOS], [1, 8, EOS], [1, 9, 10, 11, 12, EOS]]
    prompts, completions = ["what color", "is", "the sky is blue"], [" x", " y", " z"]
    got = rm(prompts, completions, seqs)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1).eval()
    model.score.load_state_dict(rm.model.score.state_dict())  # the same head
    with torch.no_grad():
        want = [model(torch.tensor([s])).logits[0, 0].item() for s in seqs]
    assert got == pytest.approx(want, abs=1e-5)
    # a reward model with another vocabulary gets the texts, tokenised for it (EOS added)
    rm.shares_ids = False
    texts = rm(["the sky is"], [" blue"], [[0]])
    ids = [1, *tok("the sky is blue", add_special_tokens=False)["input_ids"], EOS]
    with torch.no_grad():
        assert texts[0] == pytest.approx(model(torch.tensor([ids])).logits[0, 0].item(), abs=1e-5)


# ------------------------------------------------------------------ rollouts, KL check, histograms


def test_plan_serves_every_unit_once_per_pass_in_mini_batches():
    from trlprep.trainers.online.source import plan

    torch.manual_seed(0)
    steps = plan(8, 2, passes=3, mini_batches=2)  # e.g. PPO: 3 epochs of 2 mini-batches
    assert len(steps) == 6
    assert all(len(step) == 2 and all(len(micro) == 2 for micro in step) for step in steps)
    for p in range(3):
        units = [u for step in steps[2 * p : 2 * p + 2] for micro in step for u in micro]
        assert sorted(units) == list(range(8))
    assert plan(4, 4, 1, 1, shuffle=False) == [[[0, 1, 2, 3]]]


class _Ctx:
    training = True
    gather = staticmethod(lambda x: x)


def _rollouts(logs):
    from trlprep.trainers.online.source import Rollouts

    r = Rollouts.__new__(Rollouts)
    r.ctx, r.log, r.negative_kl, r._kl_pool = _Ctx(), logs.append, 0, []
    return r


def test_negative_kl_beyond_noise_is_counted_and_warned():
    logs: list[str] = []
    r = _rollouts(logs)
    g = torch.Generator().manual_seed(0)
    assert r._check_kl(torch.full((8,), -1.0), 1) == {}  # pooled until 16 sequences
    got = r._check_kl(-1.0 + 0.1 * torch.randn(8, generator=g), 2)
    assert got == {"objective/negative_kl": 1.0}
    assert "negative KL to the reference at step 2" in logs[0] and "top_k=0" in logs[0]
    noisy = torch.randn(16, generator=g) * 5 - 0.5  # negative mean, but within the noise
    assert r._check_kl(noisy, 3) == {"objective/negative_kl": 0.0} and len(logs) == 1
    assert r._check_kl(None, 4) == {}


def test_histograms_go_to_the_trackers(tmp_path):
    from trlprep.trainers.metrics import MetricsLog

    acc = TrackingAcc()
    log = MetricsLog(acc, tmp_path, ("tensorboard",), {"options": {"beta": 0.1, "fns": ["a"]}})
    assert acc.config == {"options/beta": 0.1, "options/fns": "['a']"}  # flat, scalar hparams
    log.histograms({"env/reward_dist": torch.tensor([1.0, 2.0]), "empty": torch.zeros(0)}, 7)
    assert acc.tb.histograms == [("env/reward_dist", [1.0, 2.0], 7)]
    log.write({"step": 7, "env/reward_mean": 1.5})
    assert acc.tb.scalars == [(7, {"env/reward_mean": 1.5})]


def test_a_tracker_that_is_not_installed_is_a_usage_error(tmp_path):
    from trlprep.trainers.metrics import MetricsLog

    # Accelerate only warns and then logs nothing (histograms crashed on its blank tracker)
    with pytest.raises(UsageError, match="--report-to tensorboard: the tracker is not installed"):
        MetricsLog(TrackingAcc(installed=False), tmp_path, ("tensorboard",), {})


def test_static_cache_samples_the_same_completions_as_the_dynamic_one():
    """The static KV cache (compiled decode on CUDA) changes how, not what, is sampled:
    with the same seed the same completions come out (prompt widths padded to 64)."""
    tok = make_tokenizer()
    model = tiny_causal_lm(len(tok))
    prompts = [[1, 5, 6, 7], [1, 8], [1, 9, 10]]
    got = {}
    for cache in ("dynamic", "static"):
        torch.manual_seed(0)
        out = generate(
            model,
            prompts,
            Sampling(5, cache=cache),
            pad_token_id=EOS,
            eos_token_ids=[EOS],
            batch_size=3,
        )
        got[cache] = out.completions
    assert got["static"] == got["dynamic"]
    ids, mask = left_pad([[5, 6, 7], [8]], PAD, multiple=4)
    assert ids.tolist() == [[PAD, 5, 6, 7], [PAD, PAD, PAD, 8]]
    assert mask.tolist() == [[0, 1, 1, 1], [0, 0, 0, 1]]


def test_static_cache_under_autocast_generates_and_keeps_the_float32_weights():
    """Under bf16 autocast a float32 model's keys (rotary: float32) and values (bfloat16)
    differ in dtype, which a static cache cannot hold: generation sees bf16 weights, and
    the float32 weights come back bit for bit."""
    tok = make_tokenizer()
    model = tiny_causal_lm(len(tok))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ids_before = [id(p) for p in model.parameters()]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = generate(
            model,
            [[1, 5, 6, 7], [1, 8]],
            Sampling(4, cache="static"),
            pad_token_id=EOS,
            eos_token_ids=[EOS],
            batch_size=2,
        )
    assert len(out.completions) == 2 and all(1 <= len(c) <= 4 for c in out.completions)
    assert [id(p) for p in model.parameters()] == ids_before
    for k, v in model.state_dict().items():
        assert v.dtype == before[k].dtype
        assert torch.equal(v, before[k]), k


def test_compute_dtype_weights_reuses_its_buffers_and_restores_the_weights():
    from trlprep.trainers.online.generation import compute_dtype_weights

    model = tiny_causal_lm(32)
    before = [p.detach().clone() for p in model.parameters()]
    seen = []
    for _ in range(2):
        with compute_dtype_weights(model, torch.bfloat16):
            assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
            seen.append([p.data_ptr() for p in model.parameters()])
    assert seen[0] == seen[1]  # a compiled decode step finds the weights where it left them
    for p, b in zip(model.parameters(), before, strict=True):
        assert p.dtype == torch.float32 and torch.equal(p, b)


def test_a_failed_static_cache_warns_at_the_line_that_called_generate(monkeypatch):
    """The automatic static cache (CUDA) failing falls back to the dynamic one, said once at
    the caller's line (through `generate`'s @torch.no_grad() wrapper, torch's frame)."""
    import sys
    import warnings
    from types import SimpleNamespace

    from trlprep.trainers.online import generation

    lm = tiny_causal_lm(len(make_tokenizer()))

    class PretendCuda:  # a model on a CUDA device whose static cache fails
        training = False

        def parameters(self):
            yield SimpleNamespace(device=SimpleNamespace(type="cuda"))

        def eval(self):
            return self

        def train(self, mode=True):
            return self

        def generate(self, **kw):
            if kw.get("cache_implementation") == "static":
                raise RuntimeError("no static cache here")
            return lm.generate(**kw)

    class Moved:  # a tensor moved to the pretended device stays on the CPU
        def __init__(self, t):
            self.t = t

        def to(self, _device):
            return self.t

    monkeypatch.setattr(generation, "left_pad", lambda *a: tuple(map(Moved, left_pad(*a))))
    monkeypatch.setattr(generation, "_STATIC_OK", True)
    model = PretendCuda()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        out = generate(
            model,
            [[1, 5], [1, 8]],
            Sampling(3),
            pad_token_id=EOS,
            eos_token_ids=[EOS],
            batch_size=1,
        )
    (said,) = [w for w in caught if "static KV cache failed" in str(w.message)]
    assert (said.filename, said.lineno) == (__file__, line)
    assert "--generation-cache dynamic" in str(said.message) and not generation._STATIC_OK
    assert len(out.completions) == 2
