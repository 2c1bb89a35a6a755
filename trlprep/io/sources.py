"""Where rows come from: the `Source` and `Batch` containers and guarded file access.

Every reader opens files through `open_stream` / `guard`, so a missing, unreadable or corrupt
file (compressed or not) becomes one `InputError` naming it, never a traceback.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

from trlprep.errors import InputError, UsageError
from trlprep.io import textfaults

T = TypeVar("T")

COMPRESSION = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}
SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",  # tab-separated (the delimiter told by the name)
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
    ".txt": "text",
    ".text": "text",
}
ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)
BOM = b"\xef\xbb\xbf"


@dataclass
class Batch:
    """A slice of a dataset: its rows, where they start, and their file line numbers."""

    data: pa.RecordBatch | pa.Table
    offset: int  # index of the first row in the whole dataset
    lines: np.ndarray | None = None  # 1-based line number per row (line-oriented files)
    path: str | None = None  # the file these rows come from (inputs of several files)
    byte_end: int | None = None  # bytes of its file read up to its last row (JSONL: progress)


@dataclass
class Source:
    """A dataset read whole: the table, where it came from, and row -> line numbers."""

    table: pa.Table
    path: str | None = None
    fmt: str = "memory"
    lines: np.ndarray | None = None
    shards: Any = None  # trlprep.io.shards.Shards, for an input of several files

    def line_of(self, row: int) -> int | None:
        return int(self.lines[row]) if self.lines is not None else None


def split_suffix(path: str | os.PathLike) -> tuple[str, str | None]:
    """(format, compression) guessed from a file name like `data.jsonl.gz` ("" if unknown)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    compression = None
    if suffixes and suffixes[-1] in COMPRESSION:
        compression = COMPRESSION[suffixes.pop()]
    fmt = SUFFIXES.get(suffixes[-1]) if suffixes else None
    return fmt or "", compression


def is_tab_separated(path: str | os.PathLike) -> bool:
    """A `.tsv` name (compressed or not): CSV read with tabs between the fields."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in COMPRESSION:
        suffixes.pop()
    return bool(suffixes) and suffixes[-1] == ".tsv"


def guard(path: str, fn: Callable[[], T]) -> T:
    """Run a reader, turning I/O and format errors into one InputError naming the file."""
    try:
        return fn()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file") from None
    except (*ARROW_ERRORS, OSError, UnicodeDecodeError) as e:
        message = first_line(e)
        hint = None
        if any(w in message.lower() for w in ("compress", "inflate")):
            hint = (
                "the compressed file is cut short or damaged (an interrupted download or "
                "copy?): fetch it again; `gzip -t FILE` tests a .gz file"
            )
        elif _is_empty_file(path):
            hint = "the file is empty (0 bytes): an interrupted write or download? make it again"
        raise InputError(f"cannot read: {message}", path=path, hint=hint) from None


def _is_empty_file(path: str) -> bool:
    try:
        return os.path.isfile(path) and os.path.getsize(path) == 0
    except (OSError, TypeError, ValueError):
        return False


def check_not_stream(path: str) -> None:
    """A named pipe, device or socket as input (`<(zcat ...)`, /dev/stdin from a pipe) is an
    InputError at once: it can be read only once, and trlprep reads a file more than once
    (a pipe would block or fail mid-read)."""
    if _is_stream(path):
        raise InputError(
            f"{path}: a pipe or device cannot be read: trlprep reads its input more than once",
            hint="save it to a file first (... > data.jsonl) and pass that file",
        )


def _is_stream(path: str) -> bool:
    import stat

    try:
        mode = os.stat(path).st_mode
    except (OSError, TypeError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


HUB_TIMEOUT = 5.0  # seconds the one reachability probe of the Hub may take
_HUB_PROBES: dict[str, str | None] = {}  # endpoint -> why it cannot be reached (None: it can)
_TRUE = ("1", "true", "yes", "on")


def hub_offline() -> bool:
    """Whether the user set the Hub clients offline (`HF_HUB_OFFLINE`, `HF_DATASETS_OFFLINE`)."""
    return any(
        os.environ.get(v, "").strip().lower() in _TRUE
        for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def check_hub(name: str, what: str = "dataset") -> None:
    """Fail in seconds, naming `name`, when the Hugging Face Hub cannot be reached.

    One probe per endpoint and process (a HEAD request, proxies honoured, no retries), so a
    missing network is one clear error instead of the Hub clients' rounds of retries. Offline
    mode (`HF_HUB_OFFLINE=1`) is not probed: the clients then read their local cache only.
    """
    if hub_offline():
        return
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    if endpoint not in _HUB_PROBES:
        _HUB_PROBES[endpoint] = _probe(endpoint)
    problem = _HUB_PROBES[endpoint]
    if problem is not None:
        raise InputError(
            f"{name}: cannot load the {what}: the Hugging Face Hub ({endpoint}) cannot be "
            f"reached: {problem}",
            hint="check the network (or HF_ENDPOINT); to use a copy in the local cache, set "
            "HF_HUB_OFFLINE=1; or pass a local file or folder",
        )


def _probe(endpoint: str) -> str | None:
    """Why `endpoint` cannot be reached within HUB_TIMEOUT seconds (None when it answers)."""
    import urllib.error
    import urllib.request

    outcome: list[str | None] = []

    def head() -> None:
        try:
            req = urllib.request.Request(endpoint, method="HEAD")
            urllib.request.urlopen(req, timeout=HUB_TIMEOUT).close()
            outcome.append(None)
        except urllib.error.HTTPError:  # an answer, even an error status: reachable
            outcome.append(None)
        except Exception as e:  # refused, unresolvable, timed out, a broken answer
            reason = getattr(e, "reason", e)
            outcome.append(getattr(reason, "strerror", None) or str(reason) or type(e).__name__)

    worker = threading.Thread(target=head, daemon=True)
    worker.start()
    worker.join(HUB_TIMEOUT + 1)
    return outcome[0] if outcome else f"no answer within {HUB_TIMEOUT:g} s"


def first_line(e: BaseException, limit: int = 300) -> str:
    """The first line of an error's message, cut to `limit` characters."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text if len(text) <= limit else text[:limit] + "..."


