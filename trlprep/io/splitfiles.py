"""Which splits a folder, glob or set of paths holds (`file_splits`), which one is read
when none is named (`default_split`, said with `splitnames.split_note`), and what a folder
or glob input leaves out of its data (`left_out_note`)."""

from __future__ import annotations

import os
from pathlib import Path

from trlprep.errors import InputError, UsageError
from trlprep.io.inputfiles import Inputs, _candidates, _is_disk_folder, _model_files, _walk
from trlprep.io.splitnames import noted_split, split_layout


def left_out_note(
    path: str | os.PathLike,
    input_format: str | None = None,
    split: str | None = None,
    every_split: bool = False,
) -> str | None:
    """What a folder or glob input leaves out of its data (model folders, files of no data
    format, files whose names carry no split beside files that do), said once with the
    number of files read (of `split`, else the default one; `every_split`: of them all, as
    `report` reads them), or None when it reads everything there (or is no such input)."""
    if isinstance(path, Inputs):
        return None
    p = Path(str(path))
    said, count = [], None
    if not input_format and p.is_dir() and not _is_disk_folder(p) and not _model_files(p):
        files, left = _walk(p)
        count = _read_count(path, split, every_split) if files else None
        folders = [x for x in left if x.endswith("/")]
        others = [x for x in left if not x.endswith("/")]
        if folders and files:
            said.append(
                ("the model or tokenizer folder " if len(folders) == 1 else "the model or "
                 "tokenizer folders ") + _few(folders)
            )  # fmt: skip
        if others and files:
            said.append(("a file" if len(others) == 1 else f"{len(others)} files") + " of no "
                        f"data format or notes ({_few(others)})")  # fmt: skip
    if unnamed := _unnamed(path, input_format):
        one = len(unnamed) == 1
        said.append(
            f"{'a file' if one else f'{len(unnamed)} files'} whose name{'' if one else 's'} "
            f"carr{'ies' if one else 'y'} no split beside files that do ({_few(unnamed)}: "
            f"name {'it' if one else 'them'} as a path to read {'it' if one else 'them'})"
        )
    if not said:
        return None
    read = "" if count is None else f" reading {count} data file{'s' if count != 1 else ''};"
    return f"{path}:{read} left out " + " and ".join(said)


def _read_count(path: str | os.PathLike, split: str | None, every_split: bool) -> int | None:
    """How many files of the folder `path` are read (None: its split is for the reader to
    ask for)."""
    from trlprep.io.inputfiles import input_files

    try:
        if every_split and split is None and (names := file_splits(path)):
            return sum(len(input_files(path, name) or ()) for name in names)
        return len(input_files(path, split) or ())
    except (InputError, UsageError):
        return None


def _few(names: list[str], most: int = 3) -> str:
    more = len(names) - most
    return ", ".join(names[:most]) + (f", ... ({more} more)" if more > 0 else "")


def default_split(
    path: str | os.PathLike, split: str | None = None, input_format: str | None = None
) -> tuple[str, list[str]] | None:
    """(the split read, every split) when a local input holds several splits (a
    `DatasetDict.save_to_disk` folder, Hub-style `train`/`test` files) and none is named,
    so `train` is read; None otherwise (a missing split is the readers' error). Files whose
    names carry no split beside them are left out (`left_out_note`)."""
    if split is not None:
        return None
    p = Path(str(path))
    if not isinstance(path, Inputs) and p.is_dir() and (p / "dataset_dict.json").is_file():
        import json

        try:
            names = list(json.loads((p / "dataset_dict.json").read_text())["splits"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return noted_split(names)
    try:
        found = _candidates(path, input_format)
    except InputError:
        return None
    if found is None:
        return None
    names, unnamed = split_layout(found[1])
    if unnamed and isinstance(path, Inputs):
        return None  # paths given one by one, some of no split: read whole
    return noted_split(names)


def _unnamed(path: str | os.PathLike, input_format: str | None) -> list[str]:
    """The files of a folder or glob left out for carrying no split's name beside files that
    carry one (`splitnames.pick_split`), named below the folder."""
    if isinstance(path, Inputs):
        return []
    try:
        found = _candidates(path, input_format)
    except (InputError, UsageError):
        return []
    if found is None:
        return []
    names, unnamed = split_layout(found[1])
    return unnamed if names else []


def file_splits(path: str | os.PathLike, input_format: str | None = None) -> list[str] | None:
    """The splits a folder or glob of files holds, in `datasets`' order, when it holds
    several (None: one dataset)."""
    if isinstance(path, Inputs):
        return None
    try:
        found = _candidates(path, input_format)
    except InputError:
        return None
    if found is None:
        return None
    names = split_layout(found[1])[0]
    return names if len(names) > 1 else None
