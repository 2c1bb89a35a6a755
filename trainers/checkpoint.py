"""Checkpoints: the model and tokenizer (`save_pretrained`), plus everything needed to resume
exactly (optimizer, scheduler, RNG states, step, position in the data, algorithm state); and
the final model of a run.

Every process calls `save_step`, `save_final` and `restore`; only the main process writes
files. When the weights or the optimizer state are sharded over processes (FSDP, DeepSpeed:
`is_sharded`), the full state dict is gathered by every process (`Accelerator.get_state_dict`)
and written once by the main process with `save_pretrained`, and the optimizer's shards go
through `Accelerator.save_state` / `load_state` (in `accelerate_state/` of the checkpoint)
instead of `trainer_state.pt`."""

from __future__ import annotations

import fnmatch
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
ACCELERATE_STATE = "accelerate_state"  # Accelerate's own checkpoint, for sharded runs
SHARDED_TYPES = ("FSDP", "DEEPSPEED")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
FINAL_TMP = ".final.tmp"  # the final model being written, moved into the output folder


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


def is_sharded(acc: Any) -> bool:
    """Whether the run's weights or optimizer state are sharded over processes (FSDP,
    DeepSpeed): then saving gathers them and resuming goes through Accelerate's state."""
    kind = getattr(acc, "distributed_type", None)
    return str(getattr(kind, "value", kind)) in SHARDED_TYPES


def full_state_dict(acc: Any, policy: Any, prefix: str = "") -> dict[str, Any] | None:
    """The trained model's whole state dict, gathered from every process's shards, for a
    sharded run (None otherwise: `save_pretrained` reads the parameters itself). Every
    process must call it (a collective); the tensors are the main process's (FSDP gives the
    others an empty dict). `prefix`: the model's name inside `policy` (the log-prob
    wrapper's `model.`), stripped; keys outside it (PPO's value head) are left out."""
    if not is_sharded(acc):
        return None
    state = acc.get_state_dict(policy)
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def _write_folder(
    tmp: Path,
    model: Any,
    tokenizer: Any,
    optimizer: Any | None,
    scheduler: Any,
    state: dict,
    extra: Callable[[Path], None] | None,
    state_dict: dict[str, Any] | None,
) -> None:
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, **({} if state_dict is None else {"state_dict": state_dict}))
    tokenizer.save_pretrained(tmp)
    if extra is not None:
        extra(tmp)
    saved = {"scheduler": scheduler.state_dict(), "rng": rng_state(), **state}
    if optimizer is not None:
        saved["optimizer"] = optimizer.state_dict()
    torch.save(saved, tmp / STATE_FILE)
    (tmp / "trainer_state.json").write_text(
        json.dumps({k: v for k, v in state.items() if isinstance(v, (int, float, str))}, indent=2)
    )


