"""A conversion that left no rows of those it was given: the error, why and what to do.

An empty output is never what was asked for (`--allow-empty` excepted): a filtering step
(stepwise supervision's false labels, a pairing that drops rows) can leave none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from trlprep.errors import DataError

if TYPE_CHECKING:
    from trlprep.conversion.convert import Plan


class NoRowsLeft(DataError):
    """The conversion itself dropped every row it was given (none was refused)."""


def check_rows_left(
    plan: Plan, rows_converted: int, rows_out: int, nothing: str = "written"
) -> None:
    """DataError when the conversion itself dropped every row it was given (an empty
    output is never what was asked for)."""
    if rows_out or not rows_converted or getattr(plan.options, "allow_empty", False):
        return
    why, hint = why_no_rows_left(plan.steps)
    raise NoRowsLeft(
        "no rows left (pass --allow-empty to accept an empty output): "
        + (f"all {rows_converted:,} rows were" if rows_converted > 1 else "the one row was")
        + f" dropped ({why}); nothing was {nothing}",
        hint=hint,
    )


def why_no_rows_left(steps: Sequence[Any]) -> tuple[str, str]:
    """Why a conversion through `steps` (a route's edges) left no rows, and what to do."""
    filters = [e for e in steps if e.rows == "filters" or (e.rows == "pairs" and e.drops)]
    why = (
        f"{filters[0].src} -> {filters[0].dst} drops {filters[0].drops.split(',')[0]}"
        if filters
        else "the conversion dropped them"
    )
    hint = "check the labels, or convert to a type that keeps these rows (`trlprep graph`)"
    if filters and filters[0].src == "stepwise-supervision":
        hint = (
            "every row has a false step label: --to unpaired keeps them with a merged label "
            "(--label-merge first-false-truncates keeps the steps before the first false one)"
        )
    return why, hint
