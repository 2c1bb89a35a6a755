"""What a run writes and reads back: checkpoints, the final model, resuming from a
checkpoint, and removing what a run that failed before its first step wrote. `RunFiles` is
a part of `loop.Trainer` (it uses the trainer's accelerator, model, optimizer, scheduler,
algorithm state and output folder, all built by `setup.py`); the loop itself is `loop.py`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn
from trlprep.trainers import checkpoint as ckpt
from trlprep.trainers.config import CONFIG_FILE
from trlprep.trainers.logps import LogpsModel
from trlprep.trainers.losses import RunningMean
from trlprep.trainers.metrics import METRICS_FILE
from trlprep.trainers.resume import LOSS_MASK, loss_mask_record


class RunFiles:
    """Checkpoints, the final model and resuming, for `loop.Trainer` (whose attributes,
    annotated here, it reads)."""

    acc: Any
    algo: Any
    cfg: Any
    ctx: Any
    log: Callable[[str], None]
    metrics: Any
    optimizer: Any
    options: Any
    out: Path
    policy: Any
    scheduler: Any
    tokenizer: Any
    train_data: Any
    step: int
    position: tuple[int, int]
    num_tokens: int
    last_saved: Path | None
    _new_folder: bool

    def _check_finite(self) -> None:
        """The loop's (`Trainer._check_finite`): no checkpoint of weights a NaN went through."""
        raise NotImplementedError

    def save(self) -> Path:
        """A checkpoint of the current step (model, tokenizer, optimizer, scheduler, RNG,
        position in the data, algorithm state)."""
        self._check_finite()  # never a checkpoint of weights a NaN went through
        folder = self.out / f"checkpoint-{self.step}"
        self.acc.wait_for_everyone()
        ckpt.save_step(  # every process: gathers sharded weights; the main process writes
            folder,
            self._unwrapped(),
            self.tokenizer,
            self.optimizer,
            self.scheduler,
            step=self.step,
            position=self.position,
            num_tokens=self.num_tokens,
            algo=self.algo.name,
            algo_state=self.ctx.state,
            extra=self._save_extra(),
            keep=self.cfg.save_total_limit,
            acc=self.acc,
            state_dict=self._full_state_dict(),
        )
        self.last_saved = folder
        return folder

    def save_final(self) -> None:
        """The final model and tokenizer in the output folder (merged with LoRA, adapters in
        `adapter/`; PPO's value head beside it)."""
        self.acc.wait_for_everyone()
        state_dict = self._full_state_dict()  # every process takes part in gathering it
        if self.acc.is_main_process:
            model, extra = self._unwrapped(), self._save_extra()
            ckpt.save_final(self.out, model, self.tokenizer, extra, state_dict)
        self.acc.wait_for_everyone()
        self.metrics.close()

    def _abandon(self) -> None:
        """Remove what `_begin` wrote for a run that failed before its first step (the whole
        folder when this run created it), so that rerunning it needs no --overwrite."""
        if not self.acc.is_main_process:
            return
        if self._new_folder:  # trackers may have made it before `_begin`
            shutil.rmtree(self.out, ignore_errors=True)
            return
        for name in (CONFIG_FILE, METRICS_FILE, "data.rejects.jsonl", "eval_data.rejects.jsonl"):
            (self.out / name).unlink(missing_ok=True)

    def _resume(self, folder: Path) -> None:
        state = ckpt.restore(folder, self.optimizer, self.scheduler, self.algo.name, self.acc)
        self.step = state["global_step"]
        self.position = (state["epoch"], state["batch_index"])
        self.num_tokens = state["num_tokens"]
        for name, saved in state.get("algo_state", {}).items():
            self.ctx.state.setdefault(name, RunningMean()).load_state_dict(saved)
        self.log(f"resumed from {folder} at step {self.step}")

    def _trained_on(self) -> dict[str, Any]:
        """What `train_config.json` records beside the options of what the data made of
        them: an SFT run's loss mask (`resume.LOSS_MASK`), kept when it is resumed."""
        data = self.train_data
        if data is None or not hasattr(self.options, "assistant_only_loss"):
            return {}
        return {LOSS_MASK: loss_mask_record(data.assistant_masks, data.loss_on)}

    def _unwrapped(self) -> nn.Module:
        m = self.acc.unwrap_model(self.policy)
        return m.model if isinstance(m, LogpsModel) else m

    def _full_state_dict(self) -> dict[str, Any] | None:
        """The model's weights gathered from a sharded run's processes (None otherwise)."""
        wrapped = isinstance(self.acc.unwrap_model(self.policy), LogpsModel)
        return ckpt.full_state_dict(self.acc, self.policy, "model." if wrapped else "")

    def _save_extra(self) -> Callable[[Path], None] | None:
        """What writes the rest of the trained module beside the model (PPO's value head)."""
        return getattr(self.acc.unwrap_model(self.policy), "save_extra", None)


__all__ = ["RunFiles"]
