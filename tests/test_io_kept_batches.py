"""`io.keptbatches`: batches kept for a second pass come back as they went in (data, schema
with its metadata, offset, lines, path), from memory or from the scratch file, which is
removed on exit."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from trlprep.io.keptbatches import KeptBatches
from trlprep.io.sources import Batch


def _batches() -> list[Batch]:
    tagged = pa.field("args", pa.string(), metadata={b"k": b"v"})
    return [
        Batch(pa.record_batch({"a": [1, 2], "b": pa.array([None, None], pa.null())}), 0,
              np.array([1, 3])),
        Batch(pa.table({"a": [3], "b": ["x"]}).replace_schema_metadata({b"m": b"1"}), 2,
              np.array([4]), path="f.jsonl", byte_end=40),
        Batch(pa.concat_tables([pa.table({"c": [[1]]}), pa.table({"c": [[2, 3]]})]), 3),
        Batch(pa.RecordBatch.from_arrays([pa.array(["{}"])], schema=pa.schema([tagged])), 5),
        Batch(pa.table({"a": pa.array([], pa.int64())}), 6),
    ]  # fmt: skip


@pytest.mark.parametrize("budget", [1 << 30, 0, 40])
def test_batches_come_back_as_kept(tmp_path, budget):
    given = _batches()
    with KeptBatches(str(tmp_path), budget=budget) as kept:
        assert list(kept.keep(iter(given))) == given  # passed on as they come
        assert kept.spilled == (budget < 1 << 30)
        for _ in range(2):  # replayed as often as asked
            back = list(kept.replay())
            assert len(back) == len(given)
            for b, g in zip(back, given, strict=True):
                assert type(b.data) is type(g.data)
                assert b.data.schema.equals(g.data.schema, check_metadata=True)
                assert b.data.to_pylist() == g.data.to_pylist()
                assert (b.offset, b.path, b.byte_end) == (g.offset, g.path, g.byte_end)
                assert (b.lines is None) == (g.lines is None)
                if g.lines is not None:
                    assert b.lines.tolist() == g.lines.tolist()
        if kept.spilled:
            assert len(list(tmp_path.iterdir())) == 1  # the scratch folder
    assert list(tmp_path.iterdir()) == []


def _resident_bytes(path: Path) -> int:
    """Bytes of `path` resident in this process's memory maps (/proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            inside = line.endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1]) * 1024
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="reads Linux's /proc")
def test_replay_from_the_scratch_file_holds_one_batch_at_a_time(tmp_path):
    """8 batches of 8 MB replayed from the scratch file, each dropped once used: no more
    than one batch of the file is resident in the process's maps at a time (one map of the
    whole file kept every page read, so the process grew with the input: 64 MB here)."""
    size = 1 << 20  # int64 rows per batch: 8 MB
    given = [Batch(pa.table({"x": np.full(size, i, np.int64)}), i * size) for i in range(8)]
    with KeptBatches(str(tmp_path), budget=0) as kept:
        list(kept.keep(iter(given)))
        given.clear()
        (scratch,) = tmp_path.rglob("kept.arrows")
        peak, seen = 0, 0
        for b in kept.replay():
            assert b.data.column("x")[0].as_py() == b.offset // size
            peak = max(peak, _resident_bytes(scratch))
            seen += 1
            del b
    assert seen == 8 and peak <= 8 * size
