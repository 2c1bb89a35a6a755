"""Reading inputs into a numbered Ray dataset, every format the local engine reads.

Parquet goes through Ray's `read_parquet` and JSON Lines through `read_json` (so inputs may
also live in object storage). Every other local input (JSON arrays and wrappers, CSV, Arrow
IPC/Feather, `save_to_disk` folders, Hub ids, zstd-compressed JSON Lines, and JSON Lines
read with `--on-bad-lines skip`) is read by trlprep's own reader, one Ray task per file, and
handed to Ray as Arrow (`from_arrow_refs`): Ray's `read_csv` would not decode the columns of
JSON text CSV files hold nor keep date-like text as written, its `read_json` reads no JSON
arrays, cannot skip a broken line, and has no line numbers for zstd. Rows are numbered as the
local engine numbers them: `ROW_ID` (row of the whole input), `LINE` (file line).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from trlprep.errors import TrlprepError, UsageError
from trlprep.ray.base import LINE, PATH, _ray

NATIVE = {"parquet": "parquet", "jsonl": "json"}  # trlprep format -> Ray reader
UNLINED = (".zst", ".zstd", ".lz4", ".br")  # compressed JSON Lines Ray reads without lines


def _remote(paths: list[str]) -> bool:
    return any("://" in p for p in paths)


def input_paths(path: Any, input_format: str | None, split: str | None) -> list[str]:
    """The files to read: local folders and globs resolved as the local engine does
    (`trlprep.io.inputfiles`); a `save_to_disk` folder or Hub id as itself; object-storage
    URIs passed to Ray as they are."""
    given = list(getattr(path, "paths", None) or ([path] if isinstance(path, str) else path))
    if _remote([str(p) for p in given]):
        return [str(p) for p in given]
    from trlprep.io.inputfiles import input_files

    files = input_files(path, split, input_format)
    return [str(p) for p in (given if files is None else files)]


def input_format_of(paths: list[str], input_format: str | None) -> str:
    """The local engine's format name (jsonl, json, parquet, csv, arrow, disk, hub)."""
    if _remote(paths):
        from trlprep.io.sources import split_suffix

        fmt = input_format or split_suffix(paths[0])[0] or ""
        fmt = {"ndjson": "jsonl", "pq": "parquet"}.get(fmt, fmt)
        if fmt not in NATIVE:
            raise UsageError(
                f"{paths[0]}: object-storage inputs are read by Ray's own readers, which "
                f"read Parquet and JSON Lines, not {fmt or 'this format'}",
                hint="copy the files to a local folder (trlprep reads every format there), "
                "or pass --input-format parquet|jsonl",
            )
        return fmt
    from trlprep.io.readers import resolve_format
    from trlprep.io.shards import Inputs

    return resolve_format(Inputs(paths) if len(paths) > 1 else paths[0], input_format)


def _columns(first: str, fmt: str) -> list[str]:
    """The columns of a local file (Parquet schema, or the first JSON Lines record)."""
    import json

    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(first).names)
    with open(first, "rb") as f:
        for line in f:
            if line.strip():
                try:
                    record = json.loads(line)
                except ValueError:
                    return []
                return list(record) if isinstance(record, dict) else []
    return []


def read(path: Any, input_format: str | None = None, split: str | None = None) -> Any:
    """A Ray dataset over files, folders, globs or object-storage URIs (no hidden columns)."""
    ds, _, _ = read_numbered(path, input_format, split)
    return ds.drop_columns([c for c in ds.columns() if c.startswith("__trlprep_")])


def _ray_read(paths: list[str], fmt: str, include_paths: bool) -> Any:
    data = _ray().data
    if fmt == "parquet":
        return data.read_parquet(paths, include_paths=include_paths)
    # lines=False: Arrow's JSON reader (itself line-delimited); lines=True reads with pandas,
    # which retypes values (numbers with gaps as floats) and guesses across kinds
    return data.read_json(paths, lines=False, include_paths=include_paths)


