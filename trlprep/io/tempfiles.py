"""Temporary files and folders beside an output, under names a later run can recognise.

Outputs are written to a hidden sibling and renamed into place. Those siblings are named
`.<output name>.trlprep-<host>-<pid>-<random>.tmp` (`.old` for an output being replaced;
`.trlprep-<host>-<pid>-<random>.tmp` for a scratch folder), are created with the
permissions a plain `open()`/`mkdir()` gives (0644/0755 under umask 022, not `mkstemp`'s
0600), and are removed on any error, Ctrl-C or SIGTERM. A process killed outright
(SIGKILL, power loss) leaves them behind: `remove_stale` deletes the ones whose process is
gone, and nothing else.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from trlprep.errors import InputError

_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
_NAME = re.compile(
    r"^\.(?P<target>.*?)\.?trlprep-(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-[0-9a-f]{6}\.(?P<kind>tmp|old)$"
)
MAX_TARGET = 120  # characters of the output's name kept in a temporary name
OTHER_HOST_AGE = 7 * 86400  # seconds before another machine's leftovers count as stale
GRACE = 2.0  # seconds: a just-created entry is never touched


def cannot_write(path: str | os.PathLike, e: OSError) -> InputError:
    """One message for an output that cannot be written: the path, the reason, what to do."""
    reason = e.strerror or str(e) or type(e).__name__
    text = os.fspath(path)
    folder = text.rstrip("/").rsplit("/", 1)[0] if "://" in text else Path(path).absolute().parent
    if isinstance(e, PermissionError) or e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = f"{folder} is not writable here: write to a folder you can write to"
    elif e.errno == errno.EPIPE:
        hint = "the program reading the pipe stopped before the end (`| head`?): output cut short"
    elif e.errno == errno.ENOSPC or e.errno == errno.EDQUOT:
        hint = f"free some space on the disk holding {folder}, or write elsewhere"
    else:
        hint = f"{folder} does not take new files: write to a regular folder"
    return InputError(f"{path}: cannot write the output: {reason}", hint=hint)


def temp_name(target: Path, kind: str = "tmp") -> Path:
    """A fresh hidden sibling of `target` whose name says trlprep, this host and this process."""
    tag = f"trlprep-{_HOST}-{os.getpid()}-{secrets.token_hex(3)}.{kind}"
    return target.with_name(f".{target.name[:MAX_TARGET]}.{tag}")


def create_file(target: Path) -> Path:
    """Create an empty temporary sibling of `target` (mode 0666 less the umask)."""
    while True:
        tmp = temp_name(target)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp


def create_dir(target: Path) -> Path:
    """Create an empty temporary sibling folder of `target` (mode 0777 less the umask)."""
    while True:
        tmp = temp_name(target)
        try:
            os.mkdir(tmp, 0o777)
        except FileExistsError:
            continue
        return tmp


def staged_dir(
    target: Path, kind: str, named: str | os.PathLike | None = None
) -> tuple[Path, Path]:
    """(the real target, an empty temporary sibling folder of it) for an output folder of
    `kind` (`"disk"`, `"shards"`: refused on a stream); an OS error is one InputError naming
    `named` (default: `target`)."""
    from trlprep.io.targets import check_stream, real_target

    check_stream(target, kind)
    target = real_target(target)
    try:
        return target, create_dir(target)
    except OSError as e:
        raise cannot_write(target if named is None else named, e) from None


@contextlib.contextmanager
def scratch_dir(folder: str | os.PathLike) -> Iterator[str]:
    """A temporary working folder inside `folder`, removed on exit (errors and signals too)."""
    folder = Path(folder)
    while True:
        tmp = folder / f".trlprep-{_HOST}-{os.getpid()}-{secrets.token_hex(3)}.tmp"
        try:
            os.mkdir(tmp, 0o700)
            break
        except FileExistsError:
            continue
        except OSError as e:
            raise cannot_write(tmp, e) from None
    try:
        yield str(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove(path: Path) -> None:
    """Delete a temporary file or folder (never following a link); missing is fine."""
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def is_stale(name: str, mtime: float, now: float | None = None) -> bool:
    """Whether `name` is a trlprep temporary whose process is gone (see the module doc)."""
    m = _NAME.match(name)
    if m is None:
        return False
    age = (time.time() if now is None else now) - mtime
    if age < GRACE:
        return False
    if m["host"] == _HOST:
        return not _alive(int(m["pid"]))
    return age > OTHER_HOST_AGE


def remove_stale(folder: str | os.PathLike) -> list[str]:
    """Delete the stale trlprep temporaries directly inside `folder`; returns their names.

    Only names trlprep makes are considered, only those of a process that no longer runs
    (or, from another machine, untouched for a week), and a `.old` copy of a replaced
    output only when the output itself is in place.
    """
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if entry.is_symlink():
            continue
        try:
            mtime = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if not is_stale(entry.name, mtime, now):
            continue
        m = _NAME.match(entry.name)
        if m["kind"] == "old":
            target = m["target"]
            if len(target) >= MAX_TARGET or not os.path.lexists(os.path.join(folder, target)):
                continue  # the only copy of an output whose replacement never landed
        remove(Path(entry.path))
        removed.append(entry.name)
    return removed


def replace_into(tmp: Path, path: Path) -> None:
    """Move `tmp` to `path`; an existing `path` is removed only once `tmp` is in place."""
    if not path.exists():
        os.replace(tmp, path)
        return
    old = temp_name(path, "old")
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old, path)
        raise
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink(missing_ok=True)


@contextlib.contextmanager
def writing(path: Path):
    """Turn an OS error while writing `path` into one InputError naming it."""
    try:
        yield
    except OSError as e:
        raise cannot_write(path, e) from None
