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
    rows = [  # implicit preference: DPO converts it to explicit on the way in
        {"chosen": "what color is the sky ? blue .", "rejected": "what color is the sky ? green ."},
        {
            "chosen": "what color is the sun ? yellow .",
            "rejected": "what color is the sun ? blue .",
        },
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
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    assert "trained 2 steps" in r.output
    assert "data: preference-implicit -> preference: 2 rows in" in r.output  # the route taken
    trl_names = {  # as TRL's DPOTrainer logs them
        "loss",
        "grad_norm",
        "learning_rate",
        "num_tokens",
        "epoch",
        "rewards/chosen",
        "rewards/rejected",
        "rewards/accuracies",
        "rewards/margins",
        "logps/chosen",
        "logps/rejected",
        "logits/chosen",
        "logits/rejected",
        "nll_loss",  # the sft loss type
    }
    assert trl_names <= set(records[0]), trl_names - set(records[0])


def test_conversational_data_and_a_tokenizer_without_a_chat_template(tmp_path):
    model = save_tiny_model(tmp_path / "model")  # its tokenizer has no chat template
    data = tmp_path / "conv.jsonl"
    row = {
        "prompt": [{"role": "user", "content": "what color is the sky ?"}],
        "completion": [{"role": "assistant", "content": "blue"}],
    }
    data.write_text(json.dumps(row) + "\n")
    args = ["--model", str(model), "--data", str(data), "--output-dir", str(tmp_path / "o")]
    r = runner.invoke(app, ["train", "--algo", "sft", *args])
    assert r.exit_code == 2, r.output  # a usage error: pass --chat-template
    assert "the data is conversational" in r.output and "has no chat template" in r.output
    assert "--chat-template" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


def test_a_chat_template_for_standard_text_is_refused_before_the_model_loads(tmp_path):
    """GSM8K's rows (tests/realdata) mapped to prompt-completion are standard text: a
    --chat-template would be ignored, so it is refused (exit 2), as `convert` refuses it;
    with --conversational the rows become messages rendered with it."""
    from pathlib import Path

    model = save_tiny_model(tmp_path / "model")
    gsm8k = Path(__file__).parent / "realdata" / "gsm8k" / "test.jsonl"
    args = [
        "--model", str(model), "--data", str(gsm8k), "--map", "prompt=question,completion=answer",
        "--chat-template", "chatml", "--max-steps", "1", "--batch-size", "2", "--no-bf16",
        "--max-length", "48", "--no-gradient-checkpointing",
    ]  # fmt: skip
    r = runner.invoke(app, ["train", "--algo", "sft", *args, "--output-dir", str(tmp_path / "o")])
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert "--chat-template applies to conversational data" in text
    assert "this data is standard text (prompt-completion)" in text
    assert "drop --chat-template, or pass --conversational" in text
    assert "Traceback" not in r.output and not (tmp_path / "o").exists()
    out = tmp_path / "o2"
    r = runner.invoke(
        app, ["train", "--algo", "sft", *args, "--conversational", "--output-dir", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert "data: map layout -> prompt-completion (chat template applied)" in r.output


def test_python_dash_m_runs_the_train_command(tmp_path):
    """`python -m trlprep train` is what `accelerate launch -m trlprep train` runs."""
    import subprocess
    import sys

    args = ["--algo", "dpo", "--model", str(tmp_path / "nope"), "--data", "x.jsonl"]
    proc = subprocess.run(
        [sys.executable, "-m", "trlprep", "train", *args, "--output-dir", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--algo", "dpo", "--model", "nope", "--data", "x", "--output-dir", "o"],
            "model path 'nope' does not exist",
        ),
        (["--algo", "dpo", "--bogus", "1"], "unknown option --bogus"),
        (["--algo", "dpo", "--beta", "abc"], "--beta takes a number"),
        (["--algo", "ddpo"], "unknown algorithm 'ddpo'"),
        (["--algo", "dpo", "--model", "m"], "missing required option(s): --data, --output-dir"),
    ],
)
def test_errors_are_messages_with_exit_code_2(args, message):
    r = runner.invoke(app, ["train", *args])
    assert r.exit_code == 2
    assert message in r.output
    assert "Traceback" not in r.output
