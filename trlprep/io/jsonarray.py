"""A `.json` file holding one array of objects, parsed object by object so that each row
knows the file line its object starts on (a pretty-printed file opened in an editor).

Only a top-level array of objects, each starting on a line of its own, gets lines (a
minified array's rows are named by their index); anything else (a wrapper object, columns,
one object, broken JSON) is left to `json.loads` and the reader's messages.
"""

from __future__ import annotations

import json
import re

import numpy as np

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
_COMMA = re.compile(r"[ \t\n\r]*,[ \t\n\r]*")


def array_rows(text: bytes) -> tuple[list[dict], np.ndarray | None] | None:
    """The objects of a JSON array and the 1-based line each starts on (None where several
    start on one line), or None where `text` is no valid JSON array of objects."""
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError:
        return None
    pos = _SPACE.match(s).end()
    if not s.startswith("[", pos):
        return None
    pos = _SPACE.match(s, pos + 1).end()
    rows: list[dict] = []
    starts: list[int] = []
    try:
        if not s.startswith("]", pos):
            while True:
                obj, end = _DECODER.raw_decode(s, pos)
                if not isinstance(obj, dict):
                    return None
                rows.append(obj)
                starts.append(pos)
                sep = _COMMA.match(s, end)
                if sep is None:
                    break
                pos = sep.end()
            end = _SPACE.match(s, end).end()
            if not s.startswith("]", end):
                return None
            pos = end
    except json.JSONDecodeError:
        return None
    if s[pos + 1 :].strip(" \t\n\r"):
        return None  # more after the array: json.loads names it
    lines = np.empty(len(starts), dtype=np.int64)
    line, last = 1, 0
    for i, start in enumerate(starts):
        line += s.count("\n", last, start)
        lines[i] = line
        last = start
    if len(lines) > 1 and not (np.diff(lines) > 0).all():
        return rows, None  # several objects on one line: a line names no row
    return rows, lines
