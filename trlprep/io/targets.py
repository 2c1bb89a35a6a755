"""What an output path is before anything is written there: a name, a link, or a stream.

Outputs are normally written beside their name and renamed into place. That is wrong for
three kinds of path, which this module recognises:

- a symbolic link: the file or folder it points to is the output (its temporary sits beside
  that target and is renamed over it), so the link itself stays a link;
- a character or block device, a FIFO, or an open descriptor (`/dev/stdout`,
  `/dev/fd/N`, `/proc/self/fd/N`): a *stream*, opened and written through as it is; only
  a single JSON Lines file or a report can be written that way, never renamed over;
- an empty name, `.`, `..`, `/` or `-` (standard output is `/dev/stdout`): nothing to name
  an output, refused.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
from pathlib import Path
from typing import BinaryIO

from trlprep.errors import UsageError

_FD_LINK = re.compile(r"/(?:proc/[^/]+|dev)/fd/\d+")
STREAM_FORMATS = ("jsonl", "text")  # what can be written through a stream
_WHAT = {
    "parquet": "a Parquet file (it needs a seekable file)",
    "arrow": "an Arrow file (it needs a seekable file)",
    "disk": "a save_to_disk folder",
    "shards": "a shard folder",
}


def check_name(path: str | os.PathLike) -> None:
    """Refuse a path that names no file or folder of its own (``''``, ``.``, ``..``, ``/``,
    ``-``)."""
    text = os.fspath(path)
    if not text.strip():
        raise UsageError(
            "the output path is empty", hint="give the output a file or folder name (out.jsonl)"
        )
    if text.strip() == "-":  # not standard output: it would be written as a file named `-`
        raise UsageError(
            "-: names no output (trlprep does not take `-` for standard output)",
            hint="standard output is /dev/stdout (for a report, or JSON Lines with "
            "--output-format jsonl), or give the output a file name",
        )
    if Path(text).name in ("", ".", ".."):
        raise UsageError(
            f"{text}: names an existing folder (the current, parent or root one), not an output",
            hint="give the output a name of its own, e.g. out.parquet (or out/ for shards)",
        )


def stream_kind(path: str | os.PathLike) -> str | None:
    """How `path` is written through, when it is a stream (see the module doc); else None."""
    text = os.fspath(path)
    if _through_fd(text):
        return "an open file descriptor"
    try:
        mode = os.stat(text).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None


def _through_fd(text: str) -> bool:
    """Whether `text` is, or links through, a `/proc/PID/fd/N` or `/dev/fd/N` entry."""
    return _fd_hop(text) is not None


def _fd_hop(text: str) -> str | None:
    """The first `/proc/PID/fd/N` or `/dev/fd/N` entry on `text`'s chain of links, if any."""
    hop = os.path.abspath(text)
    for _ in range(40):  # the kernel's own limit on links followed
        if _FD_LINK.fullmatch(hop):
            return hop
        if not os.path.islink(hop):
            return None
        hop = os.path.normpath(os.path.join(os.path.dirname(hop), os.readlink(hop)))
    return None


def _own_fd(text: str) -> int | None:
    """The descriptor number when `text` is one of this process's (`/dev/stdout` is 1)."""
    hop = _fd_hop(text)
    if hop is None:
        return None
    owner = hop.split("/")[2]
    if hop.startswith("/dev/fd/") or owner in ("self", "thread-self", str(os.getpid())):
        return int(hop.rsplit("/", 1)[1])
    return None


def real_target(path: str | os.PathLike) -> Path:
    """The path a write renames into place: a symbolic link's final target, else `path`."""
    p = Path(path)
    if not p.is_symlink() or stream_kind(p):
        return p
    target = Path(os.path.realpath(p))
    if target.is_symlink():
        raise UsageError(
            f"{path}: the symbolic link never reaches a file (a loop)",
            hint="fix the link or write to another path",
        )
    return target


def check_stream(path: str | os.PathLike, fmt: str, *, overwrite: bool = False) -> str | None:
    """For a stream `path`: refuse what cannot go through it; returns its kind (else None).

    `fmt` is the output's format (`jsonl`, `parquet`, `arrow`, `disk`, `shards`) or `text`
    for a report. A block device (a disk) is written over only with `overwrite`.
    """
    kind = stream_kind(path)
    if kind is None:
        return None
    if kind == "a socket":
        raise UsageError(
            f"{path}: is a socket, which cannot be opened as an output",
            hint="write to a file, or to /dev/stdout and pipe it on",
        )
    if fmt not in STREAM_FORMATS:
        raise UsageError(
            f"{path}: is {kind}; {_WHAT.get(fmt, fmt)} cannot be written through it",
            hint="write to a regular file or folder, or pass --output-format jsonl to stream "
            "JSON Lines through it",
        )
    if kind == "a block device" and not overwrite:
        raise UsageError(
            f"{path}: is a block device; writing to it overwrites what it holds",
            hint="pass --overwrite if that is meant",
        )
    if not os.access(path, os.W_OK):
        raise UsageError(f"{path}: is {kind} you may not write to", hint="write elsewhere (-o)")
    return kind


def open_stream(path: str | os.PathLike) -> BinaryIO:
    """Open a stream `path` for writing, as a binary file.

    One of this process's own descriptors (`/dev/stdout`, `/dev/fd/2`) is written through
    that descriptor (a copy of it), so the bytes land where the process's other output does,
    in order; opening the link anew would start at offset 0 of a redirected file and write
    over what is printed there. Another process's descriptor onto a regular file is appended
    to; anything else is opened for writing as it is.
    """
    text = os.fspath(path)
    fd = _own_fd(text)
    if fd is not None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                if stream is not None and stream.fileno() == fd:
                    stream.flush()
        return os.fdopen(os.dup(fd), "wb")
    mode = "wb"
    if _through_fd(text):
        with contextlib.suppress(OSError):
            if stat.S_ISREG(os.stat(text).st_mode):
                mode = "ab"
    return open(text, mode)  # noqa: SIM115 (the caller closes it)
