"""Datasets held in several files, read as one: `shard_batches` streams the files that
`trlprep.io.inputfiles.input_files` resolves (a folder, a glob, several paths) one after another:
row offsets run on across files, line numbers stay those of each file, and every `Batch`
names its file. A column missing from a shard is an error naming the shard; a column that
is all null in one Parquet shard and typed in another is unified. `describe` and the
`note_*` helpers give detect and validate each shard's rows and the total.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from trlprep.columns.arrowtypes import is_json_field
from trlprep.errors import DataError
from trlprep.io.inputfiles import (
    FileBadLines,
    FileLine,
    Inputs,
    check_formats,
    file_bad_lines,
    input_files,
    inputs,
    is_glob,
)
from trlprep.io.sources import Batch
from trlprep.io.splitnames import SPLIT_WORDS

__all__ = [  # the input side lives in trlprep.io.inputfiles; its names are imported from here too
    "SPLIT_WORDS",
    "FileBadLines",
    "FileLine",
    "Inputs",
    "ShardBatches",
    "Shards",
    "annotate_shards",
    "check_formats",
    "describe",
    "file_bad_lines",
    "input_files",
    "inputs",
    "is_glob",
    "note_detection",
    "note_shards",
    "place",
    "shards_dict",
    "total_line",
    "whole",
]


def place(file: str, line: int | None, local: int | None = None) -> str:
    """A row of one of several files: `file:line`, else `file row N` (0-based in the file)."""
    return f"{file}:{line}" if line is not None else f"{file} row {local}"


@dataclass
class Shards:
    """The files of a multi-file input, each with its first row in the whole dataset."""

    files: list[str]
    starts: list[int] = field(default_factory=list)  # filled as files are read
    rows: list[int] = field(default_factory=list)
    unread: set[str] = field(default_factory=set)  # after a bad line stopped the reading

    def locate(self, row: int) -> tuple[str, int]:
        """(file, row within that file) of a row of the whole dataset."""
        import bisect

        i = max(bisect.bisect_right(self.starts, row) - 1, 0)
        return self.files[i], row - self.starts[i] if self.starts else row

    def where(self, row: int, line: int | None) -> str:
        """`file:line` (line-oriented files) or `file row N` (0-based, within the file)."""
        file, local = self.locate(row)
        return place(file, line, local)

    def places(self, rows: list[int], lines: list[int] | None = None) -> str:
        """`a.jsonl:4, b.parquet row 3`: rows of the whole dataset, each by its file (and
        its line, `lines` given, else its row in the file)."""
        at = [None] * len(rows) if lines is None else lines
        return ", ".join(self.where(r, x) for r, x in zip(rows, at, strict=True))

    def offsets(self) -> list[str]:
        """One line per shard: its file, its first row in the whole dataset, its rows."""
        return [
            f"{f}: not read (reading stopped before it)"
            if f in self.unread
            else f"{f}: rows {s:,}-{s + n - 1:,} ({n:,})"
            if n
            else f"{f}: no rows"
            for f, s, n in zip(self.files, self.starts, self.rows, strict=False)
        ]


class ShardBatches:
    """The batches of several files as one stream; `shards` fills in as files are read.
    `batches_of` gives None for a file not to be read."""

    def __init__(
        self, files: list[str], batches_of: Callable[[str], Iterator[Batch] | None], fmt: str
    ):
        self.shards = Shards(list(files))
        self._it = self._run(batches_of, fmt)

    def __iter__(self) -> ShardBatches:
        return self

    def __next__(self) -> Batch:
        return next(self._it)

    def _run(self, batches_of, fmt: str) -> Iterator[Batch]:
        files = self.shards.files
        unified, apart = _unified_schema(files, fmt)
        first: tuple[str, list[str]] | None = None  # the first shard with rows, its columns
        offset = 0
        for f in files:
            self.shards.starts.append(offset)
            self.shards.rows.append(0)
            names: dict[str, None] = {}  # columns of this shard (JSONL: of any of its chunks)
            batches = batches_of(f)
            if batches is None:  # not read: reading stopped at a bad line of an earlier file
                continue
            for b, last in _with_last(batches):
                if b.data.num_rows:
                    names.update(dict.fromkeys(b.data.schema.names))
                    # one schema per file: check now; JSONL chunks differ: at the last one,
                    # before its rows go on (so a shard lacking a column is named as such)
                    if first is not None and (fmt != "jsonl" or last):
                        _check_columns(first[0], first[1], f, list(names))
                data = b.data
                if unified is not None and not data.schema.equals(unified):
                    data = _cast(data, unified, f, apart)
                yield Batch(data, offset, b.lines, f)
                offset += data.num_rows
                self.shards.rows[-1] += data.num_rows
            if names and first is None:
                first = (f, list(names))
            elif names:  # JSONL chunks differ: the shard's columns are known at its end
                _check_columns(first[0], first[1], f, list(names))
            _remember(f, self.shards.rows[-1])


def _with_last(batches: Iterator[Batch]) -> Iterator[tuple[Batch, bool]]:
    """Each batch, and whether it is the last one (one batch read ahead)."""
    it = iter(batches)
    prev = next(it, None)
    while prev is not None:
        nxt = next(it, None)
        yield prev, nxt is None
        prev = nxt


def _check_columns(first: str, first_names: list[str], f: str, names: list[str]) -> None:
    missing = [c for c in first_names if c not in names]
    extra = [c for c in names if c not in first_names]
    if missing or extra:
        what = (
            f"lacks column {', '.join(map(repr, missing))}"
            if missing
            else f"has column {', '.join(map(repr, extra))}"
        )
        raise DataError(
            f"shard {f} {what} (the shard {first} " + ("has it)" if missing else "does not)"),
            path=f,
            hint="every file of a dataset must have the same columns; pass the files that "
            "belong together",
        )


def _unified_schema(files: list[str], fmt: str) -> tuple[pa.Schema | None, set[str]]:
    """Parquet shards' common schema (a column null in one shard takes the others' type),
    and the columns whose kinds no type unifies (text in one shard, numbers in another):
    left as each shard types them, for `trlprep.io.agreeing` (or `concat_tables`) to tag
    as JSON text, where the kind most rows hold is read and the other rows refused."""
    if fmt != "parquet":
        return None, set()
    import pyarrow.parquet as pq

    from trlprep.io.sources import guard

    schemas = [guard(f, lambda f=f: pq.read_schema(f)) for f in files]
    names = list(schemas[0].names)
    for f, s in zip(files[1:], schemas[1:], strict=True):
        _check_columns(files[0], names, f, list(s.names))
    if all(s.equals(schemas[0], check_metadata=False) for s in schemas):
        return None, set()
    fields, apart = [], set()
    for name in names:
        if any(is_json_field(s.field(name)) for s in schemas):  # JSON text (trlprep wrote it)
            apart.add(name)  # kept with its tag
        typed = [t for t in (s.field(name).type for s in schemas) if not pa.types.is_null(t)]
        if not typed:
            fields.append(pa.field(name, pa.null()))
            continue
        t0 = typed[0]
        for ti in typed[1:]:
            if name in apart:
                break
            if not ti.equals(t0):
                try:
                    t0 = (
                        pa.unify_schemas(
                            [pa.schema([(name, t0)]), pa.schema([(name, ti)])],
                            promote_options="permissive",
                        )
                        .field(name)
                        .type
                    )
                except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                    apart.add(name)
        fields.append(pa.field(name, t0))
    return pa.schema(fields), apart


def _cast(data, schema: pa.Schema, f: str, apart: set[str] = frozenset()):
    """A shard's batch in the shards' common schema (columns in the first shard's order),
    but the columns `apart`, kept as the shard types them."""
    table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    table = table.select(schema.names)
    if apart:
        fields = [table.schema.field(n) if n in apart else schema.field(n) for n in schema.names]
        schema = pa.schema(fields)
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
        raise DataError(
            f"shard {f}: cannot unify its columns with the others: {e}", path=f
        ) from None


def whole(files: list[str], read_one: Callable[[str], object], fmt: str):
    """A multi-file input read whole: one `Source` (tables concatenated, lines per file);
    `read_one` gives None for a file not to be read."""
    import numpy as np

    from trlprep.io.joining import concat_tables
    from trlprep.io.sources import Source

    def batches_of(f: str) -> Iterator[Batch] | None:
        src = read_one(f)
        return None if src is None else _as_batches(src, f)

    it = ShardBatches(files, batches_of, fmt)
    parts = list(it)
    table = concat_tables([b.data for b in parts]) if parts else pa.table({})
    lines = None
    if parts and all(b.lines is not None for b in parts):
        lines = np.concatenate([np.asarray(b.lines) for b in parts])
    src = Source(table, " ".join(files) if len(files) > 1 else files[0], fmt, lines)
    src.shards = it.shards
    return src


def _as_batches(src, f: str) -> Iterator[Batch]:
    if src.table.num_rows or src.table.num_columns:
        yield Batch(src.table, 0, src.lines, f)


_ROWS: dict[tuple[str, int, int], int] = {}  # (file, mtime_ns, size) -> rows read from it


def _key(f: str) -> tuple[str, int, int] | None:
    try:
        st = os.stat(f)
    except OSError:
        return None
    return (os.path.abspath(f), st.st_mtime_ns, st.st_size)


def _remember(f: str, rows: int) -> None:
    key = _key(f)
    if key is not None:
        _ROWS[key] = rows


def describe(
    path: str | os.PathLike,
    split: str | None = None,
    input_format: str | None = None,
    bad_lines=None,
) -> Shards | None:
    """The shards of a multi-file input with their row offsets (None for one file).

    Row counts come from the last read of each file in this process (or Parquet metadata,
    or a read when neither is at hand). Files after the one where a bad line stopped the
    reading (`bad_lines`, a `BadLines(stop=True)`) are not read and count no rows.
    """
    from trlprep.io.inputfiles import past_stop

    files = input_files(path, split, input_format)
    if files is None:
        return None
    from trlprep.io.readers import iter_batches, resolve_format

    fmt = resolve_format(path, input_format)
    shards = Shards(files)
    offset = 0
    for f in files:
        key = _key(f)
        rows = _ROWS.get(key) if key is not None else None
        if past_stop(bad_lines, files, f):
            rows = 0
            shards.unread.add(f)
        if rows is None and fmt == "parquet":
            import pyarrow.parquet as pq

            from trlprep.io.sources import guard

            rows = guard(f, lambda f=f: pq.ParquetFile(f).metadata.num_rows)
        if rows is None:
            rows = sum(b.data.num_rows for b in iter_batches(f, input_format=fmt))
        shards.starts.append(offset)
        shards.rows.append(rows)
        offset += rows
    return shards


def total_line(shards: Shards) -> str:
    """`1,000 rows in 4 files`."""
    from trlprep.wording import plural

    total = sum(shards.rows)
    return f"{plural(total, 'row')} in {plural(len(shards.files), 'file')}"


def note_shards(
    report, path: str, split: str | None, input_format: str | None, bad_lines=None
) -> None:
    """Add to a validation report of several files each file's rows and the total, and
    name the file of every example row (`file:line`, or `file row N`)."""
    shards = describe(path, split, input_format, bad_lines)
    if shards is not None:
        annotate_shards(report, path, shards)


def annotate_shards(report, path: str, shards: Shards) -> None:
    """`note_shards` with the shards known (each file's first row and rows)."""
    report.path = str(path)
    report.shards = shards  # `render_github` annotates each row's own file and line
    for issue in report.issues:
        issue.name_repeats(shards.where)  # `b.jsonl:1 repeats a.jsonl:1`
        if issue.rows:
            lines = issue.lines or [None] * len(issue.rows)
            pairs = list(zip(issue.rows, lines, strict=False))
            issue.files = [shards.locate(r)[0] for r, _ in pairs]
            issue.places = [shards.where(r, ln) for r, ln in pairs]  # `Issue.where` says them
        else:
            issue.name_line_files()  # lines of bad JSON, each of its file
    report.notes += [f"shard {line}" for line in shards.offsets()]
    report.notes.append(f"total: {total_line(shards)}")


def note_detection(det, path: str, split: str | None, input_format: str | None):
    """The shards of a multi-file input (None for one file), naming the file of every
    example row in the detection's problems."""
    shards = describe(path, split, input_format)
    if shards is None:
        return None
    for p in det.problems:
        if p.rows:
            lines = p.lines or [None] * len(p.rows)
            at = ", ".join(shards.where(r, ln) for r, ln in zip(p.rows[:5], lines, strict=False))
            p.message += f" (at {at})"
    return shards


def shards_dict(shards: Shards) -> dict:
    """The shards as JSON: each file, its first row in the whole dataset, its rows."""
    return {
        "shards": [
            {"file": f, "first_row": s, "rows": n}
            for f, s, n in zip(shards.files, shards.starts, shards.rows, strict=True)
        ],
        "total_rows": sum(shards.rows),
    }
