"""Rows a conversion refused, kept on the cluster: their counts by stage and reason made
block by block (only those summaries reach the driver), and, for the rejects file, their
original records found where the input's blocks are, sorted by row and streamed to the
driver a batch at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from trlprep.errors import ROW_ID
from trlprep.ray.base import LINE, REJECT, _arrow, _blocks, _ray

if TYPE_CHECKING:
    import ray.data

BATCH_ROWS = 1_000  # rejected rows the driver holds at once (records may be long)


def summaries(rejected: ray.data.Dataset) -> pa.Table:
    """The reject rows (ROW_ID, LINE, REJECT) counted by stage and reason shape in each
    block (`trlprep.conversion.ledger.summarize`), for `Ledger.absorb`."""
    from trlprep.conversion.reasons import SUMMARY_SCHEMA

    ds = rejected.map_batches(_summarize, batch_format="pyarrow", batch_size=None)
    parts = [t for t in ds.iter_batches(batch_size=None, batch_format="pyarrow") if t.num_rows]
    if not parts:
        return SUMMARY_SCHEMA.empty_table()
    return pa.concat_tables([t.cast(SUMMARY_SCHEMA) for t in parts])


def _summarize(table: pa.Table) -> pa.Table:
    from trlprep.conversion.reasons import summarize

    return summarize(_named(table))


def _named(table: pa.Table) -> pa.Table:
    """Reject rows as the columns of the rejects file (row, line, stage, reason)."""
    import pyarrow.compute as pc

    reject = table.column(REJECT)
    turned = reject.type.get_field_index("turn") >= 0  # (`Converted.rejects`: when turned)
    return pa.table(
        {
            "row": table.column(ROW_ID).cast(pa.int64()),
            "line": table.column(LINE).cast(pa.int64()),
            "stage": pc.struct_field(reject, "stage"),
            "reason": pc.struct_field(reject, "reason"),
            "turn": pc.struct_field(reject, "turn")
            if turned
            else pa.nulls(table.num_rows, pa.int64()),
        }
    )


def records(
    rejected: ray.data.Dataset,
    numbered: ray.data.Dataset,
    batch_rows: int | None = None,
    turned: bool = False,
) -> Iterator[pa.Table]:
    """The rows of the rejects file (`REJECTS_SCHEMA`; `turn` too when `turned`) in row
    order (a row's turns in theirs), `batch_rows` at a
    time: the reject blocks put in ROW_ID order on the cluster (`in_row_order`: sorted
    only when their rows are not in runs already), each matched with the input blocks whose
    rows it overlaps (one task per pair: no block meets the whole input), the records made
    there from the rows as read."""
    from ray.data.context import DataContext

    from trlprep.conversion.byturn import as_rejects
    from trlprep.ray.numbering import in_row_order

    ray = _ray()
    ctx = DataContext.get_current()
    kept = ctx.execution_options.preserve_order  # the caller's setting, given back after
    ctx.execution_options.preserve_order = True  # the ordered blocks stay in order
    try:
        found = [ref for ref, _, n in _blocks(in_row_order(rejected)) if n]
        if not found:
            return
        inputs = [ref for ref, _, n in _blocks(numbered) if n]
        span = ray.remote(_span)
        spans = np.array(ray.get([span.remote(ref) for ref in found + inputs]), np.int64)
        spans = spans.reshape(-1, 2)
        lo, hi = spans[len(found) :].T
        order = np.argsort(lo, kind="stable")
        lo, hi, inputs = lo[order], hi[order], [inputs[i] for i in order]
        apart = bool(np.all(hi[:-1] < lo[1:]))  # input blocks hold ranges of rows apart
        match = ray.remote(_match)
        refs = [
            match.remote(ref, inputs[i])
            for ref, (a, b) in zip(found, spans[: len(found)], strict=True)
            for i in np.flatnonzero((lo <= b) & (hi >= a))
        ]
        ds = ray.data.from_arrow_refs(refs)
        if not apart:  # (rows numbered otherwise than in runs): sorted again, on the cluster
            ds = ds.sort(["row", "turn"] if turned else "row")
        for batch in ds.iter_batches(batch_size=batch_rows or BATCH_ROWS, batch_format="pyarrow"):
            if batch.num_rows:
                yield as_rejects(batch, turned)  # (the record's JSON tag kept)
    finally:
        ctx.execution_options.preserve_order = kept


def _span(block: Any) -> tuple[int, int]:
    """(smallest, largest) ROW_ID of a non-empty block."""
    import pyarrow.compute as pc

    got = pc.min_max(_arrow(block).column(ROW_ID))
    return int(got["min"].as_py()), int(got["max"].as_py())


def _match(rejected: Any, block: Any) -> pa.Table:
    """The reject rows of a sorted block whose input rows are in `block`, in order, each
    with its record (the row as read, as JSON text)."""
    import pyarrow.compute as pc

    from trlprep.conversion.byturn import as_rejects
    from trlprep.importers.rejects import REJECTS_SCHEMA
    from trlprep.importers.rejects import records as as_json

    rej, block = _arrow(rejected), _arrow(block)
    ids = block.column(ROW_ID).cast(pa.int64())
    rej = rej.filter(pc.is_in(rej.column(ROW_ID).cast(pa.int64()), value_set=ids))
    if not rej.num_rows:
        return as_rejects(REJECTS_SCHEMA.empty_table(), True)
    have = ids.to_numpy()
    by_id = np.argsort(have, kind="stable")
    want = rej.column(ROW_ID).to_numpy()
    at = by_id[np.searchsorted(have[by_id], want)]
    original = block.take(pa.array(at)).drop_columns(
        [c for c in (LINE,) if c in block.column_names]
    )
    named = _named(rej)
    return named.append_column("record", pa.array(as_json(original), pa.string()))
