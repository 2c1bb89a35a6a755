"""A converted Ray dataset written to object storage (`s3://`, `gs://`, `file://`, any URI
Arrow's or fsspec's file systems open): `{split}-00000-of-0000N` shards written by Ray tasks,
one per shard, with the local engine's writer (`trlprep.io.writers.stream_writer`), so each
shard holds the bytes the local engine writes for its rows: Parquet row groups cut as
there (`groupcut`), JSON Lines with a message's null keys left out (`nullkeys`). Rows go to
the shards as the local engine's `--num-shards` cuts them (equal rows, in row order).
"""

from __future__ import annotations

import math
import re
from typing import Any

import pyarrow as pa

from trlprep.errors import InputError, UsageError
from trlprep.io.tempfiles import cannot_write


def filesystem(uri: str) -> tuple[Any, str]:
    """(an Arrow file system, the path in it) of `uri`; fsspec's where Arrow has none."""
    from pyarrow import fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as e:
        try:
            import fsspec
        except ImportError:
            raise InputError(
                f"{uri}: cannot write there: {e}",
                hint="write to a local folder, or install fsspec and the package of its "
                "file system (s3fs, gcsfs, ...)",
            ) from None
        found, path = fsspec.core.url_to_fs(uri)
        return pafs.PyFileSystem(pafs.FSSpecHandler(found)), path


def shard_count(ds: Any, output: Any, rows: int) -> int:
    """`--num-shards`, else one shard per `--max-shard-size` (500 MB) of the data's bytes."""
    from trlprep.io.shardout import DEFAULT_MAX_SHARD_SIZE

    n = getattr(output, "num_shards", None)
    if n is not None:
        return n
    limit = getattr(output, "max_shard_size", None) or DEFAULT_MAX_SHARD_SIZE
    return max(1, min(math.ceil((ds.size_bytes() or 0) / limit), max(rows, 1)))


def spans(blocks: list[tuple[Any, int, int]], rows: int, n: int) -> list[list[tuple]]:
    """Each of `n` shards' pieces (block ref, first row in it, rows) of the blocks (ref,
    first row in the dataset, rows): shards of `ceil(rows / n)` rows in row order, as the
    local engine's `--num-shards` cuts them (empty shards last where rows are fewer)."""
    per = max(math.ceil(rows / n), 1)
    out: list[list[tuple]] = [[] for _ in range(n)]
    for ref, first, count in blocks:
        at = 0
        while at < count:
            shard = (first + at) // per
            take = min(count - at, (shard + 1) * per - (first + at))
            out[shard].append((ref, at, take))
            at += take
    return out


def write_remote(ds: Any, output: str, fmt: str, schema: pa.Schema, overwrite: bool) -> int:
    """Write `ds` (materialized, its blocks in row order) to the object-storage folder
    `output` as shards, one Ray task each; an existing folder holding files only with
    `overwrite` (shards of an earlier run left there removed). Returns the shard count."""
    from trlprep.io.shardout import ShardedOutput, shard_name
    from trlprep.ray.base import _blocks, _ray

    ray = _ray()
    fs, root = filesystem(output)
    root = root.rstrip("/")
    before = _files(fs, root)
    if before and not overwrite:
        raise UsageError(f"{output} exists", hint="pass --overwrite to replace it")
    blocks = [b for b in _blocks(ds) if b[2]]
    rows = sum(b[2] for b in blocks)
    n = shard_count(ds, output, rows)
    split = output.split if isinstance(output, ShardedOutput) else "train"
    names = [shard_name(split, i, n, fmt) for i in range(n)]
    base = output.rstrip("/")
    write = ray.remote(_write_shard)
    try:
        fs.create_dir(root, recursive=True)  # (a local or HDFS folder; object storage: none)
        tasks = [
            write.remote(
                f"{base}/{name}", fmt, schema, [p[1:] for p in pieces], *[p[0] for p in pieces]
            )
            for name, pieces in zip(names, spans(blocks, rows, n), strict=True)
        ]
        ray.get(tasks)
    except OSError as e:
        raise cannot_write(output, e) from None
    stale = re.compile(rf"{re.escape(split)}-\d{{5}}-of-\d{{5}}\.{fmt}")
    for old in before:  # an earlier run's shards (of another count): not this output's
        name = old.rsplit("/", 1)[-1]
        if stale.fullmatch(name) and name not in names:
            fs.delete_file(old)
    return n


def _files(fs: Any, root: str) -> list[str]:
    """The files under `root` (none where it does not exist)."""
    from pyarrow import fs as pafs

    info = fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        return []
    if info.type == pafs.FileType.File:
        return [root]
    found = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    return [f.path for f in found if f.type == pafs.FileType.File]


def _write_shard(
    uri: str, fmt: str, schema: pa.Schema, cuts: list[tuple[int, int]], *blocks: Any
) -> int:
    """One shard: the rows `cuts` (first row, rows) of `blocks`, in order, written to `uri`
    by the local engine's writer (removed again on failure). Returns its rows."""
    from trlprep.io.writers import stream_writer
    from trlprep.ray.base import _arrow

    fs, path = filesystem(uri)
    sink = fs.open_output_stream(path, compression=None)
    try:
        with stream_writer(sink, uri, schema, fmt) as w:
            for block, (at, take) in zip(blocks, cuts, strict=True):
                table = [schema.empty_table(), _arrow(block).slice(at, take)]
                w.write(pa.concat_tables(table, promote_options="permissive"))
    except BaseException:
        try:
            fs.delete_file(path)
        except (OSError, pa.ArrowException):
            pass
        raise
    return w.rows


__all__ = ["filesystem", "spans", "write_remote"]
