"""`trlprep train` with the online algorithms: options, reward functions from files, a reward
model trained by `trlprep train --algo reward`, conversational prompts, errors."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("accelerate")

from train_support import save_tiny_model  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402

runner = CliRunner()
ROWS = [
    {"prompt": "what color is the sky ?", "answer": "blue"},
    {"prompt": "what color is the sea ?", "answer": "blue"},
]
REWARDS = """
def has_answer(prompts, completions, answer, **kwargs):
    assert len(prompts) == len(completions) == len(answer)
    return [float(a in c) for c, a in zip(completions, answer)]

def skip_odd(completions, completion_ids, **kwargs):
    return [None if len(ids) % 2 else 1.0 for ids in completion_ids]
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def _common(model, data, out):
    return [
        "--model", str(model), "--data", str(data), "--output-dir", str(out),
        "--no-gradient-checkpointing", "--logging-steps", "1", "--no-bf16",
        "--learning-rate", "1e-3", "--max-new-tokens", "4",
    ]  # fmt: skip


def _records(out):
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


def test_help_lists_the_online_options():
    r = runner.invoke(app, ["train", "--algo", "grpo", "--help"])
    assert r.exit_code == 0, r.output
    for flag in (
        "--num-generations", "--scale-rewards", "--epsilon-high", "--loss-type", "--beta",
        "--num-iterations", "--reward-fn", "--reward-model", "--reward-weights",
        "--max-new-tokens", "--top-k", "--min-length", "--log-completions-steps",
    ):  # fmt: skip
        assert flag in r.output, flag
    assert "learning rate 1e-06 by default" in r.output and "dapo" in r.output
    r = runner.invoke(app, ["train", "--algo", "ppo", "--help"])
    for flag in ("--kl-coef", "--kl-estimator", "--adaptive-kl", "--gamma", "--lam", "--vf-coef"):
        assert flag in r.output, flag


def test_grpo_with_reward_functions_from_a_file_and_builtins(model, tmp_path):
    (tmp_path / "rewards.py").write_text(REWARDS)
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    out = tmp_path / "out"
    args = [
        "train", "--algo", "grpo", *_common(model, data, out), "--max-steps", "2",
        "--batch-size", "4", "--num-generations", "4",
        "--reward-fn", f"{tmp_path / 'rewards.py'}:has_answer",
        "--reward-fn", f"{tmp_path / 'rewards.py'}:skip_odd",
        "--reward-fn", "length=10", "--reward-weights", "1,0.5,0.01",
    ]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    rec = _records(out)[0]
    for name in ("has_answer", "skip_odd", "length"):
        assert f"rewards/{name}/mean" in rec, name
    cfg = json.loads((out / "train_config.json").read_text())
    assert cfg["options"]["reward_weights"] == [1.0, 0.5, 0.01]
    assert len(cfg["options"]["reward_fn"]) == 3
    samples = [json.loads(x) for x in (out / "completions.jsonl").read_text().splitlines()]
    assert {s["step"] for s in samples} == {1, 2}
    assert all(s["rewards/skip_odd"] in (None, 1.0) for s in samples)


def test_ppo_with_a_reward_model_trained_by_trlprep(model, tmp_path):
    pref = tmp_path / "pref.jsonl"
    pref.write_text(
        "".join(
            json.dumps({"prompt": r["prompt"], "chosen": " blue .", "rejected": " red ."}) + "\n"
            for r in ROWS
        )
    )
    rm = tmp_path / "rm"
    common = _common(model, pref, rm)[:-2]  # no --max-new-tokens for reward modelling
    r = runner.invoke(app, ["train", "--algo", "reward", *common, "--max-steps", "2"])
    assert r.exit_code == 0, r.output
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": x["prompt"]}) + "\n" for x in ROWS))
    out = tmp_path / "ppo"
    args = ["train", "--algo", "ppo", *_common(model, data, out), "--max-steps", "2"]
    r = runner.invoke(app, [*args, "--reward-model", str(rm), "--num-ppo-epochs", "1"])
    assert r.exit_code == 0, r.output
    rec = _records(out)[0]
    assert rec["env/reward_mean"] != 0.0 and "ppo/loss/value" in rec
    assert (out / "value_head.safetensors").is_file()


