"""Media columns that follow their parts through an edge that drops messages.

TRL's vision layout fills bare `{"type": "image"}` parts (and `<image>` placeholders) from
the row's `images` list in order; validate counts each conversation of a row (the prompt
with each completion, `columns.placeholders.sequences`) against the whole list. An edge
that drops parts (the completion of `--to prompt-only`, a later turn) must drop the entries
they stand for too: the kept parts come first, so the kept entries are the first ones.

A single `image` (one path or object per row, as LLaVA and Qwen-VL give it; TRL reads it as
one image) cannot be cut: a row whose kept messages no longer show it gets null there (TRL's
GRPO and RLOO read a null `image` as no image), said in a warning. A media column held as
JSON text (its rows of several shapes: a path in some, a list in others) is set null where
nothing kept shows its media; a row keeping some of several of its entries is refused,
naming the column.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from trlprep.converters.arrowops import as_array, slice_lists

from trlprep.columns.arrowtypes import is_list
from trlprep.columns.placeholders import media_entries, sequences, shown_counts
from trlprep.errors import RowFailures
from trlprep.registry import MEDIA_COLUMNS, SINGLE_MEDIA_COLUMNS

_CONVERSATIONS = ("prompt", "completion", "chosen", "rejected", "messages")


def agreed(table: pa.Table, kind: str) -> np.ndarray | None:
    """Per row, the `kind` media every conversation of the row shows (-1 where they differ);
    None without conversational message columns."""
    names = [c for c in _CONVERSATIONS if c in table.column_names and _conversational(table, c)]
    if not names:
        return None
    per = {c: shown_counts(table.column(c), kind) for c in names}
    counts = [sum(per[c] for c in seq) for seq in sequences(names)]
    first = counts[0]
    same = np.logical_and.reduce([c == first for c in counts])
    return np.where(same, first, -1)


def keep_shown(out: pa.Table, before: pa.Table) -> pa.Table:
    """`out` with each media column cut to the entries its conversations still show, in
    rows where `before` (the edge's input, row for row) showed exactly its entries: a list
    cut to its first entries, a single `image` or a JSON text column set null where nothing
    kept shows it (said in a warning); a JSON text row keeping some of several entries is
    refused. Rows that did not match are left for validate to report."""
    refused: dict[int, str] = {}
    for kind, names in MEDIA_COLUMNS.items():
        present = [n for n in names if n in out.column_names]
        if not present:
            continue
        whole, now = agreed(before, kind), agreed(out, kind)
        if whole is None or now is None:
            continue
        for name in present:
            col, field = as_array(out.column(name)), out.schema.field(name)
            held = media_entries(field, col)
            if held is None:
                continue
            cut = (whole == held) & (now >= 0) & (now < held)
            if not cut.any():
                continue
            if is_list(col.type):
                kept = slice_lists(col, 0, np.where(cut, now, held))
            else:  # one entry, or JSON text: only all of it can go
                for r in np.flatnonzero(cut & (now > 0)):
                    refused.setdefault(int(r), _uncut(name, kind, int(held[r]), int(now[r])))
                gone = cut & (now == 0)
                if not gone.any():
                    continue
                kept = pc.if_else(pa.array(gone), pa.nulls(len(col), col.type), col)
                _say_dropped(name, kind, np.flatnonzero(gone))
            out = out.set_column(out.column_names.index(name), field, kept)
    if refused:
        rows = sorted(refused)
        raise RowFailures(rows, [refused[r] for r in rows], stage="conversion")
    return out


def _uncut(name: str, kind: str, held: int, kept: int) -> str:
    """Why a row whose kept messages show some of its `held` entries of `name` is refused."""
    return (
        f"its kept messages show {kept} of the {held} {kind}s of its {name!r} column, which "
        "holds JSON text (rows of several shapes) that cannot be cut to the first ones: make "
        f"{name!r} a list in every row, or rename it out of the media columns to keep it as "
        f"it is (--map {name}_given={name})"
    )


def _say_dropped(name: str, kind: str, rows: np.ndarray) -> None:
    from trlprep.converters.common import counted_rows_text, warn

    trl = f", and TRL reads a null {name!r} as no {kind}" if name in SINGLE_MEDIA_COLUMNS else ""
    warn(
        f"{counted_rows_text(rows)}: the {name!r} column's {kind} entries were shown only by "
        f"the messages this conversion drops: set to null (no kept message shows them{trl})"
    )


def _conversational(table: pa.Table, name: str) -> bool:
    t = table.column(name).type
    return (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_struct(t.value_type)
