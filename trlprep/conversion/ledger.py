"""Every input row accounted for: rows in, rows rejected (by stage and reason), rows out.

A run feeds the ledger the rows each stage refused (the importer's rejects, and the
`RowFailures` of conversion, chat template, tokenizer and output validation mapped back to
input rows). With `on_error="skip"` the rows go to one rejects file (row, input line,
stage, reason, original record), in input-row order whatever stage refused them: rows wait
in the ledger until `settle` says no stage can refuse an earlier row any more (the streamed
path settles each batch before reading the next); with `"stop"` nothing is written and,
once the input has been read through, `error()` names the first failing input row and how
many more fail, and carries the counts (`RowCounts`; the line: `ledgerwords`).

`--split-turns all` with a chat template or tokenizer (`turned`): the render refuses single
turns (output rows), not their input row (`trlprep.conversion.byturn`); rows in / rejected /
converted stay about input rows, and the refused turns are counted apart (`turns_refused`,
of `turn_rows` input rows), each a line of the rejects file with its `turn`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.conversion.ledgerwords import LedgerWords
from trlprep.conversion.reasons import EXAMPLES, SUMMARY_SCHEMA, _joined, summarize
from trlprep.errors import NOT_PAIRED, DataError
from trlprep.io.labels import READ_AS
from trlprep.wording import plural

EVERY_ROW_FAILS = "every row fails"  # a stopped run's hint: no other rows to write
MAX_REASONS = 1000  # distinct reasons kept for the summary (the rejects file has them all)


@dataclass
class Ledger(LedgerWords):
    """The row accounting of one run (see the module docstring)."""

    path: str | None = None
    on_error: str = "stop"
    rejects: Any = None  # importers.RejectsWriter, with on_error="skip"
    rows_in: int = 0
    rows_out: int = 0
    rejected: int = 0
    not_paired: int = 0  # of `rejected`: ties a pairing import left out (no error)
    by_stage: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)  # (stage, reason) -> rows
    # (stage, reason shape) -> its first rows as (row, line), named by `examples`
    _examples: dict[tuple[str, str], list[tuple[int, Any]]] = field(default_factory=dict)
    # reasons that differ only in their numbers are one reason; what varies is shown as N
    wording: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    first: dict[str, Any] | None = None  # the first failing input row
    steps: dict[str, list[int]] = field(default_factory=dict)  # edge -> [rows in, rows out]
    expansions: dict[str, str] = field(default_factory=dict)  # step -> how rows multiply
    bad_lines: Any = None  # jsonl.BadLines: lines skipped with --on-bad-lines skip
    coerced: Counter = field(default_factory=Counter)  # column -> values read as text
    booleans: Counter = field(default_factory=Counter)  # column -> values read as booleans
    # extras of several kinds carried as JSON text: column -> the kinds (`io.kinds`)
    carried: dict[str, list[str]] = field(default_factory=dict)
    carried_rows: dict[str, dict[str, int]] = field(default_factory=dict)  # ... by kind
    hints: dict[str, str] = field(default_factory=dict)  # stage -> its advice on such rows
    shards: Any = None  # trlprep.io.shards.Shards: rows of an input of several files
    # rejected rows not yet written (REJECTS_SCHEMA tables): `settle` writes them in row order
    pending: list[pa.Table] = field(default_factory=list)
    hold: bool = False  # True while a later stage may still refuse rows of any batch
    # values read as booleans in rows a stage may still refuse: (column, rows, their counts)
    boolean_rows: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)
    turned: bool = False  # the render refuses single turns (the rejects file has `turn`)
    split_step: str | None = None  # the edge making one row per assistant turn
    turns_refused: int = 0  # turns (output rows) the render refused
    turn_rows: int = 0  # the input rows of those turns

    @property
    def stopping(self) -> bool:
        """True once a row failed without --on-error skip: nothing more is written."""
        return self.on_error != "skip" and (self.failed > 0 or self.turns_refused > 0)

    @property
    def failed(self) -> int:
        """Rejected rows that are errors (ties left unpaired are not)."""
        return self.rejected - self.not_paired

    @property
    def turns_made(self) -> int:
        """Rows the splitting edge made (one per assistant turn), before the render."""
        return self.steps.get(self.split_step, [0, 0])[1] if self.split_step else 0

    @property
    def converted(self) -> int:
        return self.rows_in - self.rejected

    def read_booleans(self, column: str, rows: np.ndarray, counts: np.ndarray) -> None:
        """Count the values of `column` read as booleans (--coerce) in input rows `rows`; a
        row rejected later (`reject`) takes its values off the count."""
        held = counts > 0
        self.booleans[column] += int(counts.sum())
        if held.any():
            self.boolean_rows.append((column, rows[held], counts[held]))

    def _unread_booleans(self, rows: np.ndarray) -> None:
        """Take the rejected input rows' values off `booleans` (each row once)."""
        for column, held, counts in self.boolean_rows:
            gone = np.isin(held, rows)
            if gone.any():
                self.booleans[column] -= int(counts[gone].sum())
                counts[gone] = 0

    def reject(self, table: pa.Table) -> None:
        """Record rejected input rows (a table of `REJECTS_SCHEMA`, rows in any order); with a
        rejects file they wait for `settle` to be written in input-row order."""
        if not table.num_rows:
            return
        if self.boolean_rows:
            whole = (
                table
                if "turn" not in table.column_names
                else table.filter(pc.is_null(table.column("turn")))
            )  # a row some of whose turns were refused is still converted
            self._unread_booleans(np.asarray(whole.column("row").to_numpy(zero_copy_only=False)))
        self.absorb(summarize(table))
        if self.rejects is not None:
            self.pending.append(table)

    def settle(self, before: int | None = None) -> None:
        """Write the waiting rejected rows of input rows before `before` (None: all of them)
        in row order: the caller knows no stage can refuse such a row any more. Nothing is
        written while `hold` is set."""
        if before is not None and not self.hold and self.boolean_rows:  # none refused now
            kept = [(c, r[r >= before], n[r >= before]) for c, r, n in self.boolean_rows]
            self.boolean_rows = [(c, r, n) for c, r, n in kept if len(r)]
        if not self.pending or self.hold:
            return
        from trlprep.conversion.byturn import as_rejects

        table = pa.concat_tables([as_rejects(t, self.turned) for t in self.pending])
        rows = np.asarray(table.column("row").to_numpy(zero_copy_only=False), np.int64)
        if self.turned:  # a row's turns in their order
            turn = table.column("turn").fill_null(0).to_numpy(zero_copy_only=False)
            order = np.lexsort((np.asarray(turn, np.int64), rows))
        else:
            order = np.argsort(rows, kind="stable")
        table = table.take(pa.array(order))
        ready = len(rows) if before is None else int(np.searchsorted(rows[order], before))
        self.pending = [table.slice(ready)] if ready < len(rows) else []
        self.write(table.slice(0, ready))

    def write(self, table: pa.Table) -> None:
        """Write rejected rows (counted: `reject`, `absorb`) to the rejects file, if any."""
        if self.rejects is not None and table.num_rows:
            self.rejects.write(self._with_files(table))

    def absorb(self, summary: pa.Table) -> None:
        """Count rejected rows given as `summarize` tables (of parts of the rows, in any
        order, concatenated): what `reject` counts, without the rows themselves."""
        if not summary.num_rows:
            return
        summary = summary.sort_by([("first", "ascending")])  # keys in order of first row
        cols = [summary.column(n).to_pylist() for n in SUMMARY_SCHEMA.names]
        for stage, shape, count, parts, rows, lines, reason, first, *by_turn in zip(
            *cols, strict=True
        ):
            turns, turn_rows, shown_turns, first_turn = by_turn
            self.rejected += count - turns
            self.turns_refused += turns
            self.turn_rows += turn_rows
            self.by_stage[stage] += count
            at = (first, first_turn or 0)
            if stage == NOT_PAIRED:  # no error: never the row a stopped run names
                self.not_paired += count
            elif self.first is None or at < (self.first["row"], self.first.get("turn") or 0):
                self.first = {"row": first, "line": lines[0], "stage": stage, "reason": reason}
                if first_turn is not None:  # a refused turn (`turn 3 of line 12`)
                    self.first["turn"] = first_turn
            key = (stage, shape)
            if key in self.reasons or len(self.reasons) < MAX_REASONS:
                self.reasons[key] += count
                seen = self.wording.get(key)
                self.wording[key] = parts if seen is None else _joined(seen, parts)
                ex = self._examples.get(key, []) + list(zip(rows, lines, shown_turns, strict=True))
                self._examples[key] = sorted(ex, key=lambda e: (e[0], e[2] or 0))[:EXAMPLES]

    def _first_row(self, key: tuple[str, str]) -> int:
        ex = self._examples.get(key)
        return ex[0][0] if ex else -1

    @property
    def examples(self) -> dict[tuple[str, str], list[str]]:
        """(stage, reason shape) -> its first rows, named (`line N`, `file:line`, ...)."""
        name = self.shards.where if self.shards else where
        return {
            k: [_of_turn(turn, name(row, line)) for row, line, turn in ex]
            for k, ex in self._examples.items()
        }

    def _with_files(self, table: pa.Table) -> pa.Table:
        """`table` with the file of each row after its line, for an input of several files."""
        if self.shards is None:
            return table
        starts = np.asarray(self.shards.starts, np.int64)
        rows = np.asarray(table.column("row").to_numpy(zero_copy_only=False), np.int64)
        at = np.maximum(np.searchsorted(starts, rows, side="right") - 1, 0)  # as Shards.locate
        files = np.asarray(self.shards.files, dtype=object)[at]
        return table.add_column(2, "file", pa.array(files, pa.string()))

    def finish(self) -> None:
        """Write the rejected rows still waiting, then the skipped bad lines (stage `read`,
        no row index; each one's `file` too, as rejected rows, for an input of several files)."""
        self.hold = False
        self.settle()
        if not self.bad_lines or self.rejects is None:
            return
        from trlprep.io.skipped import bad_lines_table

        table = bad_lines_table(self.bad_lines)
        if self.shards is not None and "file" not in table.column_names:
            files = pa.nulls(table.num_rows, pa.string())
            table = table.add_column(2, "file", files)
        self.rejects.write(table)

    def notes(self) -> list[str]:
        """What reading changed (values read as text or as booleans with --coerce)."""
        return [
            f"column {column!r}: {plural(count, 'value')} of another kind (numbers, "
            "booleans) read as text (--coerce)"
            for column, count in self.coerced.items()
        ] + [
            f"column {column!r}: {plural(count, 'value')} ({READ_AS}) read as booleans (--coerce)"
            for column, count in self.booleans.items()
            if count
        ]

    def count_step(self, name: str, rows_in: int, rows_out: int) -> None:
        c = self.steps.setdefault(name, [0, 0])
        c[0] += rows_in
        c[1] += rows_out

    @property
    def none_left(self) -> bool:
        """Every input row (or every turn) was refused, whatever `on_error`: no row out."""
        if not self.rows_in:
            return False
        every_turn = self.turns_refused > 0 and self.turns_refused >= self.turns_made
        return self.converted == 0 or every_turn

    @property
    def all_rejected(self) -> bool:
        """Every input row was rejected (with --on-error skip: nothing left to write)."""
        return self.on_error == "skip" and self.none_left

    def error(self) -> DataError:
        """The error of a stopped run: the first failing input row (or turn: `turn 3 of line
        12`), and how many more; its `counts` the run's (`row_counts`, said without the
        route)."""
        e = self._error()
        e.counts = self.row_counts(self.counts_line())
        return e

    def returned_error(self, plan: Any) -> DataError:
        """`error()` as the Python API raises it (`errors.with_counts`): the counts of the
        route `plan` takes (`nothing returned`)."""
        from trlprep.errors import with_counts

        said = self.counts_line(plan.said_as(), plan.row_kinds, nothing="returned")
        return with_counts(self.error(), self.row_counts(said, plan.said_as()))

    def _error(self) -> DataError:
        f = dict(self.first or {})
        path = self.path
        if self.shards is not None and f.get("row") is not None:  # name the shard
            path, f["row"] = self.shards.locate(f["row"])
        said = f"{f.get('stage')}: {f.get('reason')}"
        if f.get("turn") is not None:  # the turn named in the message, with its row
            said = f"{_of_turn(f['turn'], where(f.get('row'), f.get('line')))}: {said}"
            f["line"] = f["row"] = None
        if self.all_rejected:
            what = f"every row was rejected ({self.rejected:,})"
            if self.turns_refused:
                what = f"every turn was refused ({self.turns_refused:,} of {self.turn_rows:,} rows)"
                what += f", {plural(self.rejected, 'row')} rejected whole" if self.rejected else ""
            return DataError(
                f"{what}; the first: {said}",
                path=path,
                line=f.get("line"),
                row=f.get("row") if f.get("line") is None else None,
                hint=f"nothing was written; the rejects file {_path_of(self.rejects)} lists "
                "every row and why"
                if self.rejects is not None
                else "nothing was written",
            )
        more = self.failed + self.turns_refused - 1
        what = plural(more, "more row")
        if self.turns_refused:
            both = "row or turn" if more == 1 else "rows or turns"
            what = f"{more:,} more {both}" if self.rejected else plural(more, "more turn")
        fail = "fails" if more == 1 else "fail"
        return DataError(
            said + (f" ({what} {fail})" if more else ""),
            path=path,
            line=f.get("line"),
            row=f.get("row") if f.get("line") is None else None,
            hint=self._stop_hint(self.hints.get(f.get("stage")), self.none_left),
        )

    @staticmethod
    def _stop_hint(stage_hint: str | None, none_left: bool = False) -> str:
        skip = "pass --on-error skip to write the other rows and set these aside in a rejects file"
        if none_left:  # no other rows to write: skipping would only write the rejects file
            fix = _without_skip(stage_hint) or "fix the rows"
            return f"nothing was written; {EVERY_ROW_FAILS}: {fix}"
        if stage_hint and "--on-error" in stage_hint:
            return f"nothing was written; {stage_hint}"
        return f"nothing was written; {stage_hint or 'fix the rows'}, or {skip}"


def _of_turn(turn: int | None, row: str) -> str:
    """`turn 3 of line 12` (a refused turn of a `--split-turns all` row), else `row`."""
    return row if turn is None else f"turn {turn} of {row}"


def where(row: int, line: int | None) -> str:
    """`line N` (1-based file line) for line-oriented input, else `row N` (0-based)."""
    return f"line {line}" if line is not None else f"row {row}"


def _path_of(rejects: Any) -> str:
    """The rejects file's path (`RejectsWriter.path`; an in-memory sink has none)."""
    path = getattr(rejects, "path", None)
    return str(path) if path else "(in memory)"


def _without_skip(hint: str | None) -> str | None:
    """`hint` without its `, or ... (--on-error skip)` clause (the fix it names is kept:
    `use a chat template that renders audio parts`); None when nothing else is left."""
    if not hint or "--on-error" not in hint:
        return hint
    head, sep, tail = hint.rpartition(", or ")
    return head if sep and "--on-error" in tail and "--on-error" not in head else None
