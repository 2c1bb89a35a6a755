"""Object-storage inputs (`s3://`, `gs://`, `file://`, any URI Arrow's or fsspec's file
systems open) read as local inputs are: a folder's data files picked and ordered as a local
folder's (`trlprep.io.inputfiles`: hidden files, notes and model folders left out, sorted
names, one split), and each file copied by its Ray task into the worker's temporary folder
and read there by trlprep's reader. Rows, warnings, rejects records and errors then name
`URI:line` / `URI row N` in the local engine's words. A file is read by one task (not in
ranges of lines or runs of row groups, as a local file is): a big remote input reads fast
as many shards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

from trlprep.errors import InputError, TrlprepError, UsageError


def is_remote(path: str) -> bool:
    """Whether `path` is a URI (object storage, `file://`), not a local path."""
    return "://" in path


def remote_files(uri: str, split: str | None, input_format: str | None) -> list[str] | None:
    """The files a remote folder input reads, in order, each named `URI/relative/name` (as a
    local folder's files are named below the folder as given); None for one file."""
    from pyarrow import fs as pafs

    from trlprep.io.splitnames import pick_split
    from trlprep.ray.remote import filesystem

    fs, root = filesystem(uri)
    root = root.rstrip("/")
    try:
        info = fs.get_file_info(root)
        if info.type == pafs.FileType.NotFound:
            raise InputError(f"{uri}: no such file or folder")
        if info.type != pafs.FileType.Directory:
            return None
        found = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    except OSError as e:
        raise InputError(f"{uri}: cannot read it: {e}") from None
    names = [f.path[len(root) + 1 :] for f in found if f.type == pafs.FileType.File]
    if input_format and input_format.strip().lower() == "disk" or _disk_folder(names):
        raise UsageError(
            f"{uri}: a save_to_disk folder in object storage is not read by --engine ray",
            hint="copy it to a local folder, or write its rows as Parquet shards there",
        )
    picked = _data_names(names, uri)
    if not picked:
        raise InputError(f"{uri}: no data files in this folder", hint="check the path")
    base = uri.rstrip("/")
    return [f"{base}/{name}" for name in pick_split(picked, split, uri)]


def _disk_folder(names: list[str]) -> bool:
    return "state.json" in names or "dataset_dict.json" in names


def _data_names(names: list[str], uri: str) -> list[str]:
    """The data files among a folder's relative `names`, as `inputfiles._walk` picks a local
    folder's: hidden files and folders, dataset metadata, files of no data format, notes
    (README.txt beside data) and model or tokenizer folders left out; sorted."""
    from trlprep.io.inputfiles import _MODEL_FILES, _NOTES, _SKIP
    from trlprep.io.sources import split_suffix

    folders: dict[str, set[str]] = {}
    for name in names:
        folder, _, file = name.rpartition("/")
        folders.setdefault(folder, set()).add(file)

    def model(folder: str) -> bool:
        held = folders.get(folder, set())
        configs = {"config.json", "tokenizer_config.json"} & held
        return bool(configs) and any(m in held for m in _MODEL_FILES)

    if model(""):
        raise UsageError(
            f"{uri}: a model or tokenizer folder, not a dataset",
            hint="a model goes where a command takes one; the data is another path",
        )
    found = []
    for name in names:
        parts = name.split("/")
        if any(p.startswith(".") for p in parts) or parts[-1] in _SKIP:
            continue
        if any(model("/".join(parts[:i])) for i in range(1, len(parts))):
            continue
        fmt = split_suffix(parts[-1])[0]
        if fmt and not (fmt == "text" and _NOTES.match(parts[-1])):
            found.append(name)
    if any(split_suffix(f)[0] != "text" for f in found):  # notes.txt beside the data
        found = [f for f in found if split_suffix(f)[0] != "text"]
    return sorted(found)


def remote_format(paths: list[str], input_format: str | None) -> str:
    """The local engine's format name of remote files (from `--input-format` or the names);
    a `save_to_disk` folder or Hub id is a UsageError."""
    from trlprep.io.inputfiles import check_formats
    from trlprep.io.readers import _ALIASES, FORMATS

    fmt = check_formats(paths, input_format).strip().lower()
    fmt = _ALIASES.get(fmt, fmt)
    if fmt not in FORMATS or fmt in ("disk", "hub"):
        files = [f for f in FORMATS if f not in ("disk", "hub")]
        raise UsageError(
            f"{paths[0]}: --engine ray reads object-storage files of the formats "
            f"{', '.join(files)}, not {fmt}",
            hint="pass --input-format " + "|".join(files),
        )
    return fmt


@contextlib.contextmanager
def local_copy(uri: str) -> Iterator[str]:
    """`uri` copied into a temporary folder (its file name kept), removed on exit; a
    TrlprepError naming the copy names `uri` (its message and hint too)."""
    from trlprep.ray.remote import filesystem

    folder = tempfile.mkdtemp(prefix="trlprep-remote-")
    copy = os.path.join(folder, uri.rstrip("/").rsplit("/", 1)[-1] or "data")
    try:
        fs, path = filesystem(uri)
        try:
            with fs.open_input_stream(path, compression=None) as src, open(copy, "wb") as dst:
                shutil.copyfileobj(src, dst, 16 << 20)
        except FileNotFoundError:
            raise InputError(f"{uri}: no such file") from None
        except OSError as e:
            raise InputError(f"{uri}: cannot read it: {e}") from None
        try:
            yield copy
        except TrlprepError as e:
            renamed(e, copy, uri)
            raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def renamed(e: Any, copy: str, uri: str) -> None:
    """`e` said of `uri` where it names `copy`."""
    if e.path == copy:
        e.path = uri
    for attr in ("message", "hint"):
        text = getattr(e, attr, None)
        if isinstance(text, str) and copy in text:
            setattr(e, attr, text.replace(copy, uri))
    if e.args and isinstance(e.args[0], str):
        e.args = (e.args[0].replace(copy, uri), *e.args[1:])


__all__ = ["is_remote", "local_copy", "remote_files", "remote_format"]
