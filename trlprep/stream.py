"""Stream a converted dataset to a file: batch by batch, validated, written atomically.

Row-count-changing conversions stream too; with `--order blocks`, unpairing writes every
first-of-pair row before any second one by spilling the seconds to a temporary Parquet
file and appending them at the end.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from trlprep.convert import Plan, apply_steps, check_output
from trlprep.detect import detect_table
from trlprep.errors import DataError
from trlprep.readers import Batch
from trlprep.registry import Format


def _interleaved(plan: Plan) -> bool:
    """True when the last step doubles rows and the caller must order them as blocks."""
    steps = plan.route.steps
    return bool(steps) and steps[-1].rows == "doubles" and plan.options.order == "blocks"


def convert_batches(
    batches: Iterator[Batch], plan: Plan, writer, spill_dir: str
) -> tuple[int, int]:
    """Stream batches through the plan into `writer`; returns (rows in, rows out).

    With `--order blocks`, unpairing emits every first-of-pair row before any second one:
    the seconds are spilled to a temporary Parquet file and appended at the end.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    blocks = _interleaved(plan)
    opts = dataclasses.replace(plan.options, order="interleaved") if blocks else plan.options
    spill_path = os.path.join(spill_dir, "second-half.parquet")
    spill = None
    rows_in = rows_out = 0
    try:
        for b in batches:
            table = b.data if isinstance(b.data, pa.Table) else pa.Table.from_batches([b.data])
            _check_batch(table, plan, b)
            out = apply_steps(table, plan, opts, b.offset, b.lines)
            check_output(out, plan, rows_out)
            rows_in += table.num_rows
            if blocks:
                idx = pa.array(range(out.num_rows))
                even = pc.equal(pc.bit_wise_and(idx, 1), 0)
                writer.write(out.filter(even))
                second = out.filter(pc.invert(even))
                if spill is None:
                    spill = pq.ParquetWriter(spill_path, second.schema)
                spill.write_table(second)
            else:
                writer.write(out)
            rows_out += out.num_rows
        if spill is not None:
            spill.close()
            spill = None
            for rb in pq.ParquetFile(spill_path).iter_batches():
                writer.write(pa.Table.from_batches([rb]))
    finally:
        if spill is not None:
            spill.close()
    return rows_in, rows_out


def _check_batch(table: pa.Table, plan: Plan, b: Batch) -> None:
    """Each streamed batch must be of the planned source type and format."""
    det = detect_table(table, b.lines)
    ok_type = det.type is not None and set(plan.src.column_names(plan.fmt)) <= set(
        det.columns.values()
    ) | set(det.extra_columns)
    problems = [p for p in det.problems if p.code != "ambiguous-prompt"]
    if problems or not ok_type or (det.format not in (None, plan.fmt) and table.num_rows):
        p = problems[0] if problems else None
        where = ""
        if p and p.rows:
            where = " at " + (
                f"lines {', '.join(map(str, p.lines))}"
                if p.lines
                else f"rows {', '.join(str(r + b.offset) for r in p.rows)}"
            )
        msg = p.message if p else f"rows from {b.offset} are not {plan.src.name} ({plan.fmt})"
        raise DataError(f"the data is not uniform: {msg}{where}", hint="run `trlprep validate`")


def stream_to_file(
    batches: Iterator[Batch],
    plan: Plan,
    output: str | os.PathLike,
    *,
    output_format: str | None = None,
) -> tuple[int, int]:
    """Convert streamed batches into `output` atomically (a folder output is built in memory)."""
    from trlprep.writers import open_writer, resolve_output_format, write

    fmt = resolve_output_format(output, output_format)
    with tempfile.TemporaryDirectory(prefix=".trlprep-", dir=Path(output).parent) as spill_dir:
        if fmt == "disk":
            collected = _Collector()
            counts = convert_batches(batches, plan, collected, spill_dir)
            write(collected.table(), output, output_format="disk", overwrite=True)
            return counts
        writer = _LazyWriter(lambda schema: open_writer(output, schema, output_format=fmt))
        try:
            counts = convert_batches(batches, plan, writer, spill_dir)
        except BaseException:
            writer.abort()
            raise
        writer.commit(empty_schema=_empty_schema(plan))
        return counts


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
        from trlprep.readers import concat_tables

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
