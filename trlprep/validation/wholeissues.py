"""Issues of the whole dataset, not of one batch's rows: no type matches the columns, the
columns a type needs, duplicate rows, lines skipped as broken. Shared by the local
validation (`validate`) and Ray's (`trlprep.ray.checking`)."""

from __future__ import annotations

import re
from typing import Any

from trlprep.detection import answerfiles
from trlprep.io.jsonl import BadLines
from trlprep.validation.checkplan import Plan
from trlprep.validation.collect import Collector
from trlprep.validation.dupes import DuplicateFinder
from trlprep.validation.report import Issue, line_or_row, repeat_details
from trlprep.validation.rules import RULES

# the hint of lines --on-bad-lines skip skipped (the rule's own hint suggests that option)
SKIPPED_HINT = "fix or remove the line; the other lines were checked"


# the note `checkplan.make_plan` writes where convert reads the columns as a layout
LAYOUT_NOTE = "`trlprep convert` reads this as the "


def add_unknown_type(col: Collector, columns: Any, notes: list[str]) -> list[str]:
    """Add the unknown-type error for rows no type matches (its hint: the advice among
    `notes` on such columns, taken out of the notes returned)."""
    said = ("the columns are the", "the columns look", answerfiles.WHAT, LAYOUT_NOTE)
    advice = [n for n in notes if n.startswith(said)]
    hint = advice[0] if advice else None
    layout = re.match(LAYOUT_NOTE + r"(\S+) layout", hint or "")
    if layout:  # the layout convert reads: validate checks it as imported with --from
        name = layout[1]
        hint = (
            f"the columns are the {name} layout: --from {name} checks the rows as imported, "
            f"and `trlprep convert DATA --from {name} -o OUT` writes them as TRL reads them; "
            "or rename the columns to a TRL type's (see `trlprep schema TYPE`)"
        )
    col.add(
        "unknown-type",
        None,
        [],
        count=col.num_rows,
        message="no dataset type matches the columns " + (", ".join(columns) or "(none)"),
        hint=hint,
    )
    return [n for n in notes if n not in advice]  # said as the error's hint


def required_columns(plan: Plan) -> tuple[list[str], str]:
    """The columns `plan`'s type and format need, and the sentence saying so."""
    names = list(plan.dtype.column_names(plan.fmt))
    return names, f"{plan.dtype.name} ({plan.fmt.value}) needs " + ", ".join(names)


def report_duplicates(finder: DuplicateFinder, col: Collector) -> None:
    """Add the `duplicate-row` issue for the repeated rows `finder` found."""
    count, dup, first, lines = finder.finish(limit=max(col.max_examples, 3))
    if not count:
        return

    def line(row: int) -> int | None:
        return int(lines[row]) if lines is not None else None

    shown = dup[: col.max_examples]
    repeats = [(int(d), line(d), int(f), line(f)) for d, f in zip(dup[:3], first[:3], strict=True)]
    col.add(
        "duplicate-row",
        None,
        shown,
        count=count,
        lines=lines[shown] if lines is not None else None,
        details=[repeat_details(repeats, line_or_row)],
        repeats=repeats,
    )


def skipped_line_issues(bad: BadLines, max_errors: int) -> list[Issue]:
    """The lines skipped as broken, as `invalid-line` issues (one per reason)."""
    rule = RULES["invalid-line"]
    return [
        Issue(
            "invalid-line", rule.severity, f"{reason} (skipped)", SKIPPED_HINT, count=len(lines),
            lines=lines[: max(max_errors, 1)],
        ).name_line_files()
        for reason, lines in bad.by_reason().items()
    ]  # fmt: skip
