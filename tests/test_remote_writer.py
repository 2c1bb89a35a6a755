"""The writer of `--engine ray`'s object-storage outputs (`trlprep.ray.remote`), without
Ray: shards take rows as the local `--num-shards` cuts them, and a shard written into an
open stream holds the local writer's bytes (tests/test_ray_remote.py runs it on Ray)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from tests.realdata.support import HERE


def test_remote_shards_take_rows_as_num_shards_cuts_them():
    from trlprep.ray.remote import spans

    blocks = [("b0", 0, 4), ("b1", 4, 3), ("b2", 7, 3)]  # (ref, first row, rows)
    assert spans(blocks, 10, 4) == [
        [("b0", 0, 3)],
        [("b0", 3, 1), ("b1", 0, 2)],
        [("b1", 2, 1), ("b2", 0, 2)],
        [("b2", 2, 1)],
    ]  # 3, 3, 3, 1 rows: as the local `--num-shards 4` (tests/test_shards.py)
    assert spans([("b0", 0, 2)], 2, 3) == [[("b0", 0, 1)], [("b0", 1, 1)], []]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_the_stream_writer_writes_the_local_bytes(tmp_path, fmt):
    """Messages with optional keys (xtuner's tool calls and reasoning): the writer of
    object-storage outputs, given an open stream, writes what the local writer writes."""
    from trlprep.io import writers
    from trlprep.io.readers import read

    table = read(HERE / "xtuner_qwen35_toolcalls" / "qwen35_tokenize_data.first12.jsonl").table
    local = tmp_path / f"local.{fmt}"
    writers.write(table, local)
    with writers.stream_writer(pa.OSFile(str(tmp_path / "s"), "wb"), "s", table.schema, fmt) as w:
        w.write(table.slice(0, 5))
        w.write(table.slice(5))
    assert (tmp_path / "s").read_bytes() == local.read_bytes()
    if fmt == "jsonl":  # a message's null keys left out (content kept)
        first = json.loads(local.read_text(encoding="utf-8").splitlines()[0])
        assert all("reasoning_content" not in m for m in first["messages"])


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_remote_shards_are_cut_by_size_as_the_local_writer_cuts_them(tmp_path, fmt):
    """`--max-shard-size` on object storage: each shard's cut learns the bytes on disk per
    byte in memory of the shard before, as the local writer does, so the shards hold the
    same rows and bytes (here the real HH-RLHF sample, 20 kB shards)."""
    import numpy as np

    from trlprep.io import writers
    from trlprep.io.groupcut import row_bytes
    from trlprep.io.readers import read
    from trlprep.io.shardout import ShardedOutput, ShardWriter
    from trlprep.ray.remote import size_cuts

    table = read(HERE / "hh_rlhf" / "harmless-base-test.sample.jsonl").table
    local = tmp_path / "local"
    with ShardWriter(ShardedOutput(local, max_shard_size=20_000), table.schema, fmt) as w:
        for start in range(0, table.num_rows, 40):  # the local writer takes batches
            w.write(table.slice(start, 40))
    written = []

    def write(start: int, end: int) -> int:
        out = tmp_path / f"part-{len(written)}.{fmt}"
        with writers.stream_writer(pa.OSFile(str(out), "wb"), str(out), table.schema, fmt) as s:
            s.write(table.slice(start, end - start))
        written.append(out)
        return out.stat().st_size

    ends = size_cuts(row_bytes(table), 20_000, write)
    shards = sorted(local.iterdir())
    assert len(shards) == len(ends) > 3
    assert [p.read_bytes() for p in written] == [p.read_bytes() for p in shards]
    assert ends[-1] == table.num_rows and list(np.diff([0, *ends])) != [ends[0]] * len(ends)
    assert size_cuts(np.zeros(0, np.int64), 10, lambda a, b: 0) == [0]  # no rows: one shard
