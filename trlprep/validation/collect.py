"""Merge the rows each batch flags into issues: counts, a few example rows and lines."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trlprep.validation.checks.common import BatchSink, add_detail, ordered_details
from trlprep.validation.report import Issue
from trlprep.validation.rules import RULES

DEFAULT_MAX_ERRORS = 10


@dataclass
class _Acc:
    rule: str
    column: str | None
    count: int = 0
    rows: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    message: str | None = None
    hint: str | None = None
    details: dict[str, int] = field(default_factory=dict)  # detail -> its first row
    said: dict[str, int] = field(default_factory=dict)  # each message -> its first row
    repeats: list | None = None


class Collector:
    """Merges the rows flagged in each batch into issues with a few example rows each."""

    def __init__(self, max_examples: int = DEFAULT_MAX_ERRORS) -> None:
        self.max_examples = max(0, max_examples)
        self.num_rows = 0
        self.line_oriented = False
        self.seen_columns: set[str] = set()
        self.unchecked_media: dict[str, int] = {}  # kind -> rows (`BatchSink`)
        self._acc: dict[tuple[str, str | None], _Acc] = {}

    def add_sink(self, sink: BatchSink, offset: int, lines: np.ndarray | None) -> None:
        for kind, n in sink.unchecked_media.items():
            self.unchecked_media[kind] = self.unchecked_media.get(kind, 0) + n
        for (rule, column), f in sink.flags.items():
            idx = np.flatnonzero(f.mask)
            said = {}  # the rows' own messages, where the flag's calls had several
            for mask, message in f.said:
                if message is not None and mask.any():
                    said.setdefault(message, int(np.argmax(mask)) + offset)
            self.add(
                rule,
                column,
                idx + offset,
                count=len(idx),
                lines=None if lines is None else lines[idx[: self.max_examples]],
                message=f.message,
                hint=f.hint,
                details={d: row + offset for d, row in f.details.items()},
                said=said,
            )

    def media_notes(self) -> list[str]:
        """What was not checked: rows holding video / audio parts without a `videos` /
        `audios` column to count them against."""
        from trlprep.wording import plural

        return [
            f"{plural(n, 'row')} {'holds' if n == 1 else 'hold'} {kind} parts and the data has "
            f"no {kind}s column: their number was not checked (image parts are checked "
            "against images)"
            for kind, n in self.unchecked_media.items()
            if n
        ]

    def add(
        self,
        rule: str,
        column: str | None,
        rows: np.ndarray | list[int],
        *,
        count: int | None = None,
        lines: np.ndarray | None = None,
        message: str | None = None,
        hint: str | None = None,
        details: list[str] | dict[str, int] | None = None,
        repeats: list[tuple[int, int | None, int, int | None]] | None = None,
        said: dict[str, int] | None = None,
    ) -> None:
        acc = self._acc.setdefault((rule, column), _Acc(rule, column))
        if repeats is not None:
            acc.repeats = repeats
        acc.count += len(rows) if count is None else count
        room = self.max_examples - len(acc.rows)
        if room > 0:
            acc.rows.extend(int(r) for r in rows[:room])
            if lines is not None:
                acc.lines.extend(int(x) for x in lines[:room])
        acc.message = acc.message or message
        acc.hint = acc.hint or hint
        # details listed by their first row, so batches cut anywhere list them alike
        first = int(rows[0]) if len(rows) else 0
        for text, row in (said or ({message: first} if message else {})).items():
            acc.said[text] = min(acc.said.get(text, row), row)
        at = details if isinstance(details, dict) else dict.fromkeys(details or (), first)
        for d, row in at.items():
            add_detail(acc.details, d, row)

    def issues(self, required: list[str] = (), needs: str = "") -> list[Issue]:
        """The merged issues; `required` columns never seen become `missing-column` issues.

        `needs` describes what the type needs, e.g. "preference (standard) needs prompt, ...".
        """
        accs = dict(self._acc)
        for name in required:
            if name not in self.seen_columns:
                accs.pop(("null-value", name), None)
                accs[("missing-column", name)] = _Acc(
                    "missing-column",
                    name,
                    count=self.num_rows,
                    message=f"required column {name!r} is missing; {needs}",
                )
        out = []
        for acc in accs.values():
            rule = RULES[acc.rule]
            msg = _messages(acc) or (
                f"column {acc.column!r}: {rule.summary}" if acc.column else rule.summary
            )
            if acc.details:
                msg += " (" + ", ".join(ordered_details(acc.details)) + ")"
            out.append(
                Issue(
                    rule=acc.rule,
                    severity=rule.severity,
                    message=msg,
                    hint=acc.hint or rule.hint,
                    column=acc.column,
                    count=acc.count,
                    rows=acc.rows,
                    lines=acc.lines if self.line_oriented else None,
                    repeats=acc.repeats,
                )
            )
        out.sort(key=lambda i: (i.severity.rank, i.rows[0] if i.rows else -1, i.rule))
        return out


def _messages(acc: _Acc) -> str | None:
    """The issue's message: each distinct one its rows were flagged with, by first row (a
    column named once), so every row is said in its own words whatever the batches."""
    if len(acc.said) < 2:
        return acc.message or next(iter(acc.said), None)
    texts = [t for t, _ in sorted(acc.said.items(), key=lambda kv: kv[1])]
    head = f"column {acc.column!r}: " if acc.column else ""
    rest = [t[len(head) :] if head and t.startswith(head) else t for t in texts[1:]]
    return "; ".join([texts[0], *rest])
