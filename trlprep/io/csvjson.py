"""A CSV file's JSON text columns, read in ranges, decoded to one type over the whole file.

Each range decodes its JSON text on its own (`csvranges.settle`, `read_planned`); the
ranges must agree on the type, as the whole file's text decodes to one. A range whose
values of such a column are all empty decodes them to nulls of no type: it is left out of
the agreement and its nulls take the type the other ranges agree on, as the file read
whole gives them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from trlprep.io.csvranges import Plan


def json_plan(plan: Plan, found: list[list[pa.Field | None]]) -> Plan | None:
    """`plan` with the JSON columns some range could not decode left as text, and the type
    each other decodes to (`found`: each range's decoded field of each of
    `sorted(plan.json)`, None: not decoded, from `settle`) where a range of empty values
    only must take it; None: read the file whole (the ranges decoded a column to different
    types, or to JSON text)."""
    columns = sorted(plan.json)
    failed = {c for k, c in enumerate(columns) if any(f[k] is None for f in found)}
    kept = [k for k, c in enumerate(columns) if c not in failed]
    agreed = _agreed([[f[k] for k in kept] for f in found], len(kept))
    if agreed is None:
        return None
    blank = [any(_blank(f[k]) for f in found) for k in kept]  # some range's all empty
    decoded = tuple((columns[k], t) for k, t, b in zip(kept, agreed, blank, strict=True) if b and t)
    final = replace(plan, json=plan.json - failed, decoded=decoded)
    return plan if final == plan else final


def _blank(field: pa.Field | None) -> bool:
    return field is not None and pa.types.is_null(field.type)


def blank_ranges(plan: Plan, found: list[list[pa.Field | None]]) -> set[int]:
    """The ranges (by their index in `found`, as `json_plan` takes it) whose nulls of no type
    `plan` types (`Plan.decoded`)."""
    typed = {i for i, _ in plan.decoded}
    at = [k for k, c in enumerate(sorted(plan.json)) if c in typed]
    return {r for r, f in enumerate(found) if any(_blank(f[k]) for k in at)}


def _agreed(found: list[list[pa.Field | None]], width: int) -> list[pa.DataType | None] | None:
    """The type every range (but those of empty values only) decoded each JSON column to (a
    type every range shares is what the column decodes to read whole; None: empty in every
    range); None: ranges that disagree, or JSON text."""
    from trlprep.columns.arrowtypes import is_json_field

    out: list[pa.DataType | None] = []
    for k in range(width):
        fields = [f[k] for f in found]
        if any(f is None or is_json_field(f) for f in fields):
            return None
        typed = [f for f in fields if not pa.types.is_null(f.type)]
        if not all(f.equals(typed[0], check_metadata=True) for f in typed):
            return None
        out.append(typed[0].type if typed else None)
    return out


def decoded_column(
    plan: Plan, i: int, found: tuple[pa.Field, pa.Array]
) -> tuple[pa.Field, pa.Array]:
    """Column `i` as a range decoded it (`found`), its nulls of no type given the type the
    other ranges decode it to (`Plan.decoded`)."""
    field, values = found
    want = dict(plan.decoded).get(i)
    if want is None or not pa.types.is_null(field.type):
        return found
    return field.with_type(want), pa.nulls(len(values), want)
