"""Plain text files (`.txt`, `.text`, compressed or not) as language-modeling rows.

As `datasets.load_dataset("text", ...)`, rows go into one `text` column, by one of three
samplings (the input format names it): `text` one row per line, `text-paragraph` one row
per paragraph (lines between blank lines, joined with "\\n"), `text-document` the whole
file as one row. Line ends are `\\n`, `\\r\\n` and a lone `\\r` (old Mac files), all read
as `\\n`, as Python's universal newlines that `datasets` reads with; a last line without
a line end is a line. Blank lines (empty, or spaces and tabs only) are
no rows: they are counted (`stats`), so every line is accounted for. Each row keeps the
file line where it starts. Bytes are cut into rows with numpy on the newline offsets and
Arrow string arrays over the chunk's buffer (no Python per line); only a chunk that is not
UTF-8 is looked at line by line, to name (or skip, `--on-bad-lines skip`) its bad lines. A
skipped line is as if not there: a paragraph or document is its other lines joined with
`\n` (never the skipped bytes), and it is counted (`TextStats.bad`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.errors import DataError
from trlprep.io.jsonl import CHUNK_BYTES, BadLineError, BadLines, _line_chunks, _stopped_before
from trlprep.io.sources import Batch, Source

SAMPLINGS = {"text": "line", "text-paragraph": "paragraph", "text-document": "document"}
SCHEMA = pa.schema([pa.field("text", pa.string())])
MAX_TEXT_BYTES = 2**31 - 1  # the text of one batch's `string` column (int32 offsets)
_SPACES = " \t\r\n\f\v"  # what a blank line may hold
_SPACE = np.zeros(256, dtype=bool)
_SPACE[list(_SPACES.encode())] = True


@dataclass
class TextStats:
    """What one read of a text file found: its lines, the blank ones, the rows made, the
    bad lines (not UTF-8) set aside."""

    lines: int = 0
    blank: int = 0
    rows: int = 0
    sample_by: str = "line"
    json_lines: bool = False  # every row of the first batch a JSON object's text
    bad: int = 0

    def note(self) -> str:
        """`30 lines read: 30 rows, 2 blank lines skipped` (paragraphs, documents alike),
        then the bad lines skipped, if any: the counts add up to the lines read."""
        from trlprep.wording import plural

        unit = {"line": "row", "paragraph": "paragraph row", "document": "document row"}
        text = f"{plural(self.lines, 'line')} read: {plural(self.rows, unit[self.sample_by])}"
        if self.sample_by != "document":  # in a document, blank lines are its text
            text += f", {plural(self.blank, 'blank line')} " + (
                "skipped" if self.sample_by == "line" else "between them"
            )
        if self.bad:
            text += f", {plural(self.bad, 'bad line')} skipped"
        if self.json_lines:
            text += (
                "; the lines look like JSON objects: to read their fields, name the file "
                ".jsonl or pass --input-format jsonl"
            )
        return text


_STATS: dict[tuple[str, int, int], TextStats] = {}  # (file, mtime_ns, size) -> last read


def _key(path: str) -> tuple[str, int, int] | None:
    if "://" in path:  # an object-storage file read by a Ray worker (`ray.remotein`)
        return (path, 0, 0)
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.path.abspath(path), st.st_mtime_ns, st.st_size)


def stats(path: str) -> TextStats | None:
    """The counts of the last complete read of the text file `path` (None: not read)."""
    key = _key(str(path))
    return None if key is None else _STATS.get(key)


def remember(path: str, found: TextStats) -> None:
    """Keep the counts of a text file read elsewhere (a Ray worker) as if read here."""
    key = _key(str(path))
    if key is not None:
        _STATS[key] = found


def read_text(path: str, fmt: str = "text", bad: BadLines | None = None) -> Source:
    """A whole text file as a `Source` (`text` column, the file line of every row)."""
    batches = list(text_chunks(path, fmt, bad=bad))
    if not batches:
        return Source(SCHEMA.empty_table(), path, fmt, np.zeros(0, np.int64))
    table = pa.Table.from_batches([b.data for b in batches], SCHEMA)
    return Source(table, path, fmt, np.concatenate([b.lines for b in batches]))


def text_chunks(
    path: str, fmt: str = "text", chunk_bytes: int | None = None, bad: BadLines | None = None
) -> Iterator[Batch]:
    """Record batches of a text file, sampled as `fmt` says (`SAMPLINGS`), cut at line
    ends (paragraphs: after blank lines), each row with its first file line."""
    sample_by = SAMPLINGS[fmt]
    found = TextStats(sample_by=sample_by)
    if sample_by == "document":  # refused before it is all read where it is too big
        from trlprep.io.textdocument import document_bytes

        skip_bad = bad is not None and not bad.stop
        chunks = iter([document_bytes(path, MAX_TEXT_BYTES, skip_bad, chunk_bytes or CHUNK_BYTES)])
    else:
        chunks = _line_chunks(path, chunk_bytes or CHUNK_BYTES, lone_cr=True)
    if sample_by == "paragraph":
        chunks = _paragraph_chunks(chunks)
    offset, first_line, read = 0, 1, 0
    for chunk in chunks:
        read += len(chunk)
        starts, stops, blank = _lines(chunk)
        found.lines += len(starts)
        found.blank += int(blank.sum())
        dropped = np.zeros(len(starts), dtype=bool)  # bad lines: set aside, no text of a row
        if not chunk.isascii():  # ASCII is UTF-8: the check only where it can fail
            dropped = _utf8_lines(path, chunk, starts, stops, first_line, bad)
            found.bad += int(dropped.sum())
        first, last = _row_lines(sample_by, blank, dropped)
        if len(first):
            sizes = _sizes(chunk, starts, stops, first, last, dropped)
            _check_size(path, sample_by, sizes, first + first_line)
            texts = _texts(chunk, starts, stops, first, last, dropped)
            batch = pa.RecordBatch.from_arrays([texts], schema=SCHEMA)
            if not offset and sample_by == "line":
                found.json_lines = _json_objects(texts)
            out = Batch(batch, offset, first.astype(np.int64) + first_line, byte_end=read)
            del chunk, texts, batch  # none held here while the next chunk is read
            yield out
            del out
            offset += len(first)
        first_line += len(starts)
        if _stopped_before(bad, path, first_line):
            return  # reading stopped at a bad line (`BadLines(stop=True)`)
    found.rows = offset
    key = _key(path)
    if key is not None:
        _STATS[key] = found


def _check_size(path: str, sample_by: str, sizes: np.ndarray, lines: np.ndarray) -> None:
    """A DataError where the rows of a chunk hold more text than a `string` column can (a
    document over 2 GiB, or a line or paragraph as long): named by its largest row."""
    if int(sizes.sum()) <= MAX_TEXT_BYTES:
        return
    big = int(np.argmax(sizes))
    other = {
        "document": "read it by paragraphs or lines (--input-format text-paragraph or text)",
        "paragraph": "read it by lines (--input-format text)",
        "line": "break the line",
    }[sample_by]
    raise DataError(
        f"a {sample_by} of {int(sizes[big]):,} bytes is more text than a text column holds "
        f"({MAX_TEXT_BYTES:,} bytes, Arrow's string limit)",
        path=path,
        line=int(lines[big]),
        hint=f"{other}, or split the file into smaller files",
    )


def _lines(chunk: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, stop, blank) of every line of `chunk` (stop before its `\\n`, `\\r\\n` or `\\r`)."""
    raw = np.frombuffer(chunk, dtype=np.uint8)
    if b"\r" in chunk:  # the last byte of each line end, and where the line end starts
        lone = raw == 13
        lone[:-1] &= raw[1:] != 10
        ends = np.flatnonzero((raw == 10) | lone)
        crlf = (raw[ends] == 10) & (raw[np.maximum(ends - 1, 0)] == 13) & (ends > 0)
        cut = ends - crlf
    else:
        ends = cut = np.flatnonzero(raw == 10)
    starts = np.concatenate(([0], ends + 1)).astype(np.int64)
    stops = np.concatenate((cut, [len(raw)])).astype(np.int64)
    if len(raw) == 0 or raw[-1] in (10, 13):  # no line after the last line end
        starts, stops = starts[:-1], stops[:-1]
    blank = stops == starts
    # a line that starts with a space may be blank: only those are looked at whole (a
    # cumulative count over every byte would cost 8 bytes of memory per byte)
    spaced = np.flatnonzero(~blank & _SPACE[raw[np.minimum(starts, max(len(raw) - 1, 0))]])
    if len(spaced):
        spans = _spans(chunk, starts[spaced], stops[spaced])
        rest = pc.binary_length(pc.ascii_trim(spans, _SPACES)).to_numpy(zero_copy_only=False)
        blank[spaced] = rest == 0
    return starts, stops, blank


