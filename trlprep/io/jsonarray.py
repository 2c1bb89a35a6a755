"""A `.json` file holding one array of objects, parsed object by object so that each row
knows the file line its object starts on (a pretty-printed file opened in an editor).

A top-level array of objects, or an object whose one key holds it (`{"data": [...]}`), is
read here (not one conversation, `{"conversations": [turns]}`: one row). Rows are named
one way per file: by the line their object starts on where each object starts on a line of
its own, else (a minified array, or some line holding several objects) all by their
0-based index in the array, `row N`, which `naming_notes` then says. Anything else
(columns, one object, several splits, broken JSON) is left to `json.loads` and the
reader's messages.
"""

from __future__ import annotations

import json
import os
import re
import shlex

import numpy as np

from trlprep.errors import InputError
from trlprep.wording import plural

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
_COMMA = re.compile(r"[ \t\n\r]*,[ \t\n\r]*")
_COLON = re.compile(r"[ \t\n\r]*:[ \t\n\r]*")
# keys of a file holding a dataset's splits side by side, {"train": [...], "test": [...]}
SPLIT_KEYS = frozenset({"train", "test", "validation", "valid", "val", "dev", "eval", "evaluation"})
# columns that hold a conversation: `{"conversations": [turns]}` is one row, not a wrapper
TURN_KEYS = frozenset({"messages", "conversations", "conversation", "chosen", "rejected"})
_NOTES: dict[tuple[str, int, int], str] = {}  # (file, mtime_ns, size) -> how rows are named


def array_rows(text: bytes, path: str | None = None) -> tuple[list[dict], np.ndarray | None] | None:
    """The objects of a JSON array (top level, or the one value of a wrapper object) and the
    1-based line each starts on (None where some line holds several: `path`, when given,
    then gets a `naming_notes` note), or None where `text` is neither."""
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError:
        return None
    pos = _SPACE.match(s).end()
    wrapped = s.startswith("{", pos)
    try:
        if wrapped:  # {"key": [...]}: the key's string, then its colon
            pos = _SPACE.match(s, pos + 1).end()
            key, pos = _DECODER.raw_decode(s, pos)
            colon = _COLON.match(s, pos)
            if not isinstance(key, str) or colon is None:
                return None
            pos = colon.end()
        if not s.startswith("[", pos):
            return None
        rows, starts, pos = _objects(s, _SPACE.match(s, pos + 1).end())
    except json.JSONDecodeError:
        return None
    if rows is None:
        return None
    if wrapped:
        pos = _SPACE.match(s, pos + 1).end()
        if not s.startswith("}", pos):
            return None  # more keys: json.loads and the reader decide
        if holds_turns(key, rows):
            return None  # one conversation: one row, which the reader makes of it
    if s[pos + 1 :].strip(" \t\n\r"):
        return None  # more after the array: json.loads names it
    lines = _start_lines(s, starts)
    if len(lines) > 1 and not (np.diff(lines) > 0).all():
        if path is not None:
            remember(path, _naming_note(lines))
        return rows, None  # several objects on one line: a line names no row
    return rows, lines


def holds_turns(key: str, rows: list) -> bool:
    """Whether `{key: rows}` is one conversation rather than a wrapper of rows: `key` names a
    conversation column and every item is a turn (`role`, or ShareGPT's `from` + `value`),
    as axolotl's `conversation.json` fixture holds one ShareGPT row."""
    return key in TURN_KEYS and all(
        isinstance(r, dict) and ("role" in r or {"from", "value"} <= r.keys()) for r in rows
    )


def _objects(s: str, pos: int) -> tuple[list[dict] | None, list[int], int]:
    """The objects of the array whose first item is at `pos`, their start offsets, and the
    offset of its closing `]` (None for rows where an item is no object or `]` is missing)."""
    rows: list[dict] = []
    starts: list[int] = []
    if s.startswith("]", pos):
        return rows, starts, pos
    while True:
        obj, end = _DECODER.raw_decode(s, pos)
        if not isinstance(obj, dict):
            return None, starts, pos
        rows.append(obj)
        starts.append(pos)
        sep = _COMMA.match(s, end)
        if sep is None:
            break
        pos = sep.end()
    end = _SPACE.match(s, end).end()
    return (rows if s.startswith("]", end) else None), starts, end


def _start_lines(s: str, starts: list[int]) -> np.ndarray:
    """The 1-based line of each offset in `starts` (ascending)."""
    lines = np.empty(len(starts), dtype=np.int64)
    line, last = 1, 0
    for i, start in enumerate(starts):
        line += s.count("\n", last, start)
        lines[i] = line
        last = start
    return lines


