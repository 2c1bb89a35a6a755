"""Streamed batches made to agree on every column's kind over the whole input, as the whole
input read at once would (`trlprep.io.joining.concat_tables`, then `trlprep.io.kinds`).

Batches of several files, or of one JSON Lines file's chunks, are typed apart: a column may
hold text in one and numbers in the next. `agreeing` reads the input once, keeping its
batches (`trlprep.io.keptbatches`: memory, then a scratch file) while it counts, per batch,
the kinds each column holds (its Arrow type and null count; the JSON kinds of a tagged
column). It then gives the batches back with every column that the batches disagree on
(`conflicting_columns`) tagged JSON text in all of them, marked with the kind most rows of
the whole input hold (`kinds.MAJOR_KIND_KEY`): `kinds.settle_kinds` refuses each batch's
rows of another kind as the whole input's minority, wherever in the input they lie.
Every batch is also given the whole input's columns and struct fields, in the order the
input first holds them (nulls where a batch lacks them: `trlprep.io.wholecolumns`), so that
what a batch is converted to does not depend on where the input was cut.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from trlprep.columns.arrowtypes import is_json_field, is_list, is_string, json_kinds
from trlprep.columns.textparts import parts_columns, same_content, schema_with_parts
from trlprep.io.joining import (
    argument_columns,
    conflicting_columns,
    same_arguments,
    tag_columns,
)
from trlprep.io.jsonargs import has_tagged_arguments, tagged
from trlprep.io.keptbatches import KeptBatches
from trlprep.io.kinds import kind_counts, major_kinds, with_major_kinds
from trlprep.io.sources import Batch
from trlprep.io.wholecolumns import whole_columns, widened, widest_types, with_columns

Counts = dict[str, dict[str, int]]  # column -> kind -> rows


class AgreeingBatches:
    """The batches of `batches` (see the module docstring), read whole at the first
    `next`; `shards` is the inner stream's (several files), `close` drops the kept ones."""

    def __init__(
        self,
        batches: Iterable[Batch],
        folder: str | None = None,
        one_schema: bool = False,
        name: str = "",
        media: bool = False,
        replayable: bool = False,
    ) -> None:
        self._inner = batches
        self._replayable = replayable  # kept (one schema too) until `again` has given them
        self._shaped: Any = None  # each kept batch made to agree, once the input is read
        self._done = False  # the first pass given back to its end
        self._media = media  # find which media the input holds inline (`inline_media`)
        self._name = name  # the input, as a progress bar names it
        self._folder = folder
        self._one_schema = one_schema
        self._it: Iterator[Batch] | None = None
        self._kept: KeptBatches | None = None
        self.schemas: list[pa.Schema] = []  # every batch's, once the first is given back
        # per medium, the messages columns holding it inline in some batch (`inline_columns`),
        # once the first is given back; None where the batches were not read ahead
        self.inline_media: dict[str, list[str]] | None = None

    @property
    def shards(self) -> Any:
        return getattr(self._inner, "shards", None)

    def __iter__(self) -> AgreeingBatches:
        return self

    def __next__(self) -> Batch:
        if self._it is None:
            self._it = self._run()
        try:
            return next(self._it)
        except StopIteration:
            self._done = True
            raise

    def again(self, keep: bool = False) -> Iterator[Batch]:
        """The batches given once more, from the kept ones, not read again (`replayable`
        only, once the first pass has ended); the kept ones are dropped at its end, unless
        `keep` (to be given yet again)."""
        if not self._replayable or not self._done:
            raise RuntimeError("again: the batches were not kept, or not all given yet")
        kept = self._kept
        self._done = keep
        try:
            if kept is not None:
                yield from self._shaped(kept.replay())
        finally:
            if not keep:
                self.close()

    def close(self) -> None:
        if self._kept is not None:
            self._kept.close()
            self._kept = None
        getattr(self._inner, "close", lambda: None)()

    def _run(self) -> Iterator[Batch]:
        it = iter(self._inner)
        first = next(it, None)
        if first is None:
            return
        self.schemas = [first.data.schema]
        if (
            self._one_schema
            and not any(is_json_field(f) for f in first.data.schema)
            and not (self._media and _may_hold_media(first.data.schema))
        ):
            # every batch has its schema, and no JSON text to count kinds in
            if self._replayable:
                self._kept = KeptBatches(self._folder)
                self._shaped = iter
                yield from self._kept.keep(_chain([first], it))
                return
            yield first
            del first
            yield from it
            return
        second = next(it, None)
        if second is None:  # one batch: `settle_kinds` counts its kinds itself
            if self._replayable:
                self._kept = KeptBatches(self._folder)
                self._shaped = iter
                yield from self._kept.keep(iter([first]))
                return
            yield first
            return
        head = [first, second]
        del first, second  # (kept or spilled, not held here until the input is given back)
        self._kept = kept = KeptBatches(self._folder)
        try:
            schemas: list[pa.Schema] = []
            counts: list[Counts] = []
            total = 0
            inline: dict[str, list[str]] = {}
            for b in kept.keep(_chain(head, it)):
                total += b.data.num_rows
                schemas.append(b.data.schema)
                counts.append(batch_kinds(b.data))
                _add_inline(inline, b.data)
                del b
            self.inline_media = {m: names for m, names in inline.items() if names}
            arguments = argument_columns(schemas)
            parts = parts_columns(schemas)
            schemas = [
                _with_tagged_arguments(schema_with_parts(s, parts), arguments) for s in schemas
            ]
            self.schemas = schemas
            names = conflicting_columns(schemas)
            majors = major_kinds([{n: c[n] for n in names if n in c} for c in counts])
            wider = widest_types(schemas, names)
            columns = whole_columns(schemas, names, wider)

            # batches kept in memory are made to agree in place, once (`again` gives them
            # as they are); a spilled one is read back as it was written, each time
            held = {id(b) for b in kept.held}  # alive while kept: their ids stay theirs
            agreed: set[int] = set()

            def shaped(batches: Iterator[Batch]) -> Iterator[Batch]:
                for b in _counted(batches, self._name, total):
                    if id(b) not in agreed:
                        if parts:
                            b.data = same_content(b.data, parts)
                        if arguments or names:
                            b.data = agreeing_table(b.data, arguments, names, majors)
                        if wider:
                            b.data = widened(b.data, wider)
                        b.data = with_columns(b.data, columns)
                        if id(b) in held:
                            agreed.add(id(b))
                    yield b
                    del b  # not held while the next batch is read back

            self._shaped = shaped
            yield from shaped(kept.replay())
        finally:
            if not self._replayable:
                self.close()


