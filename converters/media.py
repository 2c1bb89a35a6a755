"""Media columns that follow their parts through an edge that drops messages.

TRL's vision layout fills bare `{"type": "image"}` parts (and `<image>` placeholders) from
the row's `images` list in order; validate counts each conversation of a row (the prompt
with each completion, `columns.placeholders.sequences`) against the whole list. An edge
that drops parts (the completion of `--to prompt-only`, a later turn) must drop the entries
they stand for too: the kept parts come first, so the kept entries are the first ones.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from trlprep.converters.arrowops import as_array, slice_lists

from trlprep.columns.placeholders import PLACEHOLDERS, part_counts, sequences
from trlprep.columns.textparts import string_content
from trlprep.registry import MEDIA_COLUMNS, SINGLE_MEDIA_COLUMNS

_CONVERSATIONS = ("prompt", "completion", "chosen", "rejected", "messages")


def shown(arr: pa.Array | pa.ChunkedArray, kind: str) -> np.ndarray:
    """Per row of a messages column: its `kind` parts and placeholders (`<image>`)."""
    arr = as_array(arr)
    n = part_counts(arr, kind)
    if string_content(arr.type):
        text = pc.struct_field(pc.list_flatten(arr), "content").cast(pa.string())
        per = np.asarray(pc.fill_null(pc.count_substring(text, PLACEHOLDERS[kind]), 0), np.int64)
        parent = np.asarray(pc.list_parent_indices(arr))
        n = n + np.bincount(parent, weights=per, minlength=len(arr)).astype(np.int64)
    return n


def agreed(table: pa.Table, kind: str) -> np.ndarray | None:
    """Per row, the `kind` media every conversation of the row shows (-1 where they differ);
    None without conversational message columns."""
    names = [c for c in _CONVERSATIONS if c in table.column_names and _conversational(table, c)]
    if not names:
        return None
    per = {c: shown(table.column(c), kind) for c in names}
    counts = [sum(per[c] for c in seq) for seq in sequences(names)]
    first = counts[0]
    same = np.logical_and.reduce([c == first for c in counts])
    return np.where(same, first, -1)


def keep_shown(out: pa.Table, before: pa.Table) -> pa.Table:
    """`out` with each `images` / `videos` / `audios` list cut to the first entries its
    conversations still show, in rows where `before` (the edge's input, row for row) showed
    exactly its entries; rows that did not match are left for validate to report."""
    for kind, names in MEDIA_COLUMNS.items():
        lists = [
            n
            for n in names
            if n in out.column_names
            and n not in SINGLE_MEDIA_COLUMNS
            and pa.types.is_list(out.column(n).type) | pa.types.is_large_list(out.column(n).type)
        ]
        if not lists:
            continue
        whole, now = agreed(before, kind), agreed(out, kind)
        if whole is None or now is None:
            continue
        for name in lists:
            col = as_array(out.column(name))
            held = np.asarray(pc.fill_null(pc.list_value_length(col), 0), np.int64)
            cut = (whole == held) & (now >= 0) & (now < held)
            if cut.any():
                i = out.column_names.index(name)
                kept = cut_lists(col, np.where(cut, now, held))
                out = out.set_column(i, out.schema.field(name), kept)
    return out


def cut_lists(col: pa.Array, keep: np.ndarray) -> pa.Array:
    """Each list of `col` cut to its first `keep` entries; null lists stay null."""
    kept = slice_lists(col, 0, keep)
    if col.null_count:
        kept = pc.if_else(pc.is_valid(col), kept, pa.nulls(len(col), kept.type))
    return kept


def _conversational(table: pa.Table, name: str) -> bool:
    t = table.column(name).type
    return (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_struct(t.value_type)