def test_conversational_prompts_reach_reward_functions_as_messages(model, tmp_path):
    from trlprep.trainers import train

    seen = {}

    def check(prompts, completions, answer, **kwargs):
        seen["prompt"], seen["completion"] = prompts[0], completions[0]
        return [1.0] * len(completions)

    rows = [{"prompt": [{"role": "user", "content": r["prompt"]}], "answer": "blue"} for r in ROWS]
    train(
        dict(
            algo="online-dpo",
            model=str(model),
            data=rows,
            output_dir=str(tmp_path),
            chat_template="chatml",
            max_steps=1,
            batch_size=2,
            progress=False,
            gradient_checkpointing=False,
            options={"reward_fn": [check], "max_new_tokens": 3},
        ),  # fmt: skip
        log=lambda *_: None,
    )
    assert seen["prompt"] == rows[0]["prompt"] or seen["prompt"] == rows[1]["prompt"]
    assert seen["completion"][0]["role"] == "assistant"
    assert isinstance(seen["completion"][0]["content"], str)


@pytest.mark.parametrize(
    "extra,message",
    [
        ([], "no reward"),
        (["--reward-fn", "nonsense"], "unknown reward function 'nonsense'"),
        (["--reward-fn", "no_such_module_xyz:f"], "cannot import reward module"),
        (["--reward-fn", "{dir}/rewards.py:nope"], "has no function 'nope'"),
        (["--reward-fn", "{dir}/broken.py:f"], "failed while loading: NameError"),
        (["--reward-fn", "{dir}/missing.py:f"], "does not exist"),
        (["--reward-fn", "length", "--reward-weights", "1,2"], "1 rewards (length) but 2"),
        (["--reward-fn", "length", "--reward-weights", "x"], "reward_weights takes numbers"),
        (["--reward-fn", "length", "--scale-rewards", "median"], "unknown scale_rewards"),
        (["--reward-fn", "length", "--loss-type", "ppo"], "unknown loss_type 'ppo'"),
        (["--reward-fn", "exact=solution"], "needs the column 'solution'"),
    ],
)
def test_online_errors_exit_2(model, tmp_path, extra, message):
    (tmp_path / "rewards.py").write_text(REWARDS)
    (tmp_path / "broken.py").write_text("undefined_name\n")
    data = tmp_path / "prompts.jsonl"
    data.write_text(json.dumps(ROWS[0]) + "\n")
    extra = [x.format(dir=tmp_path) for x in extra]
    args = [*_common(model, data, tmp_path / "out"), "--batch-size", "2", "--num-generations", "2"]
    r = runner.invoke(app, ["train", "--algo", "grpo", *args, *extra])
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output


def test_data_of_the_wrong_type_is_one_message(model, tmp_path):
    data = tmp_path / "prompts.jsonl"
    data.write_text(json.dumps(ROWS[0]) + "\n")  # prompt-only: GKD needs completions
    r = runner.invoke(app, ["train", "--algo", "gkd", *_common(model, data, tmp_path / "out")])
    # exit 2 as `convert` to an unreachable type: the wrong algorithm for this data
    assert r.exit_code == 2, r.output
    assert "gkd trains on prompt-completion data; this data is prompt-only" in r.output
    assert "Traceback" not in r.output
    tokens = tmp_path / "tokens.jsonl"
    tokens.write_text(json.dumps({"input_ids": [1, 5, 6]}) + "\n")
    args = [*_common(model, tokens, tmp_path / "out"), "--reward-fn", "length"]
    r = runner.invoke(app, ["train", "--algo", "grpo", *args])
    assert r.exit_code == 2, r.output
    assert "grpo cannot train on tokenized language-modeling data" in r.output


def test_report_to_a_tracker_that_is_not_installed_exits_2(model, tmp_path):
    import importlib.util

    if importlib.util.find_spec("tensorboard") is not None:
        pytest.skip("tensorboard is installed")
    data = tmp_path / "prompts.jsonl"
    data.write_text(json.dumps(ROWS[0]) + "\n")
    args = [*_common(model, data, tmp_path / "out"), "--reward-fn", "length"]
    r = runner.invoke(app, ["train", "--algo", "rloo", *args, "--report-to", "tensorboard"])
    assert r.exit_code == 2, r.output
    assert "--report-to tensorboard: the tracker is not installed" in r.output
    assert "pip install tensorboard" in r.output and "Traceback" not in r.output