def _may_hold_media(schema: pa.Schema) -> bool:
    """Whether a content part of `schema` has a key that may hold a medium: one schema tells
    which media some row may hold, not which the rows do (Parquet's `path` holds any)."""
    from trlprep.columns.inlinemedia import media_columns_of

    return bool(media_columns_of([schema]))


def _add_inline(found: dict[str, list[str]], data: pa.Table | pa.RecordBatch) -> None:
    """The messages columns of `data` holding each medium inline added to `found`."""
    from trlprep.columns.inlinemedia import MEDIA_COLUMN, inline_columns, media_columns_of

    if not media_columns_of([data.schema]):
        return  # no content part of `data` has a key that may hold a medium
    table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
    for medium in MEDIA_COLUMN:
        names = found.setdefault(medium, [])
        names += [c for c in inline_columns(table, medium) if c not in names]


def agreeing(
    batches: Iterable[Batch],
    folder: str | None = None,
    one_schema: bool = False,
    name: str = "",
    media: bool = False,
    replayable: bool = False,
) -> AgreeingBatches:
    """`batches` made to agree on every column's kind over the whole input (see the module
    docstring); `folder`: where a scratch file goes when they outgrow memory; `one_schema`:
    every batch has the first's schema (`one_schema`), so only JSON text needs counting;
    `name`: the input, as the progress bar of the kept batches given back names it;
    `media`: batches of one schema whose parts may hold media are read ahead too, to find
    which media the input holds inline (`AgreeingBatches.inline_media`); `replayable`: every
    batch kept, so that `AgreeingBatches.again` gives them once more without reading again."""
    if isinstance(batches, AgreeingBatches):
        return batches
    return AgreeingBatches(batches, folder, one_schema, name, media, replayable)


