"""End to end on a tiny Llama with a toy reward (the share of colour words in a completion):
the online algorithms raise the mean reward over a short run, the KL to the reference stays
finite and non-negative with the default generation settings, GKD moves the student toward
its teacher, and the iterative SFT API trains."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from online_support import PROMPTS, make_trainer, series  # noqa: E402
from train_support import save_tiny_model  # noqa: E402

from trlprep.errors import UsageError  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def _rises(values, by):
    first, last = sum(values[:5]) / 5, sum(values[-5:]) / 5
    assert last > first + by, values
    return first, last


def _kl_ok(history, key):
    kls = series(history, key)
    assert kls and all(torch.isfinite(torch.tensor(kls))), kls
    checks = [r["objective/negative_kl"] for r in history if "objective/negative_kl" in r]
    assert len(checks) >= 5 and not any(checks), checks  # the check ran and never fired
    return kls


def test_grpo_raises_the_reward_with_trl_metric_names(model_dir, tmp_path):
    t = make_trainer(
        model_dir,
        tmp_path,
        "grpo",
        batch_size=8,
        options={"num_generations": 8, "beta": 0.04, "log_completions_steps": 10},
    )
    history = t.train().history
    _rises(series(history, "reward"), by=0.3)
    assert min(_kl_ok(history, "kl")) >= 0.0  # k3: non-negative by construction
    for name in (
        "reward",
        "reward_std",
        "rewards/colors/mean",
        "entropy",
        "clip_ratio/low_mean",
        "clip_ratio/high_mean",
        "clip_ratio/region_mean",
        "completions/mean_length",
        "completions/clipped_ratio",
        "frac_reward_zero_std",
    ):
        assert name in history[0], name
    samples = [json.loads(x) for x in (tmp_path / "completions.jsonl").read_text().splitlines()]
    assert sorted({s["step"] for s in samples}) == [1, 11]  # every 10 steps, 8 completions each
    assert len(samples) == 16
    assert {"prompt", "completion", "reward", "rewards/colors", "advantage"} <= set(samples[0])
    assert samples[0]["prompt"] in {p["prompt"] for p in PROMPTS}


def test_rloo_raises_the_reward(model_dir, tmp_path):
    t = make_trainer(model_dir, tmp_path, "rloo", batch_size=8, options={"num_generations": 8})
    history = t.train().history
    _rises(series(history, "reward"), by=0.3)
    kls = _kl_ok(history, "kl")
    assert kls[0] == 0.0  # the policy starts as the reference
    assert sum(kls) > 0  # it moved away from it, as the KL estimate says
    for name in (
        "reward_std",
        "rewards/colors/mean",
        "entropy",
        "clip_ratio/low_mean",
        "clip_ratio/high_max",
        "clip_ratio/region_mean",
        "completions/mean_length",
        "completions/clipped_ratio",
    ):
        assert name in history[0], name


def test_online_dpo_raises_the_reward(model_dir, tmp_path):
    history = (
        make_trainer(model_dir, tmp_path, "online-dpo", PROMPTS * 4, batch_size=8).train().history
    )
    _rises(series(history, "objective/scores"), by=0.3)
    _kl_ok(history, "objective/kl")
    for name in ("rewards/chosen", "rewards/margins", "logps/chosen", "val/contain_eos_token"):
        assert name in history[0], name


def test_ppo_raises_the_reward_with_the_guides_metric_names(model_dir, tmp_path):
    t = make_trainer(
        model_dir,
        tmp_path,
        "ppo",
        PROMPTS * 4,
        batch_size=8,
        options={"num_ppo_epochs": 1, "adaptive_kl": True, "kl_horizon": 10},
    )
    history = t.train().history
    _rises(series(history, "env/reward_mean"), by=0.3)
    _kl_ok(history, "objective/kl")
    guide = (
        "env/reward_mean env/reward_std objective/kl objective/kl_coef objective/entropy "
        "ppo/mean_non_score_reward ppo/learning_rate ppo/policy/entropy ppo/policy/clipfrac "
        "ppo/policy/approxkl ppo/policy/policykl ppo/policy/advantages_mean ppo/returns/mean "
        "ppo/returns/var ppo/val/mean ppo/val/var ppo/val/clipfrac ppo/val/error "
        "ppo/loss/policy ppo/loss/value ppo/loss/total tokens/queries_len_mean "
        "tokens/queries_len_std tokens/responses_len_mean tokens/responses_len_std"
    ).split()
    missing = [n for n in guide if n not in history[0]]
    assert not missing, missing
    coefs = series(history, "objective/kl_coef")
    assert coefs[0] == 0.05 and len(set(coefs)) > 1  # the adaptive controller moved it
    from transformers import AutoModelForCausalLM

    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    ids = torch.tensor([[1, 5, 6, 7]])
    with torch.no_grad():
        torch.testing.assert_close(reloaded(ids).logits, t._unwrapped().eval()(ids).logits)
    assert (tmp_path / "value_head.safetensors").is_file()


def test_ppo_resumes_its_value_head_and_kl_coefficient(model_dir, tmp_path):
    kw = dict(max_steps=2, save_steps=2, options={"num_ppo_epochs": 1, "adaptive_kl": True})
    t = make_trainer(model_dir, tmp_path, "ppo", **kw)
    t.train()
    resumed = make_trainer(model_dir, tmp_path, "ppo", resume=True, **kw)
    assert resumed.step == 2
    assert resumed.ctx.state["kl_ctl"].value == t.ctx.state["kl_ctl"].value != 0.05
    a = t.acc.unwrap_model(t.policy).v_head.weight
    b = resumed.acc.unwrap_model(resumed.policy).v_head.weight
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("column", ["input_ids", "prompt_ids"])
def test_ppo_takes_tokenized_queries(model_dir, tmp_path, column):
    # tokenized language modeling (TRL's PPO data), or `convert --tokenize` prompt ids alone
    rows = [{column: [1, 5, 6, 7], "answer": "blue"}, {column: [1, 8, 9], "answer": "red"}]
    seen = []

    def reward(prompts, completions, answer, **kwargs):
        seen.extend(zip(prompts, answer, strict=True))
        return [0.0] * len(completions)

    options = {"num_ppo_epochs": 1, "reward_fn": [reward]}
    t = make_trainer(model_dir, tmp_path, "ppo", rows, max_steps=1, options=options)
    record = t.train().history[0]
    assert record["tokens/queries_len_mean"] == 3.5
    assert sorted(set(seen)) == [("green red", "red"), ("sky is blue", "blue")]  # decoded
    sample = json.loads((tmp_path / "completions.jsonl").read_text().splitlines()[0])
    assert sample["prompt"] in ("sky is blue", "green red")  # decoded, BOS left out


@pytest.mark.parametrize("algo", ["nash-md", "xpo"])
def test_nash_md_and_xpo_train(model_dir, tmp_path, algo):
    history = make_trainer(model_dir, tmp_path, algo, max_steps=3).train().history
    names = {
        "nash-md": ("loss/kl", "loss/score", "rewards/probabilities", "mixture_coef"),
        "xpo": ("loss/dpo", "loss/xpo", "rewards/accuracies", "objective/ref_scores", "alpha"),
    }[algo]
    for name in (*names, "objective/kl", "objective/entropy", "loss", "grad_norm"):
        assert name in history[0], name
    assert all(torch.isfinite(torch.tensor(series(history, "loss"))))
    assert history[0]["objective/kl"] == 0.0  # policy == reference before the first update


def test_gkd_moves_the_student_toward_the_teacher(model_dir, tmp_path):
    teacher = save_tiny_model(tmp_path / "teacher", seed=1)
    data = [
        {"prompt": "what color is the sky ?", "completion": " blue ."},
        {"prompt": "what color is the sea ?", "completion": " blue ."},
    ]
    t = make_trainer(
        model_dir,
        tmp_path / "out",
        "gkd",
        data,
        eval_data=data,
        max_steps=12,
        learning_rate=5e-3,
        options={"teacher_model": str(teacher), "lmbda": 0.5},
    )
    before = t.evaluate()["eval_loss"]
    history = t.train().history
    assert history[-1]["eval_loss"] < 0.7 * before
    on_policy = series(history, "on_policy")
    assert 0 < sum(on_policy) < len(on_policy)  # lmbda: some batches are the student's own


def test_iterative_sft_step_api_trains(model_dir, tmp_path):
    from trlprep.trainers import IterativeSFTTrainer

    t = IterativeSFTTrainer(
        str(model_dir), str(tmp_path), log=lambda *_: None, batch_size=2, learning_rate=5e-3
    )
    text = ["the sky is blue . the grass is green ."] * 2
    losses = [t.step(text)["loss"] for _ in range(8)]
    assert losses[-1] < 0.5 * losses[0]
    got = t.step(prompts=["what color is the sky ?"] * 2, completions=[" blue ."] * 2)
    assert got["steps"] == 1.0 and t.global_step == 9
    ids = [[1, 5, 6, 7, 8], [1, 5, 6, 9]]
    labels = [[-100, -100, 6, 7, 8], [-100, -100, 6, 9]]
    assert t.step(input_ids=ids, labels=labels)["loss"] > 0
    completions = t.generate(["what color is the sky ?"], max_new_tokens=3)
    assert len(completions) == 1 and 0 < len(completions[0].split()) <= 3
    with pytest.raises(UsageError, match="exactly one"):
        t.step(text, input_ids=ids)
    t.save()
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [10] and "mean_token_accuracy" in records[0]
    from transformers import AutoModelForCausalLM

    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    x = torch.tensor([[1, 5, 6, 7]])
    with torch.no_grad():
        torch.testing.assert_close(reloaded(x).logits, t.trainer._unwrapped().eval()(x).logits)


def test_online_errors_are_clear(model_dir, tmp_path):
    with pytest.raises(UsageError, match="no reward"):
        make_trainer(model_dir, tmp_path, "grpo", options={"reward_fn": ()})
    with pytest.raises(UsageError, match="multiple of num_generations"):
        make_trainer(model_dir, tmp_path, "grpo", batch_size=3, options={"num_generations": 2})
    with pytest.raises(UsageError, match="teacher"):
        make_trainer(model_dir, tmp_path, "gkd", [{"prompt": "a", "completion": " b"}])
    with pytest.raises(UsageError, match="precompute-ref"):
        make_trainer(model_dir, tmp_path, "rloo", precompute_ref=True)
    with pytest.raises(UsageError, match="scale_rewards"):
        make_trainer(model_dir, tmp_path, "grpo", options={"scale_rewards": "median"})


def test_risky_generation_settings_warn(model_dir, tmp_path):
    logs: list[str] = []
    make_trainer(
        model_dir, tmp_path, "rloo", log=logs.append, options={"top_k": 50, "min_length": 3}
    )
    warning = next(m for m in logs if m.startswith("warning"))
    assert "top_k=50" in warning and "min_length=3" in warning and "negative" in warning
    logs.clear()
    make_trainer(model_dir, tmp_path, "rloo", log=logs.append)
    assert not any(m.startswith("warning") for m in logs)  # the defaults are the FAQ's
