"""A first hour of `trlprep train` on CPU: what a user meets before training goes well. An
option of another algorithm names the algorithms that take it; data no option can train
the algorithm on names the algorithms that can; the log's lines about the evaluation data
start `eval data:`; transformers' loading and saving bars stay off with `--no-progress`
(and the setting is as it was afterwards); PRM's loss over accumulated micro-batches is
that of the whole step."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("accelerate")

from test_multiprocess import PREFERENCE, STEPWISE  # noqa: E402
from train_support import save_tiny_model  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402
from trlprep.errors import UsageError  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("model"))


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_an_option_of_another_algorithm_names_the_algorithms_that_take_it():
    r = runner.invoke(app, ["train", "--algo", "online-dpo", "--num-generations", "2"])
    assert r.exit_code == 2
    assert "unknown option --num-generations for --algo online-dpo" in r.output
    assert "it is an option of grpo, rloo" in r.output
    assert "`trlprep train --algo online-dpo --help` lists online-dpo's options" in r.output
    r = runner.invoke(app, ["train", "--algo", "dpo", "--bogus", "1"])
    assert r.exit_code == 2 and "unknown option --bogus\n" in r.output
    assert "an option of" not in r.output

    from trlprep.trainers.algorithms import get_algorithm

    with pytest.raises(UsageError, match=r"dpo has no option num_generations \(an option of grpo"):
        get_algorithm("dpo").make_options({"num_generations": 2})


def test_data_the_algorithm_cannot_train_on_names_the_algorithms_that_can(model, tmp_path):
    data = _jsonl(tmp_path / "pref.jsonl", PREFERENCE)
    r = runner.invoke(
        app,
        ["train", "--algo", "prm", "--model", str(model), "--data", str(data),
         "--output-dir", str(tmp_path / "out"), "--max-steps", "1"],
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert "prm trains on stepwise-supervision data; this data is preference" in r.output
    assert "preference data trains with --algo dpo, cpo, orpo as it is" in r.output
    assert "sft, kto, bco, reward, grpo" in r.output
    assert "`trlprep convert DATA --to TYPE`" in r.output
    assert not (tmp_path / "out").exists()


def test_eval_data_lines_and_no_hub_bars_with_no_progress(model, tmp_path):
    from transformers.utils import logging as hf_logging

    data = _jsonl(tmp_path / "pref.jsonl", PREFERENCE)
    bad = {"prompt": "what color is the sky ?", "chosen": "", "rejected": " red ."}
    evals = _jsonl(tmp_path / "eval.jsonl", [*PREFERENCE[:3], bad])
    out = tmp_path / "out"
    assert hf_logging.is_progress_bar_enabled()
    r = runner.invoke(
        app,
        ["train", "--algo", "dpo", "--model", str(model), "--data", str(data),
         "--eval-data", str(evals), "--on-error", "skip", "--output-dir", str(out),
         "--max-steps", "1", "--batch-size", "4", "--no-progress"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert f"eval data: the rows left out are listed in {out / 'eval_data.rejects.jsonl'}" in (
        r.output
    )
    assert "eval_data:" not in r.output
    assert "Loading weights" not in r.output and "Writing model shards" not in r.output
    assert hf_logging.is_progress_bar_enabled()  # as it was before the run


def test_prm_loss_over_accumulated_micro_batches_is_the_whole_steps(model, tmp_path):
    """4 rows of 3, 1, 2 and 4 labelled steps: one batch of 4, or 2 micro-batches of 2."""
    from trlprep.trainers import train

    logged = []
    for name, batch, accumulation in (("whole", 4, 1), ("accum", 2, 2)):
        result = train(
            algo="prm", model=str(model), data=STEPWISE[:4], output_dir=str(tmp_path / name),
            step_separator=" .", batch_size=batch, gradient_accumulation_steps=accumulation,
            max_steps=1, logging_steps=1, progress=False, log=lambda *_: None,
        )  # fmt: skip
        logged.append(result.history[0])
    whole, accum = logged
    for key in ("loss", "accuracy", "grad_norm"):
        assert accum[key] == pytest.approx(whole[key], rel=1e-5), key


def test_other_processes_keep_transformers_warnings_to_themselves():
    """A reward or PRM model's new head makes transformers print a load report: once, from
    the main process (every process printed it), and the logging is as it was afterwards."""
    from transformers.utils import logging as hf_logging
    from trlprep.trainers.hub_bars import hub_output

    level = hf_logging.get_verbosity()
    with hub_output(bars=False, main_process=False):
        assert hf_logging.get_verbosity() == hf_logging.ERROR
        assert not hf_logging.is_progress_bar_enabled()
    assert hf_logging.get_verbosity() == level and hf_logging.is_progress_bar_enabled()
    with hub_output(bars=True, main_process=True):
        assert hf_logging.get_verbosity() == level and hf_logging.is_progress_bar_enabled()


def test_a_finished_command_gives_sigterm_back(monkeypatch):
    """Once a command is over, a SIGTERM (a launcher stopping every process as one exits)
    ends the interpreter as the default does: raised inside its atexit handlers instead,
    it printed tracebacks after the run had said everything."""
    import signal
    import sys

    from trlprep.cli.app import main

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(sys, "argv", ["trlprep", "schema", "preference"])
    try:
        with pytest.raises(SystemExit):
            main()
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, before)


def test_help_says_how_to_run_several_cpu_processes():
    """`accelerate launch --cpu --num_processes 2` starts one process and is refused: the
    help names the launch that works on CPU (the README's), and that the batch is per
    process."""
    r = runner.invoke(app, ["train", "--help"])
    assert r.exit_code == 0
    assert "`torchrun --nproc_per_node N -m trlprep train ...` (--batch-size is per process)" in (
        r.output
    )


def test_evaluating_on_the_training_rows_is_warned(model, tmp_path):
    """`--eval-data` the same as `--data` (no --eval-split): said, with the flag that reads
    held-out rows; another split of the same folder is not."""
    import datasets
    from trlprep.trainers import train

    folder = tmp_path / "pref"
    datasets.DatasetDict(
        train=datasets.Dataset.from_list(PREFERENCE[:6]),
        test=datasets.Dataset.from_list(PREFERENCE[6:]),
    ).save_to_disk(str(folder))
    common = dict(algo="dpo", model=str(model), data=str(folder), eval_data=str(folder),
                  max_steps=1, batch_size=4, progress=False)  # fmt: skip
    said: list[str] = []
    train(output_dir=str(tmp_path / "same"), log=said.append, **common)
    warned = [s for s in said if "the evaluation rows are the training rows" in s]
    assert len(warned) == 1 and "eval_split" in warned[0], said
    said.clear()
    train(output_dir=str(tmp_path / "held"), eval_split="test", log=said.append, **common)
    assert not [s for s in said if "the evaluation rows are the training rows" in s]


def test_unpaired_rows_no_prompt_can_pair_say_why_and_what_trains_on_them(model, tmp_path):
    """Reward on LLaMA-Factory's KTO demo (no prompt has both labels): the pairing step is
    named as what dropped the rows (was "the conversion dropped them"), and KTO/BCO as the
    algorithms that train on the rows as they are."""
    from pathlib import Path

    data = Path(__file__).parent / "realdata" / "kto_demo" / "kto_en_demo.json"
    r = runner.invoke(
        app,
        ["train", "--algo", "reward", "--model", str(model), "--data", str(data),
         "--output-dir", str(tmp_path / "out"), "--max-steps", "1", "--chat-template", "chatml"],
    )  # fmt: skip
    assert r.exit_code == 1, r.output
    assert "dropped all 50 rows (unpaired-preference -> preference drops rows without a " in (
        r.output
    )
    assert "partner of the opposite label for the same prompt)" in r.output
    assert "unpaired-preference data trains with --algo kto, bco as it is\n" in r.output


def test_resuming_a_finished_run_says_nothing_was_left_to_train(model, tmp_path):
    """--resume on a run at its last step trains nothing: said so (it said "trained 1 step"
    as if it had), with the options that would train on."""
    data = _jsonl(tmp_path / "pref.jsonl", PREFERENCE)
    out = str(tmp_path / "out")
    args = ["train", "--algo", "dpo", "--model", str(model), "--data", str(data),
            "--output-dir", out, "--max-steps", "1", "--batch-size", "4"]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    r = runner.invoke(app, [*args, "--resume"])
    assert r.exit_code == 0, r.output
    assert "nothing left to train: the run was resumed at its last step, 1 (raise --max-steps" in (
        r.output
    )
    assert "trained 1 step" not in r.output
