"""`trlprep train`: options from YAML and flags, per-algorithm help, errors as exit codes."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("accelerate")

from train_support import save_tiny_model  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402

runner = CliRunner()


def test_help_lists_the_algorithms_options_with_defaults():
    r = runner.invoke(app, ["train", "--algo", "dpo", "--help"])
    assert r.exit_code == 0, r.output
    for line in ("--beta", "--loss-type", "--ld-alpha", "--rpo-alpha", "--max-steps", "--bf16"):
        assert line in r.output
    assert "learning rate 1e-06 by default" in r.output
    r = runner.invoke(app, ["train", "--algo", "kto", "--help"])
    assert "--desirable-weight" in r.output and "--loss-type" in r.output
    assert "--ld-alpha" not in r.output


def test_yaml_then_flags(tmp_path):
    model = save_tiny_model(tmp_path / "model")
    rows = [
        {"prompt": "what color is the sky ?", "chosen": " blue .", "rejected": " green ."},
        {"prompt": "what color is the sun ?", "chosen": " yellow .", "rejected": " blue ."},
    ]
    data = tmp_path / "pref.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "train.yaml").write_text(
        "algo: dpo\nbeta: 0.3\nmax_steps: 5\nbatch_size: 2\nloss_type: sigmoid\n"
    )
    out = tmp_path / "out"
    r = runner.invoke(
        app,
        [
            "train",
            "--config",
            str(tmp_path / "train.yaml"),
            "--model",
            str(model),
            "--data",
            str(data),
            "--output-dir",
            str(out),
            "--max-steps",
            "2",
            "--beta",
            "0.5",
            "--loss-type",
            "sigmoid,sft",
            "--no-gradient-checkpointing",
            "--logging-steps",
            "1",
            "--no-bf16",
        ],
    )
    assert r.exit_code == 0, r.output
    cfg = json.loads((out / "train_config.json").read_text())
    assert cfg["options"]["beta"] == 0.5 and cfg["max_steps"] == 2 and cfg["batch_size"] == 2
    assert cfg["options"]["loss_type"] == ["sigmoid", "sft"]
    assert cfg["learning_rate"] == 1e-6  # DPO's default
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2]
    assert "trained 2 steps" in r.output


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--algo", "dpo", "--model", "nope", "--data", "x", "--output-dir", "o"],
            "model path 'nope' does not exist",
        ),
        (["--algo", "dpo", "--bogus", "1"], "unknown option --bogus"),
        (["--algo", "dpo", "--beta", "abc"], "--beta takes a number"),
        (["--algo", "ppo"], "unknown algorithm 'ppo'"),
        (["--algo", "dpo", "--model", "m"], "missing required option(s): data, output_dir"),
    ],
)
def test_errors_are_messages_with_exit_code_2(args, message):
    r = runner.invoke(app, ["train", *args])
    assert r.exit_code == 2
    assert message in r.output
    assert "Traceback" not in r.output
