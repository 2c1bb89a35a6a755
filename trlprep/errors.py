"""Errors a user can cause, each with the exit code the CLI returns for it."""

from __future__ import annotations


class TrlprepError(Exception):
    """Base error: a short message, an optional location and a hint on what to do."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        path: str | None = None,
        line: int | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = path
        self.line = line
        self.row = row
        self.column = column

    def location(self) -> str:
        parts = []
        if self.path:
            parts.append(str(self.path) + (f":{self.line}" if self.line is not None else ""))
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.row is not None and self.line is None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        loc = self.location()
        text = f"{loc}: {self.message}" if loc else self.message
        return text + (f"\n  hint: {self.hint}" if self.hint else "")


class UsageError(TrlprepError):
    """Bad arguments: unknown names, conflicting options (exit 2)."""

    exit_code = 2


class InputError(TrlprepError):
    """A file that cannot be read or written (exit 2)."""

    exit_code = 2


class DataError(TrlprepError):
    """Data that does not fit what was asked of it (exit 1)."""

    exit_code = 1
