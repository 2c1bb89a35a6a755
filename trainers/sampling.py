"""The order rows are trained in: shuffled per epoch from the seed, sharded over processes.

Whatever the number of processes, micro-batch `index` of an epoch is the same set of rows:
positions `[index * B, (index + 1) * B)` of the epoch's order, `B = batch_size * world`
(the global micro-batch); process `rank` takes every `world`-th of them from `rank` on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch


class BatchStream:
    """Batches of rows, epoch after epoch; the order is a function of (seed, epoch), so a
    position `(epoch, index)` is all resuming needs. Each process takes its own shard.

    `pair_previous` (KTO's KL estimate): each row also gets `kl_<name>`, the `name` of the
    previous row of its optimizer step's global batch (`accumulation` global micro-batches,
    cut at the epoch's end; the step's last row's for its first), so the mismatched pairs do
    not depend on how the step is split over processes and micro-batches."""

    def __init__(
        self,
        rows: dict[str, list],
        batch_size: int,
        *,
        seed: int,
        shuffle: bool = True,
        rank: int = 0,
        world: int = 1,
        group_by_length: bool = False,
        pair_previous: str | None = None,
        accumulation: int = 1,
    ) -> None:
        self.rows = rows
        self.n = len(next(iter(rows.values())))
        self.batch_size, self.seed, self.shuffle = batch_size, seed, shuffle
        self.rank, self.world, self.group_by_length = rank, world, group_by_length
        self.per_epoch = math.ceil(math.ceil(self.n / world) / batch_size)
        self.pair_previous = pair_previous
        self.accumulation = max(1, accumulation)
        self._order: tuple[int, list[int]] | None = None

    def order(self, epoch: int) -> list[int]:
        """Every row index, in the order epoch `epoch` trains on them (all processes)."""
        if self._order and self._order[0] == epoch:
            return self._order[1]
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        if self.group_by_length:  # TRL/transformers: sort within megabatches of 50 batches
            size = self.batch_size * self.world * 50
            order = [
                i
                for k in range(0, len(order), size)
                for i in sorted(order[k : k + size], key=self._length, reverse=True)
            ]
        self._order = (epoch, order)
        return order

    def _indices(self, epoch: int) -> list[int]:
        return self.order(epoch)[self.rank :: self.world]

    def _length(self, i: int) -> int:
        return sum(len(v[i]) for v in self.rows.values() if isinstance(v[i], list))

    def epoch_fraction(self, index: int) -> float:
        """How much of an epoch the optimizer steps before micro-batch `index` are (steps of
        `accumulation` micro-batches, the last one cut at the epoch's end)."""
        steps = math.ceil(self.per_epoch / self.accumulation)
        return math.ceil(index / self.accumulation) / steps

    def global_indices(self, epoch: int, index: int) -> list[int]:
        """The rows of global micro-batch `index` (every process's, in order)."""
        size = self.batch_size * self.world
        return self.order(epoch)[index * size : (index + 1) * size]

    def global_size(self, epoch: int, index: int) -> int:
        """How many rows global micro-batch `index` holds over all processes."""
        size = self.batch_size * self.world
        return max(0, min(size, self.n - index * size))

    def share(self, epoch: int, index: int) -> float:
        """This process's rows of micro-batch `index` over the mean per process: the factor
        that makes the mean over processes of per-process row means the global row mean."""
        mine = len(self._indices(epoch)[index * self.batch_size : (index + 1) * self.batch_size])
        return mine * self.world / max(1, self.global_size(epoch, index))

    def batch(self, epoch: int, index: int) -> list[dict[str, Any]]:
        """This process's rows of micro-batch `index` (none when the global micro-batch has
        fewer rows than there are processes)."""
        idx = self._indices(epoch)[index * self.batch_size : (index + 1) * self.batch_size]
        rows = [{k: v[i] for k, v in self.rows.items()} for i in idx]
        name = self.pair_previous
        if name is not None and rows and f"kl_{name}" not in rows[0]:
            size = self.batch_size * self.world
            first = index // self.accumulation * self.accumulation * size  # the step's rows
            order = self.order(epoch)
            step = order[first : first + self.accumulation * size]
            mine = range(index * size - first + self.rank, len(step), self.world)
            previous = [step[p - 1] for p in mine][: len(rows)]
            col = self.rows[name]
            for row, i in zip(rows, previous, strict=True):
                row[f"kl_{name}"] = col[i]
        return rows

    def filler(self, epoch: int, index: int) -> list[dict[str, Any]]:
        """The first row of global micro-batch `index`: what a process runs (with weight 0)
        when the global micro-batch has no row for it."""
        rank = self.rank
        try:
            self.rank = 0
            return self.batch(epoch, index)[:1]
        finally:
            self.rank = rank

    def iterate(self, epoch: int, index: int) -> Iterator[tuple[int, int, list[dict]]]:
        """(epoch, index, rows) from a position onwards, forever."""
        while True:
            while index < self.per_epoch:
                yield epoch, index, self.batch(epoch, index)
                index += 1
            epoch, index = epoch + 1, 0
