"""Parquet batches are bounded in bytes as well as rows: a file of long rows (documents,
images) streams in batches of fewer rows, each about `readers.BATCH_BYTES` uncompressed, so
memory follows the batch size, whatever the row size; short rows keep `BATCH_ROWS`."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from trlprep.io import readers
from trlprep.io.readers import iter_batches, parquet_batch_rows


def _write(path, rows: int, width: int, row_group_size: int) -> pa.Table:
    table = pa.table(
        {
            "prompt": [f"{i} " + "x" * width for i in range(rows)],
            "completion": [f" {i}" for i in range(rows)],
        }
    )
    pq.write_table(table, path, row_group_size=row_group_size)
    return table


def test_long_rows_come_in_batches_of_bounded_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "BATCH_BYTES", 64 << 10)
    path = tmp_path / "long.parquet"
    table = _write(path, rows=600, width=1000, row_group_size=300)  # about 1 KB a row
    rows = parquet_batch_rows(pq.ParquetFile(path).metadata)
    assert 32 <= rows <= 80  # 64 KiB of ~1 KB rows
    for dictionaries in (False, True):
        batches = list(iter_batches(str(path), dictionaries=dictionaries))
        assert max(b.data.num_rows for b in batches) <= rows
        assert [b.offset for b in batches] == [sum(c.data.num_rows for c in batches[:i])
                                               for i in range(len(batches))]  # fmt: skip
        back = pa.Table.from_batches([b.data.cast(table.schema) for b in batches])
        assert back.equals(table)


def test_short_rows_keep_the_row_count(tmp_path):
    path = tmp_path / "short.parquet"
    _write(path, rows=10, width=5, row_group_size=10)
    assert parquet_batch_rows(pq.ParquetFile(path).metadata) == readers.BATCH_ROWS
    assert parquet_batch_rows(pq.ParquetFile(path).metadata, 7) == 7


def test_plain_batches_hold_no_earlier_row_groups(tmp_path):
    """Batches read as they come (convert's read) hold about one batch of Arrow memory, not
    every row group read so far (pre-buffered column chunks stayed held)."""
    path = tmp_path / "images.parquet"
    blob = bytes(range(256)) * 400  # ~100 KB a row, incompressible enough to stay large
    table = pa.table({"images": [[{"bytes": blob + bytes([i]), "path": None}] for i in range(200)]})
    pq.write_table(table, path, row_group_size=20, compression="none")
    del table
    before = pa.total_allocated_bytes()
    batch = 30  # batches straddle the row groups, as a byte-bounded batch does
    held = []
    for b in iter_batches(str(path), batch_rows=batch):
        held.append(pa.total_allocated_bytes() - before - b.data.nbytes)
        del b
    assert len(held) == 7
    # beyond the batch itself: at most a row group's pages, the same at the last batch
    assert max(held) < 3 * batch * len(blob), held
    assert held[-1] <= held[1] + len(blob) * batch, held
