"""Stream a converted dataset to a file: batch by batch, validated, written atomically.

Every input row is accounted for in a `Ledger`: rows any stage refuses are mapped back to
input rows (through `ROW_ID`) and set aside (`--on-error skip`) or stop the run.

Row-count-changing conversions stream too; with `--order blocks`, unpairing writes every
first-of-pair row before any second one by spilling the seconds to a temporary Parquet
file and appending them at the end. Pairing unpaired rows by prompt is the exception: a
prompt's rows may lie anywhere in the input, so it converts the whole input at once.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.columns.mediacolumns import as_media_lists
from trlprep.conversion.apply import (
    Failure,
    InputRows,
    apply_checked,
    failures_table,
    split_missing,
    with_row_ids,
)
from trlprep.conversion.convert import Plan
from trlprep.conversion.ledger import Ledger
from trlprep.conversion.rowsleft import check_rows_left
from trlprep.detection.detect import PASSABLE, ROW_LEVEL, Problem, detect_table
from trlprep.errors import ROW_ID, DataError
from trlprep.io.readers import Batch
from trlprep.io.tempfiles import scratch_dir
from trlprep.registry import Format


@dataclass
class Unit:
    """One input batch on its way: the rows as read (for the rejects file) and the rows to
    convert (imported, when a layout is read), which carry `ROW_ID`."""

    raw: pa.Table
    offset: int  # input row index of raw's first row
    raw_lines: np.ndarray | None  # file line of each raw row (line-oriented input)
    table: pa.Table  # with ROW_ID
    lines: np.ndarray | None  # file line of each row of `table`
    path: str | None = None  # the file of these rows (inputs of several files)


def plain_units(batches: Iterator[Batch], ledger: Ledger, coerce: bool = False) -> Iterator[Unit]:
    """Units of batches converted as read (no importer)."""
    for b in batches:
        yield _plain_unit(b, ledger, coerce)
        del b  # the unit is the consumer's: nothing of it held here while the next is read


def _plain_unit(b: Batch, ledger: Ledger, coerce: bool) -> Unit:
    ledger.settle(before=b.offset)  # the rows of earlier batches went through every stage
    raw = b.data if isinstance(b.data, pa.Table) else pa.Table.from_batches([b.data])
    ledger.rows_in += raw.num_rows
    table, keep = read_stage(raw, b.offset, b.lines, ledger, coerce)
    table, _ = as_media_lists(table)  # Qwen-VL's `image` lists, `video` -> `videos`
    if keep is None:
        return Unit(raw, b.offset, b.lines, with_row_ids(table, b.offset), b.lines, b.path)
    ids = pa.array(b.offset + keep)
    lines = None if b.lines is None else np.asarray(b.lines)[keep]
    return Unit(raw, b.offset, b.lines, table.append_column(ROW_ID, ids), lines, b.path)


def read_stage(
    raw: pa.Table,
    offset: int,
    lines: np.ndarray | None,
    ledger: Ledger,
    coerce: bool,
    carry: Collection[str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> tuple[pa.Table, np.ndarray | None]:
    """Settle mixed-kind columns (`trlprep.io.kinds`; with `coerce`, the `labels` (input
    column -> the type's; without `carry`, the type's own) read as booleans); rows that
    cannot be go to the ledger (stage `read`). Extras of several kinds (`carry`, else those
    of the type the columns fit) are carried as JSON text (said in the ledger). Returns the
    table of the other rows and their positions in `raw` (None: every row is kept)."""
    from trlprep.detection.columnroles import carried_columns, label_columns
    from trlprep.io.kinds import settle_kinds

    if carry is None:  # the type's own columns (an importer's input is not yet the type)
        carry = carried_columns(raw.column_names)
        labels = labels or {n: n for n in label_columns(raw.column_names)}
    s = settle_kinds(raw, coerce=coerce, carry=carry, labels=labels or {})
    for column, count in s.coerced.items():
        ledger.coerced[column] += count
    for column, counts in s.boolean_rows.items():
        ledger.read_booleans(column, np.arange(len(counts)) + offset, counts)
    if s.carried:  # the kinds most rows hold first, over every batch (as one table says)
        from trlprep.io.kinds import kind_counts

        for column, by_kind in kind_counts(raw, s.carried).items():
            total = ledger.carried_rows.setdefault(column, {})
            for kind, n in by_kind.items():
                total[kind] = total.get(kind, 0) + n
            ledger.carried[column] = sorted(total, key=lambda k: -total[k])
    if not s.bad.any():
        return s.table, None
    idx = np.flatnonzero(s.bad)
    failed = [Failure(idx + offset, "read", list(s.reasons[idx]))]
    ledger.reject(failures_table(failed, raw, offset, lines))
    keep = np.flatnonzero(~s.bad)
    return s.table.take(pa.array(keep)), keep


def _interleaved(plan: Plan) -> bool:
    """True when the last step doubles rows and the caller must order them as blocks."""
    steps = plan.route.steps
    return bool(steps) and steps[-1].rows == "doubles" and plan.options.order == "blocks"


def convert_batches(
    units: Iterator[Unit], plan: Plan, writer, spill_dir: str, ledger: Ledger
) -> None:
    """Stream units through the plan into `writer`, accounting every row in `ledger`.

    Input rows a stage refuses go to the ledger (its rejects file with on_error="skip");
    once a row failed without skip nothing more is written, the rest is only checked (so
    the error can say how many rows fail). With `--order blocks`, unpairing emits every
    first-of-pair row before any second one: the seconds are spilled to a temporary
    Parquet file and appended at the end.
    """
    import pyarrow.parquet as pq

    from trlprep.conversion.byturn import by_turn, splitting_step

    ledger.split_step, ledger.turned = splitting_step(plan), by_turn(plan)
    blocks = _interleaved(plan)
    opts = dataclasses.replace(plan.options, order="interleaved") if blocks else plan.options
    if any(e.rows == "pairs" for e in plan.route.steps):
        ledger.hold = True  # pairing may refuse rows of any batch: their rejects wait
        try:
            units = iter([_merged(list(units))])  # a prompt's rows may lie in any batch
        finally:
            ledger.hold = False
    spill_path = os.path.join(spill_dir, "second-half.parquet")
    spill: list = []  # the writer of the seconds (`--order blocks`), once opened
    try:
        for u in units:
            _convert_unit(u, plan, opts, writer, ledger, spill if blocks else None, spill_path)
            del u  # not held while the next unit is read
        if ledger.stopping or ledger.all_rejected:
            raise ledger.error()
        check_rows_left(plan, ledger.converted, ledger.rows_out)
        if spill:
            spill.pop().close()
            from trlprep.io.parquet_dict import READ_OPTIONS

            for rb in pq.ParquetFile(spill_path, **READ_OPTIONS).iter_batches():
                writer.write(pa.Table.from_batches([rb]))
    finally:
        if spill:
            spill.pop().close()


def _convert_unit(
    u: Unit, plan: Plan, opts, writer, ledger: Ledger, spill: list | None, spill_path: str
) -> None:
    """One unit converted and written (`spill`: with `--order blocks`, the seconds go to a
    Parquet writer at `spill_path`, opened into the list on the first unit)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    ledger.settle(before=u.offset)  # rows of batches that left no row to convert
    u = _without_missing(u, plan, ledger)
    if not u.table.num_rows:
        return
    # several files: each row named by its own file (`a.jsonl:4`, `a.parquet row 3`)
    source = InputRows(u.offset, u.raw_lines, u.path, ledger.shards)
    _check_batch(u.table, plan, source, u.path)
    counts: list[tuple[str, int, int]] = []
    out, failures = apply_checked(u.table, plan, opts, u.offset, u.lines, counts, source=source)
    if failures:
        ledger.reject(failures_table(failures, u.raw, u.offset, u.raw_lines))
        for f in failures:
            if f.hint:
                ledger.hints.setdefault(f.stage, f.hint)
    for name, n_in, n_out in counts:
        ledger.count_step(name, n_in, n_out)
    if ledger.stopping:
        return  # counting mode: nothing is written
    out = out.drop_columns([ROW_ID])
    if spill is not None:
        idx = pa.array(range(out.num_rows))
        even = pc.equal(pc.bit_wise_and(idx, 1), 0)
        writer.write(out.filter(even))
        second = out.filter(pc.invert(even))
        if not spill:
            spill.append(pq.ParquetWriter(spill_path, second.schema))
        spill[0].write_table(second)
    else:
        writer.write(out)
    ledger.rows_out += out.num_rows


