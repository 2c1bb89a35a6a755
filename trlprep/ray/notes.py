"""Warnings and notes raised in Ray workers, brought back to the driver.

A worker's `warnings.warn` (a conversion's ConversionWarning, a template's warning) and what
its stage counts (values read as text with `--coerce`, an importer's notes) would otherwise
stay in the worker's log. Each task records them while it works (`recording`) and sends them,
when there are any, to one small actor (`Notebook`, no CPU of its own); the driver reads them
once the rows are computed (`Notes.take`) and prints each once, as the local engine does.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from trlprep.errors import warn_user
from trlprep.ray.base import _ray


@dataclass
class Notes:
    """What the workers of one run reported: warnings (category, message) in the order first
    seen, importer notes, per column the values read as text (--coerce), per edge the
    rows in and out (the counts line's effects), and the extras of several kinds carried
    as JSON text (with their kinds)."""

    warnings: list[tuple[type, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    coerced: Counter = field(default_factory=Counter)
    booleans: Counter = field(default_factory=Counter)  # values read as booleans (--coerce)
    steps: dict[str, list[int]] = field(default_factory=dict)  # edge -> [rows in, rows out]
    # extras of several kinds carried as JSON text: column -> the kinds (`Settled.carried`)
    carried: dict[str, list[str]] = field(default_factory=dict)
    hints: dict[str, str] = field(default_factory=dict)  # stage -> its advice on refused rows
    roles: set[str] = field(default_factory=set)  # message roles an import read (--role-map)
    # the chat template's and tokenizer's reports (Render.report / token_report), merged
    reports: list[tuple[str, Any]] = field(default_factory=list)

    def merge(self, other: Notes) -> None:
        for w in other.warnings:
            if w not in self.warnings:
                self.warnings.append(w)
        for n in other.notes:
            if n not in self.notes:
                self.notes.append(n)
        self.coerced.update(other.coerced)
        self.booleans.update(other.booleans)
        for name, (n_in, n_out) in other.steps.items():
            c = self.steps.setdefault(name, [0, 0])
            c[0] += n_in
            c[1] += n_out
        self.add_carried(other.carried)
        for stage, hint in other.hints.items():
            self.hints.setdefault(stage, hint)
        self.roles |= other.roles
        for name, report in other.reports:
            mine = next((r for n, r in self.reports if n == name), None)
            if mine is None:
                self.reports.append((name, report))
            else:
                mine.merge(report)

    def add_carried(self, carried: dict[str, list[str]]) -> None:
        """Add the extras of several kinds a block carried as JSON text (`Settled.carried`)."""
        for column, kinds in carried.items():
            seen = self.carried.setdefault(column, [])
            seen += [k for k in kinds if k not in seen]

    def __bool__(self) -> bool:
        return bool(
            self.warnings
            or self.notes
            or self.coerced
            or self.booleans
            or self.steps
            or self.carried
            or self.hints
            or self.roles
            or self.reports
        )

    def conversion_warnings(self) -> list[str]:
        """The ConversionWarning messages (printed `warning: ...` as locally), those of
        several blocks that name rows, and pairing's over buckets of prompts, merged into
        the one the local engine gives."""
        from trlprep.converters.base import ConversionWarning
        from trlprep.converters.common import merge_row_warnings
        from trlprep.converters.pairing import merge_pairing_warnings

        said = [m for c, m in self.warnings if issubclass(c, ConversionWarning)]
        paired = any(n_out > 0 for name, (_, n_out) in self.steps.items() if _pairs(name))
        return merge_row_warnings(merge_pairing_warnings(said, paired))

    def reissue(self) -> None:
        """Raise the other warnings again on the driver (each once)."""
        from trlprep.converters.base import ConversionWarning

        for category, message in self.warnings:
            if not issubclass(category, ConversionWarning):
                warn_user(message, category)


def _pairs(step: str) -> bool:
    """Whether the step (`src -> dst`, as counted) is an edge that pairs rows."""
    from trlprep.conversion.graph import edges

    src, _, dst = step.partition(" -> ")
    e = edges().get((src, dst))
    return e is not None and e.rows == "pairs"


class _Book:
    def __init__(self) -> None:
        self.notes = Notes()

    def add(self, notes: Notes) -> None:
        self.notes.merge(notes)

    def take(self) -> Notes:
        return self.notes


def notebook() -> Any:
    """A new actor the tasks of one run send their notes to (a handle, picklable)."""
    ray = _ray()
    return ray.remote(num_cpus=0)(_Book).remote()


def peek(book: Any) -> Notes:
    """What the tasks sent to `book` so far (the actor goes on)."""
    return Notes() if book is None else _ray().get(book.take.remote())


def take(book: Any) -> Notes:
    """What the tasks sent to `book` (call once the rows are computed), then the actor ends."""
    if book is None:
        return Notes()
    ray = _ray()
    try:
        return ray.get(book.take.remote())
    finally:
        ray.kill(book)


_local = threading.local()  # this thread's warnings while it records (a list), else unset
_lock = threading.Lock()
_installed = False


def _install() -> None:
    """Route this worker process's warnings to the recording thread's list (once): Ray may
    run several tasks in threads of one process (shuffle actors), where `catch_warnings`,
    which swaps process-wide state, would lose or mix them."""
    global _installed
    with _lock:
        if _installed:
            return
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
            got = getattr(_local, "caught", None)
            if got is None:
                return shown(message, category, filename, lineno, file, line)
            item = (category, str(message))
            if item not in got:
                got.append(item)

        warnings.showwarning = show
        warnings.filterwarnings("always")  # each block's warnings, not once per process
        _installed = True


@contextlib.contextmanager
def recording(book: Any) -> Iterator[Notes]:
    """Record the warnings raised inside this thread (and what the caller adds to the Notes
    yielded); sent to `book` on the way out (None: warnings pass through as usual)."""
    if book is None:
        yield Notes()
        return
    _install()
    got = Notes()
    outer = getattr(_local, "caught", None)
    _local.caught = got.warnings
    try:
        yield got
    finally:
        _local.caught = outer
        if outer is not None:  # nested: the outer recording sends them
            outer.extend(w for w in got.warnings if w not in outer)
        if got:  # waited for, so the notes are in before the task's rows are
            _ray().get(book.add.remote(got))
