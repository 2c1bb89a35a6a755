"""Checkpoints: the model and tokenizer (`save_pretrained`), plus everything needed to resume
exactly (optimizer, scheduler, RNG states, step, position in the data, algorithm state); and
the final model of a run."""

from __future__ import annotations

import json
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from trlprep.trainers.models import is_peft

from trlprep.errors import InputError, UsageError

STATE_FILE = "trainer_state.pt"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def rng_state() -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    folder: Path,
    model: Any,
    tokenizer: Any,
    optimizer: Any,
    scheduler: Any,
    state: dict,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write a checkpoint folder atomically (a partial one never looks complete); `extra`
    writes whatever else the trained module holds (PPO's value head) into the folder."""
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if extra is not None:
        extra(tmp)
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng_state(),
            **state,
        },
        tmp / STATE_FILE,
    )
    (tmp / "trainer_state.json").write_text(
        json.dumps({k: v for k, v in state.items() if isinstance(v, (int, float, str))}, indent=2)
    )
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder


def save_step(
    folder: Path,
    model: Any,
    tokenizer: Any,
    optimizer: Any,
    scheduler: Any,
    *,
    step: int,
    position: tuple[int, int],
    num_tokens: int,
    algo: str,
    algo_state: dict[str, Any],
    extra: Callable[[Path], None] | None = None,
    keep: int | None = None,
) -> Path:
    """The checkpoint of optimizer step `step` in `folder` (`position`: epoch and batch index
    in the data; `algo_state`: the algorithm's running statistics); then only the newest
    `keep` checkpoints beside it are kept."""
    epoch, index = position
    state = {
        "global_step": step,
        "epoch": epoch,
        "batch_index": index,
        "num_tokens": num_tokens,
        "algo_state": {k: v.state_dict() for k, v in algo_state.items()},
        "algo": algo,
    }
    save_checkpoint(folder, model, tokenizer, optimizer, scheduler, state, extra=extra)
    rotate(folder.parent, keep)
    return folder


def save_final(
    output_dir: Path, model: Any, tokenizer: Any, extra: Callable[[Path], None] | None = None
) -> None:
    """The final model and tokenizer in `output_dir`: with LoRA the merged model, its adapters
    in `adapter/`; `extra` writes whatever else the trained module holds (PPO's value head)."""
    if is_peft(model):  # keep the adapters, and save the merged model
        model.save_pretrained(output_dir / "adapter")
        model = model.merge_and_unload()
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    if extra is not None:
        extra(output_dir)


def load_trainer_state(folder: Path) -> dict[str, Any]:
    path = folder / STATE_FILE
    if not path.is_file():
        raise InputError(f"{folder} is not a trlprep checkpoint (no {STATE_FILE})")
    return torch.load(path, weights_only=False)


def restore(folder: Path, optimizer: Any, scheduler: Any, algo: str) -> dict[str, Any]:
    """Load the optimizer, scheduler and RNG states of a checkpoint of `algo`; returns the
    rest of its state (step, position in the data, algorithm state)."""
    state = load_trainer_state(folder)
    if state.get("algo") != algo:
        raise UsageError(f"{folder} is a {state.get('algo')} checkpoint, not {algo}")
    optimizer.load_state_dict(state.pop("optimizer"))
    scheduler.load_state_dict(state.pop("scheduler"))
    set_rng_state(state.pop("rng"))
    return state


def checkpoints(output_dir: Path) -> list[Path]:
    """Complete checkpoints in `output_dir`, oldest first."""
    if not output_dir.is_dir():
        return []
    found = [
        (int(m.group(1)), p)
        for p in output_dir.iterdir()
        if (m := _CHECKPOINT.match(p.name)) and (p / STATE_FILE).is_file()
    ]
    return [p for _, p in sorted(found)]


def resolve_resume(resume: bool | str, output_dir: Path) -> Path | None:
    """The checkpoint to resume from: the latest in `output_dir` for True, or a path."""
    if resume is False or resume is None or resume == "":
        return None
    if resume is True or str(resume).lower() in ("true", "latest", "1", "yes"):
        found = checkpoints(output_dir)
        if not found:
            raise InputError(
                f"--resume: no checkpoint in {output_dir}", hint="drop --resume to start afresh"
            )
        return found[-1]
    path = Path(resume)
    if not (path / STATE_FILE).is_file():
        raise InputError(f"--resume: {path} is not a checkpoint folder")
    return path


def rotate(output_dir: Path, keep: int | None) -> None:
    """Delete the oldest checkpoints beyond `keep`."""
    if keep is None or keep < 1:
        return
    for old in checkpoints(output_dir)[:-keep]:
        shutil.rmtree(old)


# what a previous run left in its output folder that would mix with a new run's (checkpoints
# that resuming or rotation would pick up, appended metrics); the model files are overwritten
PREVIOUS_RUN_FILES = ("metrics.jsonl", "completions.jsonl", "train_config.json")


def clear_previous_run(output_dir: Path) -> list[str]:
    """Remove a previous run's checkpoints, metrics and samples from `output_dir` (for
    `--overwrite`); returns the names removed. Other files are left alone."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    removed = []
    for p in sorted(output_dir.iterdir()):
        name = p.name.removesuffix(".tmp")
        if p.is_dir() and _CHECKPOINT.match(name):
            shutil.rmtree(p)
            removed.append(p.name)
        elif p.is_file() and p.name in PREVIOUS_RUN_FILES:
            p.unlink()
            removed.append(p.name)
    return removed
