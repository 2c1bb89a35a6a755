"""Streamed batches kept for a second pass, so that work done on the way (an import) is not
done again: in memory up to a budget, the rest in an Arrow IPC scratch file.

Each batch is written as its own IPC stream (its own schema: a JSON Lines input's chunks
may differ, a column null in one and filled in the next) and read back one at a time (no
memory map: the pages of a map read so far stay resident until it is closed, so the
process would grow with the input), so replaying holds one spilled batch at a time
besides the batches kept in memory.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from trlprep.io.sources import Batch
from trlprep.io.tempfiles import cannot_write, scratch_dir

# bytes of batches kept in memory before the rest is spilled: about one JSON Lines chunk's
# table, so a small input never touches the disk and a large one holds a batch, not a share
# of the input (the scratch file is written and read back at the speed of the page cache)
MEMORY_BUDGET = 32 << 20


class KeptBatches:
    """Batches passed through `keep` (in order), given back by `replay`; use as a context
    manager (the scratch folder, if one was needed, is removed on exit). `folder`: where
    the scratch folder goes (default: the system's temporary folder)."""

    def __init__(self, folder: str | None = None, budget: int | None = None) -> None:
        self._folder = folder
        self._budget = MEMORY_BUDGET if budget is None else budget
        self._held = 0
        self._kept: list[Batch | tuple[int, int, bool, dict[str, Any]]] = []
        self._stack = ExitStack()
        self._file: Any = None
        self._path: str | None = None

    def __enter__(self) -> KeptBatches:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the kept batches and the scratch folder."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._kept.clear()
        self._stack.close()

    @property
    def held(self) -> list[Batch]:
        """The batches kept in memory (`replay` gives these very objects back)."""
        return [e for e in self._kept if isinstance(e, Batch)]

    @property
    def spilled(self) -> bool:
        """Whether some batch went to the scratch file."""
        return self._path is not None

    def keep(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        """`batches` as they come, each one kept."""
        for b in batches:
            self._add(b)
            yield b
            del b  # one spilled is not held while the next is read

    def _add(self, b: Batch) -> None:
        size = b.data.nbytes
        if self._held + size <= self._budget:
            self._held += size
            self._kept.append(b)
            return
        if self._file is None:
            self._open()
        start = self._file.tell()
        try:
            with ipc.new_stream(self._file, b.data.schema) as w:
                w.write(b.data)
        except OSError as e:
            raise cannot_write(self._path, e) from None
        rest = {f.name: getattr(b, f.name) for f in dataclasses.fields(b) if f.name != "data"}
        self._kept.append((start, self._file.tell() - start, isinstance(b.data, pa.Table), rest))

    def _open(self) -> None:
        import tempfile

        folder = self._stack.enter_context(scratch_dir(self._folder or tempfile.gettempdir()))
        self._path = os.path.join(folder, "kept.arrows")
        try:
            self._file = pa.OSFile(self._path, "wb")
        except OSError as e:
            raise cannot_write(self._path, e) from None

    def replay(self) -> Iterator[Batch]:
        """The kept batches again, in the order they were kept."""
        if self._file is not None:
            self._file.close()
            self._file = None
        spilled = pa.OSFile(self._path, "rb") if self._path is not None else None
        try:
            for entry in self._kept:
                if isinstance(entry, Batch):
                    yield entry
                    continue
                start, size, whole, rest = entry
                reader = ipc.open_stream(spilled.read_at(size, start))
                data = reader.read_all() if whole else reader.read_next_batch()
                yield Batch(data, **rest)
                del data, reader  # the caller holds the batch while it needs it, not this loop
        finally:
            if spilled is not None:
                spilled.close()


__all__ = ["MEMORY_BUDGET", "KeptBatches"]