_MAGIC = [  # (leading bytes, what the file is)
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PAR1", "parquet"),
    (b"ARROW1", "arrow"),
    (b"\xff\xff\xff\xff", "arrow"),  # an Arrow IPC stream's first message
]
_BZ2 = re.compile(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)")  # a block, or an empty stream
_NAMED = {"gzip": ".gz", "zstd": ".zst", "bz2": ".bz2", "xz": ".xz"}
_KINDS = {"parquet": "a Parquet file", "arrow": "an Arrow IPC file"}
_TEXT = {"jsonl": "JSON Lines", "json": "JSON", "csv": "CSV", "text": "plain"}


def sniff(path: str | os.PathLike) -> str | None:
    """What a file's first bytes say it is: gzip, zstd, bz2 or xz (compressed), parquet,
    arrow, or None (text, or anything else; also when it cannot be opened)."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return "bz2" if _BZ2.match(head) else None


def check_not_binary(path: str, fmt: str) -> None:
    """A Parquet or Arrow file read as text (`fmt` jsonl/json/csv) is a UsageError saying what
    it is and how to name it, instead of the text reader's 'not valid UTF-8'."""
    found = sniff(path)
    if found in _KINDS:
        raise UsageError(
            f"{path}: this is {_KINDS[found]}, not {_TEXT.get(fmt, fmt)} text",
            hint=f"name it .{found} or pass --input-format {found}",
        )


def open_stream(path: str) -> pa.NativeFile:
    """A readable stream over `path`, decompressing gzip/zstd/bz2 on the fly.

    The file's first bytes decide its compression, whatever its name says (a gzip file
    named .jsonl is read as gzip); a name that says compressed for bytes that are not, and
    xz (which Arrow cannot read), are InputErrors saying what to do.
    """
    _, named = split_suffix(path)
    found = sniff(path)
    if found == "xz":
        raise InputError(
            "cannot read: the file is xz-compressed, which trlprep does not read",
            path=path,
            hint="decompress it (`xz -d`), or recompress it as .gz or .zst",
        )
    compression = found if found in _NAMED else None
    if named and compression is None and os.path.isfile(path):
        raise InputError(
            f"cannot read: the name says {named}-compressed but the file is not",
            path=path,
            hint=f"if it holds plain text, remove {_NAMED[named]} from its name",
        )
    return guard(path, lambda: pa.input_stream(path, compression=compression))


def read_bytes(path: str) -> bytes:
    """The whole (decompressed) content of `path`, without a UTF-8 byte-order mark; a
    UTF-16 or UTF-32 file is a TextFaultError (see `check_encoding`)."""
    with open_stream(path) as f:
        data = guard(path, f.read)
    check_encoding(path, data)
    return data[3:] if data.startswith(BOM) else data


def check_encoding(path: str, head: bytes) -> None:
    """Raise a TextFaultError (invalid data, exit 1) when `head`, the first decompressed
    bytes of the text file `path`, says it is UTF-16 or UTF-32 rather than UTF-8."""
    if textfaults.wide_encoding(head) is None:
        return
    error = textfaults.encoding_error(path, head, sniff(path))  # sniffed only then
    if error is not None:
        raise error


def check_text_file(path: str) -> None:
    """`check_encoding` on the first bytes of `path` (decompressed), read apart from the
    reader (as before Arrow's CSV reader, which takes the stream itself)."""
    with open_stream(path) as f:
        head = guard(path, lambda: f.read(textfaults.HEAD_BYTES))
    check_encoding(path, head)