def _row_lines(sample_by: str, blank: np.ndarray, dropped: np.ndarray):
    """(first, last): the chunk's indexes of each row's first and last line. A row is a
    line that is neither blank nor dropped; a paragraph, a run of such lines between blank
    ones; the document, the first such line to the last (blank lines inside). A dropped
    line is as if not there: it neither ends a paragraph nor is part of one."""
    text = np.flatnonzero(~blank & ~dropped)
    if sample_by == "line":
        return text, text
    if sample_by == "document":
        return text[:1], text[-1:]
    kept = np.flatnonzero(~dropped)
    gap = blank[kept]
    if not len(gap):
        return text, text
    first = kept[~gap & np.concatenate(([True], gap[:-1]))]
    last = kept[~gap & np.concatenate((gap[1:], [True]))]
    return first, last


def _sizes(chunk: bytes, starts, stops, first, last, dropped) -> np.ndarray:
    """The bytes of each row's text (at most: line ends counted as in the file)."""
    sizes = stops[last] - starts[first]
    if dropped.any():  # less the dropped lines inside, with their line ends
        widths = np.where(dropped, np.append(starts[1:], len(chunk)) - starts, 0)
        gone = np.concatenate(([0], np.cumsum(widths)))
        sizes = sizes - (gone[last] - gone[first])
    return sizes


