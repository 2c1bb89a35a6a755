"""A converted Ray dataset written to object storage (`s3://`, `gs://`, `file://`, any URI
Arrow's or fsspec's file systems open): one file (`write_remote_file`, written by the
driver), or `{split}-00000-of-0000N` shards written by Ray tasks,
one per shard, with the local engine's writer (`trlprep.io.writers.stream_writer`), so each
shard holds the bytes the local engine writes for its rows: Parquet row groups cut as
there (`groupcut`), JSON Lines with a message's null keys left out (`nullkeys`). Rows go to
the shards as the local engine's `--num-shards` / `--max-shard-size` cut them, so the same
shards hold the same bytes; they are written under a staging prefix and moved into place
once all are written (`staging`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.errors import UsageError
from trlprep.io.remote import filesystem
from trlprep.io.tempfiles import cannot_write


def shard_limit(output: Any) -> int | None:
    """`--num-shards` (None: shards cut by `--max-shard-size`, 500 MB unless given)."""
    return getattr(output, "num_shards", None)


def spans(blocks: list[tuple[Any, int, int]], rows: int, n: int) -> list[list[tuple]]:
    """Each of `n` shards' pieces (block ref, first row in it, rows) of the blocks (ref,
    first row in the dataset, rows): shards of `ceil(rows / n)` rows in row order, as the
    local engine's `--num-shards` cuts them (empty shards last where rows are fewer)."""
    per = max(math.ceil(rows / n), 1)
    bounds = [(min(i * per, rows), min((i + 1) * per, rows)) for i in range(n)]
    return [pieces(blocks, a, b) for a, b in bounds]


def pieces(blocks: list[tuple[Any, int, int]], start: int, end: int) -> list[tuple]:
    """The pieces (block ref, first row in it, rows) of the rows `start` to `end` (not
    included) of the blocks (ref, first row in the dataset, rows)."""
    out = []
    for ref, first, count in blocks:
        a, b = max(start, first), min(end, first + count)
        if a < b:
            out.append((ref, a - first, b - a))
    return out


def size_cuts(sizes: np.ndarray, limit: int, write: Callable[[int, int], int]) -> list[int]:
    """The rows where shards end, cut as the local `--max-shard-size` cuts them
    (`io.shardout.ShardWriter.write`): a shard takes rows (`sizes`: each row's bytes in
    memory, `groupcut.row_bytes`) while they fit `limit` bytes on disk, estimated from
    the bytes on disk per byte in memory of the shard before (1 for the first); a row past
    the limit is a shard of its own. `write(start, end)` writes a shard's rows and returns
    its bytes on disk, so the shards are written one after another. No rows: one empty
    shard."""
    cum = np.cumsum(sizes, dtype=np.int64)
    rows, start, ratio, ends = len(sizes), 0, 1.0, []
    while start < rows or not ends:
        base = int(cum[start - 1]) if start else 0
        room = limit / max(ratio, 1e-9)
        end = max(int(np.searchsorted(cum, base + room, side="right")), start + 1)
        end = min(end, rows)
        on_disk = write(start, end)
        if end > start and int(cum[end - 1]) > base:
            ratio = on_disk / (int(cum[end - 1]) - base)
        ends.append(end)
        start = end
    return ends


def write_remote(ds: Any, output: str, fmt: str, schema: pa.Schema, overwrite: bool) -> int:
    """Write `ds` (materialized, its blocks in row order) to the object-storage folder
    `output` as shards written by Ray tasks, all at once for `--num-shards`, else one after
    another as `--max-shard-size` cuts them (each shard's cut learns from the one before,
    as locally). They are written under a staging prefix and moved into place once all are
    written (`staging`): a failure, Ctrl-C or SIGTERM leaves the folder as it was. An
    existing folder holding files is replaced only with `overwrite` (shards of an earlier
    run left there removed). Returns the shard count."""
    from trlprep.io.shardout import ShardedOutput, shard_name
    from trlprep.ray.base import _blocks, _ray
    from trlprep.ray.staging import Staging

    ray = _ray()
    fs, root = filesystem(output)
    root = root.rstrip("/")
    before = _files(fs, root)
    if before and not overwrite:
        raise UsageError(f"{output} exists", hint="pass --overwrite to replace it")
    blocks = [b for b in _blocks(ds) if b[2]]
    rows = sum(b[2] for b in blocks)
    split = output.split if isinstance(output, ShardedOutput) else "train"
    stage = Staging(fs, root)
    staged_uri = f"{output.rstrip('/')}/{stage.name}"
    write = ray.remote(_write_shard)
    tasks: list[Any] = []

    def shard(i: int, its: list[tuple]) -> Any:
        ref = write.remote(
            f"{staged_uri}/{_part(i, fmt)}", fmt, schema, [p[1:] for p in its], *[p[0] for p in its]
        )
        tasks.append(ref)
        return ref

    try:
        stage.create()
        n = shard_limit(output)
        if n is not None:
            ray.get([shard(i, its) for i, its in enumerate(spans(blocks, rows, n))])
        else:
            from trlprep.io.shardout import DEFAULT_MAX_SHARD_SIZE

            limit = getattr(output, "max_shard_size", None) or DEFAULT_MAX_SHARD_SIZE
            measure = ray.remote(_row_bytes)
            found = ray.get([measure.remote(schema, b[0]) for b in blocks])
            sizes = np.concatenate(found) if found else np.zeros(0, np.int64)
            ends = size_cuts(
                sizes,
                limit,
                lambda a, b: ray.get(shard(len(tasks), pieces(blocks, a, b)))[1],
            )
            n = len(ends)
        names = [shard_name(split, i, n, fmt) for i in range(n)]
        stage.publish([_part(i, fmt) for i in range(n)], names)
    except BaseException as e:
        _stop(ray, tasks)
        stage.remove()
        if isinstance(e, OSError):  # a task's: its own error, not Ray's traceback
            cause = getattr(e, "cause", None)
            raise cannot_write(output, cause if isinstance(cause, OSError) else e) from None
        raise
    stale = re.compile(rf"{re.escape(split)}-\d{{5}}-of-\d{{5}}\.{fmt}")
    for old in before:  # an earlier run's shards (of another count): not this output's
        name = old.rsplit("/", 1)[-1]
        if stale.fullmatch(name) and name not in names:
            fs.delete_file(old)
    return n


