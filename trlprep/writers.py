"""Write Arrow tables to Parquet, JSONL, Arrow IPC or a `save_to_disk` folder, atomically.

Every writer writes to a temporary sibling and renames it into place only once the whole
output is written, so a failure never leaves a partial file. `open_writer` does the same
for outputs written batch by batch (streaming conversions).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa

from trlprep.errors import InputError, UsageError
from trlprep.readers import split_suffix

OUTPUT_FORMATS = ("parquet", "jsonl", "arrow", "disk")


def resolve_output_format(path: str | os.PathLike, output_format: str | None = None) -> str:
    """The output format for `path`: explicit, or from the suffix (no suffix = folder)."""
    if output_format:
        if output_format not in OUTPUT_FORMATS:
            raise UsageError(
                f"unknown output format {output_format!r}",
                hint="use one of: " + ", ".join(OUTPUT_FORMATS),
            )
        return output_format
    fmt, compression = split_suffix(path)
    if fmt in ("parquet", "jsonl", "arrow") and (compression is None or fmt == "jsonl"):
        return fmt
    if not Path(path).suffix:
        return "disk"
    raise UsageError(
        f"{path}: cannot tell the output format from its name",
        hint="name it .parquet, .jsonl, .jsonl.gz or .arrow, or pass --output-format",
    )


def check_output(
    path: str | os.PathLike, *, overwrite: bool = False, inputs: tuple[str, ...] = ()
) -> None:
    """Refuse to overwrite an existing output (unless asked) or to write over an input."""
    p = Path(path)
    for src in inputs:
        if src and Path(src).exists() and p.exists() and os.path.samefile(src, p):
            raise UsageError(f"{path}: the output is the input", hint="write to another path")
        if src and Path(src).resolve() == p.resolve():
            raise UsageError(f"{path}: the output is the input", hint="write to another path")
    if p.exists() and not overwrite:
        raise UsageError(f"{path}: already exists", hint="pass --overwrite to replace it")
    if not p.parent.exists():
        raise InputError(f"{p.parent}: no such folder")


def write(
    table: pa.Table,
    path: str | os.PathLike,
    *,
    output_format: str | None = None,
    overwrite: bool = False,
    inputs: tuple[str, ...] = (),
) -> str:
    """Write `table` to `path` atomically and return the format used."""
    fmt = resolve_output_format(path, output_format)
    check_output(path, overwrite=overwrite, inputs=inputs)
    if fmt == "disk":
        _write_disk(table, Path(path))
        return fmt
    with open_writer(path, table.schema, output_format=fmt) as w:
        w.write(table)
    return fmt


class _Writer:
    """Batch-by-batch writer into a temporary file; `commit` renames it into place."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: str) -> None:
        self.path, self.fmt, self.schema = path, fmt, schema
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        self.rows = 0
        _, compression = split_suffix(path)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            self._w = pq.ParquetWriter(self.tmp, schema, compression="zstd")
        elif fmt == "arrow":
            import pyarrow.ipc as ipc

            self._sink = pa.OSFile(str(self.tmp), "wb")
            self._w = ipc.new_file(self._sink, schema)
        elif fmt == "jsonl":
            self._sink = pa.output_stream(str(self.tmp), compression=compression)
            self._w = None
        else:
            raise UsageError(f"cannot stream to format {fmt!r}")

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        if data.num_rows == 0:
            return
        self.rows += data.num_rows
        if self.fmt == "jsonl":
            self._sink.write(to_jsonl_bytes(data))
        elif self.fmt == "parquet":
            self._w.write(data)
        else:
            self._w.write(data)

    def commit(self) -> None:
        if self.fmt == "parquet":
            self._w.close()
        elif self.fmt == "arrow":
            self._w.close()
            self._sink.close()
        else:
            self._sink.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            if self.fmt == "parquet":
                self._w.close()
            else:
                self._sink.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def open_writer(
    path: str | os.PathLike, schema: pa.Schema, *, output_format: str | None = None
) -> _Writer:
    """A context manager writing batches to `path`; nothing appears there unless it exits cleanly."""
    fmt = resolve_output_format(path, output_format)
    if fmt == "disk":
        raise UsageError("a save_to_disk folder cannot be written batch by batch")
    try:
        return _Writer(Path(path), schema, fmt)
    except OSError as e:
        raise InputError(f"{path}: cannot write: {e}") from None


def to_jsonl_bytes(data: pa.Table | pa.RecordBatch) -> bytes:
    """Serialise rows as JSON Lines (nested lists and structs included)."""
    import polars as pl

    df = pl.from_arrow(data)
    buf = io.BytesIO()
    df.write_ndjson(buf)
    return buf.getvalue()


def _write_disk(table: pa.Table, path: Path) -> None:
    import datasets

    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        datasets.Dataset(table).save_to_disk(str(tmp))
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