def _without_missing(u: Unit, plan: Plan, ledger: Ledger) -> Unit:
    """`u` less the rows with a null required value, which go to the ledger (`split_missing`)."""
    table, keep, failure = split_missing(u.table, plan)
    if failure is None:
        return u
    ledger.reject(failures_table([failure], u.raw, u.offset, u.raw_lines))
    lines = None if u.lines is None else np.asarray(u.lines)[keep]
    return dataclasses.replace(u, table=table, lines=lines)


def _merged(units: list[Unit]) -> Unit:
    """One unit holding every row of consecutive `units` (pairing rows by prompt needs the
    whole input at once)."""
    if len(units) == 1:
        return units[0]

    def lines(parts: list[np.ndarray | None]) -> np.ndarray | None:
        return None if any(p is None for p in parts) else np.concatenate(parts)

    return Unit(
        raw=pa.concat_tables([u.raw for u in units], promote_options="permissive"),
        offset=units[0].offset,
        raw_lines=lines([u.raw_lines for u in units]),
        table=pa.concat_tables([u.table for u in units], promote_options="permissive"),
        lines=lines([u.lines for u in units]),
        path=units[0].path if len({u.path for u in units}) == 1 else None,
    )


def _check_batch(table: pa.Table, plan: Plan, source: Any, path: str | None = None) -> None:
    """Each streamed batch (with `ROW_ID`) must be of the planned source type and format;
    `source` names its input rows (`InputRows`: `line 4`, `row 3`, of a folder `a.jsonl:4`,
    `a.parquet row 3`, never a folder's row beside a shard's name); `path`, the file of the
    batch (inputs of several files), is named in the error."""
    ids = np.asarray(table.column(ROW_ID).to_numpy(), np.int64)
    table = table.drop_columns([ROW_ID])
    det = detect_table(table)
    ok_type = det.type is not None and set(plan.source_columns) <= set(det.columns.values()) | set(
        det.extra_columns
    )
    problems = [p for p in det.problems if p.code not in PASSABLE | ROW_LEVEL]
    if problems or not ok_type or (det.format not in (None, plan.fmt) and table.num_rows):
        p = problems[0] if problems else None
        msg = f"rows from {source.name(ids[:1])} on are not {plan.src.name} ({plan.fmt})"
        if p:  # every problem of the first's kind (mixed-format: one per column)
            msg = "; ".join(q.message + _at(q, ids, source) for q in problems if q.code == p.code)
        hint = f"run `trlprep validate {path}`" if path else "run `trlprep validate`"
        hint = p.hint if p and p.hint else hint
        raise DataError(f"the data is not uniform: {msg}", path=path, hint=hint)


