"""How online rollouts serve the training loop and what they log, on a tiny Llama: GRPO's
`num_iterations` and PPO's epochs over mini-batches reuse one rollout with its sampling-time
log-probs; PPO's distributions reach TensorBoard; the negative-KL check reads k1; the
missing-EOS penalty; GKD's completions (teacher's or student's) and its loss, the generalized
JSD of the two models' own distributions."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from online_support import PROMPTS, TrackingAcc, make_trainer, series  # noqa: E402
from train_support import save_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def _count_rollouts(t):
    """Wrap the trainer's rollout function to count the rollouts it makes."""
    import dataclasses

    calls = []
    spec = t.rollouts.spec

    def counted(ctx, rows):
        calls.append(len(rows))
        return spec.rollout(ctx, rows)

    t.rollouts.spec = dataclasses.replace(spec, rollout=counted)
    return calls


def by_position(completions, **kwargs):
    """Different rewards within every group, so every step has a gradient."""
    return [float(i % 4) for i in range(len(completions))]


def test_grpo_num_iterations_reuse_the_rollout_and_its_sampling_logps(model_dir, tmp_path):
    t = make_trainer(
        model_dir,
        tmp_path,
        "grpo",
        max_steps=4,
        options={"num_generations": 4, "num_iterations": 2, "reward_fn": [by_position]},
    )
    calls = _count_rollouts(t)
    stream = t.stream.iterate(0, 0)

    def logps(batch):
        with torch.no_grad():
            out = t.ctx.policy(batch.seqs)
        return out.logps * out.mask, batch.old_logps * out.mask

    first, made, _ = t.rollouts.next_step(stream, 1)
    assert calls == [1] and "reward" in made
    now, old = logps(first[0])  # first pass: the policy is the sampling policy (ratio 1)
    torch.testing.assert_close(now, old, atol=1e-5, rtol=1e-5)
    t.optimizer_step(first, made)
    second, made, position = t.rollouts.next_step(stream, 2)
    assert calls == [1] and made == {} and position is None  # no new generation
    seqs = lambda b: sorted(map(tuple, b.seqs.input_ids.tolist()))  # noqa: E731
    assert seqs(second[0]) == seqs(first[0])  # the same completions ...
    now, old = logps(second[0])
    assert (now - old).abs().max() > 1e-3  # ... against the log-probs they were sampled with
    t.optimizer_step(second, made)
    t.rollouts.next_step(stream, 3)
    assert calls == [1, 1]  # the next rollout after num_iterations steps


def test_ppo_epochs_and_mini_batches_reuse_one_rollout(model_dir, tmp_path):
    options = {"num_ppo_epochs": 2, "num_mini_batches": 2}
    t = make_trainer(
        model_dir, tmp_path, "ppo", PROMPTS * 2, batch_size=2, max_steps=8, options=options
    )
    calls = _count_rollouts(t)
    history = t.train().history
    assert calls == [4, 4]  # 2 epochs x 2 mini-batches of 2 prompts: 4 steps per rollout
    assert [r["step"] for r in history if "env/reward_mean" in r] == [1, 5]
    assert len(series(history, "ppo/loss/total")) == 8


def test_ppo_distributions_reach_tensorboard(model_dir, tmp_path):
    from trlprep.trainers.metrics import MetricsLog

    options = {"num_ppo_epochs": 1}
    t = make_trainer(model_dir, tmp_path, "ppo", PROMPTS * 2, max_steps=2, options=options)
    acc = TrackingAcc()
    t.metrics = MetricsLog(acc, tmp_path, ("tensorboard",), t.cfg.to_json())
    t.train()
    names = {name for name, _, _ in acc.tb.histograms}
    guide = "env/reward_dist objective/kl_dist ppo/policy/advantages tokens/responses_dist"
    assert set(guide.split()) <= names, names
    steps = {step for _, _, step in acc.tb.histograms}
    assert steps == {1, 2}
    rewards = [v for name, v, step in acc.tb.histograms if name == "env/reward_dist"]
    assert all(len(v) == 4 for v in rewards)  # one score per completion of the batch
    assert any("env/reward_mean" in values for _, values in acc.tb.scalars)


