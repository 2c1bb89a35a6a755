"""Datasets held in several files: a folder of data files, a glob, or several paths.

`input_files` turns what the user gave into the ordered list of files to read (sorted
names within a folder or glob; given paths in the order given), keeping only the files of
one split of a Hugging Face repository layout (`data/train-*.parquet`, `train/*.jsonl`).
`shard_batches` streams them one after another as one dataset: row offsets run on across
files, line numbers stay those of each file, and every `Batch` names its file. Files of
different formats are an error; a column missing from a shard is an error naming the
shard; a column that is all null in one shard and typed in another is unified.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from trlprep.errors import DataError, InputError, UsageError
from trlprep.sources import Batch, split_suffix

GLOB_CHARS = re.compile(r"[*?\[]")
# split names as the Hugging Face Hub recognises them in file and folder names
SPLIT_WORDS = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "val", "dev"),
    "test": ("test", "testing", "eval", "evaluation"),
}
_SKIP = {"state.json", "dataset_info.json", "dataset_infos.json", "dataset_dict.json"}


class Inputs(str):
    """Several input paths given as one value (its text lists them, for messages).

    Every function that takes a path takes an `Inputs`: `trlprep.detect(Inputs(["a.jsonl",
    "b.jsonl"]))` reads both files as one dataset. Each path may itself be a folder or glob.
    """

    paths: tuple[str, ...]

    def __new__(cls, paths: Sequence[str | os.PathLike]) -> Inputs:
        paths = tuple(str(p) for p in paths)
        if not paths:
            raise UsageError("no input paths given")
        self = super().__new__(cls, " ".join(paths))
        self.paths = paths
        return self


def inputs(paths: Sequence[str | os.PathLike]) -> str:
    """One path as itself, several as an `Inputs` (for commands taking paths)."""
    paths = list(paths)
    return str(paths[0]) if len(paths) == 1 else Inputs(paths)


class FileLine(int):
    """A line number that names its file, `data/1.jsonl:7`: the key of a bad line skipped
    in one of several files (equal only to the same line of the same file)."""

    file: str

    def __new__(cls, line: int, file: str) -> FileLine:
        self = super().__new__(cls, line)
        self.file = file
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, int):
            return NotImplemented
        return int(self) == int(other) and getattr(other, "file", None) == self.file

    def __hash__(self) -> int:
        return hash((int(self), self.file))

    def __str__(self) -> str:
        return f"{self.file}:{int(self)}"

    __repr__ = __str__


class FileBadLines:
    """The bad lines of one file, kept in the run's `BadLines` under `FileLine` keys."""

    def __init__(self, shared, file: str) -> None:
        self.shared, self.file = shared, file

    def add(self, line: int, reason: str, text: bytes) -> None:
        self.shared.add(FileLine(line, self.file), reason, text)


def file_bad_lines(bad_lines, file: str):
    """Where one file of several records its bad lines (None: they are errors)."""
    return None if bad_lines is None else FileBadLines(bad_lines, file)


def is_glob(path: str) -> bool:
    return bool(GLOB_CHARS.search(path)) and not Path(path).exists()


def _is_disk_folder(p: Path) -> bool:
    return (p / "state.json").is_file() or (p / "dataset_dict.json").is_file()