def _json_objects(texts: pa.Array) -> bool:
    """Whether every text is `{...}` (spaces around it allowed): JSON Lines named .txt."""
    trimmed = pc.utf8_trim_whitespace(texts)
    braced = pc.and_(pc.starts_with(trimmed, "{"), pc.ends_with(trimmed, "}"))
    return bool(pc.all(braced).as_py())


def _spans(chunk: bytes, starts: np.ndarray, stops: np.ndarray) -> pa.Array:
    """The strings chunk[start:stop] (not yet checked as UTF-8), copied out of one Arrow
    array over the chunk's bytes whose other entries are the gaps between them."""
    offsets = np.empty(2 * len(starts), dtype=np.int64)
    offsets[0::2], offsets[1::2] = starts, stops
    if not len(offsets):
        return pa.array([], pa.large_string())
    spans = pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(chunk)
    )
    return pc.take(spans, pa.array(np.arange(0, len(offsets) - 1, 2)))


def _texts(chunk: bytes, starts, stops, first, last, dropped: np.ndarray) -> pa.Array:
    """The rows' strings, lines `first` to `last` of the chunk; in rows of several lines,
    `\r\n` and `\r` read as `\n`, and dropped lines (not UTF-8) left out."""
    if first is last:  # rows of one line: no line end inside
        return _spans(chunk, starts[first], stops[first]).cast(pa.string())
    if dropped.any():
        return _kept_text(chunk, starts, stops, first, last, dropped)
    texts = _spans(chunk, starts[first], stops[last])
    if b"\r" in chunk:
        texts = pc.replace_substring(texts, "\r\n", "\n")
        texts = pc.replace_substring(texts, "\r", "\n")
    return texts.cast(pa.string())


