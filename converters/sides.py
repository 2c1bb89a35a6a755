"""Columns that describe one side of a pair: `chosen_X` beside `rejected_X` (or `X_chosen`
beside `X_rejected`, also joined by `-`), such as the model that wrote each answer
(`chosen_generator` of AlpacaEval pairs, `chosen_model` of Chatbot Arena's) or its score
(UltraFeedback's `score_chosen`).

A row that holds one completion holds its own completion's value under the plain name `X`:
unpairing gives each chosen row `chosen_X` and each rejected row `rejected_X` (TRL's
`unpair_preference_dataset` copies both columns onto both rows, so a row does not say which
is its own); the conversions that keep only the chosen completion (language modeling,
prompt-completion) keep `chosen_X` as `X` and leave `rejected_X` out, said in a warning.

A pair is carried as it is, said in a warning, where its plain name is taken (a column of
the input, of a dataset type, one trlprep reads beside them such as `images`, or another
pair's) or where its two columns' kinds do not agree. Token ids of each side
(`chosen_ids`, `chosen_input_ids`, `chosen_attention_mask`) are no side columns: carried as
they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from trlprep.converters.arrowops import common_type
from trlprep.converters.base import ConversionWarning

from trlprep.errors import DataError, warn_user
from trlprep.registry import SIDE_COLUMNS, all_type_columns

# (the chosen column's affix, the rejected column's, whether it comes first)
_FORMS = (
    ("chosen_", "rejected_", True),
    ("chosen-", "rejected-", True),
    ("_chosen", "_rejected", False),
    ("-chosen", "-rejected", False),
)


@dataclass(frozen=True)
class Sides:
    """One pair of side columns: `chosen` and `rejected`, made one column `name`."""

    name: str
    chosen: str
    rejected: str


def side_pairs(table: pa.Table, produced: Iterable[str]) -> list[Sides]:
    """The pairs of side columns of `table` that become one column each, in the input's
    order; `produced`: the columns the conversion writes. A pair that cannot is warned
    about (carried as it is)."""
    found: list[Sides] = []
    for sides, why in named_pairs(table.column_names, produced):
        why = why or _kinds_differ(table, sides.chosen, sides.rejected)
        if why:
            warn_user(
                f"columns {sides.chosen!r} and {sides.rejected!r} are carried as they are onto "
                f"every row (not made one column {sides.name!r}, each row's own side: {why})",
                ConversionWarning,
            )
        else:
            found.append(sides)
    return found


def named_pairs(names: list[str], produced: Iterable[str]) -> list[tuple[Sides, str | None]]:
    """Each pair of side columns among `names` (in their order), with why its plain name
    cannot be used (None: it can); `produced`: the columns the conversion writes."""
    taken = set(produced) | all_type_columns() | set(SIDE_COLUMNS)
    found: list[tuple[Sides, str | None]] = []
    for col in names:
        for chosen, rejected, first in _FORMS:
            bare = col[len(chosen) :] if first else col[: -len(chosen)]
            if not bare or not (col.startswith(chosen) if first else col.endswith(chosen)):
                continue
            other = rejected + bare if first else bare + rejected
            if other in names and not _token_column(bare):
                used = [s.name for s, why in found if why is None]
                found.append((Sides(bare, col, other), _taken(bare, names, taken, used)))
    return found


def _token_column(bare: str) -> bool:
    """Whether `chosen_<bare>` is a side's token ids or mask (`chosen_ids`,
    `chosen_prompt_start`, `chosen_input_ids`): carried as it is, never a side column (their
    unpaired forms have names of their own, `completion_ids`, made by tokenizing)."""
    return bare in ("ids", "prompt_start", "labels") or bare.endswith(("_ids", "_mask"))


def _taken(bare: str, names: list[str], taken: set[str], used: list[str]) -> str | None:
    """Why the plain name `bare` cannot be used, or None."""
    if bare in names:
        return f"the input has a column {bare!r} already"
    if bare in taken:
        return f"{bare!r} is a column trlprep reads"
    if bare in used:
        return f"another pair of columns is named {bare!r} too"
    return None


def _kinds_differ(table: pa.Table, chosen: str, rejected: str) -> str | None:
    """Why the two columns cannot be one column (their kinds disagree), or None."""
    a, b = table.schema.field(chosen).type, table.schema.field(rejected).type
    try:
        common_type(a, b)
    except DataError:
        return f"their kinds differ ({a}, {b})"
    return None


def unified(table: pa.Table, sides: Sides) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """The chosen and rejected columns of `sides`, cast to one kind."""
    a, b = table.column(sides.chosen), table.column(sides.rejected)
    target = common_type(a.type, b.type)
    return (a if a.type == target else a.cast(target)), (b if b.type == target else b.cast(target))


def chosen_sides(
    table: pa.Table, produced: Iterable[str], kept_by: str, rows: np.ndarray | None = None
) -> tuple[dict[str, pa.ChunkedArray], set[str], dict[str, str]]:
    """For a conversion keeping only the chosen completion (into `kept_by` rows): each pair's
    chosen column under its plain name (its `rows` when given), the columns it replaces,
    and where each goes (plain name -> chosen column); each rejected column left out is
    said in a warning."""
    pairs = side_pairs(table, produced)
    for s in pairs:
        warn_user(
            f"column {s.rejected!r} left out: it describes the rejected completion, which "
            f"{kept_by} rows do not keep ({s.chosen!r} is kept as {s.name!r}, the chosen "
            "completion's)",
            ConversionWarning,
        )
    take = None if rows is None else pa.array(rows, pa.int64())
    columns = {
        s.name: table.column(s.chosen) if take is None else table.column(s.chosen).take(take)
        for s in pairs
    }
    consumed = {c for s in pairs for c in (s.chosen, s.rejected)}
    return columns, consumed, {s.name: s.chosen for s in pairs}
