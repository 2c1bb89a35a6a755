"""Sharded outputs: a folder of `{split}-00000-of-00004.parquet` files, written as a whole.

An output is a shard folder when its path ends with `/`, is an existing folder that is not
a `save_to_disk` folder, or comes with `num_shards` / `max_shard_size` (`ShardedOutput`).
Without either, the rows go to one file until it reaches 500 MB, then to the next. The
files are named as the Hugging Face Hub names shards, so `datasets.load_dataset("parquet",
data_dir=DIR)` and trlprep read the folder back. Everything is written in a hidden
temporary folder beside the output and renamed into place at the end: a failure, Ctrl-C or
SIGTERM leaves nothing behind (and an existing output untouched).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa

from trlprep.errors import UsageError

DEFAULT_MAX_SHARD_SIZE = 500 * 10**6  # bytes
SHARD_FORMATS = ("parquet", "jsonl", "arrow")
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


class ShardedOutput(str):
    """An output folder path with how to shard it (the text is the path itself)."""

    num_shards: int | None
    max_shard_size: int | None
    split: str

    def __new__(
        cls,
        path: str | os.PathLike,
        *,
        num_shards: int | None = None,
        max_shard_size: int | str | None = None,
        split: str | None = None,
    ) -> ShardedOutput:
        self = super().__new__(cls, str(path))
        if num_shards is not None and num_shards < 1:
            raise UsageError(f"--num-shards {num_shards}: give 1 or more")
        if num_shards is not None and max_shard_size is not None:
            raise UsageError("pass --num-shards or --max-shard-size, not both")
        self.num_shards = num_shards
        self.max_shard_size = parse_size(max_shard_size) if max_shard_size is not None else None
        self.split = split or "train"
        return self


def parse_size(size: int | str) -> int:
    """Bytes of `500MB`, `1.5GB`, `64MiB` or a plain number of bytes."""
    if isinstance(size, int):
        value = size
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", size)
        unit = m and _UNITS.get(m.group(2).lower())
        if not m or unit is None:
            raise UsageError(
                f"--max-shard-size {size!r}: not a size", hint="write it like 500MB, 2GB or 64MiB"
            )
        value = int(float(m.group(1)) * unit)
    if value < 1:
        raise UsageError(f"--max-shard-size {size!r}: give more than 0 bytes")
    return value


def is_disk_folder(p: Path) -> bool:
    return (p / "state.json").is_file() or (p / "dataset_dict.json").is_file()


def sharded(path: str | os.PathLike, output_format: str | None = None) -> bool:
    """Whether `path` names a shard folder (see the module doc)."""
    if isinstance(path, ShardedOutput):
        return True
    if (output_format or "").strip().lower() == "disk":
        return False
    text = os.fspath(path)
    if text.endswith(("/", os.sep)):
        return True
    p = Path(text)
    return p.is_dir() and not is_disk_folder(p)


_FILE_SUFFIXES = {".jsonl": "jsonl", ".jsonl.gz": "jsonl", ".parquet": "parquet", ".arrow": "arrow"}


def shard_format(path: str | os.PathLike, output_format: str | None) -> str:
    """The format of a shard folder's files (Parquet unless asked)."""
    text = os.fspath(path)
    named = next((x for x in _FILE_SUFFIXES if text.lower().endswith(x)), None)
    if named and not Path(text).is_dir():  # `-o out.jsonl --num-shards 2`: one file meant?
        base = text[: -len(named)]
        raise UsageError(
            f"{path}: --num-shards/--max-shard-size write a folder of shards, and this is a "
            f"{named} file's name",
            hint=f"write the shards to -o {base}/ (--output-format {_FILE_SUFFIXES[named]} for "
            f"{_FILE_SUFFIXES[named]} shards), or drop --num-shards/--max-shard-size for one file",
        )
    fmt = (output_format or "parquet").strip().lower()
    fmt = {"ndjson": "jsonl", "pq": "parquet", "ipc": "arrow", "feather": "arrow"}.get(fmt, fmt)
    if fmt not in SHARD_FORMATS:
        raise UsageError(
            f"{path}: a shard folder holds {', '.join(SHARD_FORMATS)} files, not {fmt}",
            hint="drop the trailing / (and --num-shards) to write a save_to_disk folder",
        )
    return fmt


def shard_name(split: str, i: int, n: int, fmt: str) -> str:
    """`train-00000-of-00004.parquet`."""
    return f"{split}-{i:05d}-of-{n:05d}.{fmt}"


