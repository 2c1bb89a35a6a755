"""A converted Ray dataset written out where `-o` says, by the local engine's rule for it
(`io.outputcheck.resolve_output_format`, `io.shardout.sharded`): one file (a suffix), a
folder of row-ordered shards (`out/`, an existing plain folder, `--num-shards`,
`--max-shard-size`) or a `save_to_disk` folder (`out`, `--output-format disk`). The driver
writes a local output with the local engine's writers, block after block in row order;
object storage (`s3://...`) gets shards written by Ray tasks, or one object written by the
driver (`trlprep.ray.remote`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SHARDS, FILE, DISK = "shards", "file", "disk"


def out_dir(output: str) -> Path:
    return Path(output.rstrip("/") or output)


def output_kind(output: str, output_format: str | None) -> tuple[str, str]:
    """(what `output` is: "shards", "file" or "disk"; the format of its data), as the local
    engine decides it. An object-storage path naming an existing folder is a shard folder,
    as an existing local folder is."""
    from trlprep.io.outputcheck import resolve_output_format
    from trlprep.io.shardout import shard_format, sharded

    fmt = resolve_output_format(output, output_format)
    if sharded(output, output_format):
        return SHARDS, fmt
    if fmt == "disk" and "://" in output and (output_format or "").strip().lower() != "disk":
        from trlprep.ray.remote import is_plain_folder

        if is_plain_folder(output):
            return SHARDS, shard_format(output, output_format)
    return (DISK if fmt == "disk" else FILE), fmt


def check_place(
    output: str, output_format: str | None, overwrite: bool, inputs: tuple[Any, ...]
) -> tuple[str, str]:
    """`output_kind`, once the output's place is checked before any work, as the local
    engine checks it (`io.outputcheck.check_output`: never over an input, never over an
    existing output without `overwrite`); an object-storage one as `trlprep.ray.remote`
    writes it (a `save_to_disk` folder there refused)."""
    kind, fmt = output_kind(output, output_format)
    if "://" in output:
        from trlprep.ray.remote import check_remote

        check_remote(output, kind, overwrite)
        return kind, fmt
    from trlprep.io.outputcheck import check_output

    paths = [p for given in inputs for p in (getattr(given, "paths", None) or (given,))]
    local = tuple(str(p) for p in paths if p and "://" not in str(p))
    check_output(output, overwrite=overwrite, inputs=local, output_format=output_format)
    return kind, fmt


def write_output(
    ds: Any,
    output: str,
    output_format: str | None,
    overwrite: bool,
    carried: dict[str, list[str]] | None = None,
) -> int | None:
    """Write `ds` (materialized, its blocks in row order) to `output` (checked first:
    `check_place`): the number of shards written to a shard folder (`write_shards`), None
    for one file or a `save_to_disk` folder. One local file is written by the local
    engine's streaming writer (`io.writers.open_writer`: a temporary sibling renamed into
    place, nothing left on failure), so it holds the bytes `--engine local` writes for the
    same rows; a `save_to_disk` folder is gathered on the driver and written as locally
    (`carried`: the extra columns of several kinds, written as plain text there, as
    locally); one object-storage file by `trlprep.ray.remote.write_remote_file`."""
    import pyarrow as pa

    from trlprep.ray.base import _arrow, _ray

    kind, fmt = output_kind(output, output_format)
    ray = _ray()
    refs, schema = _ordered(ds)
    if kind == SHARDS and "://" in output:
        from trlprep.ray.remote import write_remote

        return write_remote(ds, output, fmt, schema, overwrite)
    if kind == SHARDS:
        return write_shards(refs, schema, output, fmt)
    if "://" in output:
        from trlprep.ray.remote import write_remote_file

        write_remote_file(refs, output, fmt, schema, overwrite)
        return None
    if kind == DISK:
        from trlprep.conversion.stream import untagged_carried
        from trlprep.io.writers import write

        tables = [_conformed(schema, _arrow(ray.get(ref))) for ref in refs]
        table = pa.concat_tables(tables) if tables else schema.empty_table()
        write(untagged_carried(table, carried or {}), output, output_format=DISK, overwrite=True)
        return None
    from trlprep.io.writers import open_writer

    with open_writer(output, schema, output_format=fmt) as w:
        for ref in refs:
            w.write(_conformed(schema, _arrow(ray.get(ref))))
    return None


def write_shards(refs: list[Any], schema: Any, output: str, fmt: str) -> int:
    """Write the blocks `refs` (in row order, of the columns `schema`) as a local folder of
    `{split}-00000-of-0000N` shards: `--num-shards N`, else one shard per
    `--max-shard-size` (500 MB) of data, by the driver, block after block in row order,
    with the local engine's shard writer (beside its final name, renamed into place as a
    whole: nothing left on failure). Object storage gets the same shards, the same bytes,
    from Ray tasks (`trlprep.ray.remote.write_remote`). Returns the number of shards."""
    from trlprep.io.shardout import ShardedOutput, ShardWriter
    from trlprep.ray.base import _arrow, _ray

    ray = _ray()
    spec = output if isinstance(output, ShardedOutput) else ShardedOutput(str(out_dir(output)))
    with ShardWriter(spec, schema, fmt) as w:
        for ref in refs:
            w.write(_conformed(schema, _arrow(ray.get(ref))))
    return len(w.parts)


def output_format_of(output: str, output_format: str | None) -> str:
    """The format of the data written to `output`, as the local engine names it."""
    return output_kind(output, output_format)[1]


def _ordered(ds: Any) -> tuple[list[Any], Any]:
    """(the refs of `ds`'s blocks holding rows, in row order; the columns of them all)."""
    import pyarrow as pa

    from trlprep.ray.base import _blocks, _ray

    ray = _ray()
    refs = [ref for ref, _, rows in _blocks(ds) if rows]
    schemas = ray.get([ray.remote(_schema_of).remote(ref) for ref in refs])
    if schemas:
        return refs, pa.unify_schemas(schemas, promote_options="permissive")
    return refs, getattr(ds.schema(), "base_schema", None) or pa.schema([])


def _conformed(schema: Any, table: Any) -> Any:
    """`table` with the columns `schema` (null columns typed as there)."""
    import pyarrow as pa

    return pa.concat_tables([schema.empty_table(), table], promote_options="permissive")


def _schema_of(block: Any) -> Any:
    from trlprep.ray.base import _arrow

    return _arrow(block).schema


__all__ = [
    "check_place",
    "out_dir",
    "output_format_of",
    "output_kind",
    "write_output",
    "write_shards",
]
