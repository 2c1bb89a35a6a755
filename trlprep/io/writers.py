"""Write Arrow tables to Parquet, JSON Lines, Arrow IPC or a `save_to_disk` folder, atomically.

Every writer writes to a hidden temporary sibling and renames it into place only once the
whole output is written, so a failure never leaves a partial or temporary file behind and
never damages an existing output. `open_writer` does the same for outputs written batch by
batch (streaming conversions). A symbolic link's target is what gets replaced (the link
stays); a device, FIFO or `/dev/stdout` takes JSON Lines or a report written through it
and nothing else (`trlprep.io.targets`).

JSON Lines are written by Polars: strings (Unicode unescaped), booleans, integers, floats,
nulls, nested messages and lists round-trip through `trlprep.io.readers` to an equal table.
Where JSON and Arrow differ: a message's (or its parts', tool calls') null struct field is
left out, its `content` excepted (`trlprep.io.nullkeys`: one struct gives every message the
keys of all; Parquet and Arrow keep them), and so is a row's null value of a column no
dataset type names, past the file's first row (`jsonencode.to_jsonl`); NaN and infinite floats
become null; timestamps and decimals become strings; raw bytes (image columns) are refused
with a hint to write Parquet, Arrow or a folder. Tagged JSON-text columns are written as
the JSON values they hold.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from trlprep.columns.textparts import schema_without_marks, table_without_marks
from trlprep.errors import InputError, UsageError
from trlprep.io.diskwriter import write_disk
from trlprep.io.groupcut import GroupCuts, cuts, row_bytes
from trlprep.io.jsonencode import has_binary, has_struct, to_jsonl
from trlprep.io.outputcheck import check_output, resolve_output_format
from trlprep.io.readers import split_suffix
from trlprep.io.shardout import ShardWriter, sharded, write_splits
from trlprep.io.targets import check_stream, open_stream, real_target, stream_kind
from trlprep.io.tempfiles import cannot_write, create_file, remove, writing

WRITE_BATCH_ROWS = 65_536  # JSONL rows serialised at once, at most
WRITE_BATCH_BYTES = 64 << 20  # and at most this much (Arrow bytes; a longer row alone)
# rows per Parquet row group and Arrow record batch, at most, and bytes: the rows are
# regrouped as written (`groupcut`), so a file does not show where the reader cut the input
# (read whole or in chunks: one file) and the writer holds one group, not 65,536 long rows
ROW_GROUP_ROWS = 65_536
ROW_GROUP_BYTES = 64 << 20
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically; a stream (device, FIFO) is written through.

    The caller checks the output first (`check_output(..., output_format="text")`).
    """
    if stream_kind(path) is not None:
        check_stream(path, "text")
        with writing(Path(path)), open_stream(path) as f:
            f.write(text.encode("utf-8"))
        return
    target = real_target(path)
    try:
        tmp = create_file(target)
    except OSError as e:
        raise cannot_write(path, e) from None
    try:
        with writing(target):
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)
    finally:
        remove(tmp)


def write(
    data: pa.Table | pa.RecordBatch | Mapping[str, pa.Table],
    path: str | os.PathLike,
    *,
    output_format: str | None = None,
    overwrite: bool = False,
    inputs: tuple[str, ...] = (),
) -> str:
    """Write a dataset to `path` atomically, as `trlprep convert ... -o PATH` writes it.

    `data`: a `pyarrow.Table` or what the Python API's functions return (a
    `datasets.Dataset` or IterableDataset, a `DatasetDict` or a dict of split names to
    datasets (written to a folder), a pandas or polars frame, a list of row dicts or a dict
    of columns). `output_format`: `"parquet"`, `"jsonl"`, `"arrow"` or `"disk"` (a
    `save_to_disk` folder); by default from the name's suffix. `overwrite=True` replaces
    an existing `path` (else a UsageError); `inputs`: paths it must not be.

    Returns the format written.
    """
    data = _as_tables(data)
    fmt = resolve_output_format(path, output_format)
    if isinstance(data, Mapping) and fmt != "disk" and not sharded(path, output_format):
        raise UsageError(
            f"several splits ({', '.join(data)}) can only be written to a folder: a "
            "save_to_disk folder (OUT) or a shard folder (OUT/)",
            hint="write one split at a time, or give such a folder",
        )
    check_output(path, overwrite=overwrite, inputs=inputs, output_format=output_format)
    if isinstance(data, Mapping) and fmt != "disk":  # a shard folder: each split's shards
        write_splits(data, path, fmt)
        return fmt
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if fmt == "disk":
        write_disk(data, Path(path))
        return fmt
    with open_writer(path, data.schema, output_format=fmt) as w:
        w.write(data)
    return fmt


