"""Where the report's rows come from: a path, streamed (through its public layout's import
when it has one), or an in-memory table."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.errors import UsageError


def read_layout(data: Any, split, input_format) -> tuple[Any, str | None, Any]:
    """(data, the public layout `trlprep convert` reads it as or None, and for an in-memory
    table read as one: its import's `ImportStats`, the data being the imported rows)."""
    from trlprep.importers import layout_read_as

    if isinstance(data, (str, os.PathLike)):
        from trlprep.io.readers import iter_batches

        batches = iter_batches(os.fspath(data), split=split, input_format=input_format)
        try:
            first = next(iter(batches), None)
        finally:
            getattr(batches, "close", lambda: None)()
        if first is None:
            return data, None, None
        head = first.data
        head = head if isinstance(head, pa.Table) else pa.Table.from_batches([head])
        return data, layout_read_as(head), None
    from trlprep.io.adapters import as_input

    table = data if isinstance(data, pa.Table) else getattr(as_input(data), "table", None)
    if not isinstance(table, pa.Table) or not table.num_rows:
        return data, None, None
    layout = layout_read_as(table)
    if layout is None:
        return data, None, None
    imported, stats = import_in_memory(table, layout)
    return imported, layout, stats


# formats read once for the report (and plain text's samplings), their batches kept (memory,
# then a scratch file) and given again; an Arrow file or `save_to_disk` folder is
# memory-mapped, cheaper read again
ONCE_FORMATS = ("jsonl", "json", "csv", "parquet")


def read_once(path: str, split, input_format, layouts: bool = True) -> tuple[str | None, Any]:
    """(the public layout `trlprep convert` reads `path` as, when `layouts`, or None; the
    batches of `path`, read once: without a layout, kept to be detected and given again
    (`AgreeingBatches.again`); with one, to be imported (`stream`); None where the input
    is of no `ONCE_FORMATS`: read as `stream` reads it).
    The layout is read off the first batch, before the rest is read."""
    from trlprep.importers import layout_read_as
    from trlprep.io.agreeing import agreeing, one_schema
    from trlprep.io.plaintext import SAMPLINGS
    from trlprep.io.readers import iter_batches, resolve_format

    try:
        once = resolve_format(path, input_format) in (*ONCE_FORMATS, *SAMPLINGS)
    except Exception:  # noqa: BLE001 - a Hub id, say: read as before, which says what is wrong
        once = False
    if not once:
        return (read_layout(path, split, input_format)[1] if layouts else None), None
    raw = iter_batches(path, split=split, input_format=input_format)
    try:
        first = next(raw, None)
        head = None if first is None or not layouts else first.data
        head = head if head is None or isinstance(head, pa.Table) else pa.Table.from_batches([head])
        layout = layout_read_as(head) if head is not None else None
    except BaseException:
        getattr(raw, "close", lambda: None)()
        raise
    del head
    one = one_schema(path, split, input_format)
    return layout, agreeing(_Pushed(first, raw), None, one, path, replayable=layout is None)


class _Pushed:
    """`first` (taken back from `rest`, None for none), then `rest`: its `shards` and
    `close` as `rest`'s."""

    def __init__(self, first: Any, rest: Any) -> None:
        self._first, self._rest = first, rest

    @property
    def shards(self) -> Any:
        return getattr(self._rest, "shards", None)

    def __iter__(self) -> _Pushed:
        return self

    def __next__(self) -> Any:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return next(self._rest)

    def close(self) -> None:
        self._first = None
        getattr(self._rest, "close", lambda: None)()


def stream(
    path: str, split, input_format, layout: str | None, stats=None, source_rows=None, opts=None,
    batches: Any = None,
):  # fmt: skip
    """The batches of `path`, imported from `layout` (with the importer's `opts`) when given
    (rows it refuses counted in `stats`; `source_rows` gets, batch by batch, the input row of
    every imported row); `batches`: the path's, being read already (`read_once`)."""
    from trlprep.io.agreeing import agreeing_batches

    if batches is None:
        batches = agreeing_batches(path, split=split, input_format=input_format)
    if layout is None:
        return batches
    from trlprep.importers import import_batches

    return import_batches(
        batches, layout, opts, on_error="skip", stats=stats, path=path, source_rows=source_rows
    )


def import_in_memory(data: Any, layout: str, opts=None) -> tuple[pa.Table, Any]:
    """In-memory `data` (Arrow table, `datasets` Dataset, pandas, polars, row dicts) imported
    from `layout` as `trlprep convert --from` imports it: (the rows, the `ImportStats`: rows
    refused, by reason, as a streamed import counts them)."""
    from trlprep.importers import ImportStats, import_table
    from trlprep.io.adapters import as_input

    table = data if isinstance(data, pa.Table) else getattr(as_input(data), "table", None)
    if not isinstance(table, pa.Table):
        raise UsageError("report a path, an Arrow table or a datasets.Dataset")
    result = import_table(table, layout, opts, on_error="skip")
    stats = ImportStats()
    stats.add(table.num_rows, result)
    return result.table, stats


def joined(batches: list[Any]) -> tuple[pa.Table, np.ndarray | None]:
    """`batches` as one table, joined as if read at once, and the file line of each row
    (None where some batch has none)."""
    from trlprep.io.joining import concat_tables

    parts = [b.data if isinstance(b.data, pa.Table) else pa.Table.from_batches([b.data])
             for b in batches]  # fmt: skip
    table = concat_tables(parts) if parts else pa.table({})
    known = batches and all(b.lines is not None for b in batches)
    return table, np.concatenate([b.lines for b in batches]) if known else None


def kept_stream(batches: Any) -> KeptStream:
    """`batches` (an import's) kept as they are read, to be given again (`again`)."""
    return KeptStream(batches)


class KeptStream:
    """The batches of a stream, kept as it is read once (memory, then a scratch file:
    `trlprep.io.keptbatches`) and given again by `again`, as `AgreeingBatches` gives them."""

    def __init__(self, batches: Any) -> None:
        from trlprep.io.keptbatches import KeptBatches

        self._inner = batches
        self._kept = KeptBatches()
        self._it = self._kept.keep(iter(batches))

    def __iter__(self) -> Any:
        return self._it

    def again(self, keep: bool = False) -> Any:
        """The batches once more, from the kept ones; dropped at the end unless `keep`."""
        try:
            yield from self._kept.replay()
        finally:
            if not keep:
                self.close()

    def close(self) -> None:
        self._kept.close()
        getattr(self._inner, "close", lambda: None)()


def source(
    data: Any, split: str | None, input_format: str | None, layout=None, stats=None,
    source_rows: list[np.ndarray] | None = None, opts=None, once: Any = None,
):  # fmt: skip
    """(path or None, a function giving (table, offset, lines, file) batches, the detection;
    file: of an input of several files, else None).
    `source_rows`: as in `stream`, filled as the batches are read. `once`: the path's
    batches as `read_once` keeps them (no layout): detected as read, then given again."""
    from trlprep.detection.detect import detect_batches, detect_table

    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)

        def batches():
            if once is not None:
                given = once.again()
            else:
                given = stream(path, split, input_format, layout, stats, source_rows, opts)
            for b in given:
                raw = b.data if isinstance(b.data, pa.Table) else pa.Table.from_batches([b.data])
                yield raw, b.offset, b.lines, b.path

        if once is not None:
            return path, batches, detect_batches(once)
        det = detect_batches(stream(path, split, input_format, layout, opts=opts))
        return path, batches, det
    from trlprep.io.adapters import as_input

    table = as_input(data) if not isinstance(data, pa.Table) else data
    table = getattr(table, "table", table)
    if not isinstance(table, pa.Table):
        raise UsageError("report a path, an Arrow table or a datasets.Dataset")

    def one():
        for start in range(0, table.num_rows, 8192):
            yield table.slice(start, 8192), start, None, None

    return None, one, detect_table(table)


__all__ = [
    "ONCE_FORMATS",
    "import_in_memory",
    "joined",
    "kept_stream",
    "read_layout",
    "read_once",
    "source",
    "stream",
]
