"""A convert ended by refused rows: its counts said as every other run says them.

`convert` (both engines) and `import` end such a run with an error (exit 1, nothing
written): stopped at refused rows (`--on-error stop`), or every row refused. Before it
they print the counts line (`TYPE (...): 3 rows in, 1 rejected, 2 would convert; nothing
written (stopped)`; every row refused with `--on-error skip`: `N rows in, N rejected, 0
converted -> 0 rows out`), the rejects file's line and the reasons, so rows in = rows out
+ rows rejected is said on every run.
"""

from __future__ import annotations

from typing import Any

from trlprep.cli.app import err


def landing_words(importer: Any, schema: Any, options: Any) -> str:
    """`LAYOUT -> TYPE (FORMAT)`: what an import whose every row was refused would have
    made (the layout alone where its landing depends on rows it never made)."""
    landed = importer.landing_of(schema, options)
    if landed is None:  # the run's own error follows: never hidden by this one
        return importer.name
    dtype, fmt = landed
    return f"{importer.name} -> {dtype.name} ({fmt.value})"


def print_refused(
    ledger: Any, said_as: str | None, kinds: Any = None, bad: Any = None, error: Any = None
) -> None:
    """The counts line of a run ended by refused rows (`said_as`: its route, as the counts
    line of a run that wrote rows names it; `kinds`: its steps' row kinds): stopped, or
    every row refused; one that `error` ended before the end of its input (an error of its
    own, not the ledger's) says how far it read. Then the rejects file's line, when it was
    written (`bad`: the lines skipped as bad), and the rows by reason."""
    if error is None or getattr(error, "counts", None) is not None:
        line = ledger.counts_line(said_as, kinds)
    else:
        line = f"{said_as}: {ledger.partial_summary()}" if said_as else ledger.partial_summary()
    err.print(line, markup=False)
    if ledger.rejects is not None and ledger.all_rejected:  # (else aborted: none written)
        said = ledger.rejects.summary(ledger.rejected, len(bad) if bad else 0, ledger.turns_refused)
        err.print(said, markup=False)
    for reason in ledger.reason_lines():
        err.print(f"  {reason}", markup=False)
