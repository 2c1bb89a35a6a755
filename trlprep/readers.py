"""Read datasets from files, folders and the Hub into Arrow, whole or in record batches.

JSONL is read in byte chunks cut at line ends, so every row keeps its file line number and
files larger than memory stream. Rows whose JSON kinds disagree (a string here, a message
list there) are kept as JSON text in a tagged column (see `arrowtypes.JSON_FIELD_KEY`)
instead of failing, so detection and validation can report them row by row.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from trlprep.arrowtypes import JSON_FIELD_KEY, ValueKind, value_kind
from trlprep.errors import DataError, InputError, UsageError

FORMATS = ("jsonl", "json", "parquet", "csv", "arrow", "disk", "hub")
_COMPRESSION = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}
_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}
CHUNK_BYTES = 32 << 20
_JSON_OPTIONS = pj.ReadOptions(block_size=4 << 20)
BATCH_ROWS = 65_536


@dataclass
class Batch:
    """A slice of a dataset: its rows, where they start, and their file line numbers."""

    data: pa.RecordBatch | pa.Table
    offset: int  # index of the first row in the whole dataset
    lines: np.ndarray | None = None  # 1-based line number per row (line-oriented files)


@dataclass
class Source:
    """A dataset read whole: the table, where it came from, and row -> line numbers."""

    table: pa.Table
    path: str | None = None
    fmt: str = "memory"
    lines: np.ndarray | None = None

    def line_of(self, row: int) -> int | None:
        return int(self.lines[row]) if self.lines is not None else None


def split_suffix(path: str | os.PathLike) -> tuple[str, str | None]:
    """(format, compression) guessed from a file name like `data.jsonl.gz`."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    compression = None
    if suffixes and suffixes[-1] in _COMPRESSION:
        compression = _COMPRESSION[suffixes.pop()]
    fmt = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    return fmt or "", compression


def resolve_format(path: str, input_format: str | None = None) -> str:
    """The reader for `path`: an explicit format, the suffix, a folder or a Hub id."""
    if input_format:
        if input_format not in FORMATS:
            raise UsageError(
                f"unknown input format {input_format!r}", hint="use one of: " + ", ".join(FORMATS)
            )
        return input_format
    p = Path(path)
    if p.is_dir():
        return "disk"
    if p.exists():
        fmt, _ = split_suffix(p)
        if not fmt:
            raise UsageError(
                f"{path}: cannot tell the file format from its name",
                hint="name it .jsonl/.json/.parquet/.csv/.arrow or pass --input-format",
            )
        return fmt
    if _looks_like_hub_id(path):
        return "hub"
    raise InputError(f"{path}: no such file or folder")


def _looks_like_hub_id(path: str) -> bool:
    parts = path.split("/")
    return (
        len(parts) == 2
        and all(parts)
        and not path.startswith((".", "/", "~"))
        and not split_suffix(path)[0]
    )


# ---------------------------------------------------------------- whole datasets


def read(path: str | os.PathLike, *, split: str | None = None, input_format: str | None = None):
    """Read a dataset whole into a `Source` (table + line numbers for JSONL)."""
    path = str(path)
    fmt = resolve_format(path, input_format)
    if fmt == "jsonl":
        batches = list(_jsonl_chunks(path))
        table = _concat([b.data for b in batches], path)
        if table is None:
            # kinds disagree between chunks: parse the whole file as one block
            whole = _jsonl_python(path, _read_bytes(path), first_line=1)
            return Source(whole.data, path, fmt, whole.lines)
        lines = np.concatenate([b.lines for b in batches]) if batches else np.zeros(0, np.int64)
        return Source(table, path, fmt, lines)
    if fmt == "json":
        return Source(_read_json_array(path), path, fmt)
    if fmt == "parquet":
        return Source(_guard(path, lambda: _pq().read_table(path)), path, fmt)
    if fmt == "csv":
        return Source(_read_csv(path), path, fmt)
    if fmt == "arrow":
        return Source(_read_ipc(path), path, fmt)
    if fmt == "disk":
        return Source(_read_disk(path, split), path, fmt)
    return Source(_read_hub(path, split), path, fmt)


