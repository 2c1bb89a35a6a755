"""What `--resume` may change: the resumed run's `train_config.json` is compared with the new
resolved configuration, so that the folder keeps describing how every step was trained.

Options that change what is trained or the order of the rows (the data, the model, the
algorithm and its options, batch size, accumulation, max length, seed, optimizer and schedule
settings, ...) are refused with each difference; the optimizer's hyperparameters come back
from the checkpoint anyway, so a new value would be recorded without being used. Options of
how the run is logged, saved, evaluated or computed (logging/save/eval steps, max_steps and
num_epochs to extend it, trackers, kernels, checkpointing) may change, and are logged.
SFT's loss mask (whether the loss went by assistant masks, `LOSS_MASK`) is recorded, kept
when the resumed run does not name it, and refused when it names another; a run saved before
the record was kept says it by its `assistant_only_loss` option, and where that was unset
(`BY_DATA`) the mask is what the data made of it, judged once the data is read
(`check_data_mask`)."""

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


def check_resume(
    saved_file: Path, new: dict[str, Any], log: Callable[[str], None] = print
) -> bool | str | None:
    """Refuse (UsageError) a resumed run whose resolved configuration `new` differs from the
    one in `saved_file` in an option that must stay, or asks for another SFT loss mask
    (`saved_mask`); log the changes that may. Returns the resumed run's loss mask: whether
    its loss went by assistant masks, `BY_DATA` (as its data made it: see
    `check_data_mask`) or None (not SFT)."""
    if not saved_file.is_file():
        log(f"note: no {saved_file.name} beside the checkpoint; the options are not compared")
        return None
    try:
        saved = json.loads(saved_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        log(f"note: cannot read {saved_file} ({e}); the options are not compared")
        return None
    mask = saved_mask(saved)
    if isinstance(mask, bool):
        _check_mask(saved_file, saved, mask, (new.get("options") or {}).get(_MASK_OPTION))
    refused, allowed = [], []
    for key, old, now in _differences(saved, new):
        name = key.removeprefix("options.")
        if key == LOSS_MASK or (name == _MASK_OPTION and mask is not None):
            continue  # what the run trained on: compared above
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
    return mask


# what an SFT run's loss went on, recorded in train_config.json beside its options:
# {"assistant_only_loss": whether by assistant masks (and weights), "loss_on": as logged}
LOSS_MASK = "loss_mask"
_MASK_OPTION = "assistant_only_loss"


def loss_mask_record(assistant_masks: bool, loss_on: str | None) -> dict[str, Any]:
    """The `LOSS_MASK` entry of a run whose loss went by assistant masks or not, on
    `loss_on` (None: every token, or the completion)."""
    return {_MASK_OPTION: assistant_masks, "loss_on": loss_on}


# the mask of a run saved without a record, with assistant_only_loss unset: what its data
# made of it (the masks of weighted conversational language modeling, nothing else)
BY_DATA = "by-data"


def saved_mask(saved: dict[str, Any]) -> bool | str | None:
    """Whether the SFT run of `saved` (its train_config.json) trained by assistant masks:
    its record; else (a run saved before the record was kept) its `assistant_only_loss`
    where it was set (the run trained as it asked), `BY_DATA` where it was unset; False for
    a run started before per-message weights were read (its options have no
    assistant_only_loss: it trained every token, or its completions); None: not SFT."""
    if saved.get("algo") != "sft":
        return None
    record = saved.get(LOSS_MASK)
    if isinstance(record, dict) and isinstance(record.get(_MASK_OPTION), bool):
        return record[_MASK_OPTION]
    options = saved.get("options") or {}
    if _MASK_OPTION not in options:
        return False
    asked = options[_MASK_OPTION]
    return asked if isinstance(asked, bool) else BY_DATA


def check_data_mask(saved_file: Path, mask: bool, loss_on: str | None, asked: bool | None) -> None:
    """For a resumed run whose mask was `BY_DATA`: a UsageError where the run asks
    (`asked`) for another loss mask than the one its data made (`mask`, on `loss_on`: read
    with assistant_only_loss unset, as the run was started)."""
    was = {"assistant_only_loss": mask, "loss_on": loss_on}
    _check_mask(saved_file, {LOSS_MASK: was, "options": {_MASK_OPTION: None}}, mask, asked)


def _check_mask(saved_file: Path, saved: dict[str, Any], mask: bool, asked: bool | None) -> None:
    """A UsageError where the resumed run asks (`asked`) for another loss mask than `mask`."""
    if asked is None or bool(asked) == mask:
        return
    record = saved.get(LOSS_MASK)
    on = record.get("loss_on") if isinstance(record, dict) else None
    if mask:
        was = f"its loss on {on} only" if on else "its loss on assistant messages only"
    else:
        was = (
            "without assistant masks (the loss on every token, or on the completion of "
            "prompt-completion rows; the messages' weights not used)"
        )
        if _MASK_OPTION not in (saved.get("options") or {}):
            was += ", as it was started before the trainer read per-message weights"
    flag, other = ("--assistant-only-loss", "--no-assistant-only-loss")[:: 1 if mask else -1]
    now = "the loss on assistant messages only" if asked else "no assistant masks"
    raise UsageError(
        f"--resume: the run being resumed ({saved_file}) trained {was}; this run asks for "
        f"{other} ({now}), which would train the rest of it on other tokens",
        hint=f"resume with {flag} or without it (the run's own loss mask is then kept); "
        f"to train with {other}, start a new run (another --output-dir, or --overwrite)",
    )


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
