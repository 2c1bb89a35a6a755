"""The order rows are trained in: shuffled per epoch from the seed, sharded over processes."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch


class BatchStream:
    """Batches of rows, epoch after epoch; the order is a function of (seed, epoch), so a
    position `(epoch, index)` is all resuming needs. Each process takes its own shard."""

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
    ) -> None:
        self.rows = rows
        self.n = len(next(iter(rows.values())))
        self.batch_size, self.seed, self.shuffle = batch_size, seed, shuffle
        self.rank, self.world, self.group_by_length = rank, world, group_by_length
        self.per_epoch = math.ceil(math.ceil(self.n / world) / batch_size)
        self._order: tuple[int, list[int]] | None = None

    def _indices(self, epoch: int) -> list[int]:
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
        shard = order[self.rank :: self.world]
        self._order = (epoch, shard)
        return shard

    def _length(self, i: int) -> int:
        return sum(len(v[i]) for v in self.rows.values() if isinstance(v[i], list))

    def batch(self, epoch: int, index: int) -> list[dict[str, Any]]:
        idx = self._indices(epoch)[index * self.batch_size : (index + 1) * self.batch_size]
        return [{k: v[i] for k, v in self.rows.items()} for i in idx]

    def iterate(self, epoch: int, index: int) -> Iterator[tuple[int, int, list[dict]]]:
        """(epoch, index, rows) from a position onwards, forever."""
        while True:
            while index < self.per_epoch:
                yield epoch, index, self.batch(epoch, index)
                index += 1
            epoch, index = epoch + 1, 0
