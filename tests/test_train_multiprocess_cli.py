"""`trlprep train` launched on 2 gloo processes (`torchrun --nproc_per_node 2 -m trlprep train`,
as the README's CPU recipe) speaks once: one summary, one note per ignored TRL option, one
data log, no transformers bars from either process off a terminal; the rows it refuses are
listed once; its metrics are the one-process run's with the same global batch, in the same
key order (they were pooled in alphabetical order, and the summary said twice)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("accelerate")

from test_multiprocess import PREFERENCE  # noqa: E402
from train_support import save_tiny_model  # noqa: E402

ROWS = [*PREFERENCE[:8], {"prompt": "what color is the sky ?", "chosen": "", "rejected": " red ."}]
OPTIONS = ["--algo", "dpo", "--on-error", "skip", "--max-steps", "2", "--logging-steps", "1"]


def test_two_processes_say_everything_once_and_log_as_one(tmp_path):
    from trlprep.trainers import train

    model = save_tiny_model(tmp_path / "model")
    data = tmp_path / "pref.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    out = tmp_path / "two"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "-m", "trlprep", "train", "--model", str(model), "--data", str(data), *OPTIONS,
         "--batch-size", "2", "--output-dir", str(out), "--do_train"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    said = proc.stdout + proc.stderr
    assert proc.returncode == 0, said
    assert said.count("trained 2 steps; model saved to") == 1
    assert said.count("note: --do_train (a TRL option) changes nothing here") == 1
    assert said.count("9 rows in, 1 left out, 8 converted -> 8 rows") == 1
    assert said.count("the rows left out are listed in") == 1
    assert "Loading weights" not in said and "Writing model shards" not in said
    rejects = (out / "data.rejects.jsonl").read_text().splitlines()
    assert [json.loads(r)["line"] for r in rejects] == [9]

    one = tmp_path / "one"
    train(
        model=str(model), data=str(data), output_dir=str(one), algo="dpo", on_error="skip",
        max_steps=2, logging_steps=1, batch_size=4, progress=False, log=lambda *_: None,
    )  # fmt: skip
    records = [
        [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        for folder in (one, out)
    ]
    for a, b in zip(*records, strict=True):
        assert list(b) == list(a)  # the same keys, in the order one process logs them
        for key in a:
            if key != "train_steps_per_second":
                assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-6), key


def test_an_error_setting_up_is_said_once(tmp_path):
    """Data every process refuses: the main process says why, the others exit quietly (each
    said it, in a race with the launcher stopping the others)."""
    model = save_tiny_model(tmp_path / "model")
    data = tmp_path / "pref.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))  # line 9 is refused
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "-m", "trlprep", "train", "--model", str(model), "--data", str(data), "--algo", "dpo",
         "--output-dir", str(tmp_path / "out"), "--max-steps", "1"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert said.count("pref.jsonl:9: validation: the row fails preference validation") == 1, said
