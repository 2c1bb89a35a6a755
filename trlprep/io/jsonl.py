"""JSON Lines: read in byte chunks cut at line ends, each row with its file line number.

Each chunk is parsed by Arrow's C++ JSON reader (`jsontext.read_json_rows`); only a chunk it
cannot parse is re-read line by line in Python, to name the broken line or to keep a column
whose rows disagree in kind as tagged JSON text; a `tools` column that Arrow types as one
struct is rebuilt from the chunk's lines instead (`toolstexts`), and tool-call arguments
given as objects are cut out of the chunk before Arrow parses it (`argspans`). Chunks bound
memory, so files larger than memory stream; `joining.concat_tables` joins chunks as if read
at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.columns.arrowtypes import is_string
from trlprep.errors import DataError, InputError
from trlprep.io import jsontext, textfaults
from trlprep.io.argspans import read_json_arguments
from trlprep.io.joining import concat_tables
from trlprep.io.jsonargs import has_object_arguments, tag_arguments
from trlprep.io.jsoncontent import content_kinds_differ, read_mixed_content
from trlprep.io.jsontext import (
    json_field,
    table_from_records,
    tools_names,
)
from trlprep.io.linechunks import line_chunks as _line_chunks
from trlprep.io.sources import (
    ARROW_ERRORS,
    Batch,
    Source,
)
from trlprep.io.toolstexts import tools_texts

CHUNK_BYTES = 32 << 20  # JSONL bytes parsed at once (bounds memory when streaming)
_WHITESPACE = np.frombuffer(b" \t\r\n", dtype=np.uint8)


class BadLineError(DataError, InputError):
    """A JSON Lines line that holds no JSON object: invalid data (exit 1), and still an
    InputError for code that catches reading errors."""

    exit_code = 1


class BadLines:
    """Lines of a JSONL file that hold no JSON object, set aside (`--on-bad-lines skip`).

    Without one, the first such line raises a DataError (invalid data: exit 1) naming it.
    A file read twice (detect, then convert) records each line once. With `stop`, reading
    ends at the first such line instead (the rows before it are read): `stopped` then
    holds that line's error, so a report can count the rows read and name the line.
    """

    def __init__(self, stop: bool = False) -> None:
        self.found: dict[int, tuple[str, str]] = {}  # line -> (reason, text)
        self.files: dict[str, int] = {}  # file -> its place in the input (several files)
        self.stop = stop
        self.stopped: BadLineError | None = None

    def add(self, line: int, reason: str, text: bytes) -> None:
        file = getattr(line, "file", None)  # io.inputfiles.FileLine
        if file is not None:
            self.files.setdefault(file, len(self.files))
        self.found.setdefault(line, (reason, text.decode("utf-8", "replace")))

    def know_files(self, files: list[str]) -> None:
        """The input's files in order, so their lines are listed file by file in that order
        (a file not named here comes after them, in the order its lines were met)."""
        order = list(dict.fromkeys([*files, *self.files]))
        self.files = {f: i for i, f in enumerate(order)}

    def stop_at(self, error: BadLineError) -> None:
        """Record where reading stopped (the first bad line met)."""
        if self.stopped is None:
            self.stopped = error

    @property
    def lines(self) -> list[int]:
        """The lines in input order: by file (several files), then by line."""
        files = self.files
        return sorted(self.found, key=lambda n: (files.get(getattr(n, "file", None), -1), n))

    def by_reason(self) -> dict[str, list[int]]:
        """reason -> the lines skipped for it, in order."""
        out: dict[str, list[int]] = {}
        for line in self.lines:
            out.setdefault(self.found[line][0], []).append(line)
        return out

    def __len__(self) -> int:
        return len(self.found)

    def summary(self, limit: int = 5) -> str:
        """`2 bad lines skipped (line 3: invalid JSON ...; line 9: ...)`; lines of one of
        several files as `data/1.jsonl:3`, as their rejected rows are named."""
        shown = "; ".join(f"{line_name(n)}: {self.found[n][0]}" for n in self.lines[:limit])
        more = " ..." if len(self) > limit else ""
        word = "line" if len(self) == 1 else "lines"
        return f"{len(self)} bad {word} skipped ({shown}{more})"


def line_name(line: int) -> str:
    """`line 3`, or `data/1.jsonl:3` for a line of one of several files (`FileLine`)."""
    return str(line) if getattr(line, "file", None) is not None else f"line {line}"


def read_jsonl(path: str, bad: BadLines | None = None) -> Source:
    """A whole JSONL file (compressed or not) with the line number of every row."""
    batches = list(jsonl_chunks(path, bad=bad))
    table = concat_tables([b.data for b in batches])
    lines = np.concatenate([b.lines for b in batches]) if batches else np.zeros(0, np.int64)
    return Source(table, path, "jsonl", lines)


def jsonl_chunks(
    path: str, chunk_bytes: int | None = None, bad: BadLines | None = None
) -> Iterator[Batch]:
    """Yield JSONL record batches cut at line ends, each with exact line numbers.

    A line that holds no JSON object raises a DataError, or goes to `bad` when given. A
    chunk whose every line went to `bad` yields no batch.
    """
    yield from line_batches(path, _line_chunks(path, chunk_bytes or CHUNK_BYTES), 1, bad)


def line_batches(
    path: str, chunks: Iterable[bytes], first_line: int, bad: BadLines | None = None
) -> Iterator[Batch]:
    """The record batches of `chunks` (whole lines of `path`, the first being file line
    `first_line`), as `jsonl_chunks` yields them; a chunk is parsed as one piece."""
    offset, read = 0, 0
    for chunk in chunks:
        read += len(chunk)
        lines = chunk.count(b"\n")
        # `isspace` stops at the first other byte; `strip` would copy the chunk
        batch = None if chunk.isspace() or not chunk else _jsonl_block(path, chunk, first_line, bad)
        del chunk  # parsed: not held while the batch is used, nor while the next is read
        if batch is not None and batch.data.num_rows:
            batch.data = tag_arguments(batch.data)  # same arguments type in every chunk
            batch.offset = offset
            batch.byte_end = read
            offset += batch.data.num_rows
            yield batch
        del batch
        first_line += lines
        if _stopped_before(bad, path, first_line):
            return


def _stopped_before(bad: BadLines | None, path: str, line: int) -> bool:
    """Whether reading stopped (`BadLines(stop=True)`) at a line of `path` before `line`;
    a second read of the file (detect, then validate) stops at the same line."""
    stopped = getattr(bad, "stopped", None) if bad is not None and bad.stop else None
    return stopped is not None and stopped.path == path and stopped.line < line


def _line_spans(chunk: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(start, stop, has_text, first) of every line of `chunk`: blank = whitespace only;
    `first` is the line's first byte that is not whitespace."""
    raw = np.frombuffer(chunk, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10)
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(raw)]))
    nonempty = starts < stops
    first = np.full(len(starts), 32, dtype=np.uint8)
    first[nonempty] = raw[starts[nonempty]]
    has_text = ~np.isin(first, _WHITESPACE)
    # the rare line that starts with whitespace: look at the whole line
    for i in np.flatnonzero(nonempty & ~has_text):
        text = chunk[starts[i] : stops[i]].lstrip()
        has_text[i] = bool(text)
        first[i] = text[0] if text else 32
    return starts, stops, has_text, first