def test_ppo_distributions_in_real_tensorboard_event_files(model_dir, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    options = {"num_ppo_epochs": 1}
    t = make_trainer(
        model_dir, tmp_path, "ppo", max_steps=1, report_to=("tensorboard",), options=options
    )
    t.train()
    tags = {"histograms": set(), "scalars": set()}
    for path in tmp_path.rglob("events.out.tfevents.*"):
        events = EventAccumulator(str(path), size_guidance={"histograms": 0, "scalars": 0})
        events.Reload()
        for kind in tags:
            tags[kind] |= set(events.Tags()[kind])
    assert {"env/reward_dist", "objective/kl_dist", "ppo/policy/advantages"} <= tags["histograms"]
    assert {"env/reward_mean", "objective/kl", "ppo/loss/total"} <= tags["scalars"]


def test_ppo_checks_negative_kl_on_k1_whatever_the_penalty_estimator(model_dir, tmp_path):
    t = make_trainer(model_dir, tmp_path, "ppo", max_steps=1, options={"kl_estimator": "k3"})
    with torch.no_grad():  # move the policy away from the reference
        t._unwrapped().lm_head.weight.add_(torch.randn_like(t._unwrapped().lm_head.weight))
    rows = [{"prompt": t.train_data.rows["prompt"][0], "prompt_text": "x"}] * 4
    rollout = t.rollouts._rollout(rows)
    exp, ctx = rollout.experience, t.rollouts.ctx
    ref = ctx.forward(ctx.reference, exp.prompts, exp.completions)
    old = exp.fields["old_logps"]
    k1 = ((old - ref.logps) * ref.mask).sum(-1)
    torch.testing.assert_close(rollout.seq_kl, k1)
    k3 = (torch.expm1(ref.logps - old) - (ref.logps - old)) * ref.mask
    assert rollout.metrics["objective/kl"] == pytest.approx(float(k3.sum(-1).mean()), rel=1e-5)


def test_gkd_loss_is_the_generalized_jsd_of_the_models_distributions(model_dir, tmp_path):
    from trlprep.trainers.losses import generalized_jsd

    teacher = save_tiny_model(tmp_path / "teacher", seed=1)
    data = [{"prompt": "what color is the sky ?", "completion": " blue ."}] * 2
    options = {"teacher_model": str(teacher), "beta": 0.3, "lmbda": 0.0, "temperature": 0.5}
    t = make_trainer(model_dir, tmp_path / "out", "gkd", data, max_steps=1, options=options)
    t.ctx.num_items = None
    batch = t.rollouts.next_step(t.stream.iterate(0, 0), 1)[0][0]
    with torch.no_grad():
        loss, metrics = t.algo.step(t.ctx, batch)
        seqs = batch.seqs
        student = t._unwrapped()(input_ids=seqs.input_ids, attention_mask=seqs.attention_mask)
        teacher_out = t.teacher.model(input_ids=seqs.input_ids, attention_mask=seqs.attention_mask)
    flat = lambda logits: logits.reshape(-1, logits.shape[-1])[seqs.target_pos]  # noqa: E731
    # temperature 1: the sampling temperature does not enter the divergence (TRL's GKDTrainer)
    want = generalized_jsd(flat(student.logits), flat(teacher_out.logits), 0.3).mean()
    assert loss.item() == pytest.approx(want.item(), rel=1e-4)
    assert metrics["jsd"] == pytest.approx(want.item(), rel=1e-4)


def zero(completions, **kwargs):
    return [0.0] * len(completions)


@pytest.mark.parametrize(
    "algo,score", [("ppo", "env/reward_mean"), ("online-dpo", "objective/scores")]
)
def test_missing_eos_penalty_is_taken_off_the_score(model_dir, tmp_path, algo, score):
    options = {"reward_fn": [zero], "missing_eos_penalty": 10.0, "max_new_tokens": 2}
    t = make_trainer(model_dir, tmp_path, algo, PROMPTS * 4, batch_size=8, options=options)
    rows = [{"prompt": p, "prompt_text": "x"} for p in t.train_data.rows["prompt"]] * 4
    metrics = t.rollouts._rollout(rows).metrics
    ended = metrics["val/contain_eos_token"]
    assert ended < 1.0  # 2 new tokens: most completions are cut
    assert metrics[score] == pytest.approx(-10.0 * (1.0 - ended))


@pytest.mark.parametrize("lmbda,seq_kd,source", [(0.0, True, "teacher"), (1.0, True, "policy")])
def test_gkd_trains_on_the_teacher_or_student_samples(model_dir, tmp_path, lmbda, seq_kd, source):
    teacher = save_tiny_model(tmp_path / "teacher", seed=1)
    data = [{"prompt": "what color is the sky ?", "completion": " blue . blue . blue"}] * 4
    options = {"teacher_model": str(teacher), "lmbda": lmbda, "seq_kd": seq_kd}
    t = make_trainer(model_dir, tmp_path / "out", "gkd", data, max_steps=1, options=options)
    called = []
    generate = t.rollouts.ctx.generate

    def spy(prompts, source="policy", **kw):
        called.append(source)
        return generate(prompts, source=source, **kw)

    t.rollouts.ctx.generate = spy
    rows = [{k: v[i] for k, v in t.train_data.rows.items()} for i in range(4)]
    rollout = t.rollouts._rollout(rows)
    assert called == [source]
    assert rollout.metrics["on_policy"] == float(source == "policy")
    dataset_completion = t.train_data.rows["ids"][0][len(rollout.experience.prompts[0]) :]
    lengths = [len(c) for c in rollout.experience.completions]
    assert max(lengths) <= 4 < len(dataset_completion)  # generated: max_new_tokens=4
