"""Faults in text files read whole (CSV, a JSON document) as errors naming the file line.

Arrow's CSV reader and `json.loads` report a bad byte or a broken row without a file line
(or, for JSON, as an I/O error); these build the same kind of error a JSON Lines line gets:
invalid data (exit 1), the file and line, and what to do.
"""

from __future__ import annotations

import json

from trlprep.errors import DataError, InputError

UTF8_HINT = "re-encode the file as UTF-8"


class TextFaultError(DataError, InputError):
    """Invalid data in a text file (exit 1), still an InputError for code that catches
    reading errors."""

    exit_code = 1


def line_at(data: bytes, pos: int) -> int:
    """The 1-based file line holding byte `pos` of `data`."""
    return data.count(b"\n", 0, max(pos, 0)) + 1


def utf8_error(path: str, data: bytes) -> TextFaultError | None:
    """The error for the first byte of `data` that is not UTF-8 (None when all are)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return TextFaultError(
            "not valid UTF-8 text", path=path, line=line_at(data, e.start), hint=UTF8_HINT
        )
    return None


def csv_row_error(path: str, data: bytes, expected: int, actual: int, text: str) -> TextFaultError:
    """A CSV row with another number of fields than the header, named by its file line."""
    raw = text.encode("utf-8", "replace")
    pos = 0 if data.startswith(raw) else data.find(b"\n" + raw)
    line = None if pos < 0 else line_at(data, pos + (pos > 0))
    shown = text.replace("\r", "").replace("\n", "\\n")
    shown = shown if len(shown) <= 80 else shown[:80] + "..."
    return TextFaultError(
        f"expected {expected} fields (as the header), got {actual}: {shown}",
        path=path,
        line=line,
        hint='quote a value that holds the delimiter or a quote ("a, b"; a quote inside is '
        'doubled: ""); every row needs as many fields as the header',
    )


def json_error(path: str, e: json.JSONDecodeError) -> TextFaultError:
    """Broken JSON in a .json document, named by its file line."""
    return TextFaultError(
        f"invalid JSON: {e.msg} (column {e.colno})",
        path=path,
        line=e.lineno,
        hint="fix the JSON there (a missing comma, bracket or quote?); `python -m json.tool "
        "FILE` checks a file; JSON Lines (.jsonl, one object a line) can skip broken lines",
    )
