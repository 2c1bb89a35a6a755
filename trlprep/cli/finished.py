"""What a convert or import run that wrote its rows prints at its end: the conversion's
warnings (merged over batches) and the template's, notes, the counts line (rows in = rows
out + rows rejected), the rejects file's line and the rows left out by reason."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trlprep.cli.app import err

if TYPE_CHECKING:
    from trlprep.cli.pipeline import Request


def say_done(
    req: Request, plan: Any, ledger: Any, said: list[str], stats: Any, said_as: Any, steps: Any,
    bad: Any,
) -> None:  # fmt: skip
    """What a finished run prints: its warnings (`said`: the conversion's), notes, the
    counts line, the rejects file's line and the rows left out by reason."""
    from trlprep.converters.common import merge_row_warnings
    from trlprep.io.outputcheck import resolve_output_format

    for message in merge_row_warnings(said):
        err.print(f"warning: {message}", markup=False)
    for message in plan.warnings():
        err.print(f"warning: {message}", markup=False)
    out_format = resolve_output_format(req.output, req.output_format)
    if ledger.carried and out_format != "jsonl":  # JSON Lines holds the values themselves
        from trlprep.io.kinds import carried_warning

        for column, kinds in ledger.carried.items():
            said = carried_warning(column, kinds, f"written to {req.output}", out_format != "disk")
            err.print(f"warning: {said}", markup=False)
    for note in ledger.notes() + plan.notes() + (stats.notes if stats is not None else []):
        err.print(f"note: {note}", markup=False)  # before the counts, which end the run
    err.print(f"{said_as}: {ledger.summary(steps)} -> {req.output}", markup=False)
    if ledger.rejects is not None:
        said = ledger.rejects.summary(ledger.rejected, len(bad) if bad else 0, ledger.turns_refused)
        err.print(said, markup=False)
    else:
        from trlprep.importers.rejectsfile import stale_rejects_note

        stale = stale_rejects_note(req.output)
        if stale:
            err.print(f"note: {stale}", markup=False)
    for line in ledger.reason_lines():
        err.print(f"  {line}", markup=False)
