"""Stream a Parquet file with the `role` of its message columns read as Arrow dictionaries.

Parquet stores a role column as a dictionary (a handful of distinct strings) plus small
indices; reading it that way skips building millions of short strings, and role checks
then look each distinct role up once. Arrow cannot give one nested dictionary column
across row groups (each has its own dictionary), so row groups are read one by one; files
of small row groups (which would make small batches) and any row group Arrow cannot read
this way are read plainly.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from trlprep.arrowtypes import is_messages, is_string
from trlprep.sources import guard

_UNSUPPORTED = object()
_BUFFER = 1 << 20  # bytes read from the file at a time


def role_leaves(pf) -> list[str]:
    """Parquet paths of the string `role` field of each message-list column."""
    names = {
        f.name
        for f in pf.schema_arrow
        if is_messages(f.type) and is_string(f.type.value_type.field("role").type)
    }
    paths = []
    for i in range(len(pf.schema)):
        path = pf.schema.column(i).path
        parts = path.split(".")
        if parts[0] in names and parts[-1] == "role" and len(parts) in (3, 4):
            paths.append(path)
    return paths


def _pull(it: Iterator[pa.RecordBatch]):
    try:
        return next(it, None)
    except pa.ArrowNotImplementedError:  # a nested dictionary Arrow cannot assemble
        return _UNSUPPORTED


def parquet_batches(path: str, pf, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Record batches of `pf` (a `pyarrow.parquet.ParquetFile` of `path`), roles as
    dictionaries where that is possible and cheap."""
    import pyarrow.parquet as pq

    md = pf.metadata
    sizes = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
    roles = role_leaves(pf)
    # on one core, decode in this thread rather than hand each column to a pool thread
    kw = {"batch_size": batch_rows, "use_threads": pa.cpu_count() > 1}
    # read pages as they are needed, not a whole row group's column chunks up front:
    # memory then follows the batch, not the row group (as fast, measured)
    opts = {"metadata": md, "pre_buffer": False, "buffer_size": _BUFFER}
    pf = guard(path, lambda: pq.ParquetFile(path, **opts))
    if not roles or any(s < batch_rows // 2 for s in sizes[:-1]):
        plain = pf.iter_batches(**kw)
        while (rb := guard(path, lambda: next(plain, None))) is not None:
            yield rb
        return
    dpf = guard(path, lambda: pq.ParquetFile(path, read_dictionary=roles, **opts))
    for group in range(len(sizes)):
        yield from _dictionary_group(path, dpf, pf, group, kw)


def _dictionary_group(path: str, dpf, pf, group: int, kw: dict):
    it = dpf.iter_batches(row_groups=[group], **kw)
    done = 0
    while (rb := guard(path, lambda: _pull(it))) is not None:
        if rb is _UNSUPPORTED:
            yield from _plain_group(path, pf, group, kw, skip=done)
            return
        done += rb.num_rows
        yield rb


def _plain_group(path: str, pf, group: int, kw: dict, skip: int):
    it = pf.iter_batches(row_groups=[group], **kw)
    while (rb := guard(path, lambda: next(it, None))) is not None:
        if skip >= rb.num_rows:
            skip -= rb.num_rows
            continue
        yield rb.slice(skip) if skip else rb
        skip = 0