def _jsonl_block(path: str, chunk: bytes, first_line: int, bad: BadLines | None) -> Batch:
    starts, stops, has_text, first = _line_spans(chunk)
    lines = np.flatnonzero(has_text).astype(np.int64) + first_line
    if (first[has_text] != ord("{")).any():  # a line holding no object (`null` reads as one)
        return _jsonl_python(path, chunk, first_line, bad)
    longest = int((stops - starts).max()) if len(starts) else 0
    block = max(jsontext.BLOCK_BYTES, longest + 2)
    table = read_json_arguments(chunk, stops, block)  # tool-call arguments given as objects
    if table is None or table.num_rows != len(lines):
        try:
            table = jsontext.read_json_rows(chunk, block_size=block)
        except ARROW_ERRORS as e:
            # content a string in some messages, parts in others: read by Arrow all the same
            table = read_mixed_content(chunk, block) if content_kinds_differ(e) else None
            if table is None:
                return _jsonl_python(path, chunk, first_line, bad)
    if table.num_rows != len(lines):  # e.g. two objects on one line
        return _jsonl_python(path, chunk, first_line, bad)
    for name in tools_names() & set(table.schema.names):
        t = table.schema.field(name).type
        if is_string(t) or pa.types.is_null(t):
            continue
        texts = tools_texts(chunk, starts[has_text], stops[has_text], name, table[name])
        if texts is None:  # schemas as one struct, and no exact text from the lines
            return _jsonl_python(path, chunk, first_line, bad)
        table = table.set_column(table.schema.get_field_index(name), json_field(name), texts)
    if any(has_object_arguments(f.type) for f in table.schema):
        # tool-call arguments as objects that `read_json_arguments` declined: Arrow typed
        # them as one struct for all rows (the union of keys, in first-seen order), and each
        # row's own object is kept as JSON text
        return _jsonl_python(path, chunk, first_line, bad)
    return Batch(table, 0, lines)