def _as_tables(data: Any) -> pa.Table | pa.RecordBatch | Mapping[str, pa.Table]:
    """`data` as the Arrow table `write` writes, or a dict of split tables (a `DatasetDict`,
    or a dict whose values are datasets rather than columns)."""
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        return data
    from trlprep.io.adapters import as_input, is_dataset_dict

    if is_dataset_dict(data) or (
        isinstance(data, Mapping) and data and not any(_column_like(v) for v in data.values())
        and all(_dataset_like(v) for v in data.values())
    ):  # fmt: skip
        return {str(k): _as_tables(v) for k, v in data.items()}
    return as_input(data).table


def _column_like(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or type(value).__module__.split(".")[0] == "numpy"


def _dataset_like(value: Any) -> bool:
    mod = type(value).__module__.split(".")[0]
    return isinstance(value, (pa.Table, pa.RecordBatch)) or mod in ("datasets", "pandas", "polars")


def _binary_column(schema: pa.Schema) -> str | None:
    """The first column holding raw bytes anywhere inside (JSON cannot hold them)."""
    return next((f.name for f in schema if has_binary(f.type)), None)


class _Writer:
    """Batch-by-batch writer into a temporary file; `commit` renames it into place. Given
    a `sink` (a stream of another file system: object storage), it writes through it."""

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        fmt: str,
        sink: pa.NativeFile | None = None,
        every_key: bool = False,
    ) -> None:
        if fmt != "jsonl":  # typed: every content of mixed kinds a list of parts
            schema = schema_without_marks(schema)
        self.path, self.fmt, self.schema = path, fmt, schema
        self.rows = 0
        self._key_orders: dict = {}  # JSON Lines: message keys in the order a reader met them
        self._every_key = every_key  # JSON Lines: every column in every row, null or not
        self._held: list[pa.Table | pa.RecordBatch] = []  # the open row group's rows
        self._groups = GroupCuts(ROW_GROUP_ROWS, ROW_GROUP_BYTES)
        self._w = self._sink = None
        self.tmp: Path | None = None
        if sink is not None:
            self._through(sink)
            return
        if stream_kind(path) is not None:  # a device or FIFO: written through, never replaced
            check_stream(path, fmt, overwrite=True)
            _, compression = split_suffix(path)
            self._sink = pa.PythonFile(open_stream(path), mode="w")
            if compression:
                self._sink = pa.CompressedOutputStream(self._sink, compression)
            return
        self.path = real_target(path)
        self.tmp = create_file(self.path)
        try:
            if fmt == "parquet":
                import pyarrow.parquet as pq

                self._w = pq.ParquetWriter(str(self.tmp), schema, compression="zstd")
            elif fmt == "arrow":
                import pyarrow.ipc as ipc

                self._sink = pa.OSFile(str(self.tmp), "wb")
                self._w = ipc.new_file(self._sink, schema)
            else:
                _, compression = split_suffix(path)
                self._sink = pa.output_stream(str(self.tmp), compression=compression)
        except BaseException:
            self.abort()
            raise

    def _through(self, sink: pa.NativeFile) -> None:
        """Write into `sink` (closed by `commit` and `abort`), as into a file."""
        self._sink = sink
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            self._w = pq.ParquetWriter(sink, self.schema, compression="zstd")
        elif self.fmt == "arrow":
            import pyarrow.ipc as ipc

            self._w = ipc.new_file(sink, self.schema)
        else:
            _, compression = split_suffix(self.path)
            if compression:
                self._sink = pa.CompressedOutputStream(sink, compression)

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        """Append rows (a table or record batch with the writer's columns)."""
        if data.num_rows == 0:
            return
        if self.fmt == "jsonl":
            column = _binary_column(data.schema)
            if column is not None:
                raise UsageError(
                    f"column {column!r} holds raw bytes (images?), which JSON Lines cannot store",
                    hint="write .parquet, .arrow or a save_to_disk folder instead",
                )
            start = 0
            for end in cuts(row_bytes(data), WRITE_BATCH_ROWS, WRITE_BATCH_BYTES):
                chunk = _jsonl_bytes(
                    data.slice(start, end - start), self._key_orders, self._every_key
                )
                start = end
                with writing(self.path):
                    self._sink.write(chunk)
        else:
            data = _conform(table_without_marks(data), self.schema)
            start = 0
            for end in self._groups.feed(row_bytes(data)):
                self._held.append(data.slice(start, end - start))
                self._write_group()
                start = end
            if start < data.num_rows:  # a copy: a slice would keep the whole batch alive
                self._held.append(_copied(data.slice(start)))
        self.rows += data.num_rows

    def _write_group(self) -> None:
        """The held rows written as one row group (record batch)."""
        parts = [t if isinstance(t, pa.Table) else pa.Table.from_batches([t]) for t in self._held]
        self._held = []
        if self.fmt == "arrow" and len(parts) == 1:  # one copy made as from several parts:
            parts.append(parts[0].schema.empty_table())  # IPC buffers follow a slice's offset
        # contiguous: the Parquet writer's pages (and so its bytes) follow the arrays' chunks
        group = pa.concat_tables(parts).combine_chunks()
        del parts
        rows = group.num_rows
        if not rows:
            return
        with writing(self.path):
            if self.fmt == "parquet":
                self._w.write_table(group, row_group_size=rows)
            else:
                self._w.write_table(group, max_chunksize=rows)

    def commit(self) -> None:
        """Finish the file and move it into place."""
        try:
            if self._held:
                self._write_group()
            with writing(self.path):
                if self._w is not None:
                    self._w.close()
                if self._sink is not None:
                    self._sink.close()
                if self.tmp is not None:
                    os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop everything written so far."""
        for closer in (self._w, self._sink):
            if closer is not None:
                with contextlib.suppress(Exception):
                    closer.close()
        if self.tmp is not None:
            remove(self.tmp)

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _jsonl_bytes(data: pa.Table | pa.RecordBatch, orders: dict, every_key: bool) -> bytes:
    try:
        return to_jsonl(data, orders, every_key=every_key)
    except Exception as e:
        # polars' errors are only looked up where polars wrote the lines (it is not loaded
        # for the lines pyarrow writes)
        errors = sys.modules.get("polars.exceptions")
        refused = (pa.ArrowNotImplementedError,) + ((errors.PolarsError,) if errors else ())
        if not isinstance(e, refused):
            raise
        raise UsageError(
            f"cannot write these columns as JSON Lines: {str(e).splitlines()[0]}",
            hint="write .parquet, .arrow or a save_to_disk folder instead",
        ) from None


def _copied(data: pa.Table | pa.RecordBatch) -> pa.Table:
    """`data`'s rows in buffers of their own."""
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    return pa.concat_tables([data, data.schema.empty_table()]).combine_chunks()