def _kept_text(chunk: bytes, starts, stops, first, last, dropped) -> pa.Array:
    """Rows of several lines with dropped lines among them: each row's other lines joined
    with `\n` (one span of the chunk from first to last line would hold the bad bytes)."""
    edge = np.zeros(len(starts) + 1, dtype=np.int64)
    edge[first] += 1
    edge[last + 1] -= 1
    kept = np.flatnonzero((np.cumsum(edge[:-1]) > 0) & ~dropped)
    offsets = pa.array(np.append(np.searchsorted(kept, first), len(kept)), pa.int64())
    parts = pa.LargeListArray.from_arrays(offsets, _spans(chunk, starts[kept], stops[kept]))
    texts = pc.binary_join(parts, pa.scalar("\n", pa.large_string()))
    texts.validate(full=True)  # the one path where bad bytes are in the chunk: never a row's
    return texts.cast(pa.string())


def _utf8_lines(path, chunk, starts, stops, first_line, bad) -> np.ndarray:
    """The lines of a chunk to drop (no row, no text of one) as not UTF-8: each bad line a
    BadLineError, or set aside in `bad`; with `bad.stop`, it and every line after it."""
    whole = pa.LargeStringArray.from_buffers(
        1, pa.py_buffer(np.array([0, len(chunk)], np.int64)), pa.py_buffer(chunk)
    )
    try:
        whole.validate(full=True)  # checks UTF-8 in place (a str of it would cost 4x)
        return np.zeros(len(starts), dtype=bool)
    except pa.ArrowInvalid:
        pass
    dropped = np.zeros(len(starts), dtype=bool)
    for i in range(len(starts)):
        line = chunk[starts[i] : stops[i]]
        try:
            line.decode("utf-8")
            continue
        except UnicodeDecodeError as e:
            from trlprep.io.legacytext import guess, not_utf8

            reason = f"not valid UTF-8 text (byte {e.start + 1} of the line)"
            hint = "re-encode the file as UTF-8 (`iconv -f LATIN1 -t UTF-8`, say, for Latin-1 text)"
            if guess(bytes(line)) is not None:
                said, hint = not_utf8(path, bytes(line))
                reason += said.removeprefix("not valid UTF-8 text")
        error = BadLineError(
            reason, path=path, line=first_line + i, hint=hint + "; or pass --on-bad-lines skip"
        )
        if bad is None:
            raise error
        if bad.stop:  # the rows before it are read; none after
            bad.stop_at(error)
            dropped[i:] = True
            break
        bad.add(first_line + i, reason, line)
        dropped[i] = True
    return dropped


def _paragraph_chunks(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Whole-line chunks regrouped to end after a blank line (or at the file's end), so
    no paragraph spans two chunks."""
    held: list[bytes] = []  # lines with no blank line among them (chunks hold whole lines)
    for chunk in chunks:
        starts, _, blank = _lines(chunk)
        cut = np.flatnonzero(blank)
        if not len(cut):
            held.append(chunk)
            continue
        end = int(starts[cut[-1] + 1]) if cut[-1] + 1 < len(starts) else len(chunk)
        yield b"".join([*held, chunk[:end]])
        held = [chunk[end:]] if end < len(chunk) else []
    if held:
        yield b"".join(held)


def input_note(files: list[str]) -> str | None:
    """`30 lines read: 28 rows, 2 blank lines skipped` over the text files among `files`
    read in this process, and how the rows of a JSON array among them are named where not
    by line (`trlprep.io.jsonarray.naming_notes`); None when there is nothing to say."""
    from trlprep.io.jsonarray import naming_notes

    notes = naming_notes(files)
    found = [s for s in (stats(f) for f in files) if s is not None]
    if found:
        total = TextStats(
            sum(s.lines for s in found),
            sum(s.blank for s in found),
            sum(s.rows for s in found),
            found[0].sample_by,
            all(s.json_lines for s in found),
            sum(s.bad for s in found),
        )
        notes.insert(0, total.note())
    return "; ".join(notes) or None


def note_for(path, split: str | None = None, input_format: str | None = None) -> str | None:
    """`input_note` for an input as the commands take it (a file, folder, glob, `Inputs`)."""
    from trlprep.io.inputfiles import input_files

    try:
        files = input_files(path, split, input_format) or [str(path)]
    except Exception:  # noqa: BLE001 - a note is a nicety; the read said what was wrong
        return None
    return input_note(files)
