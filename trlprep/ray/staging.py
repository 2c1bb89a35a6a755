"""An object-storage output written under a staging prefix beside its shards and moved
into place once every shard is written, so that a failed run (a shard's write failing,
Ctrl-C, SIGTERM) leaves nothing of itself in the output folder.

`OUT/.trlprep-staging-<host>-<pid>-<random>/` holds the shards while they are written; when
all are there each is moved to `OUT/{split}-i-of-n` (a rename on a local or HDFS folder,
copy + delete on object stores, which have no rename), then the prefix is removed. On any
failure the prefix is removed (and `OUT` itself where this run created it; a failure while
moving also removes the shards moved so far).
Object stores have no rename of several objects at once: while the shards are moved (a
copy each, seconds) a reader listing `OUT` can see some of them, and a process killed
outright (SIGKILL) leaves the staging prefix behind (hidden: no trlprep input reads it).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import Any

import pyarrow as pa

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
