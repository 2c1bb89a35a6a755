"""Running an importer: over streamed batches, over one table, or over any dataset kind.

Every input row is accounted for: it lands in the output, or it is rejected with its row
index, file line and reason. With `on_error="stop"` (the default) the first rejected row
raises a DataError naming its line and reason; with `"skip"` rejected rows go to a side
file (`rejectsfile.RejectsWriter`) or are returned, and the import goes on.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.errors import DataError, TrlprepWarning, UsageError, speaks_python, warn_user
from trlprep.importers.base import (
    Importer,
    ImportOptions,
    ImportResult,
    check_roles_used,
)
from trlprep.importers.columnmap import rename
from trlprep.importers.options import check_on_error
from trlprep.importers.registry import get_importer
from trlprep.importers.rejects import NOT_PAIRED
from trlprep.importers.rejectsfile import RejectsWriter
from trlprep.importers.survey import surveyed
from trlprep.io.sources import Batch
from trlprep.wording import add_note, plural


class RejectedRowsWarning(TrlprepWarning):
    """Rows an import or a conversion set aside (with on_error="skip"); `rejects`, when
    given, holds them (`REJECTS_SCHEMA`: row, line, stage, reason, record)."""

    def __init__(self, message: str, rejects: pa.Table | None = None) -> None:
        super().__init__(message)
        self.rejects = rejects


@dataclass
class ImportStats:
    """What an import did, over all its batches."""

    rows_in: int = 0
    rows_out: int = 0
    rejected: int = 0  # ties left unpaired included (`not_paired`)
    not_paired: int = 0
    reasons: Counter = field(default_factory=Counter)
    ties: set[str] = field(default_factory=set)  # the reasons of rows left unpaired
    notes: list[str] = field(default_factory=list)
    # reason -> the first few rejected rows ({"row", "line"}) with that reason
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    roles_seen: set[str] = field(default_factory=set)  # input roles, lower-cased

    def add(self, n_in: int, result: ImportResult, keep: int = 3) -> None:
        self.rows_in += n_in
        self.rows_out += result.table.num_rows
        self.rejected += result.num_rejected
        self.not_paired += result.num_not_paired
        if result.num_not_paired:
            stage = result.rejects.column("stage").to_pylist()
            said = result.rejects.column("reason").to_pylist()
            self.ties |= {r for r, st in zip(said, stage, strict=True) if st == NOT_PAIRED}
        if result.num_rejected:
            reason = result.rejects.column("reason").combine_chunks()
            distinct = pc.unique(reason)
            code = np.asarray(pc.index_in(reason, distinct).to_numpy(), np.int64)
            counts = np.bincount(code, minlength=len(distinct))
            rows = result.rejects.column("row").to_numpy()
            lines = result.rejects.column("line").to_pylist()
            for i, text in enumerate(distinct.to_pylist()):
                self.reasons[text] += int(counts[i])
                ex = self.examples.setdefault(text, [])
                for j in np.flatnonzero(code == i)[: max(0, keep - len(ex))]:
                    ex.append({"row": int(rows[j]), "line": lines[j]})
        for note in result.notes:  # counts summed over batches (`80 rows have ...`)
            add_note(self.notes, note)
        self.roles_seen |= result.roles_seen


def reject_error(result: ImportResult, layout: str, path: str | None = None) -> DataError:
    """The DataError for the first row of `result` that failed (ties left unpaired are no
    error: `NOT_PAIRED`)."""
    failed = result.failed
    first = failed.slice(0, 1).to_pylist()[0]
    return first_reject_error(first, failed.num_rows - 1, layout, path)


def first_reject_error(
    first: dict[str, Any], more: int, layout: str, path: str | None = None
) -> DataError:
    """The DataError of an import that refused `first` (its row, line and reason) and
    `more` other rows."""
    return DataError(
        f"cannot import this row as {layout}: {first['reason']}",
        path=path,
        line=first["line"],
        row=first["row"] if first["line"] is None else None,
        hint="fix the row, or pass --on-error skip to import the other rows and set such "
        "rows aside with their reasons" + (f" ({more} more in this batch)" if more > 0 else ""),
    )


def import_batches(
    batches: Iterable[Batch],
    layout: str | Importer,
    opts: ImportOptions | None = None,
    *,
    on_error: str = "stop",
    rejects: RejectsWriter | None = None,
    stats: ImportStats | None = None,
    path: str | None = None,
    source_rows: list[np.ndarray] | None = None,
) -> Iterator[Batch]:
    """Import streamed batches; yields batches of the landing type (empty ones skipped).

    Output batches carry the output row offset and, for line-oriented input, the file line
    of every output row. Rejected rows raise (`stop`) or go to `rejects` (`skip`); `stats`
    (when given) is filled as batches go, and `source_rows` gets, batch by batch, the
    input row each output row came from.
    """
    importer = get_importer(layout) if isinstance(layout, str) else layout
    check_on_error(on_error)
    opts = opts or ImportOptions()
    out_offset = 0
    roles: set[str] = set()
    rows_in = 0
    stream, seen = batches_to_import(batches, importer, opts)
    for b in stream:
        result = importer.apply(b.data, opts, b.offset, b.lines, seen=seen)
        roles |= result.roles_seen
        rows_in += b.data.num_rows
        if result.num_rejected > result.num_not_paired and on_error == "stop":
            raise reject_error(result, importer.name, path)
        if stats is not None:
            stats.add(b.data.num_rows, result)
        if rejects is not None and result.num_rejected:
            rejects.write(result.rejects)
        if result.table.num_rows:
            if source_rows is not None:
                source_rows.append(b.offset + np.asarray(result.rows, np.int64))
            yield Batch(result.table, out_offset, result.lines, b.path)
            out_offset += result.table.num_rows
    if rows_in:
        check_roles_used(opts, roles, importer.name)


def batches_to_import(
    batches: Iterable[Batch], importer: Importer, opts: ImportOptions
) -> tuple[Iterator[Batch], frozenset[str] | None]:
    """(the batches to import, one by one, the whole input's survey to import each with):
    `whole_if_needed`, then `survey.surveyed`."""
    return surveyed(whole_if_needed(batches, importer, opts), importer, opts)


def whole_if_needed(
    batches: Iterable[Batch], importer: Importer, opts: ImportOptions | None = None
) -> Iterator[Batch]:
    """`batches` as they come, or as one batch when the importer needs the whole input (a
    layout whose records span rows anywhere in the file, such as OASST's message export)."""
    batches = iter(batches)
    first = next(batches, None)
    if first is None:
        return
    mapping = opts.map if opts is not None else None
    if importer.needs_whole_input(rename(first.data.schema.empty_table(), mapping).schema):
        yield _whole([first, *batches])
        return
    yield from itertools.chain([first], batches)


def _whole(parts: list[Batch]) -> Batch:
    """One batch holding every row of `parts` (lines kept when every part has them)."""
    tables = [p.data if isinstance(p.data, pa.Table) else pa.Table.from_batches([p.data])
              for p in parts]  # fmt: skip
    table = pa.concat_tables(tables, promote_options="permissive")
    lines = None
    if all(p.lines is not None for p in parts):
        lines = np.concatenate([np.asarray(p.lines) for p in parts])
    paths = {p.path for p in parts}
    return Batch(table, parts[0].offset, lines, paths.pop() if len(paths) == 1 else None)


def import_table(
    table: pa.Table,
    layout: str | Importer,
    opts: ImportOptions | None = None,
    *,
    lines: np.ndarray | None = None,
    on_error: str = "stop",
    path: str | None = None,
) -> ImportResult:
    """Import a whole table; the result holds the imported rows and the rejected ones."""
    importer = get_importer(layout) if isinstance(layout, str) else layout
    check_on_error(on_error)
    result = importer.apply(table, opts or ImportOptions(), 0, lines)
    if table.num_rows:
        check_roles_used(opts, result.roles_seen, importer.name)
    if result.num_rejected > result.num_not_paired and on_error == "stop":
        raise stopped_error(result, importer.name, table.num_rows, path)
    return result


def stopped_error(
    result: ImportResult, layout: str, rows_in: int, path: str | None = None
) -> DataError:
    """`reject_error` for an import of a whole table of `rows_in` rows, its message ending
    with the counts (`import_counts`: every row of the table imported or refused)."""
    from trlprep.errors import with_counts

    route = f"{layout} -> {result.dtype.name} ({result.fmt.value})"
    counts = import_counts(route, rows_in, result.num_rejected)
    return with_counts(reject_error(result, layout, path), counts)


def import_counts(route: str, rows_in: int, rejected: int) -> Any:
    """The `RowCounts` of an import stopped by the rows it refused (`route`: `LAYOUT ->
    TYPE (FORMAT)`), as the Python API says them."""
    from trlprep.errors import RowCounts

    said = (
        f"{route}: {plural(rows_in, 'row')} in, {rejected:,} rejected, "
        f"{rows_in - rejected:,} would import; nothing returned (stopped)"
    )
    return RowCounts(rows_in, rejected, rows_in - rejected, said, route, "would import")


def rejected_warning(
    result: ImportResult, layout: str, rows_in: int | None = None
) -> RejectedRowsWarning:
    """What an import with on_error="skip" says about the rows it left out (and holds them);
    one that leaves no row of `rows_in` says the counts first, as the CLI's counts line."""
    reasons = Counter(result.rejects.column("reason").to_pylist()).most_common(3)
    message = (
        f"{plural(result.num_rejected, 'row')} could not be imported as {layout} and "
        + ("was" if result.num_rejected == 1 else "were")
        + " left out: "
        + "; ".join(f"{c} x {r}" for r, c in reasons)
    )
    if rows_in and not result.table.num_rows:
        counts = f"{plural(rows_in, 'row')} in, {result.num_rejected:,} rejected, 0 rows out"
        message = f"no row is left ({layout} -> {result.dtype.name}: {counts}): {message}"
    return RejectedRowsWarning(message, result.rejects)


@speaks_python
def import_dataset(
    data: Any,
    from_: str | None = None,
    *,
    split: str | None = None,
    input_format: str | None = None,
    on_error: str = "stop",
    on_bad_lines: str = "error",
    allow_empty: bool = False,
    **options: Any,
) -> Any:
    """Import `data` from the public layout `from_` into a TRL dataset type.

    `data`: any kind `trlprep.convert` takes (a path, a list of paths, a `Dataset`, a
    frame, row dicts ...). `from_`: the layout (`"sharegpt"`, `"alpaca"`, `"hh"` ...:
    `trlprep.importers.layout_names()`; `layout=` is its old name).

    Keywords: `options` are the importer's (`map`, `role_map`, `conversational`,
    `prompt_style`, `pairing`, `threshold`, `margin`, `neutral`, `coerce`,
    `keep_empty_turns`), CLI-style strings accepted (`map="prompt=question"`).
    `on_error="skip"` leaves rejected rows out with a `RejectedRowsWarning` saying how many
    (`import_table` gives them); `"stop"` raises a DataError at the first. `on_bad_lines`,
    `split`, `input_format` and `allow_empty` (a dataset without rows comes back as it is;
    else a DataError) as in `trlprep.detect`.

    Returns the imported rows as the input's kind (a `pyarrow.Table` for a path).
    """
    from trlprep.io.adapters import as_input, map_splits
    from trlprep.io.skipped import bad_lines_for, empty_error, read_keeping, warn_bad_lines
    from trlprep.keywords import take_renamed, take_renamed_options

    layout = take_renamed("trlprep.importers.import_dataset", options, "from_", from_)
    take_renamed_options("trlprep.importers.import_dataset", options)  # map_role= -> role_map=
    if layout is None:
        from trlprep.importers.registry import layout_names

        raise UsageError(
            "import_dataset() needs the layout to import from",
            hint="pass from_=LAYOUT (" + ", ".join(layout_names()) + ")",
        )
    from trlprep.io.adapters import as_given

    bad_lines_for(on_bad_lines)  # a wrong value is refused before anything is read
    data = as_given(data)
    opts = ImportOptions.make(**options)
    importer = get_importer(layout)

    def one(d: Any) -> Any:
        bad = bad_lines_for(on_bad_lines)
        inp = as_input(read_keeping(d, split, input_format, bad), split=split)
        path = inp.source.path
        if inp.table.num_rows == 0:
            if not allow_empty:
                raise empty_error(path, bad)
            warn_bad_lines(bad)
            return inp.restore(inp.table)
        result = import_table(
            inp.table, importer, opts, lines=inp.source.lines, on_error=on_error, path=path
        )
        if result.num_rejected:
            warn_user(rejected_warning(result, importer.name, inp.table.num_rows))
        for note in result.notes:  # what the import did to some rows, as the CLI's notes say
            warn_user(note, UserWarning)
        restored = inp.restore(result.table)
        if not inp.values_back:  # Python rows and `Json` features hold the values themselves
            from trlprep.io.kinds import CarriedColumnWarning, carried_warning

            for column, kinds in result.carried.items():
                said = carried_warning(column, kinds, "returned")
                warn_user(said, CarriedColumnWarning)
        warn_bad_lines(bad)
        return restored

    return map_splits(data, one, split)


def summary_lines(stats: ImportStats, limit: int = 5) -> list[str]:
    """The rejected rows by reason (most common first, with the first example lines)."""
    lines = []
    for reason, count in stats.reasons.most_common(limit):
        where = [
            f"line {e['line']}" if e["line"] is not None else f"row {e['row']}"
            for e in stats.examples.get(reason, [])
        ]
        lines.append(f"{count:,} x {reason}" + (f" (e.g. {', '.join(where[:3])})" if where else ""))
    if len(stats.reasons) > limit:
        lines.append(f"... and {len(stats.reasons) - limit} more reasons")
    return lines
