"""Reading inputs into a numbered Ray dataset, every format the local engine reads.

Local inputs (files, folders, globs, `save_to_disk` folders, Hub ids) are read by trlprep's
own reader, one Ray task per file, each handing its rows back as blocks in order (a
streaming generator); rows are numbered from that order in the driver, as the local engine
numbers them: `ROW_ID` (row of the whole input), `LINE` (file line). Nothing rests on Ray
Data keeping the order of blocks (a best effort, even with `preserve_order`), and every
input reads as locally: JSON arrays and wrappers, CSV with JSON text, zstd JSON Lines,
broken lines named or skipped. Object storage (`s3://...`, `file://...`) is read the same
way, each file copied into its task's temporary folder first (`remotein`): its rows named
`URI:line` / `URI row N` as a local file's are.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from trlprep.errors import TrlprepError
from trlprep.ray.base import LINE, _ray, unwrapped
from trlprep.ray.csvread import CsvParts, csv_parts, finish_ranges, start_ranges
from trlprep.ray.jsonranges import Span, file_spans, joined, span_chunks
from trlprep.ray.remotein import is_remote, local_copy, remote_files, remote_format
from trlprep.ray.rowgroups import BLOCK_BYTES, parquet_runs, read_groups


def _remote(paths: list[str]) -> bool:
    return any(is_remote(p) for p in paths)


def input_paths(path: Any, input_format: str | None, split: str | None) -> list[str]:
    """The files to read: local folders and globs resolved as the local engine does
    (`trlprep.io.inputfiles`); a `save_to_disk` folder or Hub id as itself; object-storage
    folders listed as local ones are (`remotein`)."""
    from trlprep.io.inputfiles import input_files

    given = _given(path)
    if _remote(given):  # each path listed by its own file system
        lister = {True: remote_files, False: input_files}
        files = [lister[is_remote(p)](p, split, input_format) or [p] for p in given]
        return [f for found in files for f in found]
    files = input_files(path, split, input_format)
    return given if files is None else [str(p) for p in files]


def _given(path: Any) -> list[str]:
    """The paths as given: one, or each of a list (`Inputs`)."""
    given = getattr(path, "paths", None) or (
        [path] if isinstance(path, (str, os.PathLike)) else path
    )
    return [str(p) for p in given]


def input_format_of(paths: list[str], input_format: str | None) -> str:
    """The local engine's format name (jsonl, json, parquet, csv, arrow, disk, hub)."""
    if _remote(paths):
        return remote_format(paths, input_format)
    from trlprep.io.readers import resolve_format
    from trlprep.io.shards import Inputs

    return resolve_format(Inputs(paths) if len(paths) > 1 else paths[0], input_format)


@unwrapped()
def read(path: Any, input_format: str | None = None, split: str | None = None) -> Any:
    """A Ray dataset over files, folders, globs or object-storage URIs (no hidden columns)."""
    ds, _, _ = read_numbered(path, input_format, split)
    return ds.drop_columns([c for c in ds.columns() if c.startswith("__trlprep_")])


@unwrapped()
def read_numbered(
    path: Any,
    input_format: str | None = None,
    split: str | None = None,
    bad_lines: Any = None,
    tools_column: str | None = None,
) -> tuple[Any, int, Any]:
    """The input as a Ray dataset numbered as the local engine numbers it: ROW_ID and, for
    line-based files, LINE; also the row count and the files (`Shards`, None for one file).
    `bad_lines` (`trlprep.io.jsonl.BadLines`): JSON Lines lines that hold no JSON object
    are skipped into it (else the first one is a DataError naming it). `tools_column`: the
    column `--map tools=NAME` renames, read as each row's own schemas as `tools` is
    (`trlprep.io.jsontext.tools_from`)."""
    paths = input_paths(path, input_format, split)
    fmt = input_format_of(paths, input_format)
    # a folder or glob of one file is a multi-file input of one shard, as locally
    many = len(paths) > 1 or paths != _given(path)
    return _trlprep_read(paths, fmt, split, bad_lines, tools_column, many)


