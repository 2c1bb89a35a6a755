"""What `--resume` may change: the resumed run's `train_config.json` is compared with the new
resolved configuration, so that the folder keeps describing how every step was trained.

Options that change what is trained or the order of the rows (the data, the model, the
algorithm and its options, batch size, accumulation, max length, seed, optimizer and schedule
settings, ...) are refused with each difference; the optimizer's hyperparameters come back
from the checkpoint anyway, so a new value would be recorded without being used. Options of
how the run is logged, saved, evaluated or computed (logging/save/eval steps, max_steps and
num_epochs to extend it, trackers, kernels, checkpointing) may change, and are logged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trlprep.errors import UsageError

# may change on resume: how the run is driven, logged, saved, evaluated or computed (the
# same math, other kernels or memory use); every other option, and every algorithm option
# but these, must stay as it was
FREE = frozenset(
    {
        "output_dir",
        "resume",
        "max_steps",
        "num_epochs",
        "logging_steps",
        "save_steps",
        "save_total_limit",
        "eval_data",
        "eval_split",
        "eval_data_from",
        "eval_data_map",
        "eval_batch_size",
        "eval_steps",
        "report_to",
        "progress",
        "gradient_checkpointing",
        "attn_implementation",
        "torch_compile",
        "logps_kernel",
        "loss_in_forward",
        "logits_chunk_mib",
        "padding_free",
        "precompute_ref",
    }
)
FREE_ALGORITHM_OPTIONS = frozenset({"log_completions_steps", "generation_cache"})
_PATHS = ("data", "model")


def check_resume(saved_file: Path, new: dict[str, Any], log: Callable[[str], None] = print) -> None:
    """Refuse (UsageError) a resumed run whose resolved configuration `new` differs from the
    one in `saved_file` in an option that must stay; log the changes that may."""
    if not saved_file.is_file():
        log(f"note: no {saved_file.name} beside the checkpoint; the options are not compared")
        return
    try:
        saved = json.loads(saved_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        log(f"note: cannot read {saved_file} ({e}); the options are not compared")
        return
    refused, allowed = [], []
    for key, old, now in _differences(saved, new):
        name = key.removeprefix("options.")
        free = name in FREE_ALGORITHM_OPTIONS if key.startswith("options.") else key in FREE
        (allowed if free else refused).append(f"{key}: {_show(old)} -> {_show(now)}")
    if refused:
        raise UsageError(
            f"--resume: these options differ from the run being resumed ({saved_file}):\n  "
            + "\n  ".join(refused),
            hint="resume with the options the run was started with, or start a new run "
            "(another --output-dir, or --overwrite) to train with these; on resume only "
            "logging, saving, evaluation, max_steps/num_epochs and how the steps are computed "
            "may change",
        )
    if allowed:
        log("resume: changed options: " + "; ".join(allowed))


def _differences(saved: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    out = []
    defaults = _defaults()
    for key in sorted((set(saved) | set(new)) - {"resume"}):  # resuming is no change
        old, now = saved.get(key), new.get(key)
        if key not in saved and key in defaults and now == defaults[key]:
            continue  # an option newer than the resumed run, left at its default
        if key == "options":
            old_o, new_o = old or {}, now or {}
            for name in sorted(set(old_o) | set(new_o)):
                if old_o.get(name) != new_o.get(name):
                    out.append((f"options.{name}", old_o.get(name), new_o.get(name)))
        elif old != now and not (key in _PATHS and _same_path(old, now)):
            out.append((key, old, now))
    return out


def _defaults() -> dict[str, Any]:
    from dataclasses import MISSING, fields

    from trlprep.trainers.config import TrainConfig

    return {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}


def _same_path(a: Any, b: Any) -> bool:
    """Two spellings of one local path (`./d.jsonl`, `d.jsonl`, an absolute one)."""
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