class ShardWriter:
    """Writes batches into numbered shards in a temporary folder; `commit` names them
    `{split}-i-of-n` and renames the folder into place; `abort` removes it."""

    def __init__(self, path: str | os.PathLike, schema: pa.Schema, fmt: str) -> None:
        from trlprep.io.tempfiles import staged_dir

        target = Path(os.fspath(path).rstrip("/" + os.sep) or os.fspath(path))
        self.target, self.tmp = staged_dir(target, "shards", named=path)
        self.fmt, self.schema = fmt, schema
        spec = path if isinstance(path, ShardedOutput) else ShardedOutput(path)
        self.num_shards = spec.num_shards
        self.max_size = spec.max_shard_size or DEFAULT_MAX_SHARD_SIZE
        self.split = spec.split
        self.rows = 0
        self.parts: list[Path] = []
        self._w = None
        self._bytes_in = 0  # bytes of the rows written to the open part (`row_bytes`)
        self._ratio = 1.0  # bytes on disk per byte in memory (learnt from closed shards)
        self._made = 0  # parts created (their names stay unique while resharding)

    def _open(self, schema: pa.Schema):
        from trlprep.io.writers import open_writer

        self._made += 1
        part = self.tmp / f"part-{self._made:05d}.{self.fmt}"
        self.parts.append(part)
        self._bytes_in = 0
        return open_writer(part, schema, output_format=self.fmt)

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        """Append rows; a new shard starts at the first row that would take the current one
        past the size limit (on-disk size estimated from the shards closed so far; the
        first one counts bytes in memory, so it stays under the limit). Rows are measured
        from their values (`groupcut.row_bytes`): the shards do not depend on the batches."""
        from trlprep.io.groupcut import row_bytes

        if data.num_rows == 0:
            return
        if self.num_shards is not None:  # cut by rows at the end
            self._write(data, 0)
            return
        sizes = row_bytes(data)
        start = 0
        while start < data.num_rows:
            cum = np.cumsum(sizes[start:])
            room = self.max_size / max(self._ratio, 1e-9) - self._bytes_in
            fit = int(np.searchsorted(cum, room, side="right"))
            if not self._bytes_in:
                fit = max(fit, 1)  # a row past the limit: a shard of its own
            if fit:
                self._write(data.slice(start, fit), int(cum[fit - 1]))
            start += fit
            if start < data.num_rows:
                self._finish_part()

    def _write(self, data: pa.Table | pa.RecordBatch, nbytes: int) -> None:
        if self._w is None:
            self._w = self._open(self.schema)
        self._w.write(data)
        self._bytes_in += nbytes
        self.rows += data.num_rows

    def _finish_part(self) -> None:
        self._w.commit()
        self._w = None
        if self._bytes_in:  # bytes on disk per byte in memory, for the next shards
            self._ratio = self.parts[-1].stat().st_size / self._bytes_in
        self._bytes_in = 0

    def commit(self) -> None:
        """Close the last shard, name every shard, and move the folder into place."""
        from trlprep.io.tempfiles import cannot_write, replace_into

        try:
            if self._w is not None:
                self._finish_part()
            if not self.parts:  # no rows: one empty shard keeps the columns
                self._w = self._open(self.schema)
                self._finish_part()
            if self.num_shards is not None:
                self._reshard()
            n = len(self.parts)
            for i, part in enumerate(self.parts):
                os.replace(part, self.tmp / shard_name(self.split, i, n, self.fmt))
            replace_into(self.tmp, self.target)
        except OSError as e:
            self.abort()
            raise cannot_write(self.target, e) from None
        except BaseException:
            self.abort()
            raise

    def _reshard(self) -> None:
        """Cut the rows written into `num_shards` shards of (nearly) equal row counts."""
        from trlprep.io.readers import iter_batches

        whole = self.parts
        self.parts = []
        per = max(math.ceil(self.rows / self.num_shards), 1)
        left = 0  # rows the open shard still takes
        for part in whole:
            for b in iter_batches(str(part), input_format=self.fmt):
                data = b.data
                while data.num_rows:
                    if left == 0:
                        if self._w is not None:
                            self._finish_part()
                        self._w = self._open(self.schema)
                        left = per
                    take = data.slice(0, left)
                    self._w.write(take)
                    left -= take.num_rows
                    data = data.slice(take.num_rows)
            part.unlink()
        if self._w is not None:
            self._finish_part()
        while len(self.parts) < self.num_shards:  # fewer rows than shards: empty shards
            self._w = self._open(self.schema)
            self._finish_part()

    def abort(self) -> None:
        """Remove everything written."""
        from trlprep.io.tempfiles import remove

        if self._w is not None:
            self._w.abort()
            self._w = None
        remove(self.tmp)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_splits(data: Mapping[str, pa.Table], path: str | os.PathLike, fmt: str) -> None:
    """Several splits into one shard folder (`train-*` beside `test-*`), as one whole."""
    from trlprep.io.tempfiles import cannot_write, remove, replace_into, staged_dir

    bad = [name for name in data if not re.fullmatch(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*", name)]
    if bad:
        raise UsageError(f"split name {bad[0]!r} cannot name shard files", hint="rename the split")
    spec = path if isinstance(path, ShardedOutput) else ShardedOutput(path)
    target = Path(os.fspath(path).rstrip("/" + os.sep) or os.fspath(path))
    target, tmp = staged_dir(target, "shards", named=path)
    try:
        for split, table in data.items():
            sub = ShardedOutput(
                tmp / f"split-{split}",
                num_shards=spec.num_shards,
                max_shard_size=spec.max_shard_size,
                split=split,
            )
            with ShardWriter(sub, table.schema, fmt) as w:
                w.write(table)
            for f in sorted(Path(sub).iterdir()):
                os.replace(f, tmp / f.name)
            Path(sub).rmdir()
        replace_into(tmp, target)
    except OSError as e:
        remove(tmp)
        raise cannot_write(path, e) from None
    except BaseException:
        remove(tmp)
        raise