def _conform(data: pa.Table | pa.RecordBatch, schema: pa.Schema) -> pa.Table | pa.RecordBatch:
    """`data` with the writer's schema (same columns; null or narrower types widened)."""
    if data.schema.equals(schema, check_metadata=False):
        return data if data.schema.equals(schema, check_metadata=True) else _with(data, schema)
    extra = set(data.schema.names) - set(schema.names)
    if extra:
        raise InputError(
            f"rows have columns the output does not: {', '.join(sorted(extra))}",
            hint="every batch written to one file must have the same columns",
        )
    table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
    columns = []
    for field in schema:
        if field.name in table.column_names:
            col = table.column(field.name)
            try:
                cast = col.cast(field.type)
                if has_struct(col.type) and not cast.cast(col.type).equals(col):
                    raise InputError(
                        f"column {field.name!r} holds fields here that earlier rows did not "
                        "(the output's schema, set by its first rows, lacks them); they would "
                        "be dropped",
                        hint="write to JSON Lines, or put the rows holding them first",
                    )
                columns.append(cast)
            except _ARROW_ERRORS as e:
                raise InputError(
                    f"column {field.name!r} is {col.type} here but {field.type} in earlier rows "
                    f"({e})",
                    hint="write to JSON Lines, or make the column's values agree",
                ) from None
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _with(data: pa.Table | pa.RecordBatch, schema: pa.Schema) -> pa.Table | pa.RecordBatch:
    if isinstance(data, pa.RecordBatch):
        return pa.RecordBatch.from_arrays(data.columns, schema=schema)
    return pa.Table.from_arrays(data.columns, schema=schema)


def open_writer(
    path: str | os.PathLike,
    schema: pa.Schema,
    *,
    output_format: str | None = None,
    every_key: bool = False,
) -> _Writer | ShardWriter:
    """A context manager writing batches to `path`; nothing appears there unless it exits cleanly.

    The caller checks the output first (`check_output`). JSON Lines rows leave out the
    extra columns they hold null (`to_jsonl`), unless `every_key` (a file of fixed columns,
    such as a rejects file).
    """
    fmt = resolve_output_format(path, output_format)
    if fmt == "disk":
        raise UsageError(
            "a save_to_disk folder cannot be written batch by batch",
            hint="write .parquet, .jsonl or .arrow, or use trlprep.io.writers.write",
        )
    if fmt == "jsonl":
        column = _binary_column(schema)
        if column is not None:
            raise UsageError(
                f"column {column!r} holds raw bytes (images?), which JSON Lines cannot store",
                hint="write .parquet, .arrow or a save_to_disk folder instead",
            )
    if sharded(path, output_format):
        return ShardWriter(path, schema, fmt)
    try:
        return _Writer(Path(path), schema, fmt, every_key=every_key)
    except OSError as e:
        raise cannot_write(path, e) from None


def stream_writer(sink: pa.NativeFile, name: str, schema: pa.Schema, output_format: str) -> _Writer:
    """A writer into the open stream `sink` (a file of object storage, named `name` in
    errors) that writes exactly the bytes `open_writer` writes into a local file: row
    groups cut as there (`groupcut`), JSON Lines as there (`nullkeys`). A context
    manager; `sink` is closed when it exits."""
    return _Writer(name, schema, output_format, sink=sink)


to_jsonl_bytes = to_jsonl  # serialise rows as JSON Lines (see trlprep.io.jsonencode.to_jsonl)
