"""What the driver reads off a Ray dataset's blocks: before a run, the first rows a
conversion is planned from, the inline media `--inline-media move` moves and an
importer's survey of every block; after a stage, the reject rows counted by reason."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from trlprep.errors import ROW_ID
from trlprep.ray.blocks import _keep

if TYPE_CHECKING:
    import ray.data


def import_survey(ds: ray.data.Dataset, importer: Any, opts: Any) -> frozenset[str]:
    """The union of every block's `Importer.survey` (`importers.survey`)."""
    from trlprep.ray.blocks import surveyed_block

    found = ds.map_batches(
        surveyed_block, batch_format="pyarrow", batch_size=None, fn_args=(importer, opts)
    )
    return frozenset(k for r in found.take_all() for k in r["seen"])


def media_to_move(ds: ray.data.Dataset, coerce: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What `--inline-media move` moves, as `medium:column` (the messages columns holding
    an image, video or audio inline in some block; none for a medium whose column the input
    has already), and the `medium:key` of the part keys of any block holding media no URL
    or path names (`conversion.mediastage.unmovable_keys`)."""
    from trlprep.columns.inlinemedia import MEDIA_COLUMN
    from trlprep.ray.blocks import holds_inline_images

    schema = ds.schema()
    schema = getattr(schema, "base_schema", schema)
    if schema is None:
        return (), ()
    found = ds.map_batches(
        holds_inline_images, batch_format="pyarrow", batch_size=None, fn_args=(coerce,)
    ).take_all()
    held = {c for r in found for c in r["inline"]}
    unmovable = tuple(sorted({k for r in found for k in r["unmovable"]}))
    moved = sorted(c for c in held if MEDIA_COLUMN[c.split(":")[0]] not in schema.names)
    return tuple(moved), unmovable


def head_rows(ds: ray.data.Dataset, n: int = 10_000, coerce: bool = False) -> pa.Table | None:
    """The first `n` rows that are not reject rows, without hidden columns (None: no rows),
    their mixed-kind columns settled as the blocks settle them (rows of another kind left
    out, extras of several kinds kept as JSON text): what the plan is made from."""
    from trlprep.detection.columnroles import carried_columns, label_columns
    from trlprep.io.kinds import settle_kinds

    parts, got = [], 0
    for b in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
        b = _keep(b, False)
        b = b.drop_columns([ROW_ID]) if ROW_ID in b.column_names else b
        names = b.column_names
        s = settle_kinds(
            b, coerce=coerce, carry=carried_columns(names), labels=label_columns(names)
        )
        b = s.table.filter(pa.array(~s.bad)) if s.bad.any() else s.table
        if b.num_rows:
            parts.append(b.slice(0, n - got))
            got += parts[-1].num_rows
        if got >= n:
            break
    return pa.concat_tables(parts, promote_options="permissive") if parts else None


def refused_ledger(rows: ray.data.Dataset, rows_in: int) -> Any:
    """A `Ledger` of the reject rows among `rows` (None: there are none), counted by
    reason on the cluster (only the counts reach the driver): its `error()` is the local
    engine's (the first refused row, how many more)."""
    from trlprep.conversion.ledger import Ledger
    from trlprep.ray import rejected as refused

    summary = refused.summaries(rows.map_batches(_keep, batch_format="pyarrow", fn_args=(True,)))
    if not summary.num_rows:
        return None
    ledger = Ledger(on_error="stop")
    ledger.rows_in = rows_in
    ledger.absorb(summary)
    return ledger if ledger.stopping else None  # ties left unpaired stop nothing
