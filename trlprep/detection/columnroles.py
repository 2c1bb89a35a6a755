"""Which type a set of column names fits, and the roles of its columns: the columns any
type may read, the extras carried along unread, the boolean label columns `--coerce` reads."""

from __future__ import annotations

from collections.abc import Iterable

from trlprep.detection.profile import MESSAGES
from trlprep.registry import (
    IMAGE_COLUMNS,
    LANGUAGE_MODELING,
    SIDE_COLUMNS,
    TYPES,
    DatasetType,
    Format,
    Kind,
    signature,
)


def pick_type(present: set[str]) -> tuple[DatasetType | None, Format | None, list[DatasetType]]:
    """The type whose column signature is the largest subset of the present columns."""
    best: list[tuple[int, DatasetType, Format]] = []
    for t in TYPES.values():
        for fmt in t.all_formats:
            sig = signature(t, fmt)
            if sig and sig <= present:
                best.append((len(sig), t, fmt))
    if not best:
        return None, None, []
    best.sort(key=lambda x: -x[0])
    top = best[0][0]
    winners = {t.name: (t, f) for n, t, f in best if n == top}
    others = [t for n, t, _ in best if n < top]
    if len(winners) > 1:  # e.g. text + prompt/completion + ... of equal size
        names = sorted(winners)
        t, f = winners[names[0]]
        return t, f, [winners[n][0] for n in names[1:]] + others
    t, f = next(iter(winners.values()))
    return t, f, others


def trl_column_names() -> frozenset[str]:
    """Every column name trlprep may read: the columns of every type in every format (token
    ids and conversational names included), the side columns and `messages`."""
    used = {c.name_in(f) for t in TYPES.values() for f in t.all_formats for c in t.columns_in(f)}
    used |= {c.name for t in TYPES.values() for c in t.tokenized_columns}
    used |= {c.conversational_name for t in TYPES.values() for c in t.columns}
    return frozenset(used - {None}) | frozenset(SIDE_COLUMNS) | {MESSAGES}


def carried_columns(names: Iterable[str]) -> set[str]:
    """Which of the column `names` are extras, carried along and never read: not a column
    of the type the names fit (in any format), nor a side column, nor `messages` (which a
    reading may take). Empty when no type fits (a public layout reads its own columns)."""
    names = set(names)
    dtype, _, _ = pick_type(names)
    if dtype is None:
        return set()
    used = {c.name_in(f) for f in dtype.all_formats for c in dtype.columns_in(f)}
    used |= {c.name for c in dtype.tokenized_columns}
    used |= {c.conversational_name for c in dtype.columns if c.conversational_name}
    return names - used - set(SIDE_COLUMNS) - set(IMAGE_COLUMNS) - {MESSAGES}


def label_columns(names: Iterable[str]) -> set[str]:
    """The boolean columns (unpaired preference's `label`, stepwise supervision's `labels`)
    of the type the column `names` fit: what `--coerce` reads as booleans. A `label` beside
    `messages` is one too (the KTO layout, `readings.read_turns`, once it holds booleans)."""
    names = set(names)
    dtype, _, _ = pick_type(names)
    if dtype is None:
        return set()
    if dtype is LANGUAGE_MODELING and {MESSAGES, "label"} <= names:
        return {"label"}
    return {
        c.name_in(f)
        for f in dtype.all_formats
        for c in dtype.columns_in(f)
        if c.kind in (Kind.LABEL, Kind.LABELS)
    } & names


__all__ = ["carried_columns", "label_columns", "pick_type", "trl_column_names"]
