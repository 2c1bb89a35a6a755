"""Iterative SFT: supervised steps on batches the caller chooses, e.g. in a rejection-sampling
loop (generate, score, keep the best, `step()` on them, repeat).

    from trlprep.trainers import IterativeSFTTrainer

    t = IterativeSFTTrainer(model="./m", output_dir="out", learning_rate=1e-5)
    for prompts in batches:
        completions = t.generate(prompts)
        best = pick(prompts, completions)
        t.step(prompts=[p for p, _ in best], completions=[c for _, c in best])
    t.save()

`step` takes texts (language modeling), prompts and completions (loss on the completions), or
token ids (with an optional attention mask and labels, -100 where not trained); the rows go
through the same detection, templating and tokenisation as `trlprep train --algo sft` data,
then through the shared loop's optimizer step, logging and checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from trlprep.trainers.config import TrainConfig
from trlprep.trainers.data import prepare
from trlprep.trainers.loop import Trainer
from trlprep.trainers.online.generation import Sampling, generate

from trlprep.errors import UsageError


class IterativeSFTTrainer:
    """A supervised fine-tuning trainer driven by `step()` calls (TRL's IterativeSFTTrainer).

    Takes the options of `trlprep train --algo sft` as keywords (`learning_rate`,
    `batch_size`, `gradient_accumulation_steps`, `logging_steps`, `save_steps`, ...); the
    learning rate stays constant unless `max_steps` is given for the schedule.
    """

    def __init__(self, model: str, output_dir: str, log: Callable = print, **options: Any):
        options.setdefault("progress", False)
        if options.get("max_steps", -1) <= 0:
            options.setdefault("lr_scheduler_type", "constant")
        cfg = TrainConfig.from_any(
            {"algo": "sft", "model": model, "data": [], "output_dir": output_dir, **options}
        )
        cfg.data = None  # batches come from `step`
        self.trainer = Trainer(cfg, log=log)

    @property
    def global_step(self) -> int:
        return self.trainer.step

    def step(
        self,
        texts: Sequence[str] | None = None,
        *,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        input_ids: Sequence[Sequence[int]] | None = None,
        attention_mask: Sequence[Sequence[int]] | None = None,
        labels: Sequence[Sequence[int]] | None = None,
        messages: Sequence[list[dict]] | None = None,
    ) -> dict[str, float]:
        """Train on one batch: `batch_size * gradient_accumulation_steps` rows per optimizer
        step (more rows make more steps). Returns the mean loss and metrics of its steps."""
        rows = self._rows(texts, prompts, completions, input_ids, attention_mask, labels, messages)
        t = self.trainer
        per_step = t.cfg.batch_size * t.cfg.gradient_accumulation_steps
        n = len(rows["ids"])
        losses: list[float] = []
        for start in range(0, n, per_step):
            micro = [
                t.collate(_pick(rows, range(i, min(i + t.cfg.batch_size, start + per_step, n))))
                for i in range(start, min(start + per_step, n), t.cfg.batch_size)
            ]
            losses.append(t.optimizer_step([b.to(t.acc.device) for b in micro]))
            if t.step % t.cfg.save_steps == 0:
                t.save()
        return {"loss": sum(losses) / len(losses), "steps": float(len(losses))}

    def _rows(self, texts, prompts, completions, input_ids, attention_mask, labels, messages):
        given = [x is not None for x in (texts, prompts, input_ids, messages)]
        if sum(given) != 1:
            raise UsageError(
                "give exactly one of texts, prompts with completions, input_ids or messages"
            )
        if input_ids is not None:
            return _token_rows(input_ids, attention_mask, labels)
        if prompts is not None:
            if completions is None or len(completions) != len(prompts):
                raise UsageError("prompts need one completion each")
            data = [
                {"prompt": p, "completion": c} for p, c in zip(prompts, completions, strict=True)
            ]
        elif messages is not None:
            data = [{"messages": list(m)} for m in messages]
        else:
            data = [{"text": t} for t in texts]
        if not data:
            raise UsageError("step() got an empty batch")
        t = self.trainer
        return t._prepare(data, training=True).rows

    def generate(self, prompts: Sequence[str], **sampling: Any) -> list[str]:
        """Completions of standard-text prompts, sampled from the current model in the Training
        FAQ's safe settings (`max_new_tokens=64` unless given; `Sampling`'s names)."""
        t = self.trainer
        prepared = prepare(
            [{"prompt": p} for p in prompts],
            "prompts",
            ("prompt-only",),
            t.tokenizer,
            max_length=t.cfg.max_length,
            truncation=t.cfg.truncation_mode,
            algo="iterative-sft",
        )
        sampling.setdefault("max_new_tokens", 64)
        model = t._unwrapped()
        with t.acc.autocast():
            out = generate(
                model,
                prepared.rows["prompt"],
                Sampling(**sampling),
                pad_token_id=t.tokenizer.pad_token_id,
                eos_token_ids=[t.tokenizer.eos_token_id],
                batch_size=t.cfg.batch_size,
            )
        return t.tokenizer.batch_decode(out.completions, skip_special_tokens=True)

    def save(self) -> None:
        """A checkpoint, and the final model and tokenizer in the output folder."""
        self.trainer.save()
        self.trainer.save_final()


def _pick(rows: dict[str, list], index: range) -> list[dict[str, Any]]:
    return [{k: v[i] for k, v in rows.items()} for i in index]


def _token_rows(input_ids, attention_mask, labels) -> dict[str, list]:
    """Token-id rows: padding (attention 0) dropped, trained where the label is not -100."""
    ids, masks = [], []
    for i, seq in enumerate(input_ids):
        keep = [True] * len(seq) if attention_mask is None else [bool(a) for a in attention_mask[i]]
        lab = None if labels is None else labels[i]
        ids.append([int(x) for x, k in zip(seq, keep, strict=True) if k])
        trained = [1] * len(seq) if lab is None else [int(x != -100) for x in lab]
        masks.append([m for m, k in zip(trained, keep, strict=True) if k])
    if not ids:
        raise UsageError("step() got an empty batch")
    return {"ids": ids, "mask": masks}
