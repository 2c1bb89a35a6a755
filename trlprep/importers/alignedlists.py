"""List columns beside a list of answers that hold one entry per answer, split with them.

An evaluation or sampling run writes, beside its answers, other lists with one entry per
answer (SkyThought's `pred` and `score` beside `code`: each sample's extracted answer and
verdict). An import making one row per answer gives each row its own entry of such a list
(the column keeps its name); other list columns are copied whole onto every answer's row.

The rule: a list column is split when, in every row of the whole input where it and the
answers are both given (non-null), it has as many entries as there are answers, and in some
row more than one. Lists of one entry beside one answer everywhere are copied (nothing
says they are per answer rather than per prompt). Each is named in the run's notes by
what it is over the whole input (a list given beside the answers in no row: in none). The
whole input decides
(`importers.survey`), so a chunk or a Ray block where lengths happen to agree is read as
the whole file is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list
from trlprep.converters.arrowops import as_array
from trlprep.importers.jsonarrow import row_lengths
from trlprep.importers.survey import whole_input

_LONGER = "aligned-longer:"  # both given, same length, more than one entry: some row
_APART = "aligned-apart:"  # both given, lengths differ: some row
_GIVEN = "aligned-given:"  # both given: some row (else the column is named in no note)


def _lists(table: pa.Table, answers: str, skip: Iterable[str]) -> list[str]:
    """The list columns of `table` other than `answers` and `skip`."""
    left = {answers, *skip}
    return [f.name for f in table.schema if f.name not in left and is_list(f.type)]


def aligned_survey(table: pa.Table, answers: str, skip: Iterable[str] = ()) -> set[str]:
    """What of `table` decides which list columns are split with `answers` (module doc)."""
    if answers not in table.column_names or not is_list(table.schema.field(answers).type):
        return set()
    ans = as_array(table.column(answers))
    n_ans, ans_valid = row_lengths(ans), _valid(ans)
    found: set[str] = set()
    for name in _lists(table, answers, skip):
        col = as_array(table.column(name))
        both = ans_valid & _valid(col)
        same = row_lengths(col) == n_ans
        if both.any():
            found.add(_GIVEN + name)
        if (both & ~same).any():
            found.add(_APART + name)
        if (both & same & (n_ans > 1)).any():
            found.add(_LONGER + name)
    return found


def aligned_columns(
    table: pa.Table, answers: str, skip: Iterable[str] = ()
) -> tuple[list[str], list[str], list[str]]:
    """(the list columns split with `answers`; those copied whole as one entry beside one
    answer wherever both are given; those copied whole as not as long as the answers in
    some row), decided and named by the whole input's survey while a batch of it is
    imported, else by `table` alone: a batch where a column is null throughout (or absent,
    or typed null) names it as the whole input does, each list in name order. A list
    column given beside the answers in no row of the whole input is named in none. Only
    `splittable` columns of the batch can be split."""
    skip = tuple(skip)
    seen = whole_input()
    if seen is None:
        seen = frozenset(aligned_survey(table, answers, skip))
    given = {m.removeprefix(_GIVEN) for m in seen if m.startswith(_GIVEN)}
    split, ones, apart = [], [], []
    for name in sorted(given):  # (no batch's column order: the same in every batch)
        if _APART + name in seen:
            apart.append(name)
        elif _LONGER + name in seen:
            split.append(name)
        else:
            ones.append(name)
    return split, ones, apart


def splittable(table: pa.Table, names: Iterable[str]) -> list[str]:
    """The columns of `names` that `table` holds as lists (a batch may hold one of the
    whole input's split columns as nulls alone: its rows keep them)."""
    return [n for n in names if n in table.column_names and is_list(table.schema.field(n).type)]


def split_entries(
    table: pa.Table, names: Iterable[str], rows: np.ndarray, pos: np.ndarray
) -> dict[str, pa.Array]:
    """Each column of `names` as one entry per output row: row `rows[i]`'s entry at
    `pos[i]` (null where that row's list is null or shorter)."""
    rows = np.asarray(rows, np.int64)
    pos = np.asarray(pos, np.int64)
    out: dict[str, pa.Array] = {}
    for name in names:
        col = as_array(table.column(name))
        lengths = row_lengths(col)
        start = np.cumsum(lengths) - lengths
        valid = _valid(col)[rows] & (pos < lengths[rows])
        at = np.where(valid, start[rows] + pos, 0)
        out[name] = pc.list_flatten(col).take(pa.array(at, pa.int64(), mask=~valid))
    return out


def aligned_notes(
    found: tuple[list[str], list[str], list[str]],
    answers: str,
    names: Mapping[str, str] | None = None,
    pairs: bool = False,
) -> list[str]:
    """What was done with the list columns `aligned_columns` `found` beside `answers`
    (`names`: the input's name of a renamed column; `pairs`: split into a `chosen_NAME` and a
    `rejected_NAME` column), for the run's notes."""
    names = names or {}
    split, ones, apart = ([names.get(n, n) for n in part] for part in found)
    answers = names.get(answers, answers)
    notes = []
    if split:
        given = (
            "each pair given its chosen and its rejected answer's entry as chosen_NAME and "
            "rejected_NAME"
            if pairs
            else "each row given its own answer's entry"
        )
        notes.append(
            f"list columns split with the answers of `{answers}`, {given}: "
            + ", ".join(split)
            + " (as long as the answers in every row where both are given)"
        )
    if ones:
        notes.append(
            f"list columns copied whole, one entry beside one answer of `{answers}` wherever "
            "both are given (nothing says it is per answer): " + ", ".join(ones)
        )
    if apart:
        notes.append(
            f"list columns copied whole onto every row made from theirs, not as long as the "
            f"answers of `{answers}` in every row: " + ", ".join(apart)
        )
    return notes


def _valid(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)


__all__ = ["aligned_columns", "aligned_notes", "aligned_survey", "split_entries", "splittable"]
