"""What every column check shares: `BatchSink`, which collects the rows each (rule, column)
flags in one record batch, and the number of example details kept per flag.

Every check in this family works on whole Arrow columns (flattened lists with their parent
row indices, reduced back to rows with numpy) and reports offending rows to a `BatchSink`
under a rule id from `trlprep.validation.rules`: `plain` (strings, steps, labels, token
ids), `messages` (message lists), `sides` (tools, images, margin, template kwargs), `cross`
(several columns of a row), `text` (the text itself), `reading` (a `messages` column read
as another type).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_DETAILS = 5


@dataclass
class _Flag:
    mask: np.ndarray
    message: str | None = None
    hint: str | None = None
    details: dict[str, int] = field(default_factory=dict)  # detail -> its first row
    # detail -> the rows it is said of (a mask or row indices): each row's own details
    rows_of: dict[str, list[np.ndarray]] = field(default_factory=dict)
    # detail -> where in each of its rows it stands (aligned with `rows_of`; None: unknown),
    # so a row's own details are told in the order the row holds them
    place_of: dict[str, list[np.ndarray | None]] = field(default_factory=dict)
    # (rows, message) of each flagging call: a row is told its own call's message
    said: list[tuple[np.ndarray, str | None]] = field(default_factory=list)

    @property
    def shown(self) -> list[str]:
        """The details in the order of their first rows (as the input read whole gives
        them, wherever its batches are cut)."""
        return ordered_details(self.details)


def ordered_details(details: dict[str, int], limit: int = MAX_DETAILS) -> list[str]:
    """The `limit` details (detail -> first row) of the earliest rows, in row order."""
    return [d for d, _ in sorted(details.items(), key=lambda kv: kv[1])[:limit]]


def add_detail(details: dict[str, int], detail: str, row: int, limit: int = MAX_DETAILS) -> None:
    """`detail` first met at `row` added to `details`, keeping the `limit` of the earliest
    rows (which batches were met first does not decide which are kept)."""
    if detail in details:
        details[detail] = min(details[detail], row)
        return
    details[detail] = row
    if len(details) > limit:
        del details[max(details, key=lambda d: (details[d], d))]


class BatchSink:
    """Collects the rows each (rule, column) flags in one batch; flushed once per batch."""

    def __init__(self, num_rows: int) -> None:
        self.num_rows = num_rows
        self.flags: dict[tuple[str, str | None], _Flag] = {}
        # rows holding video / audio parts whose number nothing checks (no such column)
        self.unchecked_media: dict[str, int] = {}
        self.roles_seen: set[str] = set()  # message roles as written, kept with a role map

    def flag(
        self,
        rule: str,
        column: str | None,
        where: np.ndarray,
        *,
        message: str | None = None,
        hint: str | None = None,
        details: list[str] | tuple[str, ...] = (),
        detail_rows: list[np.ndarray] | None = None,
        detail_places: list[np.ndarray] | None = None,
    ) -> np.ndarray:
        """Mark rows (a boolean mask or row indices) as breaking `rule`; returns the mask.
        `detail_rows`: the rows (indices) each detail is said of; by default every row
        of `where`."""
        if where.dtype != bool:
            mask = np.zeros(self.num_rows, dtype=bool)
            mask[where] = True
        else:
            mask = where
        if not mask.any():
            return mask
        f = self.flags.get((rule, column))
        if f is None:
            f = self.flags[(rule, column)] = _Flag(mask.copy(), message, hint)
        else:
            if f.said or message != f.message:  # calls with messages of their own
                if not f.said:  # the calls so far, all with the flag's message
                    f.said.append((f.mask.copy(), f.message))
                f.said.append((mask.copy(), message))
            f.mask |= mask
            f.message = f.message or message
            f.hint = f.hint or hint
        first = int(np.argmax(mask))  # the row each detail of this call is said at
        for i, d in enumerate(details):
            rows = detail_rows[i] if detail_rows is not None else mask
            f.rows_of.setdefault(d, []).append(rows)
            f.place_of.setdefault(d, []).append(detail_places[i] if detail_places else None)
            at = first if detail_rows is None else int(rows[0]) if len(rows) else first
            add_detail(f.details, d, at)
        return mask

    def flag_values(
        self,
        rule: str,
        column: str | None,
        values: pa.Array | list[str],
        rows: np.ndarray,
        *,
        label: Callable[[Any], str] = str,
        message: str | None = None,
        hint: str | None = None,
    ) -> np.ndarray:
        """Flag `rows` (the row of each flagged value) with each distinct value, as
        `label` says it, as a detail said of the rows holding it (a rejected row names its
        own values, and details are listed by their first row wherever batches are cut)."""
        if not len(values):
            return np.zeros(self.num_rows, dtype=bool)
        rows = np.asarray(rows, dtype=np.int64)
        values = pa.array(values, pa.string()) if isinstance(values, list) else values
        if pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        encoded = pc.dictionary_encode(values)
        codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False))
        names = encoded.dictionary.to_pylist()
        codes = np.where(codes < 0, len(names), codes)  # a null value: said as null
        names.append(None)
        sort = np.argsort(codes, kind="stable")
        cuts = np.flatnonzero(np.diff(codes[sort])) + 1
        groups = np.split(rows[sort], cuts)
        keys = codes[sort][np.concatenate(([0], cuts))]
        order = np.argsort([g[0] for g in groups], kind="stable")  # by first value's row
        # each group's rows, and where each row first holds the value (its item's place)
        firsts = [np.unique(g, return_index=True) for g in groups]
        places = np.split(sort, cuts)
        return self.flag(
            rule,
            column,
            np.unique(rows),
            message=message,
            hint=hint,
            details=[label(names[keys[k]]) for k in order],
            detail_rows=[firsts[k][0] for k in order],
            detail_places=[places[k][firsts[k][1]] for k in order],
        )


def counts_key(at: np.ndarray, *counts: np.ndarray) -> pa.Array:
    """The counts of each row of `at` as one text value ("2,0,5"), for `flag_values`: rows
    with the same counts share a detail (its `label` reads them with `counts_of`)."""
    cols = [pa.array(np.broadcast_to(c, (len(at),)) if np.ndim(c) == 0 else np.asarray(c)[at])
            for c in counts]  # fmt: skip
    return pc.binary_join_element_wise(*[pc.cast(c, pa.string()) for c in cols], ",")


def counts_of(key: str) -> list[int]:
    """The counts a `counts_key` value holds."""
    return [int(x) for x in key.split(",")]


def row_messages(flag: _Flag, at: np.ndarray) -> np.ndarray:
    """The message of each row of `at` (indices): that of the first call that flagged it
    (None: the rule's own), so a row is not told another row's message."""
    out = np.full(len(at), flag.message, dtype=object)
    if not flag.said:
        return out
    for mask, message in reversed(flag.said):
        out[mask[at]] = message
    return out


def row_details(flag: _Flag, num_rows: int, limit: int = MAX_DETAILS) -> np.ndarray:
    """Per row of a batch: the details its flag says of that row, as one text (at most
    `limit`; None for a row with none): a row's own, in the order the row holds them (by
    name where that is not known), wherever batches are cut."""
    each: dict[int, dict[str, float]] = {}
    for d, all_rows in flag.rows_of.items():
        for rows, places in zip(all_rows, flag.place_of.get(d, ()), strict=False):
            idx = np.flatnonzero(rows) if rows.dtype == bool else rows
            at = [np.inf] * len(idx) if places is None else places.tolist()
            for r, p in zip(idx.tolist(), at, strict=True):
                said = each.setdefault(r, {})
                said[d] = min(said.get(d, np.inf), p)
    out = np.full(num_rows, None, dtype=object)
    texts: dict[tuple[str, ...], str] = {}
    for r, ds in each.items():
        key = tuple(sorted(ds, key=lambda d, ds=ds: (ds[d], d))[:limit])
        out[r] = texts.get(key) or texts.setdefault(key, ", ".join(key))
    return out
