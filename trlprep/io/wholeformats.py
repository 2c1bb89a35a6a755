"""The formats read whole into Arrow: JSON (an array of records, a one-key wrapper such as
`{"data": [...]}`, a dict of equally long columns, or any other object as one row), CSV
(columns of JSON text decoded) and Arrow IPC file/stream and Feather.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from trlprep.columns.arrowtypes import is_string
from trlprep.errors import InputError
from trlprep.io import textfaults
from trlprep.io.csvlines import row_lines
from trlprep.io.csvlocal import read_ranges
from trlprep.io.csvnumbers import integers_written_as_text
from trlprep.io.jsonarray import (
    TURN_KEYS,
    array_rows,
    check_not_keyed_records,
    check_not_splits,
    holds_turns,
)
from trlprep.io.jsonl import BadLines, is_bare_messages, json_kind, read_jsonl
from trlprep.io.jsontext import (
    decode_json_texts,
    looks_like_json_container,
    table_from_columns,
    table_from_records,
)
from trlprep.io.sources import (
    Source,
    check_text_file,
    guard,
    is_tab_separated,
    open_stream,
    read_bytes,
    sniff,
    split_suffix,
)


def read_json(path: str, bad_lines: BadLines | None = None) -> Source:
    """A `.json` file as one table (JSON Lines in it read as such; `bad_lines` as in `read`)."""
    text = read_bytes(path)
    if not text.strip():  # an empty file holds no rows, as an empty .jsonl or .csv
        return Source(pa.table({}), path, "json")
    parsed = array_rows(text, path)
    if parsed is not None:
        rows, lines = parsed
        return Source(table_from_records(rows), path, "json", lines)
    try:
        data = json.loads(text)
    except UnicodeDecodeError:
        raise textfaults.utf8_error(path, text) from None
    except json.JSONDecodeError as e:
        if e.msg == "Extra data" and text.lstrip().startswith(b"{"):
            return read_jsonl(path, bad_lines)  # JSON Lines in a .json file, as `datasets` does
        raise textfaults.json_error(path, e) from None
    check_not_splits(data, path)
    check_not_keyed_records(data, path, _read_names())
    if isinstance(data, dict) and len(data) == 1:
        (inner,) = data.values()
        (key,) = data
        if isinstance(inner, list) and holds_turns(key, inner):  # one conversation: one row
            return Source(table_from_records([data]), path, "json")
        if isinstance(inner, list) and all(isinstance(r, dict) for r in inner):
            data = inner  # a wrapper such as {"data": [...]} or {"train": [...]}
    if isinstance(data, dict) and _equal_columns(data):
        return Source(table_from_columns(data), path, "json")
    if isinstance(data, dict) and data:
        return Source(table_from_records([data]), path, "json")  # one object: one row
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return Source(table_from_records(data), path, "json")
    found = _json_kind(data)
    hint = "or use JSON Lines (.jsonl) with one object per line"
    if isinstance(data, list) and any(is_bare_messages(r) for r in data):
        found += " (a conversation, an array of messages, with no column name)"
        hint = "make each conversation one object holding it, " + textfaults.wrap_messages_hint(
            path, array=True
        )
    raise InputError(
        f"expected an array of objects (one per row), an object holding one such array, an "
        f"object of equally long columns or one object (one row); found {found}",
        path=path,
        hint=hint,
    )


def _read_names() -> frozenset[str]:
    """The column names trlprep reads (a type's, a side column, `messages`) and the turn
    columns of an object that is one conversation."""
    from trlprep.detection.columnroles import trl_column_names

    return trl_column_names() | TURN_KEYS


def _equal_columns(data: dict) -> bool:
    """Whether a JSON object is a dict of columns: every value a list, all of one length.

    An object whose values are not all lists, or lists of different lengths (a
    Super-NaturalInstructions task file: `Definition`, `Positive Examples`, `Instances`),
    is one record instead.
    """
    lengths = {len(v) if isinstance(v, list) else -1 for v in data.values()}
    return len(lengths) == 1 and -1 not in lengths


def _json_kind(data: object) -> str:
    if isinstance(data, list):
        if not data:
            return "an empty array"
        bad = next((i for i, r in enumerate(data) if not isinstance(r, dict)), None)
        if bad is None:  # met inside an outer array (an array of arrays of objects)
            return "an array of objects"
        return f"an array whose item {bad} is {_json_kind(data[bad])}"
    if isinstance(data, dict):
        return "an empty object"
    return json_kind(data)


def read_csv(path: str) -> Source:
    """CSV; columns of JSON text (messages, lists) are decoded, true/false become booleans.
    Each row keeps the file line its record starts on (`trlprep.io.csvlines`)."""
    tables = list(csv_tables(path))
    if len(tables) == 1:
        table, lines = tables[0]
    else:
        table = pa.concat_tables([t for t, _ in tables])
        lines = np.concatenate([x for _, x in tables])
    return Source(table, path, "csv", lines)


def csv_tables(path: str) -> Iterator[tuple[pa.Table, np.ndarray | None]]:
    """A CSV / TSV file's rows as `read_csv` reads them, a table per range of whole records
    in bounded memory (`csvlocal`), or one table of the whole file where it cannot be read
    in ranges; with the file line each row starts on (None: rows named by index)."""
    check_text_file(path)  # a UTF-16/32 file: one error before Arrow reads a row
    with open_stream(path) as f:
        head = f.read(4096)
    if len(head) < 4096 and not head.strip(b" \t\r\n\xef\xbb\xbf"):
        yield pa.table({}), None  # no rows (Arrow: "Empty CSV file")
        return
    ranged = read_ranges(path)
    if ranged is not None:
        yield from ranged
        return
    whole = _read_csv_whole(path)
    yield whole.table, whole.lines


def _refuse_repeated_names(path: str, names: list[str]) -> None:
    """A header naming a column twice, refused naming the name and its columns (a row's
    value under that name would be ambiguous)."""
    for name in dict.fromkeys(names):
        at = [i + 1 for i, n in enumerate(names) if n == name]
        if len(at) > 1 and name != "":
            where = ", ".join(map(str, at))
            raise InputError(
                f"{path}: line 1: the header names the column {name!r} {len(at)} times "
                f"(columns {where})",
                hint="give each column its own name in the header line",
            )


def _read_csv_whole(path: str) -> Source:
    """A CSV file Arrow reads at once (its quotes not CSV quoting, a header naming a column
    twice, ...), as one block: Arrow (pyarrow 26) drops the `\\n` of a quoted value's
    `\\r\\n` at some of its block bounds."""
    import pyarrow.csv as pcsv

    invalid: list = []  # a row with another number of fields than the header

    def stop(row) -> str:
        invalid.append(row)
        return "error"

    data: bytes | None = None
    if sniff(path) is not None or split_suffix(path)[1]:
        with open_stream(path) as f:  # compressed: its size is known once read
            data = guard(path, f.read)

    def _read(
        column_types: dict[str, pa.DataType] | None = None, include: list[str] | None = None
    ) -> pa.Table:
        size = len(data) if data is not None else os.path.getsize(path)
        with pa.BufferReader(data) if data is not None else open_stream(path) as f:
            return pcsv.read_csv(
                f,
                read_options=pcsv.ReadOptions(block_size=min(size + 1, (1 << 31) - 1)),
                parse_options=pcsv.ParseOptions(
                    delimiter="\t" if is_tab_separated(path) else ",",
                    newlines_in_values=True,
                    invalid_row_handler=stop,
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types=column_types or {}, include_columns=include or []
                ),
            )

    try:
        table = guard(path, _read)
    except InputError:
        if not invalid:
            raise
        r = invalid[0]
        raise textfaults.csv_row_error(
            path, read_bytes(path), r.expected_columns, r.actual_columns, r.text
        ) from None
    _refuse_repeated_names(path, table.column_names)
    if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in table.schema):
        error = textfaults.utf8_error(path, read_bytes(path))  # Arrow reads bad bytes as binary
        if error is not None:
            raise error
    dates = {f.name: pa.string() for f in table.schema if pa.types.is_temporal(f.type)}
    if dates:  # keep date-like text as written
        table = guard(path, lambda: _read(dates))
    table = integers_written_as_text(
        table,
        lambda names: guard(path, lambda: _read(dict.fromkeys(names, pa.string()), names)),
    )
    if "" in table.column_names:  # pandas' index (`to_csv` without index=False): named as
        names = [n or f"Unnamed: {i}" for i, n in enumerate(table.column_names)]  # pandas does
        table = table.rename_columns(names)
    for i, field in enumerate(table.schema):
        if is_string(field.type) and looks_like_json_container(table.column(i)):
            decoded = decode_json_texts(field.name, table.column(i))
            if decoded is not None:
                table = table.set_column(i, *decoded)
    delimiter = "\t" if is_tab_separated(path) else ","
    return Source(table, path, "csv", row_lines(path, table.num_rows, delimiter))


def read_ipc(path: str) -> pa.Table:
    """An Arrow IPC file or stream, or a Feather (v1 or v2) file."""
    import pyarrow.ipc as ipc

    def _read() -> pa.Table:
        for opener in (ipc.open_file, ipc.open_stream):
            with pa.memory_map(path) as src:
                try:
                    return opener(src).read_all()
                except pa.ArrowInvalid:
                    pass
        import pyarrow.feather as feather

        return feather.read_table(path)  # Feather v1

    return guard(path, _read)