def _jsonl_python(path: str, chunk: bytes, first_line: int, bad: BadLines | None) -> Batch:
    """Slow path: parse line by line, naming the exact line of any broken JSON."""
    records, lines = [], []
    for i, line in enumerate(chunk.split(b"\n")):
        if not line.strip():
            continue
        lineno = first_line + i
        rec, problem = _parse_line(line, not records, path)
        if problem is None:
            records.append(rec)
            lines.append(lineno)
            continue
        reason, hint = problem
        if not reason.endswith(PRETTY_PRINTED):  # skipping would skip every line of the file
            hint += "; or pass --on-bad-lines skip"
        error = BadLineError(reason, path=path, line=lineno, hint=hint)
        if bad is None:
            raise error
        if bad.stop:
            bad.stop_at(error)
            break
        bad.add(lineno, reason, line)
    return Batch(table_from_records(records), 0, np.asarray(lines, dtype=np.int64))


def _parse_line(
    line: bytes, first: bool, path: str | None = None
) -> tuple[Any, tuple[str, str] | None]:
    """(the object, None), or (None, (what is wrong, what to do)) for a line of the file
    `path` that holds no JSON object."""
    try:
        rec = json.loads(line)
    except UnicodeDecodeError:
        from trlprep.io.legacytext import not_utf8

        return None, not_utf8(path, line)
    except json.JSONDecodeError as e:
        hint = "fix or remove that line; each line must hold one JSON object"
        if first and line.lstrip().startswith(b"["):
            hint = "this looks like one JSON array: name it .json or pass --input-format json"
        elif _object_goes_on(e):
            return None, _pretty_printed(e, path)
        return None, (f"invalid JSON: {e.msg} (column {e.colno})", hint)
    if not isinstance(rec, dict):
        if is_bare_messages(rec):
            return None, (
                f"expected a JSON object, got an array of {len(rec)} messages (one "
                "conversation with no column name)",
                "write each line as one object holding it, "
                + textfaults.wrap_messages_hint(path, array=False),
            )
        return None, (
            f"expected a JSON object, got {json_kind(rec)}",
            'each line must hold one JSON object like {"prompt": ..., "completion": ...}',
        )
    if _SURROGATE_ESCAPE.search(line) and _lone_surrogate(rec):
        return None, (
            "holds a lone surrogate escape (such as \\ud800): not valid Unicode",
            "fix the escaped characters on that line (a surrogate pair needs both halves)",
        )
    return rec, None


# what a line opening an object written over several lines is said to be (its error's end)
PRETTY_PRINTED = "JSON written over several lines (pretty-printed), not JSON Lines"


def _object_goes_on(e: json.JSONDecodeError) -> bool:
    """Whether the line `e` failed on holds `{` alone: the first line of an object written
    over several lines (pretty-printed, as `json.dumps(indent=...)` and `jq .` write it)."""
    return e.doc.strip() == "{"


def _pretty_printed(e: json.JSONDecodeError, path: str | None) -> tuple[str, str]:
    """What is wrong with a line opening a JSON object that goes on over the next lines, and
    the jq command that writes each object of the file on one line."""
    command = "jq -c . IN > OUT.jsonl" if path is None else textfaults.compact_json_command(path)
    return (
        f"invalid JSON: the object opened on this line does not end on it ({e.msg}, column "
        f"{e.colno}): {PRETTY_PRINTED}",
        f"write each object on one line: `{command}`",
    )


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # pairs (emoji) decode to one character


def _lone_surrogate(rec: dict) -> bool:
    """Whether a string of `rec` keeps half a surrogate pair (it cannot be written as UTF-8)."""
    try:
        json.dumps(rec, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def is_bare_messages(value: object) -> bool:
    """Whether `value` is a list of `{role, ...}` objects: a conversation written without
    the column that would hold it (`messages`)."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and "role" in m for m in value)
    )


def json_kind(value: object) -> str:
    """What a JSON value that is no object is, in words (`a string`, `an array` ...)."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
