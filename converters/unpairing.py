"""Unpairing: each preference pair becomes a chosen row labelled true and a rejected row
labelled false, both keeping the prompt and every extra column (duplicated), except the
columns of one side (`chosen_X` / `rejected_X`, `converters.sides`): each row gets its own
completion's as `X`.

Row order: `order="interleaved"` (default) puts each pair's two rows next to each other;
`order="blocks"` gives every chosen row, then every rejected row (TRL's order, which TRL
applies per `datasets.map` batch of 1000 rows: `block_rows=1000` reproduces it exactly).

As TRL's guide warns, unpairing assumes every chosen completion is good and every rejected
one bad; a pair of two good (or two bad) answers becomes a wrong label.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from trlprep.converters.arrowops import map_slices, pair_order, unify_chunked
from trlprep.converters.base import ConvertOptions, edge
from trlprep.converters.common import PAIR_ONLY_COLUMNS, check_format, choice, content, output
from trlprep.converters.implicit import extract
from trlprep.converters.sides import Sides, side_pairs, unified

from trlprep.errors import UsageError
from trlprep.registry import UNPAIRED_PREFERENCE, Format

ORDERS = ("interleaved", "blocks")
UNPAIR_WARNING = (
    "unpairing labels every chosen completion good and every rejected one bad; "
    "check that holds (e.g. with absolute ratings) before training"
)


# Rows per piece: taking rows of a whole million-row column at once costs several times
# more (page faults on one huge fresh buffer) than the same work in cache-sized pieces.
# (Threads over the pieces gained nothing: the copies are bound by memory, not CPU.)
PIECE_ROWS = 65_536


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
    block = opts.block_rows
    if block is not None and block < 1:
        raise UsageError("block rows must be at least 1")
    prompt = content(table, "prompt", fmt) if prompt is None else prompt
    chosen = content(table, "chosen", fmt) if chosen is None else chosen
    rejected = content(table, "rejected", fmt) if rejected is None else rejected
    chosen, rejected = unify_chunked(chosen, rejected)
    sides = side_pairs(table, ("prompt", "completion", "label"))
    each = {}  # each pair of side columns, of one kind
    for s in sides:
        each[s.chosen], each[s.rejected] = unified(table, s)
    pairs = _with_columns(table, prompt=prompt, chosen=chosen, rejected=rejected, **each)
    n = table.num_rows
    if order == "blocks" and (block is None or block >= PIECE_ROWS):
        # whole blocks of chosen rows then rejected rows: slices only, nothing copied
        pieces = map_slices(lambda s: _block(s, fmt, sides), pairs, block or max(n, 1))
    else:
        size = PIECE_ROWS if block is None else max(1, PIECE_ROWS // block) * block
        pieces = map_slices(lambda s: _taken(s, fmt, order, block, sides), pairs, size)
    if not pieces:
        return _taken(pairs, fmt, order, block, sides)
    return pa.concat_tables(pieces)


def _with_columns(table: pa.Table, **columns: pa.ChunkedArray) -> pa.Table:
    for name, col in columns.items():
        i = table.schema.get_field_index(name)
        field = pa.field(name, col.type)
        table = table.set_column(i, field, col) if i >= 0 else table.append_column(field, col)
    return table


def _block(pairs: pa.Table, fmt: Format, sides: list[Sides]) -> pa.Table:
    """Every chosen row of `pairs`, then every rejected row."""
    m = pairs.num_rows
    halves = []
    for side, label in (("chosen", True), ("rejected", False)):
        own = {s.name: pairs[s.chosen if label else s.rejected] for s in sides}
        labels = pa.chunked_array([pa.array(np.full(m, label))])
        halves.append(_unpaired(pairs, fmt, pairs[side], labels, sides, own))
    return pa.concat_tables(halves)


def _taken(
    pairs: pa.Table, fmt: Format, order: str, block: int | None, sides: list[Sides]
) -> pa.Table:
    """The rows of `pairs` unpaired in `order`, taken into fresh arrays."""
    m = pairs.num_rows
    row, first = pair_order(m, order, block)
    at = pa.array(np.where(first, row, row + m), pa.int64())

    def each_row(chosen: str, rejected: str) -> pa.Array:
        """Row i of the unpaired rows: `chosen`'s value where it is a chosen row, else
        `rejected`'s."""
        if not m:
            return pa.array([], pairs[chosen].type)
        return pa.concat_arrays(pairs[chosen].chunks + pairs[rejected].chunks).take(at)

    own = {s.name: each_row(s.chosen, s.rejected) for s in sides}
    completion = each_row("chosen", "rejected")
    return _unpaired(pairs, fmt, completion, pa.array(first, pa.bool_()), sides, own, rows=row)


def _unpaired(
    pairs: pa.Table,
    fmt: Format,
    completion: pa.Array | pa.ChunkedArray,
    label: pa.Array | pa.ChunkedArray,
    sides: list[Sides],
    own: dict[str, pa.Array | pa.ChunkedArray],
    rows: np.ndarray | None = None,
) -> pa.Table:
    prompt = pairs["prompt"]
    produced = {
        "prompt": prompt if rows is None else prompt.take(pa.array(rows, pa.int64())),
        "completion": completion,
        "label": label,
        **own,
    }
    return output(
        pairs,
        UNPAIRED_PREFERENCE,
        fmt,
        produced,
        {"prompt", "chosen", "rejected", *(c for s in sides for c in (s.chosen, s.rejected))},
        drop=PAIR_ONLY_COLUMNS,
        rows=rows,
        renames={s.name: s.chosen for s in sides},
    )


@edge(
    "preference",
    "unpaired-preference",
    reads=("order", "block_rows"),
    drops="the pairing (which completion was preferred to which), and a `margin` column",
    rows="doubles",
    description="Unpair: the chosen labelled true and the rejected labelled false, "
    "each with the prompt (and its own side's chosen_X / rejected_X as X).",
)
def preference_to_unpaired(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    return unpair(table, fmt, opts)


@edge(
    "preference-implicit",
    "unpaired-preference",
    reads=("order", "block_rows", "no_prompt"),
    standard_reads=("split_mode",),
    drops="the pairing (which completion was preferred to which), and a `margin` column",
    rows="doubles",
    description="Extract the prompt, then unpair (the guide's two steps in one).",
)
def implicit_to_unpaired(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    x = extract(table, fmt, opts)
    return unpair(x.table, fmt, opts, prompt=x.prompt, chosen=x.chosen, rejected=x.rejected)
