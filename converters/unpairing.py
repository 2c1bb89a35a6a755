"""Unpairing: each preference pair becomes a chosen row labelled true and a rejected row
labelled false, both keeping the prompt and every extra column (duplicated).

Row order: `order="interleaved"` (default) puts each pair's two rows next to each other;
`order="blocks"` gives every chosen row, then every rejected row (TRL's order, which TRL
applies per `datasets.map` batch of 1000 rows: `block_rows=1000` reproduces it exactly).

As TRL's guide warns, unpairing assumes every chosen completion is good and every rejected
one bad; a pair of two good (or two bad) answers becomes a wrong label.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from trlprep.converters.arrowops import pair_order, unify_chunked
from trlprep.converters.base import ConvertOptions, edge
from trlprep.converters.common import PAIR_ONLY_COLUMNS, check_format, choice, content, output
from trlprep.converters.implicit import extract

from trlprep.errors import UsageError
from trlprep.registry import UNPAIRED_PREFERENCE, Format

ORDERS = ("interleaved", "blocks")
UNPAIR_WARNING = (
    "unpairing labels every chosen completion good and every rejected one bad; "
    "check that holds (e.g. with absolute ratings) before training"
)


def unpair(
    table: pa.Table,
    fmt: Format,
    opts: ConvertOptions,
    *,
    prompt: pa.ChunkedArray | None = None,
    chosen: pa.ChunkedArray | None = None,
    rejected: pa.ChunkedArray | None = None,
) -> pa.Table:
    """Unpair `table` (prompt/chosen/rejected taken from it unless given)."""
    fmt = check_format(fmt)
    order = choice(opts.order, ORDERS, "order")
    if opts.block_rows is not None and opts.block_rows < 1:
        raise UsageError("block rows must be at least 1")
    prompt = content(table, "prompt", fmt) if prompt is None else prompt
    chosen = content(table, "chosen", fmt) if chosen is None else chosen
    rejected = content(table, "rejected", fmt) if rejected is None else rejected
    chosen, rejected = unify_chunked(chosen, rejected)
    n = table.num_rows
    row, first = pair_order(n, order, opts.block_rows)
    both = pa.chunked_array(chosen.chunks + rejected.chunks, chosen.type)
    completion = both.take(pa.array(np.where(first, row, row + n), pa.int64()))
    produced = {
        "prompt": prompt.take(pa.array(row, pa.int64())),
        "completion": completion,
        "label": pa.array(first, pa.bool_()),
    }
    return output(
        table,
        UNPAIRED_PREFERENCE,
        fmt,
        produced,
        {"prompt", "chosen", "rejected"},
        drop=PAIR_ONLY_COLUMNS,
        rows=row,
    )


@edge(
    "preference",
    "unpaired-preference",
    drops="the pairing (which completion was preferred to which), and a `margin` column",
    rows="doubles",
    description="Unpair: the chosen labelled true and the rejected labelled false, "
    "each with the prompt.",
)
def preference_to_unpaired(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    return unpair(table, fmt, opts)


@edge(
    "preference-implicit",
    "unpaired-preference",
    drops="the pairing (which completion was preferred to which), and a `margin` column",
    rows="doubles",
    description="Extract the prompt, then unpair (the guide's two steps in one).",
)
def implicit_to_unpaired(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    x = extract(table, fmt, opts)
    return unpair(x.table, fmt, opts, prompt=x.prompt, chosen=x.chosen, rejected=x.rejected)
