"""Lay token sequences out for one forward pass: padded rows, or padding-free (packed) rows.

Whatever the layout, a `SequenceBatch` also lists the positions whose next token is trained
on (the completion tokens) with the sequence and the index within the completion each
belongs to, so the log-prob code never needs to know how the rows were laid out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor


@dataclass
class SequenceBatch:
    """Token rows plus an index of the trained-on positions.

    `input_ids`/`position_ids`: `(rows, length)`; `attention_mask` is None when packed (the
    model then separates the sequences by their restarting position ids). `target_pos` are
    flat indices into `rows * length` of positions that predict a completion token,
    `target_ids` that token, `target_seq` its sequence number and `target_tok` its index
    within that sequence's completion. `num_tokens` counts the real (non-pad) tokens.
    `unpadded` says (on the host) that every row is one whole sequence with no padding: the
    model then needs neither mask nor position ids (plain causal attention, nothing checked).
    `counts` are the trained-on tokens per sequence, on the host (no device sync to plan by
    them); empty when unknown.
    """

    input_ids: Tensor
    position_ids: Tensor
    attention_mask: Tensor | None
    target_pos: Tensor
    target_ids: Tensor
    target_seq: Tensor
    target_tok: Tensor
    num_seqs: int
    max_targets: int
    num_tokens: int
    unpadded: bool = False
    counts: tuple[int, ...] = ()

    def to(self, device: torch.device | str) -> SequenceBatch:
        moved = {
            f.name: to_device(getattr(self, f.name), device)
            for f in fields(self)
            if isinstance(getattr(self, f.name), Tensor)
        }
        return replace(self, **moved)

    @property
    def target_counts(self) -> Tensor:
        """Trained-on tokens per sequence, `(num_seqs,)`."""
        return torch.bincount(self.target_seq, minlength=self.num_seqs)

    def host_counts(self) -> tuple[int, ...]:
        """`target_counts` on the host (`counts`, or read from the device when unknown)."""
        return self.counts or tuple(self.target_counts.tolist())


def to_device(t: Tensor, device: torch.device | str) -> Tensor:
    """`t` on `device`; from the host to a GPU through pinned memory, without waiting: a
    plain copy from pageable memory waits for every kernel queued before it (a host sync
    per micro-batch)."""
    device = torch.device(device)
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def build_batch(
    sequences: Sequence[tuple[Sequence[int], Sequence[int]]],
    pad_token_id: int,
    *,
    padding_free: bool = False,
    pad_to_multiple_of: int | None = None,
) -> SequenceBatch:
    """Lay out `(input_ids, completion_mask)` pairs; position t of a sequence is trained to
    predict token t+1 where `completion_mask[t+1]` is 1 (so a sequence's first token never is).
    """
    lengths = [len(ids) for ids, _ in sequences]
    if padding_free:
        rows, width = 1, sum(lengths)
        starts = [(0, s) for s in _cumulative(lengths)]
    else:
        rows, width = len(sequences), max(lengths, default=0)
        starts = [(i, 0) for i in range(len(sequences))]
    if pad_to_multiple_of:
        width = -(-width // pad_to_multiple_of) * pad_to_multiple_of

    input_ids = torch.full((rows, width), pad_token_id, dtype=torch.long)
    position_ids = torch.zeros((rows, width), dtype=torch.long)
    attention = torch.zeros((rows, width), dtype=torch.long)
    pos, ids_out, seq_out, tok_out = [], [], [], []
    max_targets = 0
    for s, ((ids, mask), (row, start)) in enumerate(zip(sequences, starts, strict=True)):
        n = len(ids)
        if len(mask) != n:
            raise ValueError(f"sequence {s}: {n} tokens but a completion mask of {len(mask)}")
        ids_t = torch.as_tensor(list(ids), dtype=torch.long)
        input_ids[row, start : start + n] = ids_t
        position_ids[row, start : start + n] = torch.arange(n)
        attention[row, start : start + n] = 1
        targets = torch.nonzero(torch.as_tensor(list(mask[1:]), dtype=torch.bool)).flatten() + 1
        max_targets = max(max_targets, len(targets))
        pos.append(row * width + start + targets - 1)
        ids_out.append(ids_t[targets])
        seq_out.append(torch.full_like(targets, s))
        tok_out.append(torch.arange(len(targets)))
    if padding_free and width > sum(lengths):  # padding past the packed tokens: a new sequence
        position_ids[0, sum(lengths) :] = torch.arange(width - sum(lengths))
    cat = lambda v: torch.cat(v) if v else torch.zeros(0, dtype=torch.long)  # noqa: E731
    return SequenceBatch(
        input_ids=input_ids,
        position_ids=position_ids,
        attention_mask=None if padding_free else attention,
        target_pos=cat(pos),
        target_ids=cat(ids_out),
        target_seq=cat(seq_out),
        target_tok=cat(tok_out),
        num_seqs=len(sequences),
        max_targets=max_targets,
        num_tokens=sum(lengths),
        unpadded=not padding_free and all(n == width for n in lengths),
        counts=tuple(len(t) for t in ids_out),
    )


def _cumulative(lengths: Sequence[int]) -> list[int]:
    out, total = [], 0
    for n in lengths:
        out.append(total)
        total += n
    return out
