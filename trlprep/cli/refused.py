"""A convert whose every row was refused: its counts said as every other run says them.

`convert` (both engines) and `import` end such a run with an error (exit 1, nothing
written); before it they print the counts line (`TYPE (...): N rows in, N rejected, 0
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


def print_refused(ledger: Any, said_as: str | None, kinds: Any = None, bad: Any = None) -> None:
    """The counts line of a run that refused every row (`said_as`: its route, as the
    counts line of a run that wrote rows names it; `kinds`: its steps' row kinds), the
    rejects file's line (`bad`: the lines skipped as bad), and the rows by reason."""
    line = ledger.summary(kinds)
    err.print(f"{said_as}: {line}" if said_as else line, markup=False)
    if ledger.rejects is not None:
        said = ledger.rejects.summary(ledger.rejected, len(bad) if bad else 0, ledger.turns_refused)
        err.print(said, markup=False)
    for reason in ledger.reason_lines():
        err.print(f"  {reason}", markup=False)