def read_numbered(
    path: Any,
    input_format: str | None = None,
    split: str | None = None,
    bad_lines: Any = None,
) -> tuple[Any, int, Any]:
    """The input as a Ray dataset numbered as the local engine numbers it: ROW_ID and, for
    line-based files, LINE; also the row count and the files (`Shards`, None for one file
    or object storage). `bad_lines` (`trlprep.io.jsonl.BadLines`): JSON Lines lines that
    hold no JSON object are skipped into it (else the first one is a DataError naming it)."""
    from trlprep.ray.numbering import numbered, numbered_files

    paths = input_paths(path, input_format, split)
    fmt = input_format_of(paths, input_format)
    local = not _remote(paths)
    native = fmt in NATIVE and (bad_lines is None or not local)
    if native and local and fmt == "jsonl" and any(p.endswith(UNLINED) for p in paths):
        native = False  # trlprep's reader counts the lines of zstd files
    if not native:
        return _trlprep_read(paths, fmt, split, bad_lines)
    if not local:
        ds, total = numbered(_ray_read(paths, fmt, False).materialize())
        return ds, total, None
    if PATH in _columns(paths[0], NATIVE[fmt]):  # a data column named as Ray's file column
        return _trlprep_read(paths, fmt, split, bad_lines)
    try:
        with _quiet(fmt == "jsonl"):  # Ray logs the failed read it gives back to us
            ds = _ray_read(paths, fmt, True).materialize()
    except TrlprepError:
        raise
    except Exception:
        if fmt != "jsonl":
            raise
        # a line Ray's JSON reader cannot read (broken, or kinds that disagree in a
        # column): trlprep's reader names the broken line as locally, or reads the rest
        return _trlprep_read(paths, fmt, split, bad_lines)
    ds, total, shards = numbered_files(ds, paths, line_based=fmt == "jsonl")
    return ds.materialize(), total, shards if len(paths) > 1 else None


@contextlib.contextmanager
def _quiet(on: bool) -> Iterator[None]:
    """Ray Data's logging silenced inside (a read whose failure trlprep handles)."""
    logger = logging.getLogger("ray.data")
    level = logger.level
    if on:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def _trlprep_read(
    paths: list[str], fmt: str, split: str | None, bad_lines: Any
) -> tuple[Any, int, Any]:
    """Read each file with trlprep's reader in a Ray task (LINE from its line numbers);
    files' columns checked as locally (the shard named); rows numbered across files."""
    from trlprep.io.inputfiles import file_bad_lines
    from trlprep.io.shards import Shards, _check_columns
    from trlprep.ray.numbering import numbered

    ray = _ray()
    read_one = ray.remote(num_returns=2)(_read_file)
    skip = bad_lines is not None
    refs = [read_one.remote(p, fmt, split, skip) for p in paths]
    tables = [t for t, _ in refs]
    metas = [ray.get(m) for _, m in refs]  # in file order: the first broken file's error
    first: tuple[str, list[str]] | None = None
    starts, offset = [], 0
    for p, (rows, names, found) in zip(paths, metas, strict=True):
        starts.append(offset)
        offset += rows
        if rows and first is None:
            first = (p, names)
        elif rows:
            _check_columns(first[0], first[1], p, names)
        sink = file_bad_lines(bad_lines, p) if len(paths) > 1 else bad_lines
        for line, (reason, text) in found.items():
            sink.add(line, reason, text.encode("utf-8"))
    shards = Shards(paths, starts, [m[0] for m in metas])
    ds, total = numbered(ray.data.from_arrow_refs(tables))
    return ds.materialize(), total, shards if len(paths) > 1 else None


def _read_file(path: str, fmt: str, split: str | None, skip: bool) -> tuple[pa.Table, tuple]:
    """One file read by trlprep's reader: its rows with LINE, and (rows, columns, bad
    lines found as {line: (reason, text)})."""
    from trlprep.io.jsonl import BadLines
    from trlprep.io.readers import read

    bad = BadLines() if skip else None
    src = read(path, split=split, input_format=fmt, bad_lines=bad)
    table = src.table
    n = table.num_rows
    line = pa.nulls(n, pa.int64()) if src.lines is None else pa.array(src.lines, pa.int64())
    table = table.append_column(LINE, line)
    found = dict(bad.found) if bad is not None else {}
    return table, (n, [c for c in table.column_names if c != LINE], found)


__all__ = ["input_format_of", "input_paths", "read", "read_numbered"]
