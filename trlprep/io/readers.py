"""Read datasets from files, folders and the Hub into Arrow, whole or in record batches.

Formats: JSON Lines (also .gz/.zst/.bz2), plain text (`trlprep.io.plaintext`: one `text`
row per line, paragraph or file), JSON (an array of records, a one-key wrapper
such as `{"data": [...]}`, a dict of equally long columns, or any other object as one row,
such as a Super-NaturalInstructions task file), Parquet, CSV, Arrow IPC file/stream and
Feather (JSON and Arrow read whole: `trlprep.io.wholeformats`; CSV in ranges of whole
records, `trlprep.io.csvlocal`), `datasets`
`save_to_disk` folders and Hub dataset ids. Columns of `datasets`'
`Json` type (Arrow's JSON extension) are decoded as they are read (`trlprep.io.jsonext`).

JSONL keeps every row's file line number and streams (see `trlprep.io.jsonl`). Rows whose JSON
kinds disagree (a string here, a message list there) are kept as JSON text in a tagged column
(see `arrowtypes.JSON_FIELD_KEY`) instead of failing, so detection and validation can report
them row by row.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from trlprep.columns.arrowtypes import ValueKind, value_kind
from trlprep.errors import DataError, InputError, UsageError
from trlprep.io.datasetfolders import dataset_table, read_disk, read_hub
from trlprep.io.inputfiles import candidate_files, given_paths, past_stop
from trlprep.io.joining import concat_tables
from trlprep.io.jsonext import at_entry
from trlprep.io.jsonl import BadLines, jsonl_chunks, read_jsonl
from trlprep.io.jsontext import (
    table_from_columns,
    table_from_records,
)
from trlprep.io.plaintext import SAMPLINGS, read_text, text_chunks
from trlprep.io.shards import (
    Inputs,
    ShardBatches,
    check_formats,
    file_bad_lines,
    input_files,
    whole,
)
from trlprep.io.sources import (
    Batch,
    Source,
    check_not_binary,
    check_not_stream,
    guard,
    open_stream,
    split_suffix,
)
from trlprep.io.wholeformats import csv_tables, read_csv, read_ipc, read_json

__all__ = [
    "FORMATS",
    "BadLines",
    "Inputs",
    "Batch",
    "Source",
    "concat_tables",
    "dataset_table",
    "iter_batches",
    "read",
    "resolve_format",
    "split_suffix",
    "table_from_columns",
    "table_from_records",
]

FORMATS = (
    "jsonl", "json", "parquet", "csv", "arrow", "text", "text-paragraph", "text-document",
    "disk", "hub",
)  # fmt: skip
BATCH_ROWS = 65_536
# a Parquet batch's uncompressed bytes at most (its row groups' average row size says how
# many rows): long rows (documents, images) come in fewer rows, not in larger batches
BATCH_BYTES = 64 << 20
TEXT_FORMATS = ("jsonl", "json", "csv", *SAMPLINGS)


# ---------------------------------------------------------------- which reader


def resolve_format(path: str | os.PathLike, input_format: str | None = None) -> str:
    """The reader for `path`: an explicit format, the suffix, a folder or a Hub id."""
    from trlprep.io.remote import refuse_uri

    for given in getattr(path, "paths", None) or (path,):
        refuse_uri(given, "input")  # never a relative local path `s3:/...`
    try:
        files = input_files(path, None, input_format)  # a folder of files, a glob, several paths
    except UsageError:  # several splits, none the default: each split's files are read alike
        files = candidate_files(path, input_format)
    if files is not None:
        return resolve_format(files[0], check_formats(files, input_format))
    path = str(path)
    check_not_stream(path)
    if input_format:
        fmt = input_format.strip().lower()
        fmt = _ALIASES.get(fmt, fmt)
        if fmt not in FORMATS:
            hint = "use one of: " + ", ".join(FORMATS)
            if fmt in ("gzip", "gz", "zstd", "zst", "bz2"):
                hint = "compression is read from the file's bytes; pass the format of the data "
                hint += "inside (" + ", ".join(FORMATS[:6]) + ")"
            from trlprep.errors import did_you_mean

            said = f"unknown --input-format {input_format!r}" + did_you_mean(fmt, FORMATS)
            raise UsageError(said, hint=hint)
        if fmt != "hub" and not Path(path).exists():
            raise InputError(f"{path}: no such file or folder")
        if fmt in TEXT_FORMATS and Path(path).is_file():
            check_not_binary(path, fmt)
        return fmt
    p = Path(path)
    if p.is_dir():
        return "disk"
    if p.exists():
        fmt, _ = split_suffix(p)
        if not fmt and p.is_file():
            open_stream(path).close()  # xz (`data.jsonl.xz`): says what the file is
        if not fmt:
            raise UsageError(
                f"{path}: cannot tell the file format from its name",
                hint="name it .jsonl/.json/.parquet/.csv/.tsv/.arrow/.txt (optionally .gz/.zst) "
                "or pass --input-format " + "|".join(FORMATS),
            )
        if fmt in TEXT_FORMATS:
            check_not_binary(path, fmt)
        return fmt
    if _looks_like_hub_id(path):
        return "hub"
    if str(path) == "-":
        raise InputError(
            "standard input (-) is not read: trlprep reads its input more than once",
            hint="save it to a file first (... > data.jsonl) and pass that file",
        )
    raise InputError(
        f"{path}: no such file or folder",
        hint=None
        if split_suffix(path)[0]
        else "for a Hugging Face Hub dataset pass its id (org/name) or --input-format hub",
    )


_ALIASES = {
    "ndjson": "jsonl",
    "ipc": "arrow",
    "feather": "arrow",
    "pq": "parquet",
    "txt": "text",
    "text-line": "text",
    "text-lines": "text",
    "text-paragraphs": "text-paragraph",
}


def _looks_like_hub_id(path: str) -> bool:
    parts = path.split("/")
    return (
        len(parts) == 2
        and all(parts)
        and not path.startswith((".", "~"))
        and "\\" not in path
        and not split_suffix(path)[0]
    )


# ---------------------------------------------------------------- whole datasets and batches


def read(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    split: str | None = None,
    input_format: str | None = None,
    bad_lines: BadLines | None = None,
    on_bad_lines: str | None = None,
) -> Source:
    """Read a dataset whole into a `Source` (table, plus line numbers for JSONL).

    `split` picks a split of a `DatasetDict` folder or a Hub dataset (without it, the only
    split, else `train`, else an error naming the splits); other inputs have one split.
    `input_format` reads `path` as that format (`"jsonl"`, ...) whatever its name.
    A JSONL line that holds no JSON object raises a DataError naming it, or is skipped
    into `bad_lines` when given; `on_bad_lines="skip"` (as `trlprep.convert` takes it)
    skips them with a `RejectedRowsWarning` naming them. A folder of data files, a glob or
    several paths (a list of them, or `trlprep.Inputs`) are read as one dataset (see
    `trlprep.io.shards`). Returns a `Source`: `.table` (a `pyarrow.Table`), `.path`, and
    `.lines` (each row's line in its file, where the format has lines).
    """
    path = given_paths(path)
    if on_bad_lines is not None:
        from trlprep.io.skipped import read_choosing

        return read_choosing(path, split, input_format, bad_lines, on_bad_lines)
    files = input_files(path, split, input_format)
    if files is not None:
        fmt = resolve_format(path, input_format)

        def read_one(f: str) -> Source | None:
            if past_stop(bad_lines, files, f):
                return None
            return read(f, input_format=fmt, bad_lines=file_bad_lines(bad_lines, f, files))

        return whole(files, read_one, fmt)
    path = str(path)
    fmt = resolve_format(path, input_format)
    if fmt == "jsonl":
        return read_jsonl(path, bad_lines)
    if fmt == "json":
        return read_json(path, bad_lines)
    if fmt == "csv":
        return read_csv(path)
    if fmt in SAMPLINGS:
        return read_text(path, fmt, bad_lines)
    if fmt == "parquet":
        table = guard(path, lambda: _pq().read_table(path))
    elif fmt == "arrow":
        table = read_ipc(path)
    elif fmt == "disk":
        table = read_disk(path, split)
    else:
        table = read_hub(path, split)
    return Source(at_entry(table), path, fmt)  # datasets' `Json` values, `tools` structs


def iter_batches(
    path: str | os.PathLike,
    *,
    split: str | None = None,
    input_format: str | None = None,
    batch_rows: int = BATCH_ROWS,
    dictionaries: bool = False,
    bad_lines: BadLines | None = None,
) -> Iterator[Batch]:
    """Stream a dataset in record batches.

    JSONL, plain text, Parquet and CSV / TSV stream with bounded memory (CSV in ranges of
    whole records: `trlprep.io.csvlocal`); other formats are read whole
    (Arrow files and `datasets` folders are memory-mapped) and sliced. JSONL batches may
    differ in schema (types are inferred per chunk; a column can hold strings in one and
    messages in another).
    `dictionaries` reads a Parquet file's few-valued strings (message roles, extra columns
    such as `source`) as Arrow dictionaries, as Parquet stores them: cheaper to read and to
    check (see `trlprep.io.parquet_dict`; other formats are unaffected). `bad_lines`: as in
    `read`. Several files (a folder, a glob, `Inputs`) stream one after another; each batch
    names its file (`Batch.path`) and the iterator's `shards` maps rows to files.
    """
    files = input_files(path, split, input_format)
    if files is not None:
        fmt = resolve_format(path, input_format)

        def batches_of(f: str) -> Iterator[Batch] | None:
            if past_stop(bad_lines, files, f):
                return None
            return iter_batches(
                f, input_format=fmt, batch_rows=batch_rows, dictionaries=dictionaries,
                bad_lines=file_bad_lines(bad_lines, f, files),
            )  # fmt: skip

        return ShardBatches(files, batches_of, fmt)
    return _single_batches(str(path), split, input_format, batch_rows, dictionaries, bad_lines)


def _single_batches(path, split, input_format, batch_rows, dictionaries, bad_lines):
    fmt = resolve_format(path, input_format)
    from trlprep.io.progress import track  # rows read, while a command shows progress

    yield from track(_batches(path, fmt, split, batch_rows, dictionaries, bad_lines), path, fmt)


def _batches(path, fmt, split, batch_rows, dictionaries, bad_lines) -> Iterator[Batch]:
    if fmt == "jsonl":
        yield from jsonl_chunks(path, bad=bad_lines)
    elif fmt in SAMPLINGS:
        yield from text_chunks(path, fmt, bad=bad_lines)
    elif fmt == "csv":
        offset = 0
        for table, lines in csv_tables(path):  # a range of whole records at a time
            at = 0
            for rb in table.to_batches(max_chunksize=batch_rows):
                part = None if lines is None else lines[at : at + rb.num_rows]
                yield Batch(rb, offset + at, part)
                at += rb.num_rows
            offset += table.num_rows
    elif fmt == "parquet":
        from trlprep.io.parquet_dict import READ_OPTIONS

        pf = guard(path, lambda: _pq().ParquetFile(path, **READ_OPTIONS))
        batch_rows = parquet_batch_rows(pf.metadata, batch_rows)
        offset = 0
        if dictionaries:
            from trlprep.io.parquet_dict import parquet_batches

            for rb in parquet_batches(path, pf, batch_rows):
                yield Batch(at_entry(rb), offset)
                offset += rb.num_rows
            return
        batches = pf.iter_batches(batch_size=batch_rows)
        while True:
            rb = guard(path, lambda: next(batches, None))
            if rb is None:
                return
            yield Batch(at_entry(rb), offset)
            offset += rb.num_rows
    else:
        src = read(path, split=split, input_format=fmt, bad_lines=bad_lines)
        offset = 0
        for rb in src.table.to_batches(max_chunksize=batch_rows):
            lines = src.lines[offset : offset + rb.num_rows] if src.lines is not None else None
            yield Batch(rb, offset, lines)
            offset += rb.num_rows


def parquet_batch_rows(metadata: Any, batch_rows: int = BATCH_ROWS) -> int:
    """Rows per batch of a Parquet file (its `FileMetaData`): `batch_rows`, fewer where its
    rows average more than `BATCH_BYTES / batch_rows` uncompressed bytes."""
    groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
    rows = sum(g.num_rows for g in groups)
    size = sum(g.total_byte_size for g in groups)
    if not rows or size <= 0:
        return batch_rows
    return max(1, min(batch_rows, int(BATCH_BYTES * rows // size)))


def _concat(tables: list[pa.Table | pa.RecordBatch], path: str | None = None) -> pa.Table:
    """Former name of `concat_tables` (which never fails on disagreeing kinds)."""
    return concat_tables(tables)


def _pq():
    import pyarrow.parquet as pq

    return pq


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