def iter_batches(
    path: str | os.PathLike,
    *,
    split: str | None = None,
    input_format: str | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[Batch]:
    """Stream a dataset in record batches with bounded memory (Parquet, JSONL, Arrow)."""
    path = str(path)
    fmt = resolve_format(path, input_format)
    if fmt == "jsonl":
        yield from _jsonl_chunks(path)
    elif fmt == "parquet":
        pf = _guard(path, lambda: _pq().ParquetFile(path))
        offset = 0
        for rb in pf.iter_batches(batch_size=batch_rows):
            yield Batch(rb, offset)
            offset += rb.num_rows
    else:
        table = read(path, split=split, input_format=fmt)
        offset = 0
        for rb in table.table.to_batches(max_chunksize=batch_rows):
            lines = table.lines[offset : offset + rb.num_rows] if table.lines is not None else None
            yield Batch(rb, offset, lines)
            offset += rb.num_rows


def _pq():
    import pyarrow.parquet as pq

    return pq


def _guard(path: str, fn):
    try:
        return fn()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as e:
        raise InputError(f"{path}: cannot read: {e}") from None


def _concat(tables: list[pa.Table | pa.RecordBatch], path: str | None) -> pa.Table | None:
    """Concatenate chunks, unifying null/absent columns; None if column kinds disagree."""
    tables = [pa.Table.from_batches([t]) if isinstance(t, pa.RecordBatch) else t for t in tables]
    if not tables:
        return pa.table({})
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None


# ---------------------------------------------------------------- JSONL


def _open_stream(path: str):
    _, compression = split_suffix(path)
    try:
        return pa.input_stream(path, compression=compression)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{path}: cannot open: {e}") from None


def _read_bytes(path: str) -> bytes:
    with _open_stream(path) as f:
        try:
            return f.read()
        except (OSError, pa.ArrowInvalid) as e:
            raise InputError(f"{path}: cannot read: {e}") from None


def _jsonl_chunks(path: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[Batch]:
    """Yield JSONL record batches cut at line ends, each with exact line numbers."""
    offset, first_line, rest = 0, 1, b""
    with _open_stream(path) as f:
        while True:
            try:
                data = f.read(chunk_bytes)
            except (OSError, pa.ArrowInvalid) as e:
                raise InputError(f"{path}: cannot read: {e}") from None
            buf = rest + data
            if not data:
                chunk, rest = buf, b""
            else:
                cut = buf.rfind(b"\n")
                if cut < 0:
                    rest = buf
                    continue
                chunk, rest = buf[: cut + 1], buf[cut + 1 :]
            if chunk.strip():
                batch = _jsonl_block(path, chunk, first_line)
                batch.offset = offset
                offset += batch.data.num_rows
                yield batch
            first_line += chunk.count(b"\n")
            if not data:
                return


def _line_numbers(chunk: bytes, first_line: int) -> np.ndarray:
    """1-based line numbers of the non-blank lines of `chunk`."""
    raw = np.frombuffer(chunk, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10)
    starts = np.concatenate([[0], ends + 1])
    stops = np.concatenate([ends, [len(raw)]])
    # a line is blank when it holds only whitespace; test via a cumulative count
    non_ws = np.concatenate([[0], np.cumsum(~np.isin(raw, (9, 10, 13, 32)))])
    has_text = non_ws[stops] - non_ws[starts] > 0
    return np.flatnonzero(has_text).astype(np.int64) + first_line


def _jsonl_block(path: str, chunk: bytes, first_line: int) -> Batch:
    lines = _line_numbers(chunk, first_line)
    try:
        table = pj.read_json(pa.BufferReader(chunk), read_options=_JSON_OPTIONS)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _jsonl_python(path, chunk, first_line)
    if table.num_rows != len(lines):
        return _jsonl_python(path, chunk, first_line)
    return Batch(table, 0, lines)


def _jsonl_python(path: str, chunk: bytes, first_line: int) -> Batch:
    """Slow path: parse line by line, naming the exact line of any broken JSON."""
    records, lines = [], []
    for i, line in enumerate(chunk.split(b"\n")):
        if not line.strip():
            continue
        lineno = first_line + i
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(
                f"invalid JSON: {e.msg} (column {e.colno})",
                path=path,
                line=lineno,
                hint="fix or remove that line; each line must be one JSON object",
            ) from None
        except UnicodeDecodeError:
            raise InputError("not valid UTF-8", path=path, line=lineno) from None
        if not isinstance(rec, dict):
            raise InputError(
                f"expected a JSON object, got {type(rec).__name__}",
                path=path,
                line=lineno,
                hint="each line must be one JSON object like {\"prompt\": ...}",
            )
        records.append(rec)
        lines.append(lineno)
    return Batch(table_from_records(records), 0, np.asarray(lines, dtype=np.int64))


def table_from_records(records: list[dict]) -> pa.Table:
    """Build a table from row dicts; a column whose values disagree becomes tagged JSON text."""
    keys: dict[str, None] = {}
    for r in records:
        keys.update(dict.fromkeys(r))
    columns, fields = [], []
    for k in keys:
        values = [r.get(k) for r in records]
        try:
            arr = pa.array(values)
            field = pa.field(k, arr.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            arr = pa.array(
                [None if v is None else json.dumps(v, ensure_ascii=False) for v in values],
                pa.string(),
            )
            field = pa.field(k, pa.string(), metadata={JSON_FIELD_KEY: b"1"})
        columns.append(arr)
        fields.append(field)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


# ---------------------------------------------------------------- other formats


def _read_json_array(path: str) -> pa.Table:
    text = _read_bytes(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON: {e.msg}", path=path, line=e.lineno) from None
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), list):
        data = next(iter(data.values()))  # {"data": [...]} / {"train": [...]}
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        return table_from_records(
            [dict(zip(data, row, strict=False)) for row in zip(*data.values(), strict=False)]
        )
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputError(
            "expected a JSON array of objects",
            path=path,
            hint="use a list of records, or JSON Lines (.jsonl) with one object per line",
        )
    return table_from_records(data)


def _read_csv(path: str) -> pa.Table:
    import pyarrow.csv as pcsv

    table = _guard(path, lambda: pcsv.read_csv(_open_stream(path)))
    # message columns arrive as JSON text: decode the ones whose every value is JSON
    for i, field in enumerate(table.schema):
        if value_kind(field) is not ValueKind.STRING:
            continue
        values = table.column(i).to_pylist()
        present = [v for v in values if v is not None]
        if not present or not all(v.lstrip()[:1] in ("[", "{") for v in present):
            continue
        try:
            decoded = [None if v is None else json.loads(v) for v in values]
        except json.JSONDecodeError:
            continue
        col = table_from_records([{field.name: v} for v in decoded])
        table = table.set_column(i, col.schema.field(0), col.column(0))
    return table


def _read_ipc(path: str) -> pa.Table:
    import pyarrow.ipc as ipc

    def _read():
        try:
            with pa.memory_map(path) as src:
                return ipc.open_file(src).read_all()
        except pa.ArrowInvalid:
            with pa.memory_map(path) as src:
                return ipc.open_stream(src).read_all()

    return _guard(path, _read)


def _pick_split(dd, split: str | None, where: str):
    if split is None:
        if len(dd) == 1:
            return next(iter(dd.values()))
        if "train" in dd:
            return dd["train"]
        raise UsageError(f"{where} has splits {sorted(dd)}", hint="choose one with --split")
    if split not in dd:
        raise UsageError(f"{where} has no split {split!r}", hint=f"available: {sorted(dd)}")
    return dd[split]


def _read_disk(path: str, split: str | None) -> pa.Table:
    import datasets

    try:
        ds = datasets.load_from_disk(path)
    except FileNotFoundError as e:
        raise InputError(
            f"{path}: not a dataset folder ({e})",
            hint="expected a folder written by Dataset.save_to_disk",
        ) from None
    if isinstance(ds, datasets.DatasetDict):
        ds = _pick_split(ds, split, path)
    return _dataset_table(ds)


def _dataset_table(ds) -> pa.Table:
    table = ds.data.table if hasattr(ds.data, "table") else ds.data
    if ds._indices is not None:  # a filtered/shuffled view: materialise the rows
        table = ds.flatten_indices().data.table
    return table


def _read_hub(name: str, split: str | None) -> pa.Table:
    import datasets

    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as e:  # the hub client raises many kinds; all mean "cannot load"
        raise InputError(
            f"{name}: cannot load from the Hugging Face Hub ({type(e).__name__}: {e})",
            hint="check the id and your network, or download it and pass a local path",
        ) from None
    if isinstance(ds, datasets.DatasetDict):
        ds = _pick_split(ds, split, name)
    return _dataset_table(ds)


def check_not_mixed(table: pa.Table, where: str = "") -> None:
    """Raise DataError when a column mixes JSON kinds (readers keep those as text)."""
    for field in table.schema:
        if value_kind(field) is ValueKind.MIXED:
            raise DataError(
                "column mixes value kinds across rows (for example strings and message lists)",
                column=field.name,
                path=where or None,
                hint="run `trlprep detect` to see which rows differ",
            )