def _trlprep_read(
    paths: list[str],
    fmt: str,
    split: str | None,
    bad_lines: Any,
    tools_column: str | None,
    many: bool,
) -> tuple[Any, int, Any]:
    """Read each file with trlprep's reader in Ray tasks that hand back its rows (with
    LINE) as blocks in order (a Parquet file of several row groups: one task per run of
    them, `rowgroups`); files' columns checked as locally (the shard named); rows numbered
    across files in file and block order, known in the driver."""
    from trlprep.io.inputfiles import file_bad_lines
    from trlprep.io.shards import Shards, _check_columns
    from trlprep.ray.numbering import numbered

    ray = _ray()
    read_one = ray.remote(num_returns="streaming")(_read_file)
    skip = bad_lines is not None
    here = os.getcwd()  # a worker's folder is where Ray started, not where this run is
    cpus = int(ray.cluster_resources().get("CPU", 1))
    local = [p if is_remote(p) else os.path.join(here, p) for p in paths]
    parts = _parts(local, fmt, tools_column, cpus)
    streams = [
        [
            start_ranges(g, p)
            if isinstance(g, CsvParts)
            else read_one.remote(p, fmt, split, skip, tools_column, here, g)
            for g in groups
        ]
        for p, groups in zip(paths, parts, strict=True)
    ]
    first: tuple[str, list[str]] | None = None
    starts, counts, blocks, offset = [], [], [], 0
    # in file order, and each file's parts in order: the first error is the first raised
    for p, file_streams, file_parts in zip(paths, streams, parts, strict=True):
        rows, found, names, cut, schemas = 0, {}, {}, [], []
        for stream, part in zip(file_streams, file_parts, strict=True):
            if isinstance(part, CsvParts):  # a CSV file read in ranges (or, failing, whole)
                done = finish_ranges(stream)
                if done is not None:
                    rows, names, cut = done.rows, dict.fromkeys(done.names), done.blocks
                    counted = named = None
                    continue
                stream, part = read_one.remote(p, fmt, split, skip, tools_column, here), None
            refs = list(stream)
            head, body = (refs[-1], refs[:-1]) if isinstance(part, Span) else (refs[0], refs[1:])
            part_rows, part_names, part_found, counted, named, part_schemas = ray.get(head)
            rows += part_rows
            found.update(part_found)
            names.update(dict.fromkeys(part_names))  # a cut file's columns, first seen first
            cut += body
            schemas += part_schemas or []
        blocks += joined(cut, schemas) if schemas else cut  # schemas: a cut JSONL file
        names = list(names)
        if counted is not None:  # a text file's lines, blank lines and rows, for the notes
            from trlprep.io.plaintext import remember

            remember(p, counted)
        if named is not None:  # a JSON array's rows named `row N`, for the notes
            from trlprep.io.jsonarray import remember as remember_naming

            remember_naming(p, named)
        starts.append(offset)
        counts.append(rows)
        offset += rows
        if rows and first is None:
            first = (p, names)
        elif rows:
            _check_columns(first[0], first[1], p, names)
        sink = file_bad_lines(bad_lines, p, paths) if many else bad_lines
        for line, (reason, text) in found.items():
            sink.add(line, reason, text.encode("utf-8"))
    shards = Shards(paths, starts, counts)
    ds, total = numbered(ray.data.from_arrow_refs(blocks))
    return ds.materialize(), total, shards if many else None


def _parts(
    paths: list[str], fmt: str, tools_column: str | None, cpus: int
) -> list[list[list[int] | Span | None]]:
    """Each file's reads: [None] (the whole file in one task), its runs of row groups
    (Parquet), its ranges of lines (JSON Lines, `jsonranges`) or [its ranges of records]
    (CSV, `csvranges`); a remote file is read whole."""
    if _remote(paths):
        return [[None] if is_remote(p) else _parts([p], fmt, tools_column, cpus)[0] for p in paths]
    if fmt == "jsonl":
        return [[None] if s is None else s for s in file_spans(paths, cpus)]
    if fmt == "csv":
        return [[p] for p in csv_parts(paths, cpus)]
    if fmt != "parquet":
        return [[None] for _ in paths]
    from trlprep.io.jsontext import tools_from

    with tools_from({"tools": tools_column} if tools_column else None):
        found = [parquet_runs(p, cpus) for p in paths]
    return [[None] if r is None else list(r) for r in found]