def is_plain_folder(uri: str) -> bool:
    """Whether `uri` is an existing folder that is no `save_to_disk` folder (a shard
    folder, as an existing local one is: `io.shardout.sharded`)."""
    from pyarrow import fs as pafs

    fs, path = filesystem(uri)
    path = path.rstrip("/")
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        return False
    marks = fs.get_file_info([f"{path}/state.json", f"{path}/dataset_dict.json"])
    return not any(m.type == pafs.FileType.File for m in marks)


def check_remote(uri: str, kind: str, overwrite: bool) -> None:
    """Refuse, before any work, what cannot be written to the object-storage `uri` (`kind`:
    "shards", "file" or "disk", as `trlprep.ray.output.output_kind` says): a `save_to_disk`
    folder, a file where a folder is, or an existing output without `overwrite`."""
    from pyarrow import fs as pafs

    if kind == "disk":
        raise UsageError(
            f"{uri}: a save_to_disk folder (a path with no suffix) is written only to a local "
            "path by --engine ray",
            hint=f"write a shard folder ({uri.rstrip('/')}/) or one file "
            f"({uri.rstrip('/')}.parquet) there, or the save_to_disk folder to a local path",
        )
    fs, path = filesystem(uri)
    path = path.rstrip("/")
    found = fs.get_file_info(path).type
    if kind == "file" and found == pafs.FileType.Directory:
        raise UsageError(
            f"{uri}: is a folder, not a file",
            hint=f"end it with / to write shards into it ({uri}/), or name another file",
        )
    there = _files(fs, path) if kind == "shards" else found != pafs.FileType.NotFound
    if there and not overwrite:
        raise UsageError(f"{uri} exists", hint="pass --overwrite to replace it")


def write_remote_file(
    refs: list[Any], uri: str, fmt: str, schema: pa.Schema, overwrite: bool
) -> None:
    """Write the blocks `refs` (in row order) as the one object-storage file `uri`: the
    driver writes them block after block with the local engine's writer (the bytes it
    writes for a local file) under a staging prefix beside it, moved to its name once
    whole (`staging`); a failure, Ctrl-C or SIGTERM removes the staged file and leaves an
    existing `uri` as it was. An existing file is replaced only with `overwrite`."""
    from pyarrow import fs as pafs

    from trlprep.io.writers import stream_writer
    from trlprep.ray.base import _arrow, _ray
    from trlprep.ray.staging import Staging

    ray = _ray()
    fs, path = filesystem(uri)
    if fs.get_file_info(path).type != pafs.FileType.NotFound and not overwrite:
        raise UsageError(f"{uri} exists", hint="pass --overwrite to replace it")
    root, _, name = path.rpartition("/")
    stage = Staging(fs, root)
    try:
        stage.create()
        sink = fs.open_output_stream(f"{stage.path}/{name}", compression=None)
        with stream_writer(sink, uri, schema, fmt) as w:
            for ref in refs:
                table = [schema.empty_table(), _arrow(ray.get(ref))]
                w.write(pa.concat_tables(table, promote_options="permissive"))
        stage.publish([name], [name])
    except BaseException as e:
        stage.remove()
        if isinstance(e, OSError):
            raise cannot_write(uri, e) from None
        raise


def _part(i: int, fmt: str) -> str:
    return f"part-{i:05d}.{fmt}"


def _stop(ray: Any, tasks: list[Any]) -> None:
    """End the shard writes still running (their workers stopped: a write does not stop at
    a polite cancel) and wait for them, so none writes into the staging prefix once it is
    removed."""
    for t in tasks:
        try:
            ray.cancel(t, force=True)
        except Exception:  # (a task already done)
            pass
    if tasks:
        ray.wait(tasks, num_returns=len(tasks), timeout=60)


def _row_bytes(schema: pa.Schema, block: Any) -> np.ndarray:
    """Each row's bytes in memory (`groupcut.row_bytes`) of `block` typed as `schema`, as
    the local writer measures the rows it is given."""
    from trlprep.io.groupcut import row_bytes
    from trlprep.ray.base import _arrow

    table = [schema.empty_table(), _arrow(block)]
    return row_bytes(pa.concat_tables(table, promote_options="permissive"))


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
    by the local engine's writer (removed again on failure). Returns its rows and bytes."""
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
    return w.rows, fs.get_file_info(path).size


__all__ = [
    "check_remote",
    "filesystem",
    "is_plain_folder",
    "pieces",
    "size_cuts",
    "spans",
    "write_remote",
    "write_remote_file",
]
