"""Stream a Parquet file with its few-valued strings read as Arrow dictionaries.

Parquet stores such a column as a dictionary of distinct strings plus small indices;
reading it that way skips building millions of short strings, and checks and row hashes
then work once per distinct value. Two kinds qualify:

- the `role` of every message-list column (a handful of roles);
- extra columns (no dataset type or side column has their name: validation only hashes
  them) whose pages the file's own sizes show to be dictionary indices, such as a
  `source` or `language` column.

Arrow cannot give one nested dictionary column across row groups (each has its own
dictionary), so row groups are read one by one; files of small row groups (which would
make small batches) and any row group Arrow cannot read this way are read plainly.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from trlprep.columns.arrowtypes import is_json_field, is_messages, is_string
from trlprep.io.sources import guard
from trlprep.registry import SIDE_COLUMNS, all_type_columns

_UNSUPPORTED = object()
_BUFFER = 1 << 20  # bytes read from the file at a time
# pages read as they are needed, not a whole row group's column chunks up front: memory then
# follows the batch, not the row group (as fast, measured); pre-buffered chunks also stay held
READ_OPTIONS = {"pre_buffer": False, "buffer_size": _BUFFER}
# A plain (not dictionary) encoded string costs at least 5 bytes (length prefix + a byte);
# dictionary indices of up to 65,536 distinct values cost at most 2 bytes per value.
_INDEX_BYTES = 2


def dictionary_leaves(pf) -> list[str]:
    """Parquet paths of the columns worth reading as dictionaries (see the module doc)."""
    schema = pf.schema_arrow
    messages = {
        f.name
        for f in schema
        if is_messages(f.type) and is_string(f.type.value_type.field("role").type)
    }
    known = all_type_columns() | set(SIDE_COLUMNS)
    extras = {
        f.name
        for f in schema
        if (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
        and not is_json_field(f)
        and f.name not in known
    }
    md = pf.metadata
    paths = []
    for i in range(len(pf.schema)):
        path = pf.schema.column(i).path
        parts = path.split(".")
        if parts[0] in messages and parts[-1] == "role" and len(parts) in (3, 4):
            paths.append(path)
        elif (
            path in extras
            and md.num_row_groups
            and all(_indices_only(md.row_group(g).column(i)) for g in range(md.num_row_groups))
        ):
            paths.append(path)
    return paths


def _indices_only(chunk) -> bool:
    return chunk.has_dictionary_page and chunk.total_uncompressed_size <= (
        _INDEX_BYTES * chunk.num_values + _BUFFER
    )


def _pull(it: Iterator[pa.RecordBatch]):
    try:
        return next(it, None)
    except pa.ArrowNotImplementedError:  # a nested dictionary Arrow cannot assemble
        return _UNSUPPORTED


def parquet_batches(path: str, pf, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Record batches of `pf` (a `pyarrow.parquet.ParquetFile` of `path`), few-valued
    strings as dictionaries where that is possible and cheap."""
    import pyarrow.parquet as pq

    md = pf.metadata
    sizes = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
    leaves = dictionary_leaves(pf)
    # on one core, decode in this thread rather than hand each column to a pool thread
    kw = {"batch_size": batch_rows, "use_threads": pa.cpu_count() > 1}
    opts = {"metadata": md, **READ_OPTIONS}
    plain = guard(path, lambda: pq.ParquetFile(path, **opts))
    if not leaves or any(s < batch_rows // 2 for s in sizes[:-1]):
        it = plain.iter_batches(**kw)
        while (rb := guard(path, lambda: next(it, None))) is not None:
            yield rb
        return
    dictionary = guard(path, lambda: pq.ParquetFile(path, read_dictionary=leaves, **opts))
    for group in range(len(sizes)):
        yield from _dictionary_group(path, dictionary, plain, group, kw)


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