def _at(p: Problem, ids: np.ndarray, source: Any) -> str:
    """' at lines 1, 2' (rows, `a.jsonl:4`, ...: as `source` names input rows `ids`) of a
    detection problem."""
    return f" at {source.name(ids[p.rows])}" if p.rows else ""


def stream_to_file(
    units: Iterator[Unit],
    plan: Plan,
    output: str | os.PathLike,
    ledger: Ledger,
    *,
    output_format: str | None = None,
) -> None:
    """Convert streamed units into `output` atomically (a folder output is built in memory);
    `ledger` counts the rows. Nothing is written when a row fails without on_error="skip"."""
    from trlprep.io.outputcheck import resolve_output_format
    from trlprep.io.writers import open_writer, write

    fmt = resolve_output_format(output, output_format)
    with scratch_dir(scratch_folder(output)) as spill_dir:  # a recognisable, swept name
        if fmt == "disk":
            collected = _Collector()
            convert_batches(units, plan, collected, spill_dir, ledger)
            table = untagged_carried(collected.table(), ledger.carried)
            write(table, output, output_format="disk", overwrite=True)
            return
        writer = _LazyWriter(lambda schema: open_writer(output, schema, output_format=fmt))
        try:
            convert_batches(units, plan, writer, spill_dir, ledger)
        except BaseException:
            writer.abort()
            raise
        writer.commit(empty_schema=_empty_schema(plan))


def scratch_folder(output: str | os.PathLike) -> str:
    """Where the spill files go: beside the output's file, or the temporary folder when the
    output is a stream (`/dev/null`'s folder takes no scratch files)."""
    import tempfile

    from trlprep.io.targets import real_target, stream_kind

    if stream_kind(output) is not None:
        return tempfile.gettempdir()
    return str(real_target(output).parent)


def untagged_carried(table: pa.Table, columns: dict[str, list[str]]) -> pa.Table:
    """`table` with the JSON text of carried extras as plain text: a save_to_disk folder keeps
    no field metadata, so it cannot hold them tagged (the run's warning says so)."""
    if not any(name in columns for name in table.column_names):
        return table
    fields = [f.remove_metadata() if f.name in columns else f for f in table.schema]
    return pa.Table.from_arrays(table.columns, schema=pa.schema(fields, table.schema.metadata))


def _empty_schema(plan: Plan) -> pa.Schema:
    fmt = plan.out_format
    msg = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    kinds = {"content": msg if fmt is Format.CONVERSATIONAL else pa.string()}
    fields = []
    for c in plan.dst.columns_in(fmt):
        t = {"label": pa.bool_(), "labels": pa.list_(pa.bool_()), "steps": pa.list_(pa.string())}
        fields.append(pa.field(c.name_in(fmt), kinds.get(c.kind.value, t.get(c.kind.value))))
    return pa.schema(fields)


class _Collector:
    def __init__(self) -> None:
        self.parts: list[pa.Table] = []

    def write(self, t: pa.Table) -> None:
        self.parts.append(t)

    def table(self) -> pa.Table:
        from trlprep.io.readers import concat_tables

        return concat_tables(self.parts) if self.parts else pa.table({})


class _LazyWriter:
    """Opens the real writer on the first batch (its schema is the output's schema)."""

    def __init__(self, opener) -> None:
        self.opener, self.w = opener, None

    def write(self, t: pa.Table) -> None:
        if self.w is None:
            self.w = self.opener(t.schema)
        self.w.write(t)

    def commit(self, empty_schema: pa.Schema) -> None:
        if self.w is None:
            self.w = self.opener(empty_schema)
        self.w.commit()

    def abort(self) -> None:
        if self.w is not None:
            self.w.abort()
