"""The compact trainer: `train(config)` runs SFT, DPO (and its loss types), CPO/SimPO/AlphaPO,
ORPO, KTO, BCO, reward and process-reward modelling, and the online algorithms that learn
from their own generations (GRPO, RLOO, Online DPO, Nash-MD, XPO, PPO, GKD) on PyTorch +
Accelerate; `IterativeSFTTrainer` takes its batches from `step()` calls.

Importing `trlprep` never imports torch; importing `trlprep.trainers` does (lazily, on first
use of a name below).
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "train": "trlprep.trainers.loop",
    "Trainer": "trlprep.trainers.loop",
    "TrainResult": "trlprep.trainers.loop",
    "TrainingError": "trlprep.trainers.loop",
    "TrainConfig": "trlprep.trainers.config",
    "ALGORITHMS": "trlprep.trainers.algorithms",
    "Algorithm": "trlprep.trainers.algorithms",
    "get_algorithm": "trlprep.trainers.algorithms",
    "IterativeSFTTrainer": "trlprep.trainers.online.iterative",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        if name == "train":  # its errors name config keys (`algo=`), not the CLI's flags
            from trlprep.errors import speaks_python

            value = speaks_python(value)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'trlprep.trainers' has no attribute {name!r}")
