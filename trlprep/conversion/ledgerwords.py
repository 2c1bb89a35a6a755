"""The words of a `Ledger`'s counts: the counts line of a run that wrote its rows
(`summary`), of one stopped by refused rows (`stopped_summary`, or `partial_summary` where an
error of its own ended it before the end of its input), what the steps did to the rows, and
the refused rows by reason."""

from __future__ import annotations

from trlprep.errors import RowCounts
from trlprep.wording import plural


class LedgerWords:
    """What `conversion.ledger.Ledger` says of its counts (a base of it: its fields)."""

    def summary(self, route_rows: dict[str, str] | None = None) -> str:
        """`N rows in, M rejected, K converted -> L rows out (...)`."""
        text = (
            f"{plural(self.rows_in, 'row')} in, {self.rejected:,} rejected, "
            f"{self.converted:,} converted -> {plural(self.rows_out, 'row')} out"
        )
        return text + self.effects(route_rows) + self.read_notes()

    def stopped_summary(
        self, route_rows: dict[str, str] | None = None, nothing: str = "written"
    ) -> str:
        """`N rows in, M rejected, K would convert (...); nothing written (stopped)`: the
        counts of a run stopped by refused rows (`nothing`: what it did not do). Such a run
        reads its whole input (after the first refused row it only checks the rows), so
        these are the whole input's."""
        text = (
            f"{plural(self.rows_in, 'row')} in, {self.rejected:,} rejected, "
            f"{self.converted:,} would convert"
        )
        text += self.effects(route_rows) + self.read_notes()
        return f"{text}; nothing {nothing} (stopped)"

    def partial_summary(self, nothing: str = "written") -> str:
        """`stopped after N of the input's rows, M of them rejected; nothing written`: a run
        that refused rows, then met an error of its own before the end of its input."""
        return (
            f"stopped after {self.rows_in:,} of the input's rows, {self.rejected:,} of them "
            f"rejected; nothing {nothing}"
        )

    def counts_line(
        self, said_as: str | None = None, route_rows: dict[str, str] | None = None,
        nothing: str = "written",
    ) -> str:  # fmt: skip
        """The counts line of a run that ends on refused rows (`said_as`: its route):
        `summary` with `--on-error skip` (every row refused), else `stopped_summary`."""
        skip = self.on_error == "skip"
        line = self.summary(route_rows) if skip else self.stopped_summary(route_rows, nothing)
        return f"{said_as}: {line}" if said_as else line

    def row_counts(self, said: str, route: str | None = None) -> RowCounts:
        """The counts a stopped run's DataError carries (`said`: its counts line, naming
        `route`)."""
        return RowCounts(self.rows_in, self.rejected, self.converted, said, route)

    def effects(self, route_rows: dict[str, str] | None = None) -> str:
        """` (unpairing: 2 per row; ...)`: how the steps changed the rows (`route_rows`:
        each step's row kind), the turns the render refused; empty when nothing changed."""
        effects = []
        for name, (n_in, n_out) in self.steps.items():
            kind = (route_rows or {}).get(name)
            if kind == "doubles":
                effects.append("unpairing: 2 per row")
            elif kind == "filters":
                effects.append(f"filter: {n_in - n_out:,} dropped by the conversion itself")
            elif n_in != n_out or name == self.split_step:
                how = self.expansions.get(name)
                if name == self.split_step:
                    how = "one per assistant turn"
                effects.append(
                    f"{name}: {plural(n_in, 'row')} -> {n_out:,}" + (f", {how}" if how else "")
                )
        if self.turns_refused:  # the render's refusals: rows out = turns made - these
            effects.append(
                f"{plural(self.turns_refused, 'turn')} of {plural(self.turn_rows, 'row')} refused"
            )
        return f" ({'; '.join(effects)})" if effects else ""

    def read_notes(self) -> str:
        """`; 1 bad line skipped ...; 30 lines read: ...`: what reading left out, if anything."""
        text = f"; {self.bad_lines.summary(3)}" if self.bad_lines else ""
        return text + self._text_note()

    def _text_note(self) -> str:
        """`; 30 lines read: ...` for plain text inputs: blank lines are no rows."""
        from trlprep.io.plaintext import input_note

        files = self.shards.files if self.shards is not None else [self.path] if self.path else []
        note = input_note(files)
        return f"; {note}" if note else ""

    def reason_lines(self, limit: int = 5) -> list[str]:
        """The rejected rows by stage and reason, most common first (as common: the one of
        the earliest row first, so both engines agree), with example rows."""
        out = []
        ranked = sorted(self.reasons.items(), key=lambda kv: (-kv[1], self._first_row(kv[0])))
        for (stage, shape), count in ranked[:limit]:
            ex = self.examples.get((stage, shape), [])
            reason = "".join(self.wording.get((stage, shape), [shape]))
            out.append(
                f"{count:,} x {stage}: {reason}" + (f" (e.g. {', '.join(ex)})" if ex else "")
            )
        if len(self.reasons) > limit:
            out.append(f"... and {len(self.reasons) - limit} more reasons")
        return out
