"""Every input row accounted for: rows in, rows rejected (by stage and reason), rows out.

A run feeds the ledger the rows each stage refused (the importer's rejects, and the
`RowFailures` of conversion, chat template, tokenizer and output validation mapped back to
input rows). With `on_error="skip"` the rows go to one rejects file (row, input line,
stage, reason, original record), in input-row order whatever stage refused them: rows wait
in the ledger until `settle` says no stage can refuse an earlier row any more (the streamed
path settles each batch before reading the next); with `"stop"` nothing is written and,
once the input has been read through, `error()` names the first failing input row and how
many more fail.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.errors import DataError
from trlprep.io.labels import READ_AS
from trlprep.wording import plural

MAX_REASONS = 1000  # distinct reasons kept for the summary (the rejects file has them all)
EXAMPLES = 3  # rows named for each reason


@dataclass
class Ledger:
    """The row accounting of one run (see the module docstring)."""

    path: str | None = None
    on_error: str = "stop"
    rejects: Any = None  # importers.RejectsWriter, with on_error="skip"
    rows_in: int = 0
    rows_out: int = 0
    rejected: int = 0
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

    @property
    def stopping(self) -> bool:
        """True once a row failed without --on-error skip: nothing more is written."""
        return self.on_error != "skip" and self.rejected > 0

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
            self._unread_booleans(np.asarray(table.column("row").to_numpy(zero_copy_only=False)))
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
        from trlprep.importers.rejects import REJECTS_SCHEMA

        table = pa.concat_tables([t.cast(REJECTS_SCHEMA) for t in self.pending])
        rows = np.asarray(table.column("row").to_numpy(zero_copy_only=False), np.int64)
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
        for stage, shape, count, parts, rows, lines, reason, first in zip(*cols, strict=True):
            self.rejected += count
            self.by_stage[stage] += count
            if self.first is None or first < self.first["row"]:
                self.first = {"row": first, "line": lines[0], "stage": stage, "reason": reason}
            key = (stage, shape)
            if key in self.reasons or len(self.reasons) < MAX_REASONS:
                self.reasons[key] += count
                seen = self.wording.get(key)
                self.wording[key] = parts if seen is None else _joined(seen, parts)
                ex = self._examples.get(key, []) + list(zip(rows, lines, strict=True))
                self._examples[key] = sorted(ex, key=lambda e: e[0])[:EXAMPLES]

    def _first_row(self, key: tuple[str, str]) -> int:
        ex = self._examples.get(key)
        return ex[0][0] if ex else -1

    @property
    def examples(self) -> dict[tuple[str, str], list[str]]:
        """(stage, reason shape) -> its first rows, named (`line N`, `file:line`, ...)."""
        name = self.shards.where if self.shards else where
        return {k: [name(row, line) for row, line in ex] for k, ex in self._examples.items()}

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
    def all_rejected(self) -> bool:
        """Every input row was rejected (with --on-error skip: nothing left to write)."""
        return self.on_error == "skip" and self.rows_in > 0 and self.converted == 0

    def error(self) -> DataError:
        """The error of a stopped run: the first failing input row, and how many more."""
        f = dict(self.first or {})
        more = self.rejected - 1
        path = self.path
        if self.shards is not None and f.get("row") is not None:  # name the shard
            path, f["row"] = self.shards.locate(f["row"])
        if self.all_rejected:
            return DataError(
                f"every row was rejected ({self.rejected:,}); the first: {f.get('stage')}: "
                f"{f.get('reason')}",
                path=path,
                line=f.get("line"),
                row=f.get("row") if f.get("line") is None else None,
                hint="nothing was written; the rejects file lists every row and why"
                if self.rejects is not None
                else "nothing was written",
            )
        fail = "fails" if more == 1 else "fail"
        return DataError(
            f"{f.get('stage')}: {f.get('reason')}"
            + (f" ({plural(more, 'more row')} {fail})" if more else ""),
            path=path,
            line=f.get("line"),
            row=f.get("row") if f.get("line") is None else None,
            hint=self._stop_hint(self.hints.get(f.get("stage"))),
        )

    @staticmethod
    def _stop_hint(stage_hint: str | None) -> str:
        skip = "pass --on-error skip to write the other rows and set these aside in a rejects file"
        if stage_hint and "--on-error" in stage_hint:
            return f"nothing was written; {stage_hint}"
        return f"nothing was written; {stage_hint or 'fix the rows'}, or {skip}"

    def summary(self, route_rows: dict[str, str] | None = None) -> str:
        """`N rows in, M rejected, K converted -> L rows out (...)`."""
        text = (
            f"{plural(self.rows_in, 'row')} in, {self.rejected:,} rejected, "
            f"{self.converted:,} converted -> {plural(self.rows_out, 'row')} out"
        )
        effects = []
        for name, (n_in, n_out) in self.steps.items():
            kind = (route_rows or {}).get(name)
            if kind == "doubles":
                effects.append("unpairing: 2 per row")
            elif kind == "filters":
                effects.append(f"filter: {n_in - n_out:,} dropped by the conversion itself")
            elif n_in != n_out:
                how = self.expansions.get(name)
                effects.append(
                    f"{name}: {plural(n_in, 'row')} -> {n_out:,}" + (f", {how}" if how else "")
                )
        text += f" ({'; '.join(effects)})" if effects else ""
        if self.bad_lines:
            text += f"; {self.bad_lines.summary(3)}"
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


_NUMBER = re.compile(r"(\d[\d,.]*\d|\d)")

SUMMARY_SCHEMA = pa.schema(
    [
        pa.field("stage", pa.string()),
        pa.field("shape", pa.string()),  # the reason, every number as N
        pa.field("count", pa.int64()),
        pa.field("parts", pa.list_(pa.string())),  # text and numbers; numbers that vary: N
        pa.field("rows", pa.list_(pa.int64())),  # the first EXAMPLES rows
        pa.field("lines", pa.list_(pa.int64())),  # their lines
        pa.field("reason", pa.string()),  # the reason of the first row
        pa.field("first", pa.int64()),  # the first row
    ]
)


def summarize(table: pa.Table) -> pa.Table:
    """Rejected rows (`row`, `line`, `stage`, `reason`) by stage and reason shape (reasons
    that differ only in their numbers), one `SUMMARY_SCHEMA` row each, in order of their
    first row: what `Ledger.absorb` counts. Summaries of parts of the rows, concatenated,
    count as the whole."""
    import polars as pl

    if not table.num_rows:
        return SUMMARY_SCHEMA.empty_table()
    number = _NUMBER.pattern
    df = pl.from_arrow(table.select(["row", "line", "stage", "reason"]))
    df = df.sort("row", maintain_order=True).with_columns(
        shape=pl.col("reason").str.replace_all(number, "N"),
        nums=pl.col("reason").str.extract_all(number),
    )
    keys = ["stage", "shape"]
    groups = df.group_by(keys, maintain_order=True).agg(
        count=pl.len(),
        rows=pl.col("row").head(EXAMPLES),
        lines=pl.col("line").head(EXAMPLES),
        reason=pl.col("reason").first(),
        first=pl.col("row").first(),
    )
    # the numbers that differ between the reasons of a shape are shown as N
    each = df.select(*keys, "nums").with_row_index("at").explode("nums")
    each = each.with_columns(pos=pl.int_range(pl.len()).over("at"))
    varies = each.group_by([*keys, "pos"]).agg(n=pl.col("nums").n_unique()).filter(pl.col("n") > 1)
    varies = varies.group_by(keys).agg(pl.col("pos"))
    groups = groups.join(varies, on=keys, how="left", maintain_order="left")
    parts = []
    for reason, pos in zip(groups["reason"].to_list(), groups["pos"].to_list(), strict=True):
        p = _NUMBER.split(reason)
        for i in pos or ():
            if 2 * i + 1 < len(p):  # (a reason holding a letter N has a shape of its own)
                p[2 * i + 1] = "N"
        parts.append(p)
    out = groups.drop("pos").with_columns(parts=pl.Series(parts, dtype=pl.List(pl.String)))
    return out.to_arrow().select(SUMMARY_SCHEMA.names).cast(SUMMARY_SCHEMA)


def _joined(seen: list[str], parts: list[str]) -> list[str]:
    """Two reasons' parts (text and numbers alternating) as one: numbers that differ as N."""
    if len(seen) != len(parts):
        return seen
    return [
        a if a == b or i % 2 == 0 else "N" for i, (a, b) in enumerate(zip(seen, parts, strict=True))
    ]


def where(row: int, line: int | None) -> str:
    """`line N` (1-based file line) for line-oriented input, else `row N` (0-based)."""
    return f"line {line}" if line is not None else f"row {row}"
