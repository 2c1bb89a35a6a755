"""Object storage (`s3://`, `gs://`, `file://`, any URI Arrow's or fsspec's file systems
open) as both engines see it: what a URI is (`is_uri`), the local engine's refusal of one
(`refuse_uri`), its file system (`filesystem`), and a file written all or nothing there
(`Staging`, `put_file`).

An object-storage output is written under a staging prefix beside it and moved into place
once whole, so that a failed run (a write failing, Ctrl-C, SIGTERM) leaves nothing of itself
there. `OUT/.trlprep-staging-<host>-<pid>-<random>/` holds the files while they are written;
when all are there each is moved to its name (a rename on a local or HDFS folder, copy +
delete on object stores, which have no rename), then the prefix is removed. On any failure
the prefix is removed (and `OUT` itself where this run created it; a failure while moving
also removes the files moved so far). Object stores have no rename of several objects at
once: while shards are moved (a copy each, seconds) a reader listing `OUT` can see some of
them, and a process killed outright (SIGKILL) leaves the staging prefix behind (hidden: no
trlprep input reads it).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from typing import Any

import pyarrow as pa

from trlprep.errors import InputError, UsageError
from trlprep.io.tempfiles import _HOST

PREFIX = ".trlprep-staging-"


class Staging:
    """The staging prefix of one output folder `root` (a path in the Arrow file system `fs`)."""

    def __init__(self, fs: Any, root: str) -> None:
        from pyarrow import fs as pafs

        self.fs, self.root = fs, root
        self.existed = fs.get_file_info(root).type != pafs.FileType.NotFound
        self.name = f"{PREFIX}{_HOST}-{os.getpid()}-{secrets.token_hex(3)}"
        self.path = f"{root}/{self.name}"
        self.moved: list[str] = []

    def create(self) -> None:
        """Create the output folder and the prefix (folders: nothing on object stores)."""
        self.fs.create_dir(self.path, recursive=True)

    def publish(self, staged: list[str], names: list[str]) -> None:
        """Move each staged file (a name in the prefix) to its name in the output folder, in
        order, then remove the prefix."""
        for part, name in zip(staged, names, strict=True):
            target = f"{self.root}/{name}"
            move(self.fs, f"{self.path}/{part}", target)
            self.moved.append(target)
        self.fs.delete_dir(self.path)

    def remove(self) -> None:
        """Remove the prefix and whatever it holds, the shards already moved into place and
        the output folder where this run created it (best effort: a failure is not hidden
        by another)."""
        from pyarrow import fs as pafs

        with contextlib.suppress(OSError, pa.ArrowException):
            self.fs.delete_dir(self.path)
        for target in self.moved:
            with contextlib.suppress(OSError, pa.ArrowException):
                self.fs.delete_file(target)
        if self.existed:
            return
        with contextlib.suppress(OSError, pa.ArrowException):
            left = self.fs.get_file_info(pafs.FileSelector(self.root, allow_not_found=True))
            if not left and self.fs.get_file_info(self.root).type == pafs.FileType.Directory:
                self.fs.delete_dir(self.root)


def move(fs: Any, src: str, dest: str) -> None:
    """`src` to `dest` (replacing it): the file system's move (fsspec's `mv` for one opened
    through fsspec), else a copy and a delete."""
    try:
        fs.move(src, dest)
    except pa.ArrowNotImplementedError:
        fs.copy_file(src, dest)
        fs.delete_file(src)


__all__ = ["PREFIX", "Staging", "move"]


def filesystem(uri: str) -> tuple[Any, str]:
    """(an Arrow file system, the path in it) of `uri`; fsspec's where Arrow has none."""
    from pyarrow import fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as e:
        try:
            import fsspec
        except ImportError:
            raise InputError(
                f"{uri}: cannot write there: {e}",
                hint="write to a local folder, or install fsspec and the package of its "
                "file system (s3fs, gcsfs, ...)",
            ) from None
        found, path = fsspec.core.url_to_fs(uri)
        return pafs.PyFileSystem(pafs.FSSpecHandler(found)), path


_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")


def is_uri(path: str | os.PathLike) -> bool:
    """Whether `path` is a URI (`s3://b/k`, `file:///tmp/x`), never a relative local path."""
    return bool(_URI.match(os.fspath(path)))


def refuse_uri(path: str | os.PathLike, what: str = "input", *, local_only: bool = False) -> None:
    """Refuse a URI where only a local path is read or written, saying what to do: the
    local engine's inputs and outputs (`what`: "input", "output", ...) are read and written
    in object storage by `--engine ray`; a file both engines read on this machine
    (`local_only`: `--tools`, `--chat-template`) is copied to a local path first."""
    if not is_uri(path):
        return
    text = os.fspath(path)
    if local_only:
        raise UsageError(
            f"{text}: the {what} is an object-storage URI; it is read from a local path only",
            hint="copy it to a local file first and pass that path",
        )
    raise UsageError(
        f"{text}: the {what} is an object-storage URI, which the local engine does not "
        "read or write (it is no local path)",
        hint="`convert` and `validate` read and write object storage with --engine ray "
        '(pip install "trlprep[ray]"); otherwise copy it to a local path first',
    )


def exists(uri: str) -> bool:
    """Whether the object-storage `uri` names a file or folder."""
    from pyarrow import fs as pafs

    fs, path = filesystem(uri)
    return fs.get_file_info(path.rstrip("/")).type != pafs.FileType.NotFound


def put_file(local: str | os.PathLike, uri: str) -> None:
    """Copy the local file `local` to the object-storage `uri` all or nothing: staged beside
    it and moved to its name once whole (`Staging`); a failure, Ctrl-C or SIGTERM removes
    the staged copy and leaves an existing `uri` as it was."""
    import shutil

    from trlprep.io.tempfiles import cannot_write

    fs, path = filesystem(uri)
    root, _, name = path.rpartition("/")
    stage = Staging(fs, root)
    try:
        stage.create()
        with (
            open(local, "rb") as src,
            fs.open_output_stream(f"{stage.path}/{name}", compression=None) as sink,
        ):
            shutil.copyfileobj(src, sink, 1 << 20)
        stage.publish([name], [name])
    except BaseException as e:
        stage.remove()
        if isinstance(e, OSError):
            raise cannot_write(uri, e) from None
        raise


__all__ = [
    "PREFIX",
    "Staging",
    "exists",
    "filesystem",
    "is_uri",
    "move",
    "put_file",
    "refuse_uri",
]