def save_checkpoint(
    folder: Path,
    model: Any,
    tokenizer: Any,
    optimizer: Any,
    scheduler: Any,
    state: dict,
    extra: Callable[[Path], None] | None = None,
    *,
    acc: Any = None,
    state_dict: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint folder atomically (a partial one never looks complete); `extra`
    writes whatever else the trained module holds (PPO's value head) into the folder.

    With `acc`, every process calls it and the main process writes; a sharded run writes
    `state_dict` (from `full_state_dict`) as the model's weights and its optimizer's shards
    with `acc.save_state` into `accelerate_state/`."""
    sharded = acc is not None and is_sharded(acc)
    main = acc is None or acc.is_main_process
    tmp = folder.with_name(folder.name + ".tmp")
    try:
        if main:
            opt = None if sharded else optimizer
            _write_folder(tmp, model, tokenizer, opt, scheduler, state, extra, state_dict)
        if sharded:
            acc.wait_for_everyone()  # the folder exists before any process writes its shards
            acc.save_state(str(tmp / ACCELERATE_STATE))
            acc.wait_for_everyone()
    except BaseException:  # Ctrl-C, SIGTERM, a full disk: no half-written folder is left
        if main:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    if main:
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
    acc: Any = None,
    state_dict: dict[str, Any] | None = None,
) -> Path:
    """The checkpoint of optimizer step `step` in `folder` (`position`: epoch and batch index
    in the data; `algo_state`: the algorithm's running statistics); then only the newest
    `keep` checkpoints beside it are kept. With `acc` every process calls it (see
    `save_checkpoint`)."""
    epoch, index = position
    state = {
        "global_step": step,
        "epoch": epoch,
        "batch_index": index,
        "num_tokens": num_tokens,
        "algo_state": {k: v.state_dict() for k, v in algo_state.items()},
        "algo": algo,
    }
    save_checkpoint(
        folder,
        model,
        tokenizer,
        optimizer,
        scheduler,
        state,
        extra=extra,
        acc=acc,
        state_dict=state_dict,
    )
    if acc is None or acc.is_main_process:
        rotate(folder.parent, keep)
    return folder


def save_final(
    output_dir: Path,
    model: Any,
    tokenizer: Any,
    extra: Callable[[Path], None] | None = None,
    state_dict: dict[str, Any] | None = None,
) -> None:
    """The final model and tokenizer in `output_dir`: with LoRA the merged model, its adapters
    in `adapter/`; `extra` writes whatever else the trained module holds (PPO's value head).
    `state_dict`: the gathered weights of a sharded run (`full_state_dict`); with LoRA only
    the adapters are written then (merging needs the whole model on one process).

    Written into a folder beside them first, then moved in: a run stopped while it writes
    (Ctrl-C, SIGTERM) leaves no model without its tokenizer in `output_dir`."""
    tmp = output_dir / FINAL_TMP
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tmp.mkdir()
        _write_final(tmp, model, tokenizer, extra, state_dict)
        for p in sorted(tmp.iterdir()):
            target = output_dir / p.name
            if target.is_dir():
                shutil.rmtree(target)
            p.replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_final(
    folder: Path,
    model: Any,
    tokenizer: Any,
    extra: Callable[[Path], None] | None,
    state_dict: dict[str, Any] | None,
) -> None:
    kw = {} if state_dict is None else {"state_dict": state_dict}
    if is_peft(model):  # keep the adapters, and save the merged model
        model.save_pretrained(folder / "adapter", **kw)
        if state_dict is not None:
            tokenizer.save_pretrained(folder / "adapter")
            return
        model = model.merge_and_unload()
    model.save_pretrained(folder, **kw)
    tokenizer.save_pretrained(folder)
    if extra is not None:
        extra(folder)


def load_trainer_state(folder: Path) -> dict[str, Any]:
    path = folder / STATE_FILE
    if not path.is_file():
        raise InputError(f"{folder} is not a trlprep checkpoint (no {STATE_FILE})")
    return torch.load(path, weights_only=False)


def restore(
    folder: Path, optimizer: Any, scheduler: Any, algo: str, acc: Any = None
) -> dict[str, Any]:
    """Load the optimizer, scheduler and RNG states of a checkpoint of `algo`; returns the
    rest of its state (step, position in the data, algorithm state). A checkpoint of a
    sharded run loads its model and optimizer shards with `acc.load_state` (every process
    calls it); resuming it needs the same kind of run (FSDP or DeepSpeed) and processes."""
    state = load_trainer_state(folder)
    if state.get("algo") != algo:
        raise UsageError(f"{folder} is a checkpoint of {state.get('algo')}, not of {algo}")
    sharded_folder = (folder / ACCELERATE_STATE).is_dir()
    if sharded_folder != (acc is not None and is_sharded(acc)):
        saved = "a sharded (FSDP/DeepSpeed)" if sharded_folder else "an unsharded"
        raise UsageError(
            f"{folder} was written by {saved} run, unlike this one",
            hint="resume with the accelerate config the checkpoint was written with",
        )
    if sharded_folder:
        acc.load_state(str(folder / ACCELERATE_STATE))
    else:
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


def resuming(resume: bool | str | None) -> bool:
    """Whether a `resume` option value asks to continue a run."""
    return resume not in (False, None, "") and str(resume).lower() not in ("false", "no", "0")


def resolve_resume(resume: bool | str, output_dir: Path) -> Path | None:
    """The checkpoint to resume from: the latest in `output_dir` for True, or a path."""
    if not resuming(resume):
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
    """Delete the oldest checkpoints beyond `keep`. Each is renamed `checkpoint-N.tmp` first,
    so that a run stopped while deleting it leaves no checkpoint that looks whole without its
    weights; such leftovers older than the newest checkpoint go at the next rotation."""
    if keep is None or keep < 1:
        return
    kept = checkpoints(output_dir)
    for old in kept[:-keep]:
        gone = old.with_name(old.name + ".tmp")
        if gone.exists():
            shutil.rmtree(gone)
        old.rename(gone)
        shutil.rmtree(gone)
    newest = int(kept[-1].name.split("-")[1]) if kept else 0
    for p in output_dir.glob("checkpoint-*.tmp"):
        m = _CHECKPOINT.match(p.name.removesuffix(".tmp"))
        if m and int(m.group(1)) < newest and p.is_dir():
            shutil.rmtree(p)


# every file a run writes in its output folder (besides `checkpoint-N/`): what `--overwrite`
# clears, so that nothing of the previous run mixes with the new one (checkpoints resuming or
# rotation would pick up, appended metrics, another algorithm's PPO value head, the shards or
# adapters of a model saved another way); other files are left alone
PREVIOUS_RUN_FILES = (
    "metrics.jsonl",
    "completions.jsonl",
    "train_config.json",
    "data.rejects.jsonl",
    "eval_data.rejects.jsonl",
    "value_head.safetensors",
    # the final model and tokenizer (`save_pretrained`)
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "model-*-of-*.safetensors",
    "model.safetensors.index.json",
    "pytorch_model*.bin",
    "pytorch_model.bin.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "spiece.model",
    "chat_template.jinja",
    "chat_template.json",
)
ADAPTER_DIR = "adapter"  # LoRA adapters beside the merged model
TRACKER_DIR = "trlprep"  # TensorBoard's event files (the trackers' run name)


def clear_previous_run(output_dir: Path) -> list[str]:
    """Remove a previous run's files from `output_dir` (for `--overwrite`): its checkpoints,
    `PREVIOUS_RUN_FILES`, its LoRA adapters and TensorBoard events; returns the names
    removed. Other files are left alone."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    removed = []
    for p in sorted(output_dir.iterdir()):
        name = p.name.removesuffix(".tmp")
        if p.is_dir() and (_CHECKPOINT.match(name) or _run_folder(p) or p.name == FINAL_TMP):
            shutil.rmtree(p)
        elif p.is_file() and any(fnmatch.fnmatchcase(p.name, f) for f in PREVIOUS_RUN_FILES):
            p.unlink()
        else:
            continue
        removed.append(p.name)
    return removed


def _run_folder(p: Path) -> bool:
    """`adapter/` holding LoRA adapters, or the tracker folder holding only event files."""
    if p.name == ADAPTER_DIR:
        return (p / "adapter_config.json").is_file()
    if p.name == TRACKER_DIR:
        files = [f for f in p.rglob("*") if f.is_file()]
        return all(f.name.startswith("events.out.tfevents") for f in files)
    return False
