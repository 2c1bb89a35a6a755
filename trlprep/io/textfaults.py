"""Faults in text files read whole (CSV, a JSON document) as errors naming the file line.

Arrow's CSV reader and `json.loads` report a bad byte or a broken row without a file line
(or, for JSON, as an I/O error); these build the same kind of error a JSON Lines line gets:
invalid data (exit 1), the file and line, and what to do. A text file in UTF-16 or UTF-32
(every reader looks at its first bytes before reading a row) is one such error for the
whole file, with a command that re-encodes it.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

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
        from trlprep.io.legacytext import not_utf8

        start = data.rfind(b"\n", 0, e.start) + 1
        reason, hint = not_utf8(path, data[start : start + HEAD_BYTES])
        return TextFaultError(reason, path=path, line=line_at(data, e.start), hint=hint)
    return None


def csv_row_error(
    path: str, data: bytes, expected: int, actual: int, text: str, first_line: int = 1
) -> TextFaultError:
    """A CSV row with another number of fields than the header, named by the file line
    its record starts on (`data`: the file's bytes, or a part of it starting a record on
    line `first_line`)."""
    from trlprep.io.csvlines import line_of_record
    from trlprep.io.sources import is_tab_separated

    delimiter = b"\t" if is_tab_separated(path) else b","
    line = line_of_record(data, text.encode("utf-8", "replace"), delimiter)
    line = None if line is None else line + first_line - 1
    shown = text.replace("\r", "").replace("\n", "\\n")
    shown = shown if len(shown) <= 80 else shown[:80] + "..."
    from trlprep.wording import plural

    hint = (
        'quote a value that holds the delimiter or a quote ("a, b"; a quote inside is '
        'doubled: ""); every row needs as many fields as the header'
    )
    if "\t" in text and not is_tab_separated(path):
        hint = "tab-separated? name the file .tsv (or .tsv.gz); else " + hint
    return TextFaultError(
        f"expected {plural(expected, 'field')} (as the header), got {actual}: {shown}",
        path=path,
        line=line,
        hint=hint,
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


# ---------------------------------------------------------------- UTF-16 and UTF-32 text

HEAD_BYTES = 4096  # the first bytes read to tell UTF-16/32 text (a cheap check, no row cost)
_NUL_BYTES = 64  # those whose NUL pattern tells ASCII-led UTF-16/32 text
_BOMS = [  # checked in order: a UTF-32 LE mark starts with the UTF-16 LE one
    (b"\xff\xfe\x00\x00", "UTF-32", "LE"),
    (b"\x00\x00\xfe\xff", "UTF-32", "BE"),
    (b"\xff\xfe", "UTF-16", "LE"),
    (b"\xfe\xff", "UTF-16", "BE"),
]
_ORDER = {"LE": "little-endian", "BE": "big-endian"}
_DECOMPRESS = {"gzip": "gzip -dc", "zstd": "zstd -dc", "bz2": "bzip2 -dc"}


def wide_encoding(head: bytes) -> tuple[str, str, str] | None:
    """(encoding, byte order LE/BE, how it was told: "mark", "nuls" or "decoding") of text that is
    UTF-16 or UTF-32 rather than UTF-8, read off its first bytes; None otherwise.

    Without a byte-order mark, the NUL bytes tell: UTF-8 text (JSON, CSV) holds none, while
    ASCII characters in UTF-16 are a NUL and a byte (in that order big-endian), in UTF-32
    three NULs and a byte. Text led by other characters (a CSV header in Chinese) has NULs
    in no such pattern: it is UTF-16/32 when its bytes are not UTF-8 and decode as such text
    (`_decodes_as`). Other bytes are left to the readers.
    """
    for bom, encoding, order in _BOMS:
        if head.startswith(bom):
            return encoding, order, "mark"
    whole, head = head[:HEAD_BYTES], head[:_NUL_BYTES]
    if b"\x00" not in head or len(head) < 2:
        # ASCII in UTF-16/32 is NUL bytes: text with none (UTF-8, Latin-1, GBK) is not wide
        return None if b"\x00" not in whole else _decodes_as(whole)
    n4 = len(head) // 4 * 4
    if n4:
        zero = [head[i:n4:4].count(0) == n4 // 4 for i in range(4)]
        if zero[1] and zero[2] and zero[3] and not zero[0]:
            return "UTF-32", "LE", "nuls"
        if zero[0] and zero[1] and zero[2] and not zero[3]:
            return "UTF-32", "BE", "nuls"
    n2 = len(head) // 2 * 2
    even, odd = head[0:n2:2].count(0) / (n2 // 2), head[1:n2:2].count(0) / (n2 // 2)
    if odd >= 0.5 and even < 0.1:
        return "UTF-16", "LE", "nuls"
    if even >= 0.5 and odd < 0.1:
        return "UTF-16", "BE", "nuls"
    return _decodes_as(whole)


# what CSV and JSON text holds (delimiters, line ends, brackets, quotes): ASCII, so in
# UTF-16/32 text each is a character with NUL bytes
_STRUCTURE = frozenset(',;\t\n\r{}[]":|')
_CODECS = [("utf-32-le", "UTF-32", "LE"), ("utf-32-be", "UTF-32", "BE"),
           ("utf-16-le", "UTF-16", "LE"), ("utf-16-be", "UTF-16", "BE")]  # fmt: skip


def _decodes_as(head: bytes) -> tuple[str, str, str] | None:
    """(encoding, order, "decoding") of the UTF-16/32 reading of `head` that is plausible text
    (every character assigned, none private or a control but tab and line ends, some of
    CSV's or JSON's ASCII punctuation), when `head` is not UTF-8; None otherwise. Read the
    other way round, UTF-16 text decodes as private-use or unassigned characters, and its
    ASCII punctuation as other scripts' letters."""
    try:
        head.decode("utf-8")
        return None
    except UnicodeDecodeError as e:
        if e.reason == "unexpected end of data":  # a character cut by the head's end
            return None
    best, most = None, 0
    for codec, encoding, order in _CODECS:
        width = 4 if encoding == "UTF-32" else 2
        data = head[: len(head) // width * width]
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as e:  # a surrogate pair cut by the head's end is fine
            if e.start < len(data) - 2:
                continue
            text = data[: e.start].decode(codec)
        if not text or not _plausible(text):
            continue
        punctuation = sum(text.count(c) for c in _STRUCTURE)
        if punctuation > most:
            best, most = (encoding, order, "decoding"), punctuation
    return best


def _plausible(text: str) -> bool:
    """Whether `text` reads as text: no unassigned, private-use or surrogate code point,
    no control character but tab and line ends."""
    import unicodedata

    for c in text:
        cat = unicodedata.category(c)
        if cat in ("Cn", "Co", "Cs") or (cat == "Cc" and c not in "\t\n\r"):
            return False
    return True


def encoding_error(path: str, head: bytes, compression: str | None) -> TextFaultError | None:
    """The error for a text file (`head`: its first decompressed bytes) in UTF-16 or UTF-32:
    what it is, how that was told, and a command that re-encodes it as UTF-8. None when
    `head` looks like UTF-8 (or anything else the readers judge)."""
    found = wide_encoding(head)
    if found is None:
        return None
    encoding, order, told = found
    how = {
        "mark": "as its byte-order mark says",
        "nuls": "told by the NUL bytes of its first characters",
        "decoding": "told by decoding its first bytes",
    }[told]
    source = encoding if told == "mark" else f"{encoding}{order}"  # iconv reads the mark itself
    command = file_command(path, f"iconv -f {source} -t UTF-8", ".utf8{}", compression)
    return TextFaultError(
        f"the file is {encoding} text ({_ORDER[order]}, {how}), not UTF-8; "
        "trlprep reads UTF-8 text only",
        path=path,
        hint=f"re-encode it as UTF-8: `{command}`",
    )


def file_command(path: str, tool: str, renamed: str, compression: str | None = None) -> str:
    """A shell command running `tool` over the file `path` (named as given, so it runs where
    trlprep ran; decompressed first when `compression` says so, as it is sniffed when not
    given) into a file beside it: the name without compression suffix, its stem followed by
    `renamed` (`{}` there stands for its suffix: `.utf8{}` -> `data.utf8.csv`). A file read
    from a folder (or a glob) gets its output beside that folder instead: inside it, the
    next run over the folder would read the output as one more file of the data."""
    from trlprep.io.inputfiles import input_root
    from trlprep.io.sources import COMPRESSION, sniff  # (sources reads this module at import)

    given = Path(path)
    plain = given.with_suffix("") if given.suffix.lower() in COMPRESSION else given
    out_path = plain.with_name(plain.stem + renamed.format(plain.suffix))
    root = input_root(path)
    if root is not None:
        out_path = _beside(Path(root), out_path.name)
    out = shlex.quote(str(out_path))
    name = shlex.quote(str(path))
    compression = compression if compression is not None else sniff(path)
    if compression in _DECOMPRESS:
        return f"{_DECOMPRESS[compression]} {name} | {tool} > {out}"
    return f"{tool} {name} > {out}"


def _beside(folder: Path, name: str) -> Path:
    """`name` in the folder holding `folder` (`..` for the current one), as the user named
    `folder`: relative stays relative."""
    if str(folder) in (".", ""):
        return Path("..", name)
    parent = folder.parent
    return Path(name) if str(parent) == "." and not folder.is_absolute() else parent / name


def wrap_messages_hint(path: str | None, array: bool) -> str:
    """How to make each bare conversation (an array of messages, no column name) one
    `{"messages": [...]}` object: a jq command over `path` (`array`: a JSON array of them)."""
    jq = "jq -c '.[] | {messages: .}'" if array else "jq -c '{messages: .}'"
    command = f"{jq} IN > OUT.jsonl" if path is None else file_command(path, jq, ".messages.jsonl")
    return f'{{"messages": [...]}} (e.g. {command})'


def compact_json_command(path: str) -> str:
    """A jq command writing each JSON value of the file `path` (objects written over several
    lines, one after another) on a line of its own: JSON Lines."""
    return file_command(path, "jq -c .", ".lines{}")
