"""A converted Ray dataset written out: a folder of row-ordered shards written by the
driver (local), or by Ray tasks on the workers (object storage, `remote`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trlprep.errors import UsageError


def out_dir(output: str) -> Path:
    return Path(output.rstrip("/") or output)


def write_shards(ds: Any, output: str, output_format: str | None, overwrite: bool) -> int:
    """Write `ds` (materialized, its blocks in row order) as a folder of
    `{split}-00000-of-0000N` Parquet (default) or JSON Lines shards: `--num-shards N`, else
    one shard per `--max-shard-size` (500 MB) of data. A local folder is written by the
    driver, block after block in row order, with the local engine's shard writer (beside
    its final name, renamed into place as a whole: nothing left on failure); object storage
    (`s3://...`) by Ray tasks, a shard each, with the same writer and cuts, under a staging
    prefix moved into place once all are written (`trlprep.ray.remote`): the same bytes
    either way. Returns the number of shards."""
    import pyarrow as pa

    from trlprep.io.shardout import ShardedOutput, ShardWriter
    from trlprep.ray.base import _arrow, _blocks, _ray

    fmt = output_format_of(output, output_format)
    ray = _ray()
    blocks = [ref for ref, _, rows in _blocks(ds) if rows]
    schemas = ray.get([ray.remote(_schema_of).remote(ref) for ref in blocks])
    if schemas:
        schema = pa.unify_schemas(schemas, promote_options="permissive")
    else:
        schema = getattr(ds.schema(), "base_schema", None) or pa.schema([])
    if "://" in output:
        from trlprep.ray.remote import write_remote

        return write_remote(ds, output, fmt, schema, overwrite)
    final = out_dir(output)
    if final.exists() and not overwrite:
        raise UsageError(f"{output} exists", hint="pass --overwrite to replace it")
    spec = output if isinstance(output, ShardedOutput) else ShardedOutput(str(final))
    with ShardWriter(spec, schema, fmt) as w:
        for ref in blocks:
            table = _arrow(ray.get(ref))
            w.write(pa.concat_tables([schema.empty_table(), table], promote_options="permissive"))
    return len(w.parts)


def output_format_of(output: str, output_format: str | None) -> str:
    """parquet (the default) or jsonl (`--output-format`, else a .jsonl/.json name)."""
    from trlprep.io.outputcheck import resolve_output_format

    if output_format:  # its aliases (ndjson, pq, ...) as every output takes them
        fmt = resolve_output_format(output, output_format)
    else:
        suffix = output.rstrip("/").rsplit(".", 1)[-1] if "." in Path(output).name else ""
        fmt = "jsonl" if suffix in ("jsonl", "json") else "parquet"
    if fmt not in ("parquet", "jsonl"):
        raise UsageError(f"--engine ray writes parquet or jsonl, not {fmt!r}")
    return fmt


def _schema_of(block: Any) -> Any:
    from trlprep.ray.base import _arrow

    return _arrow(block).schema


__all__ = ["out_dir", "output_format_of", "write_shards"]