def _folder_files(folder: Path) -> list[str]:
    """The data files under `folder` (any depth), hidden files and folders left out."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith(".") or name in _SKIP:
                continue
            if split_suffix(name)[0]:
                found.append(os.path.join(root, name))
    return sorted(found)


def input_files(
    path: str | os.PathLike, split: str | None = None, input_format: str | None = None
) -> list[str] | None:
    """The files a multi-file input reads, in order; None for one file, a `save_to_disk`
    folder or a Hub id (read as before)."""
    if isinstance(path, Inputs):
        files: list[str] = []
        for p in path.paths:
            files += input_files(p, None, input_format) or [p]
        return _pick_split(files, split, str(path))
    path = str(path)
    p = Path(path)
    if p.is_dir():
        if _is_disk_folder(p) or (input_format or "").lower() == "disk":
            return None
        files = _folder_files(p)
        if not files:
            return None  # the reader says what the folder lacks
        return _pick_split(files, split, path, base=p)
    if is_glob(path):
        files = sorted(
            f
            for f in glob.glob(os.path.expanduser(path), recursive=True)
            if os.path.isfile(f) and (input_format or split_suffix(f)[0])
        )
        if not files:
            raise InputError(f"{path}: no files match", hint="check the pattern (quote it)")
        return _pick_split(files, split, path)
    return None


def _split_of(name: str) -> str | None:
    tokens = re.split(r"[/\\_.\-]+", name.lower())
    for split, words in SPLIT_WORDS.items():
        if any(w in tokens for w in words):
            return split
    return None


def _carries(name: str, split: str) -> bool:
    tokens = re.split(r"[/\\_.\-]+", name.lower())
    words = SPLIT_WORDS.get(split.lower(), (split.lower(),))
    return any(w in tokens for w in words) or split.lower() in tokens


def _pick_split(files: list[str], split: str | None, where: str, base: Path | None = None):
    """The files of one split: those whose name (below `base`) carries it."""

    def rel(f: str) -> str:
        return os.path.relpath(f, base) if base is not None else f

    if split is not None:
        picked = [f for f in files if _carries(rel(f), split)]
        if not picked:
            found = sorted({s for f in files if (s := _split_of(rel(f)))})
            raise UsageError(
                f"{where}: no file names carry the split {split!r}",
                hint=("splits there: " + ", ".join(found)) if found else "leave out --split",
            )
        return picked
    splits = {_split_of(rel(f)) for f in files}
    if len(splits) > 1 and None not in splits:
        if "train" in splits:
            return [f for f in files if _split_of(rel(f)) == "train"]
        raise UsageError(
            f"{where} holds the splits {', '.join(sorted(splits))}",
            hint="choose one with --split",
        )
    return files


def check_formats(files: list[str], input_format: str | None) -> str:
    """The one format of `files`; files of different formats are an InputError."""
    if input_format:
        return input_format
    by_fmt: dict[str, str] = {}
    for f in files:
        fmt = split_suffix(f)[0]
        if not fmt:
            raise UsageError(
                f"{f}: cannot tell the file format from its name",
                hint="pass --input-format",
            )
        by_fmt.setdefault(fmt, f)
    if len(by_fmt) > 1:
        shown = ", ".join(f"{f} ({fmt})" for fmt, f in by_fmt.items())
        raise InputError(
            f"the input mixes file formats: {shown}",
            hint="put files of one format in a folder, or pass the files of one format",
        )
    return next(iter(by_fmt))


@dataclass
class Shards:
    """The files of a multi-file input, each with its first row in the whole dataset."""

    files: list[str]
    starts: list[int] = field(default_factory=list)  # filled as files are read
    rows: list[int] = field(default_factory=list)

    def locate(self, row: int) -> tuple[str, int]:
        """(file, row within that file) of a row of the whole dataset."""
        import bisect

        i = max(bisect.bisect_right(self.starts, row) - 1, 0)
        return self.files[i], row - self.starts[i] if self.starts else row

    def where(self, row: int, line: int | None) -> str:
        """`file:line` (line-oriented files) or `file row N` (0-based, within the file)."""
        file, local = self.locate(row)
        return f"{file}:{line}" if line is not None else f"{file} row {local}"

    def offsets(self) -> list[str]:
        """One line per shard: its file, its first row in the whole dataset, its rows."""
        return [
            f"{f}: rows {s:,}-{s + n - 1:,} ({n:,})" if n else f"{f}: no rows"
            for f, s, n in zip(self.files, self.starts, self.rows, strict=False)
        ]


class ShardBatches:
    """The batches of several files as one stream; `shards` fills in as files are read."""

    def __init__(self, files: list[str], batches_of: Callable[[str], Iterator[Batch]], fmt: str):
        self.shards = Shards(list(files))
        self._it = self._run(batches_of, fmt)

    def __iter__(self) -> ShardBatches:
        return self

    def __next__(self) -> Batch:
        return next(self._it)

    def _run(self, batches_of, fmt: str) -> Iterator[Batch]:
        files = self.shards.files
        unified = _unified_schema(files, fmt)
        first: tuple[str, list[str]] | None = None  # the first shard with rows, its columns
        offset = 0
        for f in files:
            self.shards.starts.append(offset)
            self.shards.rows.append(0)
            names: dict[str, None] = {}  # columns of this shard (JSONL: of any of its chunks)
            for b in batches_of(f):
                if b.data.num_rows:
                    names.update(dict.fromkeys(b.data.schema.names))
                    if first is not None and fmt != "jsonl":  # one schema per file: check now
                        _check_columns(first[0], first[1], f, list(names))
                data = b.data
                if unified is not None and not data.schema.equals(unified):
                    data = _cast(data, unified, f)
                yield Batch(data, offset, b.lines, f)
                offset += data.num_rows
                self.shards.rows[-1] += data.num_rows
            if names and first is None:
                first = (f, list(names))
            elif names:  # JSONL chunks differ: the shard's columns are known at its end
                _check_columns(first[0], first[1], f, list(names))
            _remember(f, self.shards.rows[-1])


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


def _unified_schema(files: list[str], fmt: str) -> pa.Schema | None:
    """Parquet shards' common schema (a column null in one shard takes the others' type)."""
    if fmt != "parquet":
        return None
    import pyarrow.parquet as pq

    from trlprep.sources import guard

    schemas = [guard(f, lambda f=f: pq.read_schema(f)) for f in files]
    names = list(schemas[0].names)
    for f, s in zip(files[1:], schemas[1:], strict=True):
        _check_columns(files[0], names, f, list(s.names))
    if all(s.equals(schemas[0], check_metadata=False) for s in schemas):
        return None
    fields = []
    for name in names:
        types = [s.field(name).type for s in schemas]
        typed = [(f, t) for f, t in zip(files, types, strict=True) if not pa.types.is_null(t)]
        if not typed:
            fields.append(pa.field(name, pa.null()))
            continue
        f0, t0 = typed[0]
        for fi, ti in typed[1:]:
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
                    raise DataError(
                        f"column {name!r} is {ti} in shard {fi} but {t0} in shard {f0}",
                        path=fi,
                        hint="every file of a dataset must type its columns alike",
                    ) from None
        fields.append(pa.field(name, t0))
    return pa.schema(fields)


def _cast(data, schema: pa.Schema, f: str):
    """A shard's batch in the shards' common schema (columns in the first shard's order)."""
    table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    table = table.select(schema.names)
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
        raise DataError(
            f"shard {f}: cannot unify its columns with the others: {e}", path=f
        ) from None


def whole(files: list[str], read_one: Callable[[str], object], fmt: str):
    """A multi-file input read whole: one `Source` (tables concatenated, lines per file)."""
    import numpy as np

    from trlprep.jsonl import concat_tables
    from trlprep.sources import Source

    it = ShardBatches(files, lambda f: _as_batches(read_one(f), f), fmt)
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
    path: str | os.PathLike, split: str | None = None, input_format: str | None = None
) -> Shards | None:
    """The shards of a multi-file input with their row offsets (None for one file).

    Row counts come from the last read of each file in this process (or Parquet metadata,
    or a read when neither is at hand).
    """
    files = input_files(path, split, input_format)
    if files is None:
        return None
    from trlprep.readers import iter_batches, resolve_format

    fmt = resolve_format(path, input_format)
    shards = Shards(files)
    offset = 0
    for f in files:
        key = _key(f)
        rows = _ROWS.get(key) if key is not None else None
        if rows is None and fmt == "parquet":
            import pyarrow.parquet as pq

            from trlprep.sources import guard

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


def note_shards(report, path: str, split: str | None, input_format: str | None) -> None:
    """Add to a validation report of several files each file's rows and the total, and
    name the file of every example row (`file:line`, or `file row N`)."""
    shards = describe(path, split, input_format)
    if shards is None:
        return
    report.path = str(path)
    for issue in report.issues:
        if issue.rows:
            lines = issue.lines or [None] * len(issue.rows)
            pairs = zip(issue.rows[:5], lines, strict=False)
            at = ", ".join(shards.where(r, ln) for r, ln in pairs)
            issue.message += f" (at {at}{', ...' if len(issue.rows) > 5 else ''})"
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
