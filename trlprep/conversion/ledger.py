"""Every input row accounted for: rows in, rows rejected (by stage and reason), rows out.

A run feeds the ledger the rows each stage refused (the importer's rejects, and the
`RowFailures` of conversion, chat template, tokenizer and output validation mapped back to
input rows). With `on_error="skip"` the rows go to one rejects file (row, input line,
stage, reason, original record); with `"stop"` nothing is written and, once the input has
been read through, `error()` names the first failing input row and how many more fail.
"""

from __future__ import annotations

import json
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
    examples: dict[tuple[str, str], list[str]] = field(default_factory=dict)
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
    hints: dict[str, str] = field(default_factory=dict)  # stage -> its advice on such rows
    shards: Any = None  # trlprep.io.shards.Shards: rows of an input of several files

    @property
    def stopping(self) -> bool:
        """True once a row failed without --on-error skip: nothing more is written."""
        return self.on_error != "skip" and self.rejected > 0

    @property
    def converted(self) -> int:
        return self.rows_in - self.rejected

    def reject(self, table: pa.Table) -> None:
        """Record rejected input rows (a table of `REJECTS_SCHEMA`), in input order."""
        if not table.num_rows:
            return
        rows = table.column("row").to_pylist()
        lines = table.column("line").to_pylist()
        stages = table.column("stage").to_pylist()
        reasons = table.column("reason").to_pylist()
        self.rejected += len(rows)
        at = int(np.argmin(rows))
        if self.first is None or rows[at] < self.first["row"]:
            self.first = {
                "row": rows[at], "line": lines[at], "stage": stages[at], "reason": reasons[at]
            }  # fmt: skip
        for row, line, stage, reason in zip(rows, lines, stages, reasons, strict=True):
            self.by_stage[stage] += 1
            key = (stage, _shape(reason))
            if key in self.reasons or len(self.reasons) < MAX_REASONS:
                self.reasons[key] += 1
                self.wording[key] = _merged(self.wording.get(key), reason)
                ex = self.examples.setdefault(key, [])
                if len(ex) < 3:
                    ex.append(self.shards.where(row, line) if self.shards else where(row, line))
        if self.rejects is not None:
            self.rejects.write(self._with_files(table))

    def _with_files(self, table: pa.Table) -> pa.Table:
        """`table` with the file of each row after its line, for an input of several files."""
        if self.shards is None:
            return table
        files = [self.shards.locate(r)[0] for r in table.column("row").to_pylist()]
        return table.add_column(2, "file", pa.array(files, pa.string()))

    def finish(self) -> None:
        """Send the skipped bad lines to the rejects file (stage `read`, no row index)."""
        if not self.bad_lines or self.rejects is None:
            return
        from trlprep.importers.rejects import REJECTS_SCHEMA

        lines = self.bad_lines.lines
        found = self.bad_lines.found
        self.rejects.write(
            pa.Table.from_arrays(
                [
                    pa.nulls(len(lines), pa.int64()),
                    pa.array(lines, pa.int64()),
                    pa.array(["read"] * len(lines)),
                    pa.array([found[n][0] for n in lines]),
                    pa.array([json.dumps(found[n][1], ensure_ascii=False) for n in lines]),
                ],
                schema=REJECTS_SCHEMA,
            )
        )

    def notes(self) -> list[str]:
        """What reading changed (values read as text or as booleans with --coerce)."""
        return [
            f"column {column!r}: {plural(count, 'value')} of another kind (numbers, "
            "booleans) read as text (--coerce)"
            for column, count in self.coerced.items()
        ] + [
            f"column {column!r}: {plural(count, 'value')} ({READ_AS}) read as booleans (--coerce)"
            for column, count in self.booleans.items()
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
        skip = (
            "pass --on-error skip (Python: on_error='skip') to write the other rows and set "
            "these aside in a rejects file"
        )
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
        return text

    def reason_lines(self, limit: int = 5) -> list[str]:
        """The rejected rows by stage and reason, most common first, with example rows."""
        out = []
        for (stage, shape), count in self.reasons.most_common(limit):
            ex = self.examples.get((stage, shape), [])
            reason = "".join(self.wording.get((stage, shape), [shape]))
            out.append(
                f"{count:,} x {stage}: {reason}" + (f" (e.g. {', '.join(ex)})" if ex else "")
            )
        if len(self.reasons) > limit:
            out.append(f"... and {len(self.reasons) - limit} more reasons")
        return out


_NUMBER = re.compile(r"(\d[\d,.]*\d|\d)")


def _shape(reason: str) -> str:
    """`reason` with every number as N: the key that groups reasons differing only there."""
    return _NUMBER.sub("N", reason)


def _merged(seen: list[str] | None, reason: str) -> list[str]:
    """The parts of a reason (text and numbers alternating), numbers that differ from
    `seen`'s as N."""
    parts = _NUMBER.split(reason)
    if seen is None:
        return parts
    return [
        a if a == b or i % 2 == 0 else "N" for i, (a, b) in enumerate(zip(seen, parts, strict=True))
    ]


def where(row: int, line: int | None) -> str:
    """`line N` (1-based file line) for line-oriented input, else `row N` (0-based)."""
    return f"line {line}" if line is not None else f"row {row}"