def agreeing_batches(
    path: str | os.PathLike,
    *,
    split: str | None = None,
    input_format: str | None = None,
    folder: str | None = None,
    media: bool = False,
    replayable: bool = False,
    **options: Any,
) -> AgreeingBatches:
    """`trlprep.io.readers.iter_batches(path, ...)` made to agree (`agreeing`; `folder`:
    where its scratch file goes, by default the system's temporary folder)."""
    from trlprep.io.readers import iter_batches

    batches = iter_batches(path, split=split, input_format=input_format, **options)
    one = one_schema(path, split, input_format)
    return agreeing(batches, folder, one, str(path), media, replayable)


def one_schema(
    path: str | os.PathLike, split: str | None = None, input_format: str | None = None
) -> bool:
    """Whether every batch of `path` has one schema: one file that is not JSON Lines
    (whose chunks are typed apart); other formats are one table or one Parquet schema."""
    from trlprep.io.inputfiles import input_files
    from trlprep.io.readers import resolve_format

    try:
        return input_files(path, split, input_format) is None and (
            resolve_format(path, input_format) != "jsonl"
        )
    except Exception:  # reading says what is wrong with `path`
        return False


def agreeing_table(
    data: pa.Table | pa.RecordBatch, arguments: set[str], names: set[str], majors: dict[str, str]
) -> pa.Table | pa.RecordBatch:
    """One batch's `data` with the tool-call arguments of `arguments` made JSON text, the
    columns `names` tagged JSON text and those of `majors` marked with their kind."""
    table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
    table = with_major_kinds(tag_columns(same_arguments(table, arguments), names), majors)
    if isinstance(data, pa.RecordBatch):
        return table.combine_chunks().to_batches()[0] if table.num_rows else data
    return table


def batch_kinds(data: pa.Table | pa.RecordBatch) -> Counts:
    """Per column of `data`: how many rows hold each JSON kind (nulls aside), read off the
    Arrow type and null count, or counted in a tagged JSON-text column."""
    out: Counts = {}
    tagged_names = [f.name for f in data.schema if is_json_field(f)]
    if tagged_names:
        table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        out.update(kind_counts(table, tagged_names))
    for i, f in enumerate(data.schema):
        if f.name in out:
            continue
        col = data.column(i)
        filled = len(col) - col.null_count
        kind = _arrow_kind(f.type, col) if filled else None
        if kind is not None:
            out[f.name] = {kind: filled}
    return out


def _arrow_kind(t: pa.DataType, col: Any) -> str | None:
    """The JSON kind every value of an Arrow type `t` is written as (`tag_columns`)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if is_string(t):
        return "string"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_boolean(t):
        return "bool"
    if is_list(t) or pa.types.is_fixed_size_list(t):
        return "list"
    if pa.types.is_struct(t):
        return "object"
    if pa.types.is_null(t):
        return None
    # other types (dates, binary, maps): as their JSON text writes them
    from trlprep.io.jsonencode import encode_json_texts

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    first = col.filter(col.is_valid()).slice(0, 1)
    return json_kinds(encode_json_texts(first))[0].as_py()


def _with_tagged_arguments(schema: pa.Schema, arguments: set[str]) -> pa.Schema:
    """`schema` as `same_arguments` leaves it (the arguments of `arguments` JSON text)."""
    for name in arguments:
        i = schema.get_field_index(name)
        if i < 0 or is_json_field(schema.field(i)):
            continue
        f = schema.field(i)
        if not has_tagged_arguments(f.type) and f.type != tagged(f.type):
            schema = schema.set(i, f.with_type(tagged(f.type)))
    return schema


def _counted(batches: Iterator[Batch], name: str, total: int) -> Iterator[Batch]:
    """`batches` advancing a bar of `total` rows while a command shows progress (the
    input was read, with its own bar, before the first of them)."""
    from trlprep.io.progress import tally

    held: list[Batch] = []

    def tables() -> Iterator[Any]:
        for b in batches:
            held.append(b)
            yield b.data
            del b

    for data in tally(tables(), name, total):
        del data
        yield held.pop()


def _chain(head: list[Batch], rest: Iterator[Batch]) -> Iterator[Batch]:
    """The batches of `head` (taken out of it as given), then `rest`."""
    while head:
        yield head.pop(0)
    yield from rest


__all__ = [
    "AgreeingBatches",
    "agreeing",
    "agreeing_batches",
    "agreeing_table",
    "batch_kinds",
    "one_schema",
]
