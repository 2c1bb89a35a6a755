"""`validate --from LAYOUT` on Ray: the input imported block by block once, then checked.

The imported rows are the one copy of the data kept in the object store while they are
checked: the input's blocks can go once the import is materialized (`import_rows`, then
the caller drops the input), and the refused input rows travel among the imported ones as
reject rows (null data), which the checks and the row numbers pass by. Only what the
report names reaches the driver: the refused rows counted by reason on the workers (a few
examples each), and the input rows of the imported rows that issues name.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.errors import NOT_PAIRED, ROW_ID
from trlprep.ray.base import LINE, REJECT, _arrow, _blocks, _ray, unwrapped
from trlprep.ray.checking import _accepted, _validate

if TYPE_CHECKING:
    import ray.data

    from trlprep.validation.report import Report


@dataclasses.dataclass
class Imported:
    """A public layout imported for validation (`import_rows`)."""

    rows: ray.data.Dataset  # materialized: imported rows, and refused input rows as reject rows
    rows_in: int  # input rows
    layout: str
    options: Any  # the ImportOptions the rows were imported with
    book: Any  # the notebook actor of the import's notes (with `coerce`), or None
    schema: Any = None  # the input's columns (pyarrow), numbering columns left out


def import_rows(
    ds: ray.data.Dataset, layout: str, import_options: Any = None, *, coerce: bool = False
) -> Imported:
    """`ds` (numbered) imported from `layout`, materialized: drop `ds` afterwards and the
    imported rows are the only copy of the data in the object store."""
    from trlprep.importers.base import check_roles_used
    from trlprep.ray import notes as worker_notes
    from trlprep.ray.conversion import import_layout
    from trlprep.validation.coerced import coerced_options

    opts = coerced_options(import_options, coerce)
    book = worker_notes.notebook()  # the importer's notes, as the local import says them
    rows = import_layout(ds, layout, opts, coerce=coerce, collect=True, notes=book)
    rows, n_in = _detached(rows.materialize()), ds.count()
    if book is not None and n_in:  # a --role-map key no message has, as the local import
        try:
            check_roles_used(opts, worker_notes.peek(book).roles, layout)
        except Exception:
            worker_notes.take(book)  # the actor ends
            raise
    schema = ds.schema()
    schema = getattr(schema, "base_schema", schema)
    if isinstance(schema, pa.Schema):
        schema = pa.schema([f for f in schema if f.name not in (ROW_ID, LINE)])
    return Imported(rows, n_in, layout, opts, book, schema)


def _detached(ds: ray.data.Dataset) -> ray.data.Dataset:
    """`ds` (materialized) as a dataset of its blocks alone: a materialized dataset keeps
    its plan, and with it the blocks it was made from (here the whole input)."""
    refs = [ref for ref, _, n in _blocks(ds) if n]
    return _ray().data.from_arrow_refs(refs) if refs else ds


@unwrapped()
def validate_imported(
    ds: ray.data.Dataset,
    layout: str,
    import_options: Any = None,
    *,
    max_errors: int = 10,
    coerce: bool = False,
    **kwargs: Any,
) -> Report:
    """`ds` (numbered) imported from the public `layout` block by block, then validated, as
    `trlprep.validation.imported` does locally: refused rows are `import-failed` errors,
    every issue names the input's rows and lines; `coerce`: imported as `convert --from
    LAYOUT --coerce` imports it (the values read said in the notes)."""
    imported = import_rows(ds, layout, import_options, coerce=coerce)
    return validate_import(imported, max_errors=max_errors, **kwargs)


@unwrapped()
def validate_import(imported: Imported, *, max_errors: int = 10, **kwargs: Any) -> Report:
    """Validate the rows of `import_rows` (`kwargs` as `checking.validate`), naming the
    input's rows as `validate_imported` does."""
    from trlprep.ray import notes as worker_notes
    from trlprep.validation.coerced import Coerced
    from trlprep.validation.imported import (
        import_issues,
        imported_note,
        say_landing,
        say_none_imported,
        to_input_rows,
    )

    keep = max(max_errors, 1)  # as the local import keeps (`trlprep.validation.imported`)
    # the refused rows counted by reason on the workers: only the counts and the first
    # `keep` rows of each reason reach the driver
    refused = imported.rows.map_batches(_refused, batch_format="pyarrow", fn_args=(keep,))
    refused = list(refused.iter_batches(batch_size=None, batch_format="pyarrow"))
    kw = dict(type=None, format=None, strict=False, role_map=None, allow_empty=False)
    kw |= kwargs
    if getattr(imported.options, "role_map", None):  # the import mapped (and checked) them
        kw["role_map"] = None
    report, blocks = _validate(imported.rows, max_errors=max_errors, coerce=False, **kw)
    to_input_rows(report, _InputRows(blocks, _named(report)))
    stats = _Counts(imported.rows_in, report.num_rows, Counter(), {})
    found = [t for t in refused if t.num_rows]
    if found:  # reasons in order of their first row, as the local import meets them
        table = pa.concat_tables(found).sort_by([("first", "ascending")])
        cols = [table.column(n).to_pylist() for n in ("reason", "count", "rows", "lines", "tie")]
        for reason, count, row_ids, lines, tie in zip(*cols, strict=True):
            stats.reasons[reason] += count
            if tie:
                stats.ties.add(reason)
                stats.not_paired += count
            shown = stats.examples.setdefault(reason, [])
            shown += [{"row": r, "line": n} for r, n in zip(row_ids, lines, strict=True)]
    for reason, shown in stats.examples.items():
        stats.examples[reason] = sorted(shown, key=lambda e: e["row"])[:keep]
    stats.rejected = sum(stats.reasons.values())
    say_none_imported(report, stats)
    schema = imported.schema if isinstance(imported.schema, pa.Schema) else None
    say_landing(report, stats, imported.layout, schema, imported.options)
    report.notes.insert(0, imported_note(imported.layout, stats, imported.options))
    if imported.book is not None:
        got = worker_notes.take(imported.book)
        from trlprep.importers.labelcoercion import mapped_labels

        labels = mapped_labels(imported.options)
        said = Coerced(got.coerced, got.booleans).notes(labels) + got.notes
        report.notes += [n for n in said if n not in report.notes]
    report.issues[:0] = import_issues(stats, imported.layout, max_errors, imported.options)
    return report


class _Counts:
    """What the import did (the fields `imported_note` and `import_issues` read)."""

    def __init__(self, rows_in: int, rows_out: int, reasons: Any, examples: dict) -> None:
        self.rows_in, self.rows_out, self.rejected = rows_in, rows_out, 0
        self.reasons, self.examples = reasons, examples
        self.ties: set[str] = set()  # reasons of rows left unpaired (`NOT_PAIRED`)
        self.not_paired = 0


def _named(report: Report) -> set[int]:
    """The imported rows (positions among the rows checked) that the report's issues name."""
    named = set()
    for issue in report.issues:
        named.update(issue.rows)
        for r, _, fr, _ in issue.repeats or ():
            named.update((r, fr))
    return named


class _InputRows:
    """The input row (ROW_ID) of each imported row in `named`, as `to_input_rows` reads
    them (`self[i]`, `len(self)`): fetched from the blocks that hold them, so no column
    of every imported row's id (8 bytes a row) is gathered on the driver."""

    def __init__(self, blocks: list[tuple[Any, int, int]], named: set[int]) -> None:
        ray = _ray()
        blocks = [b for b in blocks if b[2]]
        self.total = sum(n for _, _, n in blocks)
        want = np.array(sorted(r for r in named if 0 <= r < self.total), np.int64)
        starts = np.array([offset for _, offset, _ in blocks], np.int64)
        at = np.searchsorted(starts, want, side="right") - 1
        refs = [
            ray.remote(_ids_at).remote(blocks[b][0], want[at == b] - starts[b])
            for b in np.unique(at)
        ]
        ids = np.concatenate(ray.get(refs)) if refs else np.zeros(0, np.int64)
        self.ids = dict(zip(want.tolist(), ids.tolist(), strict=True))

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, row: int) -> int:
        return self.ids[int(row)]


def _ids_at(block: Any, positions: np.ndarray) -> np.ndarray:
    """ROW_ID of the checked rows (reject rows left out) of `block` at `positions`."""
    ids = _accepted(_arrow(block)).column(ROW_ID)
    return np.asarray(ids.take(pa.array(positions)).to_numpy(), np.int64)


_REFUSED = pa.schema(
    [
        ("reason", pa.string()),
        ("count", pa.int64()),
        ("rows", pa.list_(pa.int64())),  # the first rows refused for it
        ("lines", pa.list_(pa.int64())),
        ("first", pa.int64()),
        ("tie", pa.bool_()),  # the rows were left unpaired (`NOT_PAIRED`), not refused
    ]
)


def _refused(table: pa.Table, keep: int) -> pa.Table:
    """The refused rows of a block by reason: how many, the first `keep` (ROW_ID, LINE)."""
    import polars as pl

    if REJECT not in table.column_names or not table.num_rows:
        return _REFUSED.empty_table()
    t = table.filter(table.column(REJECT).is_valid())
    if not t.num_rows:
        return _REFUSED.empty_table()
    line = t.column(LINE) if LINE in t.column_names else pa.nulls(t.num_rows, pa.int64())
    df = pl.from_arrow(
        pa.table(
            {
                "row": t.column(ROW_ID).cast(pa.int64()),
                "line": line.cast(pa.int64()),
                "reason": pc.struct_field(t.column(REJECT), "reason").cast(pa.string()),
                "tie": pc.equal(pc.struct_field(t.column(REJECT), "stage"), NOT_PAIRED),
            }
        )
    )
    df = df.sort("row", maintain_order=True)
    out = df.group_by("reason", maintain_order=True).agg(
        count=pl.len(),
        rows=pl.col("row").head(keep),
        lines=pl.col("line").head(keep),
        first=pl.col("row").first(),
        tie=pl.col("tie").first(),
    )
    return out.to_arrow().select(_REFUSED.names).cast(_REFUSED)