def _read_file(
    path: str,
    fmt: str,
    split: str | None,
    skip: bool,
    tools_column: str | None = None,
    cwd: str | None = None,
    groups: list[int] | Span | None = None,
) -> Iterator[Any]:
    """One file read by trlprep's reader: first (rows, columns, bad lines found as {line:
    (reason, text)}, a text file's `TextStats` or None, a JSON array's `naming_note`), then
    its rows with LINE in blocks (at least one, in order). A relative `path` is read from
    `cwd` (the run's folder) and named as given. `groups`: only these row groups of a
    Parquet file (`rowgroups`), in blocks of about `BLOCK_BYTES`; or only this range of
    a JSON Lines file (`jsonranges`), a block per chunk the local reader parses, their
    schemas handed back last in the first item (to be joined in the driver). A remote
    `path` (a URI) is copied here first and named as given (`remotein`)."""
    if is_remote(path):
        with local_copy(path) as copy:
            yield from _read_file(copy, fmt, split, skip, tools_column, None, groups)
        return
    if isinstance(groups, Span):
        yield from _read_span(path, cwd, groups, skip, tools_column)
        return
    import math

    from trlprep.io.jsonargs import is_json_field
    from trlprep.io.jsonl import BadLines
    from trlprep.io.jsontext import tools_from
    from trlprep.io.readers import read

    bad = BadLines() if skip else None
    full = path if cwd is None or os.path.isabs(path) else os.path.join(cwd, path)
    try:
        with tools_from({"tools": tools_column} if tools_column else None):
            if groups is None:
                src = read(full, split=split, input_format=fmt, bad_lines=bad)
                table, lines = src.table, src.lines
            else:
                table, lines = read_groups(full, groups), None
    except TrlprepError as e:  # named as the user gave it, as the local engine names it
        if e.path == full:
            e.path = path
        raise
    n = table.num_rows
    line = pa.nulls(n, pa.int64()) if lines is None else pa.array(lines, pa.int64())
    table = table.append_column(LINE, line)
    found = dict(bad.found) if bad is not None else {}
    from trlprep.io.jsonarray import naming_note
    from trlprep.io.plaintext import stats

    names = [c for c in table.column_names if c != LINE]
    yield n, names, found, stats(full), naming_note(full), None
    pieces = max(math.ceil(table.nbytes / BLOCK_BYTES), 1 if groups else min(4, n), 1)
    if any(is_json_field(f) for f in table.schema):  # a column whose rows mix kinds (JSON
        pieces = 1  # text): what its values become is decided over all of them at once
    per = max(math.ceil(n / pieces), 1)
    for start in range(0, max(n, 1), per):
        yield table.slice(start, per)


def _read_span(
    path: str, cwd: str | None, span: Span, skip: bool, tools_column: str | None = None
) -> Iterator[Any]:
    """The rows of the range `span` of a JSON Lines file: a block per chunk as it is parsed
    (a worker holds a chunk or two, not the range), then what `_read_file` hands back first
    (with the blocks' schemas), last."""
    from trlprep.io.jsonl import BadLines, line_batches
    from trlprep.io.jsontext import tools_from

    bad = BadLines() if skip else None
    full = path if cwd is None or os.path.isabs(path) else os.path.join(cwd, path)
    rows, names, schemas = 0, {}, []
    batches = line_batches(full, span_chunks(full, span), span.line, bad)
    try:
        while True:
            with tools_from({"tools": tools_column} if tools_column else None):
                b = next(batches, None)  # not held across a yield: set while parsing only
            if b is None:
                break
            table = b.data.append_column(LINE, pa.array(b.lines, pa.int64()))
            rows += table.num_rows
            names.update(dict.fromkeys(c for c in table.column_names if c != LINE))
            schemas.append(table.schema)
            yield table
    except TrlprepError as e:  # named as the user gave it, as the local engine names it
        if e.path == full:
            e.path = path
        raise
    if not schemas:  # no rows: one empty block, as a file read whole with no rows hands back
        empty = pa.table({LINE: pa.array([], pa.int64())})
        schemas.append(empty.schema)
        yield empty
    found = dict(bad.found) if bad is not None else {}
    yield rows, list(names), found, None, None, schemas


__all__ = ["input_format_of", "input_paths", "read", "read_numbered"]
