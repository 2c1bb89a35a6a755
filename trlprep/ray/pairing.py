"""Pairing unpaired rows by prompt on Ray: rows are bucketed by a hash of their prompt
(for Ray's groupby) and each bucket is paired in input order."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.errors import ROW_ID
from trlprep.ray.base import PAIR_KEY, REJECT
from trlprep.ray.blocks import _run, _Stage


def _segment(plan: Any, steps: tuple, *, first: bool, src: str | None = None) -> Any:
    """`plan` restricted to `steps`, which may be none (the reading step only in the first
    segment); the chat template is added by the actor of the last one."""
    from trlprep.conversion.graph import Route
    from trlprep.registry import get_type

    start = plan.route.src if first else get_type(src or steps[0].src)
    end = get_type(steps[-1].dst) if steps else start
    return dataclasses.replace(
        plan, route=Route(start, end, tuple(steps)), reading=plan.reading if first else None
    )


def _pair_keys(table: pa.Table, fmt: Any, buckets: int) -> pa.Table:
    """Each row's bucket: a hash of its prompt modulo `buckets` (rows with equal prompts
    share one; a bucket holds many prompts, paired exactly inside). Reject rows: bucket 0."""
    import polars as pl
    import pyarrow.compute as pc

    from trlprep.converters.arrowops import as_array
    from trlprep.converters.common import content

    keys = np.zeros(table.num_rows, np.int64)
    live = np.ones(table.num_rows, bool)
    if REJECT in table.column_names:
        live = np.asarray(pc.is_null(table.column(REJECT)).to_numpy(zero_copy_only=False), bool)
    if live.any():
        part = table.filter(pa.array(live)) if not live.all() else table
        prompt = as_array(content(part, "prompt", fmt))
        hashed = pl.Series(pl.from_arrow(prompt)).hash(seed=0).to_numpy() % np.uint64(buckets)
        keys[live] = hashed.astype(np.int64)
    return table.append_column(PAIR_KEY, pa.array(keys))


def _pair_group(table: pa.Table, stage: _Stage) -> pa.Table:
    """Pair the rows of one bucket of prompts, in input order."""
    import pyarrow.compute as pc

    table = table.drop_columns([PAIR_KEY])
    table = table.take(pc.sort_indices(table, [(ROW_ID, "ascending")]))
    return _run(table, stage)
