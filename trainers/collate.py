"""Turn lists of tokenised rows (`data_layouts.LAYOUTS`) into the batches the algorithms take."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import torch
from torch import Tensor
from trlprep.trainers.batch import SequenceBatch, build_batch, to_device


def _to(obj: Any, device: torch.device | str) -> Any:
    moved = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, SequenceBatch):
            moved[f.name] = v.to(device)
        elif isinstance(v, Tensor):
            moved[f.name] = to_device(v, device)
    return replace(obj, **moved)


@dataclass
class LMBatch:
    seqs: SequenceBatch

    to = _to


@dataclass
class PairBatch:
    """`seqs` holds the chosen sequences first, then the rejected ones."""

    seqs: SequenceBatch
    num_pairs: int
    ref_logps: Tensor | None = None  # precomputed, chosen first (as `seqs`)

    to = _to


@dataclass
class UnpairedBatch:
    """`kl_seqs` pairs each prompt with the previous row's completion (KTO's KL estimate)."""

    seqs: SequenceBatch
    labels: Tensor
    kl_seqs: SequenceBatch | None = None
    ref_logps: Tensor | None = None  # precomputed
    ref_kl_logps: Tensor | None = None

    to = _to


@dataclass
class ClassifierBatch:
    """Padded rows for a classification head; `labels` per token (PRM) or None (reward).

    For reward models the chosen rows come first, then the rejected ones.
    """

    input_ids: Tensor
    attention_mask: Tensor
    labels: Tensor | None = None
    margin: Tensor | None = None
    num_tokens: int = 0

    to = _to


def _pad(rows: list[list[int]], value: int) -> Tensor:
    width = max((len(r) for r in rows), default=0)
    out = torch.full((len(rows), width), value, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.as_tensor(r, dtype=torch.long)
    return out


class Collator:
    """Builds one layout's batches; `padding_free` packs causal-LM sequences into one row."""

    def __init__(
        self, layout: str, pad_token_id: int, *, padding_free: bool = False, kl: bool = False
    ) -> None:
        self.layout = layout
        self.pad = pad_token_id
        self.padding_free = padding_free
        self.kl = kl

    def sequences(self, seqs: list[tuple[list[int], list[int]]]) -> SequenceBatch:
        """`(input_ids, completion_mask)` pairs laid out as this collator lays rows out."""
        return build_batch(seqs, self.pad, padding_free=self.padding_free)

    def __call__(self, rows: list[dict[str, Any]]) -> Any:
        if self.layout == "lm":
            return LMBatch(self.sequences([(r["ids"], r["mask"]) for r in rows]))
        if self.layout == "pairs":
            seqs = [
                _side(r["prompt"][r.get(f"{key}_prompt_start", 0) :], r[key])
                for key in ("chosen", "rejected")
                for r in rows
            ]
            ref = _column(rows, "ref_chosen")
            if ref is not None:
                ref = torch.cat((ref, _column(rows, "ref_rejected")))
            return PairBatch(self.sequences(seqs), num_pairs=len(rows), ref_logps=ref)
        if self.layout == "unpaired":
            seqs = [(r["prompt"] + r["completion"], _mask(r)) for r in rows]
            kl = None
            if self.kl:
                # (x_1, y_n), (x_2, y_1), ...: each prompt with a completion that is not its
                # own; fixed per row instead when the reference log-probs are precomputed
                if "kl_completion" in rows[0]:
                    shifted = [r["kl_completion"] for r in rows]
                else:
                    shifted = [rows[i - 1]["completion"] for i in range(len(rows))]
                kl = self.sequences(
                    [
                        (r["prompt"] + c, [0] * len(r["prompt"]) + [1] * len(c))
                        for r, c in zip(rows, shifted, strict=True)
                    ]
                )
            labels = torch.tensor([bool(r["label"]) for r in rows], dtype=torch.bool)
            return UnpairedBatch(
                self.sequences(seqs),
                labels,
                kl,
                _column(rows, "ref_logps"),
                _column(rows, "ref_kl_logps") if self.kl else None,
            )
        if self.layout == "scored-pairs":
            seqs = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
            ids = _pad(seqs, self.pad)
            margins = [r.get("margin") for r in rows]
            margin = (
                torch.tensor([float(m) for m in margins])
                if all(m is not None for m in margins)
                else None
            )
            return ClassifierBatch(
                ids, _pad([[1] * len(s) for s in seqs], 0), None, margin, sum(len(s) for s in seqs)
            )
        if self.layout == "stepwise":
            ids = _pad([r["ids"] for r in rows], self.pad)
            return ClassifierBatch(
                ids,
                _pad([[1] * len(r["ids"]) for r in rows], 0),
                _pad([r["labels"] for r in rows], -100),
                None,
                sum(len(r["ids"]) for r in rows),
            )
        raise ValueError(f"unknown layout {self.layout!r}")


def _column(rows: list[dict[str, Any]], name: str) -> Tensor | None:
    if name not in rows[0]:
        return None
    return torch.tensor([float(r[name]) for r in rows], dtype=torch.float64)


def _side(prompt: list[int], completion: list[int]) -> tuple[list[int], list[int]]:
    return prompt + completion, [0] * len(prompt) + [1] * len(completion)


def _mask(r: dict[str, Any]) -> list[int]:
    return [0] * len(r["prompt"]) + [1] * len(r["completion"])
