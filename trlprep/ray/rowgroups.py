"""One local Parquet file read by several Ray tasks, each its own run of row groups.

A big Parquet file read whole by one task would need the memory of the whole table in one
worker and read on one core; its row groups are read apart instead, in runs of about
`BLOCK_BYTES` (uncompressed, from the file's footer), at least as many runs as the
cluster has CPUs (up to one per row group). The driver numbers the rows from the runs'
order, so rows and row names are those of one read of the whole file. A file whose
columns `at_entry` changes (a `datasets` `Json` column, decoded with one type for all its
rows; a `tools` column typed as one struct) is read whole, as the local engine reads it.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from trlprep.io.sources import guard

BLOCK_BYTES = 128 << 20  # a file's rows go to Ray in blocks of about this much


def enters_unchanged(schema: pa.Schema) -> bool:
    """True when `trlprep.io.jsonext.at_entry` leaves data of `schema` as it is (no JSON
    extension column, no `tools` column typed as structs), so that parts of a file read
    apart are parts of the file read whole."""
    from trlprep.columns.arrowtypes import is_json_field
    from trlprep.io.jsonencode import has_struct
    from trlprep.io.jsonext import has_json_extension
    from trlprep.io.jsontext import tools_names

    tools = tools_names()
    return not any(
        has_json_extension(f.type)
        or (f.name in tools and not is_json_field(f) and has_struct(f.type))
        for f in schema
    )


def runs(sizes: list[int], pieces: int) -> list[list[int]]:
    """Row groups 0..len(sizes)-1 cut into at most `pieces` runs of consecutive groups of
    about equal bytes (`sizes`: each group's bytes; all zero: equal counts)."""
    n = len(sizes)
    pieces = max(1, min(pieces, n))
    weights = np.asarray(sizes, dtype=np.float64)
    if not weights.sum():
        weights = np.ones(n)
    ends = np.cumsum(weights)
    targets = ends[-1] * np.arange(1, pieces) / pieces
    cuts = np.unique(np.clip(np.searchsorted(ends, targets, side="left") + 1, 1, n - 1))
    bounds = [0, *(int(c) for c in cuts), n]
    return [list(range(a, b)) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def parquet_runs(path: str, cpus: int) -> list[list[int]] | None:
    """The runs of row groups the local Parquet file `path` is read in, one Ray task each
    (None: read it whole, in one task: one row group, a schema `at_entry` changes, or a
    file the reader should name as broken)."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        md, schema = pf.metadata, pf.schema_arrow
    except (OSError, pa.ArrowException):  # the task's read names it as the local engine does
        return None
    if md.num_row_groups < 2 or not enters_unchanged(schema):
        return None
    sizes = [md.row_group(i).total_byte_size for i in range(md.num_row_groups)]
    pieces = max(math.ceil(sum(sizes) / BLOCK_BYTES), max(4, cpus))
    return runs(sizes, pieces)


def read_groups(path: str, groups: list[int]) -> pa.Table:
    """The rows of the row groups `groups` of the Parquet file `path`."""
    import pyarrow.parquet as pq

    from trlprep.io.jsonext import at_entry

    return at_entry(guard(path, lambda: pq.ParquetFile(path).read_row_groups(groups)))
