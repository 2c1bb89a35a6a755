"""A plain text file read as one document (`--input-format text-document`), refused as
soon as it is sure to hold more text than one `string` value can (2 GiB), before the
rest of it is read: a 20 GB file is an error after about 2 GiB, not after all of it.

The file's size settles it at once where it cannot be too big (an uncompressed file of at
most the limit). Otherwise the bytes read so far give a lower bound of the document's text:
every byte but `\\r` (line ends are read as one `\\n`), leaving out the whitespace before
the document's first text and after the last text read so far (blank lines at either end
are no part of it). Where bad lines (not UTF-8) are skipped, only whole lines of blocks
that are UTF-8 are counted, and a block that is not stops the early check: its lines are
dropped from the text, so its bytes bound nothing; the exact check on the text made then
still holds.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterator

from trlprep.errors import DataError
from trlprep.io import textfaults
from trlprep.io.sources import BOM, check_encoding, guard, open_stream, sniff

_WHITESPACE = b" \t\r\n\f\v"


class _TextBound:
    """A lower bound of a document's text bytes, from its bytes as they are read."""

    def __init__(self, whole_lines: bool) -> None:
        self.whole_lines = whole_lines  # only lines wholly inside one block (bad lines skipped)
        self.text = 0  # counted text bytes, up to the last text seen
        self.pending = 0  # whitespace after the last text seen: text only if more text follows
        self.started = False
        self.on = True
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def add(self, block: bytes) -> None:
        if not self.on:
            return
        if self.whole_lines:
            try:  # every block, so a character cut between two blocks is checked whole
                self.decoder.decode(block)
            except UnicodeDecodeError:
                self.on = False  # its bad lines are not text: no bound from here
                return
            first, last = block.find(b"\n"), block.rfind(b"\n")
            block = block[first + 1 : last + 1] if first >= 0 else b""
        body = block.strip(_WHITESPACE)
        if not body:
            self.pending += len(block) - block.count(b"\r") if self.started else 0
            return
        lead = block.find(body[:1])
        trail = len(block) - lead - len(body)
        kept = block if self.started else block[lead:]
        self.text += self.pending + len(kept) - trail - kept.count(b"\r")
        tail = block[len(block) - trail :] if trail else b""
        self.pending = trail - tail.count(b"\r")
        self.started = True


def document_bytes(path: str, limit: int, skip_bad: bool, chunk_bytes: int) -> bytes:
    """The whole (decompressed) file without a UTF-8 byte-order mark; a DataError naming
    the file, its size and what to do as soon as its text is sure to be over `limit`
    bytes (with more still to read: a file read to its end is checked exactly by the
    caller, on the text made). An uncompressed file over `limit` bytes is first read
    through holding nothing, so refusing it costs no memory."""
    size = os.path.getsize(path) if sniff(path) is None and os.path.isfile(path) else None
    if size is not None and size <= limit:  # its text is at most its bytes
        return b"".join(_blocks(path, chunk_bytes))
    parts: list[bytes] | None = [] if size is None else None
    bound = _TextBound(whole_lines=skip_bad)
    read = 0
    blocks = _blocks(path, chunk_bytes)
    for data in blocks:
        read += len(data)
        if parts is not None:
            parts.append(data)
        bound.add(data)
        if bound.text > limit:
            more = next(blocks, b"")
            if not more:  # read to its end: the exact check on the text says it
                break
            raise _too_big(path, limit, read + len(more), size)
    return b"".join(parts) if parts is not None else b"".join(_blocks(path, chunk_bytes))


def _blocks(path: str, chunk_bytes: int) -> Iterator[bytes]:
    """The file's (decompressed) bytes in blocks, without a UTF-8 byte-order mark."""
    with open_stream(path) as f:
        # the first read is long enough to hold a byte-order mark and the encoding's clues
        data = guard(path, lambda: f.read(max(chunk_bytes, textfaults.HEAD_BYTES)))
        check_encoding(path, data[: textfaults.HEAD_BYTES])  # UTF-16/32: fails here
        if data.startswith(BOM):
            data = data[3:] or guard(path, lambda: f.read(chunk_bytes))  # a mark alone: read on
        while data:
            yield data
            data = guard(path, lambda: f.read(chunk_bytes))


def _too_big(path: str, limit: int, read: int, size: int | None) -> DataError:
    whole = f"a {size:,}-byte file" if size is not None else "a compressed file"
    return DataError(
        f"the document is more text than a text column holds ({limit:,} bytes, Arrow's "
        f"string limit): over {limit:,} bytes of text in the first {read:,} bytes read of "
        f"{whole}; reading stopped there",
        path=path,
        hint="read it by paragraphs or lines (--input-format text-paragraph or text), "
        "or split the file into smaller files",
    )