def _naming_note(lines: np.ndarray) -> str:
    """Why an array's rows are named `row N`: the lines that hold several objects."""
    shared = np.flatnonzero(np.diff(lines) == 0)  # row i+1 starts on row i's line
    first = int(lines[shared[0]])
    on_first = np.flatnonzero(lines == first)
    how = "rows are named `row N`, their 0-based index in the array"
    if len(on_first) == len(lines):
        return f"a minified JSON array (every object on line {first}): {how}"
    crowded = len(np.unique(lines[shared]))
    where = f"line {first}" if crowded == 1 else f"{crowded:,} lines, first line {first}"
    return (
        f"several objects of the JSON array start on one line ({where}: rows "
        f"{on_first[0]}-{on_first[-1]}): {how}; put each object on a line of its own to have "
        "rows named by line"
    )


def _key(path: str) -> tuple[str, int, int] | None:
    if "://" in path:  # an object-storage file read by a Ray worker (`ray.remotein`)
        return (path, 0, 0)
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.path.abspath(path), st.st_mtime_ns, st.st_size)


def remember(path: str, note: str | None) -> None:
    """Keep how the rows of `path` are named (`naming_note`), as read here or by a Ray
    worker."""
    key = _key(path)
    if key is not None and note:
        _NOTES[key] = note


def naming_note(path: str) -> str | None:
    """How the rows of the JSON array `path`, read in this process, are named where not by
    line (None: by line, or not such a file)."""
    key = _key(str(path))
    return None if key is None else _NOTES.get(key)


def naming_notes(files: list[str], most: int = 3) -> list[str]:
    """`FILE: ...` for the files among `files` whose rows are named `row N` (`naming_note`):
    files with the same note share it (`a.json, b.json and 98 more files: ...`)."""
    by_note: dict[str, list[str]] = {}
    for f in files:
        if note := naming_note(f):
            by_note.setdefault(note, []).append(str(f))
    out = []
    for note, named in by_note.items():
        more = f" and {len(named) - most:,} more files" if len(named) > most else ""
        out.append(f"{', '.join(named[:most])}{more}: {note}")
    return out


def check_not_splits(data: object, path: str) -> None:
    """Refuse an object holding a dataset's splits side by side (`{"train": [...], "test":
    [...]}`), which would otherwise be read as one row, or as columns of objects."""
    if not isinstance(data, dict) or len(data) < 2 or not set(data) <= SPLIT_KEYS:
        return
    lists = data.values()
    if not all(isinstance(v, list) and all(isinstance(r, dict) for r in v) for v in lists):
        return
    if not any(lists):
        return  # no rows in any: the reader's own message
    names = ", ".join(f"{k!r} ({plural(len(v), 'row')})" for k, v in data.items())
    first = next(iter(data))
    raise InputError(
        f"the file holds several splits side by side: {names}; trlprep reads one array of "
        "rows per file",
        path=path,
        hint=f"save each split to a file of its own, e.g. `jq '.{first}' {shlex.quote(path)} "
        f"> {first}.json`, and pass that file",
    )


def check_not_keyed_records(data: object, path: str, names: frozenset[str]) -> None:
    """Refuse an object of records keyed by name or id (`{"algebra_419.json": {"problem":
    ...}, ...}`, pandas' `orient="index"`), which would otherwise be read as one row with a
    column per record. `names`: column names trlprep reads (an object keyed by them, such as
    a row of single-turn `chosen` / `rejected` objects, is one row)."""
    if not isinstance(data, dict) or len(data) < 2 or set(data) & names:
        return
    records = list(data.values())
    if not all(isinstance(r, dict) and r for r in records):
        return
    keys = set(records[0])
    if any(set(r) != keys for r in records[1:]):
        return
    column = "key" if "id" in keys else "id"
    shown = ", ".join(repr(k) for k in list(data)[:2])
    from trlprep.io import textfaults

    command = textfaults.file_command(
        path, f"jq -c 'to_entries[] | {{{column}: .key}} + .value'", ".rows.jsonl"
    )
    raise InputError(
        f"the file holds one object of {plural(len(records), 'record')} keyed by name "
        f"({shown}, ...), each holding {', '.join(sorted(keys))}; trlprep reads an array of "
        "rows (or JSON Lines), so it would read one row with a column per record",
        path=path,
        hint=f"make each record a row, its key kept as {column!r}: `{command}`",
    )
