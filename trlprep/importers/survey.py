"""What the whole input holds, for importers whose output shape depends on it.

A layout may write a field or a kind of content only where the input needs it (LLaMA-Factory
v1: content as parts where some row holds an image, `reasoning_content` where some part is
reasoning; ShareGPT: `tool_calls` where some turn is a function call). Decided on each
batch alone, that would depend on where a big file is cut into batches. `surveyed` reads
the streamed batches once, keeping them (`io.keptbatches`: memory, then a scratch file)
while it collects each batch's `Importer.survey`, and gives them back with the union:
`Importer.apply(..., seen=...)` makes it `whole_input()` for the importer's `convert`.
An input read in one batch (and a table imported alone) is its own survey: `whole_input()`
is None there, and the importer looks at the batch it has.

`media_surveyed` does the same for a convert moving media held inline (`--inline-media
move`): each batch imported once ahead, the messages columns holding each medium inline
found, so that every chunk gets the media columns of the whole imported input.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from trlprep.columns.arrowtypes import is_messages
from trlprep.importers.columnmap import rename
from trlprep.io.keptbatches import KeptBatches
from trlprep.io.sources import Batch

if TYPE_CHECKING:
    from trlprep.importers.base import Importer, ImportOptions

_SEEN: ContextVar[frozenset[str] | None] = ContextVar("trlprep_import_seen", default=None)


def whole_input() -> frozenset[str] | None:
    """The whole input's survey while a batch of it is imported (None: the batch alone)."""
    return _SEEN.get()


@contextmanager
def seeing(seen: frozenset[str] | None) -> Iterator[None]:
    """`whole_input()` is `seen` inside the block."""
    token = _SEEN.set(seen)
    try:
        yield
    finally:
        _SEEN.reset(token)


def survey_of(importer: Importer, data: Any, opts: ImportOptions) -> set[str] | None:
    """`importer.survey` of one batch (a table or record batch, columns as the input
    names them: renamed by `opts.map` first)."""
    table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    return importer.survey(rename(table, opts.map), opts)


def surveyed(
    batches: Iterable[Batch], importer: Importer, opts: ImportOptions
) -> tuple[Iterator[Batch], frozenset[str] | None]:
    """(`batches` again, the union of their surveys); the surveys are None, and the batches
    are passed through unkept, for an importer that surveys nothing or an input of one
    batch."""
    seen: set[str] = set()

    def add(b: Batch, survey: set[str] | None) -> None:
        seen.update((survey if survey is not None else survey_of(importer, b.data, opts)) or ())

    stream, read = _read_ahead(batches, lambda b: survey_of(importer, b.data, opts), add)
    return stream, frozenset(seen) if read else None


def _read_ahead(
    batches: Iterable[Batch], first: Callable[[Batch], Any], each: Callable[[Batch, Any], None]
) -> tuple[Iterator[Batch], bool]:
    """(`batches` again, whether they were read ahead): each one given to `each` (with
    `first`'s answer for the first batch, None for the others) and kept meanwhile
    (`io.keptbatches`), all before the first comes back; passed through unkept for an input
    of one batch, or where `first` answers None (nothing to survey)."""
    it = iter(batches)
    head = list(itertools.islice(it, 2))
    answer = first(head[0]) if len(head) == 2 else None
    if answer is None:
        return itertools.chain(head, it), False
    kept = KeptBatches()
    try:
        for i, b in enumerate(kept.keep(itertools.chain(head, it))):
            each(b, answer if i == 0 else None)
    except BaseException:
        kept.close()
        raise
    return _replayed(kept), True


def _replayed(kept: KeptBatches) -> Iterator[Batch]:
    try:
        yield from kept.replay()
    finally:
        kept.close()


@dataclass
class InlineMedia:
    """What an imported whole input holds inline (filled by `media_surveyed`)."""

    held: dict[str, list[str]] = field(default_factory=dict)  # medium -> messages columns
    schemas: list[pa.Schema] = field(default_factory=list)  # each imported batch's schema


def media_surveyed(
    batches: Iterable[Batch], imported: Callable[[Batch], pa.Table], found: InlineMedia
) -> Iterator[Batch]:
    """`batches` again, `found` filled before the first one comes: the media each batch
    holds inline once `imported` (as the import will import it, nothing counted). An input
    of one batch passes through (it is its own survey), as does one whose first batch
    imports to no messages column (standard text holds no parts); a batch the import
    refuses is left for the import to say so."""

    def with_messages(b: Batch) -> pa.Table | None:
        table = _imported_quietly(imported, b)
        has = table is not None and any(is_messages(f.type) for f in table.schema)
        return table if has else None

    def add(b: Batch, table: pa.Table | None) -> None:
        table = table if table is not None else _imported_quietly(imported, b)
        if table is not None:
            _add_media(found, table)

    stream, read = _read_ahead(batches, with_messages, add)
    if read:
        found.held = {m: names for m, names in found.held.items() if names}
    return stream


def _imported_quietly(imported: Callable[[Batch], pa.Table], b: Batch) -> pa.Table | None:
    """`imported(b)`, its warnings unsaid (the import says them once); None where it fails
    (the import says why)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return imported(b)
        except Exception:
            return None


def _add_media(found: InlineMedia, table: pa.Table) -> None:
    """The messages columns of `table` holding each medium inline added to `found`."""
    from trlprep.columns.inlinemedia import MEDIA_COLUMN, inline_columns

    found.schemas.append(table.schema)
    for medium in MEDIA_COLUMN:
        names = found.held.setdefault(medium, [])
        names += [c for c in inline_columns(table, medium) if c not in names]


__all__ = [
    "InlineMedia",
    "media_surveyed",
    "seeing",
    "survey_of",
    "surveyed",
    "whole_input",
]
