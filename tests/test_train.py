"""End to end on a tiny Llama built from a config: each algorithm's training signal moves the
right way, the saved model reloads with identical outputs, and resuming is exact."""

from __future__ import annotations

import json
import shutil

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from train_support import save_tiny_model  # noqa: E402
from trlprep.trainers.loop import Trainer, TrainingError  # noqa: E402

from trlprep.errors import InputError, UsageError  # noqa: E402

PREFERENCE = [
    {"prompt": "what color is the sky ?", "chosen": " blue .", "rejected": " green ."},
    {"prompt": "what color is the grass ?", "chosen": " green .", "rejected": " red ."},
    {"prompt": "what color is the sun ?", "chosen": " yellow .", "rejected": " blue ."},
    {"prompt": "what color is the sea ?", "chosen": " blue .", "rejected": " yellow ."},
]
TEXT = [{"text": "the sky is blue . the grass is green . the sun is yellow ."}] * 4
STEPWISE = [
    {
        "prompt": "what is two plus two ?",
        "completions": ["two plus two equals four", "so four"],
        "labels": [True, True],
    },
    {
        "prompt": "what is two plus two ?",
        "completions": ["two plus two equals five", "so five"],
        "labels": [False, False],
    },
    {
        "prompt": "what is two plus three ?",
        "completions": ["two plus three equals five", "so five"],
        "labels": [True, True],
    },
    {
        "prompt": "what is two plus three ?",
        "completions": ["two plus three equals six", "so six"],
        "labels": [False, False],
    },
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def _trainer(model_dir, out, algo, data, log=lambda *_: None, **kw):
    cfg = dict(
        algo=algo,
        model=str(model_dir),
        data=data,
        eval_data=kw.pop("eval_data", data),
        output_dir=str(out),
        batch_size=kw.pop("batch_size", 4),
        max_steps=kw.pop("max_steps", 16),
        logging_steps=kw.pop("logging_steps", 4),
        save_steps=kw.pop("save_steps", 1000),
        learning_rate=kw.pop("learning_rate", 5e-3),
        progress=False,
        gradient_checkpointing=kw.pop("gradient_checkpointing", False),
        **kw,
    )
    return Trainer(cfg, log=log)


def _run(model_dir, out, algo, data, **kw):
    t = _trainer(model_dir, out, algo, data, **kw)
    before = t.evaluate()
    result = t.train()
    after = result.history[-1]
    return t, before, after, result


def _logged(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_sft_loss_falls_and_the_model_reloads(model_dir, tmp_path):
    t, before, after, _ = _run(model_dir, tmp_path, "sft", TEXT, gradient_checkpointing=True)
    assert after["eval_loss"] < 0.5 * before["eval_loss"]
    train = [r for r in _logged(tmp_path) if "loss" in r]
    assert train[-1]["loss"] < train[0]["loss"]
    assert {
        "loss",
        "grad_norm",
        "learning_rate",
        "num_tokens",
        "mean_token_accuracy",
        "entropy",
        "epoch",
    } <= set(train[0])
    from transformers import AutoModelForCausalLM, AutoTokenizer

    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    trained = t._unwrapped().eval()
    ids = torch.tensor([[1, 5, 6, 7, 8]])
    torch.testing.assert_close(reloaded(ids).logits, trained(ids).logits, rtol=0, atol=0)
    assert len(AutoTokenizer.from_pretrained(tmp_path)) == len(t.tokenizer)
    assert (tmp_path / f"checkpoint-{t.step}" / "trainer_state.pt").is_file()


@pytest.mark.parametrize(
    "algo,options",
    [
        ("dpo", {}),
        (
            "dpo",
            {
                "loss_type": "ipo,sft",
                "loss_weights": "1,0.5",
                "use_weighting": True,
                "ld_alpha": 0.5,
                "rpo_alpha": 0.1,
            },
        ),
        ("cpo", {}),
        ("cpo", {"loss_type": "simpo", "cpo_alpha": 0.0}),
        ("orpo", {}),
    ],
    ids=["dpo", "dpo-mixed", "cpo", "simpo", "orpo"],
)
def test_pairwise_algorithms_rank_every_training_pair(model_dir, tmp_path, algo, options):
    _, before, after, _ = _run(model_dir, tmp_path, algo, PREFERENCE, max_steps=20, **options)
    assert after["eval_rewards/accuracies"] == 1.0
    assert after["eval_rewards/margins"] > before["eval_rewards/margins"]
    if algo == "dpo":
        assert before["eval_rewards/accuracies"] == 0.0  # policy == reference at the start


@pytest.mark.parametrize("algo", ["kto", "bco"])
def test_unpaired_algorithms_separate_desirable_from_undesirable(model_dir, tmp_path, algo):
    # paired data, converted to unpaired on the way in
    _, before, after, _ = _run(model_dir, tmp_path, algo, PREFERENCE, learning_rate=2e-2)
    assert abs(before["eval_rewards/margins"]) < 1e-6
    assert after["eval_rewards/chosen"] > 0 > after["eval_rewards/rejected"]
    assert after["eval_rewards/margins"] > 0.1
    assert ("eval_kl" if algo == "kto" else "eval_delta") in after


def test_reward_model_ranks_chosen_above_rejected(model_dir, tmp_path):
    data = [dict(r, margin=0.5) for r in PREFERENCE]  # explicit prompt: converted to implicit
    t, before, after, _ = _run(model_dir, tmp_path, "reward", data, max_steps=12, logging_steps=4)
    assert after["eval_accuracy"] == 1.0 and after["eval_margin"] > before["eval_margin"]
    from transformers import AutoModelForSequenceClassification

    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    ids = torch.tensor([[1, 5, 6, 7]])
    torch.testing.assert_close(
        reloaded(ids).logits, t._unwrapped().eval()(ids).logits, rtol=0, atol=0
    )


def test_prm_learns_step_labels(model_dir, tmp_path):
    t, before, after, _ = _run(
        model_dir, tmp_path, "prm", STEPWISE, max_steps=24, options={"step_separator": " ."}
    )
    assert after["eval_accuracy"] == 1.0 and after["eval_loss"] < before["eval_loss"]
    from transformers import AutoModelForTokenClassification

    reloaded = AutoModelForTokenClassification.from_pretrained(tmp_path).eval()
    ids = torch.tensor([[1, 5, 6, 7]])
    torch.testing.assert_close(
        reloaded(ids).logits, t._unwrapped().eval()(ids).logits, rtol=0, atol=0
    )


def test_resume_continues_from_the_same_step_and_loss(model_dir, tmp_path):
    # 8 rows, batches of 2: 4 batches an epoch, so 6 steps cross an epoch boundary;
    # BCO's running mean is algorithm state that must come back too
    data = PREFERENCE * 2
    kw = dict(
        max_steps=6, logging_steps=1, save_steps=3, batch_size=2, learning_rate=1e-2, eval_data=None
    )
    full = tmp_path / "full"
    _trainer(model_dir, full, "bco", data, **kw).train()
    part = tmp_path / "part"
    part.mkdir()
    shutil.copytree(full / "checkpoint-3", part / "checkpoint-3")
    resumed = _trainer(model_dir, part, "bco", data, resume=True, **kw)
    assert resumed.step == 3
    resumed.train()
    want = {r["step"]: r for r in _logged(full)}
    got = {r["step"]: r for r in _logged(part)}
    assert sorted(got) == [4, 5, 6]
    for step in (4, 5, 6):
        for key in ("loss", "delta", "learning_rate", "num_tokens"):
            assert got[step][key] == pytest.approx(want[step][key], rel=1e-6, abs=1e-9), key
    from safetensors.torch import load_file

    a = load_file(full / "model.safetensors")
    b = load_file(part / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-6, atol=1e-7)


def test_nan_loss_stops_with_the_step(model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    broken = tmp_path / "broken"
    m = AutoModelForCausalLM.from_pretrained(model_dir)
    with torch.no_grad():
        m.model.norm.weight.fill_(float("nan"))
    m.save_pretrained(broken)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(broken)
    t = _trainer(broken, tmp_path / "out", "sft", TEXT, eval_data=None)
    with pytest.raises(TrainingError, match="loss became nan at step 1") as e:
        t.train()
    assert e.value.exit_code == 1 and "no checkpoint was saved yet" in str(e.value)


def test_a_stopped_run_closes_its_progress_bar(model_dir, tmp_path, capsys):
    """Before, the bar stayed open: the CLI printed the error after the bar's text on the
    same line, and the bar printed itself again after the error."""
    t = _trainer(model_dir, tmp_path / "out", "sft", TEXT, eval_data=None, max_steps=4)
    t.cfg.progress = True
    capsys.readouterr()

    def fail(*_):
        raise RuntimeError("stopped")

    t._step = fail
    with pytest.raises(RuntimeError, match="stopped"):
        t.train()
    err = capsys.readouterr().err
    assert "step" in err and err.endswith("\n")


def test_clear_errors(model_dir, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        _trainer(tmp_path / "nope", tmp_path / "o", "dpo", PREFERENCE)
    with pytest.raises(UsageError, match="dpo trains on preference data"):
        _trainer(model_dir, tmp_path / "o", "dpo", [{"prompt": "hi"}])
    with pytest.raises(UsageError, match="batch-size 2"):
        _trainer(model_dir, tmp_path / "o", "kto", PREFERENCE, batch_size=1)
    with pytest.raises(InputError, match="no checkpoint"):
        _trainer(model_dir, tmp_path / "o", "dpo", PREFERENCE, resume=True)


def test_a_dataset_dict_trains_on_its_one_split_or_the_split_named(model_dir, tmp_path):
    """train() from Python given a DatasetDict: its one split is used; of several, the one
    named by `split` (`eval_split` for eval_data), else `train` with a note in the log, as
    its `save_to_disk` folder reads; several and no `train` is a UsageError listing them, as
    is a split it lacks."""
    datasets = pytest.importorskip("datasets")
    from trlprep.trainers.loop import train

    rows = datasets.Dataset.from_list(PREFERENCE)
    dd = datasets.DatasetDict({"train": rows, "test": rows.select([0, 1])})
    base = dict(algo="dpo", model=str(model_dir), batch_size=2, max_steps=1, progress=False)
    logs: list[str] = []
    train(dict(base, data=dd, output_dir=str(tmp_path / "a")), log=logs.append)
    said = "\n".join(logs)
    assert "data: preference: 4 rows in" in said
    note = "the DatasetDict holds the splits train, test: reading 'train' (split='NAME' reads"
    assert f"data: note: {note}" in said
    disk = tmp_path / "dd"
    dd.save_to_disk(str(disk))
    logs.clear()
    train(dict(base, data=str(disk), output_dir=str(tmp_path / "a2")), log=logs.append)
    assert "data: preference: 4 rows in" in "\n".join(logs)  # the same split as the object
    no_train = datasets.DatasetDict({"valid": rows, "test": rows.select([0, 1])})
    with pytest.raises(UsageError, match=r"several splits \(valid, test\)") as e:
        train(dict(base, data=no_train, output_dir=str(tmp_path / "e")), log=lambda *_: None)
    assert "split=NAME" in e.value.hint
    with pytest.raises(UsageError, match="no split 'valid'") as e:
        train(dict(base, data=dd, split="valid", output_dir=str(tmp_path / "b")))
    assert e.value.hint == "available: train, test"
    logs.clear()
    cfg = dict(base, data=dd, split="test", eval_data=dd, eval_split="train")
    train(dict(cfg, output_dir=str(tmp_path / "c")), log=logs.append)
    said = "\n".join(logs)
    assert "data: preference: 2 rows in" in said and "eval data: preference: 4 rows in" in said
    assert "holds the splits" not in said
    one = datasets.DatasetDict({"only": rows.select([0, 1, 2])})
    logs.clear()
    train(dict(base, data=one, output_dir=str(tmp_path / "d")), log=logs.append)
    assert "data: preference: 3 rows in" in "\n".join(logs)


def test_precomputed_reference_gives_the_live_losses(model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TRLPREP_CACHE_DIR", str(tmp_path / "cache"))
    kw = dict(max_steps=3, logging_steps=1, eval_data=None, options={"ld_alpha": 0.5})
    _trainer(model_dir, tmp_path / "live", "dpo", PREFERENCE, **kw).train()
    logs: list[str] = []
    pre = _trainer(
        model_dir, tmp_path / "pre", "dpo", PREFERENCE, logs.append, precompute_ref=True, **kw
    )
    assert pre.ctx.reference is None  # trains without the reference model
    assert any("computing once" in m for m in logs)
    pre.train()
    live, got = _logged(tmp_path / "live"), _logged(tmp_path / "pre")
    for a, b in zip(live, got, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
        assert b["rewards/margins"] == pytest.approx(a["rewards/margins"], rel=1e-4, abs=1e-6)
    assert len(list((tmp_path / "cache" / "ref-logps").glob("*.parquet"))) == 1
    logs.clear()
    _trainer(
        model_dir, tmp_path / "again", "dpo", PREFERENCE, logs.append, precompute_ref=True, **kw
    )
    assert any("reference log-probs: cached" in m for m in logs)


def test_precomputed_kto_columns_are_the_reference_log_probs(model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TRLPREP_CACHE_DIR", str(tmp_path / "cache"))
    t = _trainer(
        model_dir,
        tmp_path / "o",
        "kto",
        PREFERENCE,
        precompute_ref=True,
        max_steps=2,
        eval_data=None,
    )
    rows = t.train_data.rows
    assert {"ref_logps", "ref_kl_logps", "kl_completion"} <= set(rows)
    batch = t.collate([{k: v[i] for k, v in rows.items()} for i in range(len(rows["label"]))])
    with torch.no_grad():  # before training the policy is the reference
        policy = t.policy(batch.seqs).sums
        policy_kl = t.policy(batch.kl_seqs).sums
    torch.testing.assert_close(policy.double(), batch.ref_logps, atol=1e-5, rtol=0)
    torch.testing.assert_close(policy_kl.double(), batch.ref_kl_logps, atol=1e-5, rtol=0)
    assert t.train().global_step == 2


def test_lora_trains_adapters_against_the_adapters_off_reference(model_dir, tmp_path):
    pytest.importorskip("peft")
    t = _trainer(
        model_dir,
        tmp_path,
        "dpo",
        PREFERENCE,
        max_steps=20,
        learning_rate=2e-2,
        lora_r=8,
        lora_alpha=64,
        save_steps=10,
    )
    trainable = sum(p.numel() for p in t.policy.parameters() if p.requires_grad)
    total = sum(p.numel() for p in t.policy.parameters())
    assert 0 < trainable < total / 5
    before = t.evaluate()
    assert before["eval_rewards/accuracies"] == 0.0  # adapters start as a no-op
    result = t.train()
    # the adapters learn: the policy moves away from the adapters-off reference (a policy
    # equal to its reference would stay at loss log 2 with no pair ranked right)
    after = result.history[-1]
    assert after["eval_loss"] < before["eval_loss"] - 0.05
    assert after["eval_rewards/accuracies"] >= 0.75
    # a checkpoint holds the adapters, the output folder the merged model
    assert (tmp_path / "checkpoint-10" / "adapter_config.json").is_file()
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    ids = torch.tensor([[1, 5, 6, 7, 8]])
    with torch.no_grad():
        torch.testing.assert_close(
            merged(ids).logits, t._unwrapped().eval()(ids).logits, atol=1e-5, rtol=1e-5
        )
    resumed = _trainer(
        model_dir,
        tmp_path,
        "dpo",
        PREFERENCE,
        max_steps=20,
        learning_rate=2e-2,  # as the run resumed: a change is refused
        lora_r=8,
        lora_alpha=64,
        resume=str(tmp_path / "checkpoint-10"),
    )
    assert resumed.step == 10


def test_max_grad_norm_zero_trains_unclipped_and_logs_the_norm(model_dir, tmp_path):
    """0 means no clipping (as in transformers), not gradients scaled to 0."""
    from safetensors.torch import load_file

    kw = dict(max_steps=2, logging_steps=1, eval_data=None, learning_rate=1e-2)
    for name, norm in (("zero", 0), ("none", None), ("huge", 1e9)):
        _trainer(model_dir, tmp_path / name, "sft", TEXT, max_grad_norm=norm, **kw).train()
    start = load_file(model_dir / "model.safetensors")
    huge = load_file(tmp_path / "huge" / "model.safetensors")
    for name in ("zero", "none"):
        got = load_file(tmp_path / name / "model.safetensors")
        assert max((got[k] - start[k]).abs().max().item() for k in start) > 1e-3
        for k in huge:
            torch.testing.assert_close(got[k], huge[k], rtol=0, atol=0)
        norms = [r["grad_norm"] for r in _logged(tmp_path / name)]
        assert len(norms) == 2 and all(n > 0 for n in norms)


def test_negative_max_grad_norm_is_refused(model_dir, tmp_path):
    with pytest.raises(UsageError, match="max_grad_norm must be 0 or more, not -1"):
        _trainer(model_dir, tmp_path / "o", "sft", TEXT, max_grad_norm=-1.0)
    assert not (tmp_path / "o").exists()


def test_resume_refuses_options_that_change_what_is_trained(model_dir, tmp_path):
    out = tmp_path / "out"
    first, other = tmp_path / "first.jsonl", tmp_path / "other.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in PREFERENCE))
    other.write_text("".join(json.dumps(r) + "\n" for r in PREFERENCE[:3]))
    kw = dict(max_steps=2, save_steps=1, logging_steps=1, batch_size=2, eval_data=None)
    _trainer(model_dir, out, "dpo", str(first), **kw).train()
    saved = (out / "train_config.json").read_text()
    changed = dict(kw, batch_size=4, max_length=64, learning_rate=1e-3, options={"beta": 0.5})
    with pytest.raises(UsageError) as e:
        _trainer(model_dir, out, "dpo", str(other), resume=True, **changed)
    said = str(e.value)
    for line in (
        "batch_size: 2 -> 4",
        "max_length: 1024 -> 64",
        "learning_rate: 0.005 -> 0.001",
        "options.beta: 0.1 -> 0.5",
        f'data: "{first}" -> "{other}"',
    ):
        assert line in said, said
    assert "another --output-dir" in said and "max_steps:" not in said
    assert (out / "train_config.json").read_text() == saved
    # extending the run and logging otherwise are fine, and said
    logs: list[str] = []
    more = dict(kw, max_steps=3, logging_steps=2, save_steps=5)
    t = _trainer(model_dir, out, "dpo", str(first), logs.append, resume=True, **more)
    assert t.step == 2 and t.train().global_step == 3
    note = next(m for m in logs if m.startswith("resume: changed options"))
    assert "max_steps: 2 -> 3" in note and "logging_steps: 1 -> 2" in note
    assert "resume:" not in note.removeprefix("resume: changed options")  # resuming is no change


def test_every_option_is_classified_for_resume():
    """A new option must be decided on: free to change on resume, or fixed (the default)."""
    from dataclasses import fields

    from trlprep.trainers.config import TrainConfig
    from trlprep.trainers.resume import FREE

    fixed = {f.name for f in fields(TrainConfig)} - FREE
    assert fixed == {
        "algo", "model", "data", "split", "data_from", "data_map", "on_error", "options",
        "learning_rate", "batch_size", "gradient_accumulation_steps", "max_length",
        "truncation_mode", "seed", "bf16", "lr_scheduler_type", "warmup_ratio", "warmup_steps",
        "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon", "max_grad_norm",
        "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "group_by_length",
        "chat_template", "disable_dropout", "role_map", "keep_empty_turns", "neutral",
        "pairing", "threshold", "prompt_style", "conversational", "coerce", "template_kwargs",
        "tools",
    }  # fmt: skip


def test_resume_drops_the_interrupted_runs_records_after_the_checkpoint(model_dir, tmp_path):
    kw = dict(max_steps=6, logging_steps=1, save_steps=3, batch_size=2, eval_data=None)
    full = tmp_path / "full"
    _trainer(model_dir, full, "sft", TEXT * 2, **kw).train()
    part = tmp_path / "part"  # killed during step 6: steps 4 and 5 logged, a line cut short
    part.mkdir()
    shutil.copytree(full / "checkpoint-3", part / "checkpoint-3")
    lines = (full / "metrics.jsonl").read_text().splitlines(keepends=True)
    (part / "metrics.jsonl").write_text("".join(lines[:5]) + lines[5][:20])
    logs: list[str] = []
    _trainer(model_dir, part, "sft", TEXT * 2, logs.append, resume=True, **kw).train()
    steps = [r["step"] for r in _logged(part)]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert _logged(part)[:3] == _logged(full)[:3]
    for got, want in zip(_logged(part)[3:], _logged(full)[3:], strict=True):
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-6)
    assert any("removed 3 record(s) after step 3" in m for m in logs), logs
    assert not (part / "metrics.jsonl.tmp").exists()


def test_resume_takes_a_run_saved_before_an_option_existed():
    """A key missing from the resumed run's config is a difference only if its new value is
    not the option's default."""
    from trlprep.trainers.resume import _differences

    saved = {"algo": "dpo", "seed": 1}
    assert _differences(saved, {"algo": "dpo", "seed": 1, "neutral": "negative"}) == []
    assert _differences(saved, {"algo": "dpo", "seed": 1, "neutral": "drop"}) == [
        ("neutral", None, "drop")
    ]


def test_a_failing_fused_kernel_warns_at_the_line_that_called_train(
    model_dir, tmp_path, monkeypatch
):
    """The fallback is said in an autograd Function's forward and backward, under torch's
    frames: the warning names the user's `train(...)` line, not torch's or trlprep's."""
    import sys
    import warnings

    from trlprep.trainers import chunk_math as cm
    from trlprep.trainers.loop import train

    def broken(fn, **_):
        def call(*args):
            raise RuntimeError("no compiler here")

        return call

    monkeypatch.setattr(torch, "compile", broken)
    monkeypatch.setattr(cm, "fused_lse_and_target", cm.Fused(cm.lse_and_target, cm.lse_and_target))
    monkeypatch.setattr(
        cm, "fused_grad_logits", cm.Fused(cm.grad_logits_from_lse, cm.grad_logits_softmax)
    )
    cfg = dict(algo="dpo", model=str(model_dir), data=PREFERENCE, batch_size=2, max_steps=1)
    cfg.update(output_dir=str(tmp_path / "o"), progress=False, logps_kernel="fused")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        train(cfg, log=lambda *_: None)
    said = {
        str(w.message).split(" failed")[0]: (w.filename, w.lineno)
        for w in caught
        if "fused log-prob kernel" in str(w.message)
    }
    assert said == {
        "the fused log-prob kernel lse_and_target": (__file__, line),
        "the fused log-prob kernel grad_logits_from_lse": (__file__, line),
    }
