"""Where a dataset of several files comes from: a folder of data files, a glob, or several
paths, resolved to the ordered list of files to read.

`input_files` keeps sorted names within a folder or glob and the given order of given paths,
and only the files of one split of a Hugging Face repository layout (`data/train-*.parquet`,
`train/*.jsonl`; `--split`; which split a name carries: `splitnames`; the splits an input
holds and the notes saying what it reads: `splitfiles`). `check_formats`
refuses files of different formats. `Inputs` carries several paths where one path goes;
`FileLine` / `file_bad_lines` keep each file's skipped bad lines apart.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Sequence
from pathlib import Path

from trlprep.errors import InputError, UsageError
from trlprep.io.sources import split_suffix
from trlprep.io.splitnames import pick_split

GLOB_CHARS = re.compile(r"[*?\[]")
# a folder's notes (README.txt, LICENSE.txt): the whole name before the suffix, any case
_NOTES = re.compile(r"(readme|licen[cs]e|notice|copying|changelog|authors)\.", re.IGNORECASE)
_SKIP = {"state.json", "dataset_info.json", "dataset_infos.json", "dataset_dict.json"}
# file -> the folder (or a glob's fixed folder) it was last read from, so that a hint's
# command writes its output outside it, where the next run over that input does not read it
# (kept for the process: a file's shards are read again by file, below the folder's read)
_ROOTS: dict[str, str] = {}


class Inputs(str):
    """Several input paths given as one value (its text lists them, for messages).

    Every function that takes a path takes an `Inputs`: `trlprep.detect(Inputs(["a.jsonl",
    "b.jsonl"]))` reads both files as one dataset. Each path may itself be a folder or glob.
    """

    paths: tuple[str, ...]

    def __new__(cls, paths: Sequence[str | os.PathLike]) -> Inputs:
        paths = tuple(str(p) for p in paths)
        if not paths:
            raise UsageError("no input paths given")
        self = super().__new__(cls, " ".join(paths))
        self.paths = paths
        return self


def given_paths(data: object) -> object:
    """`data` as the Python API reads it: a list or tuple of paths (each a file, folder or
    glob) as one dataset (an `Inputs`; one path as itself), anything else as it is."""
    if (
        isinstance(data, (list, tuple))
        and data
        and all(isinstance(p, (str, os.PathLike)) for p in data)
    ):
        for p in data:  # a list of texts is no list of paths: said so, not "no such file"
            if isinstance(p, str) and (p != p.strip() or any(c in p for c in " \n\t")):
                if not os.path.exists(p):
                    raise UsageError(
                        f"a list of strings is read as paths, and {p[:60]!r} is no file",
                        hint="pass rows as dicts ([{'text': ...}, ...]) or a dict of columns "
                        "({'text': [...]}), or paths that exist",
                    )
        return inputs(data)
    return data


def inputs(paths: Sequence[str | os.PathLike]) -> str:
    """One path as itself, several as an `Inputs` (for commands taking paths)."""
    paths = list(paths)
    return str(paths[0]) if len(paths) == 1 else Inputs(paths)


class FileLine(int):
    """A line number that names its file, `data/1.jsonl:7`: the key of a bad line skipped
    in one of several files (equal only to the same line of the same file)."""

    file: str

    def __new__(cls, line: int, file: str) -> FileLine:
        self = super().__new__(cls, line)
        self.file = file
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, int):
            return NotImplemented
        return int(self) == int(other) and getattr(other, "file", None) == self.file

    def __hash__(self) -> int:
        return hash((int(self), self.file))

    def __str__(self) -> str:
        return f"{self.file}:{int(self)}"

    __repr__ = __str__


class FileBadLines:
    """The bad lines of one file, kept in the run's `BadLines` under `FileLine` keys."""

    def __init__(self, shared, file: str) -> None:
        self.shared, self.file = shared, file

    def add(self, line: int, reason: str, text: bytes) -> None:
        self.shared.add(FileLine(line, self.file), reason, text)

    @property
    def stop(self) -> bool:
        return self.shared.stop

    @property
    def stopped(self):
        return self.shared.stopped

    def stop_at(self, error) -> None:
        self.shared.stop_at(error)


def file_bad_lines(bad_lines, file: str, files: list[str] | None = None):
    """Where one file of several records its bad lines (None: they are errors); `files`:
    the input's files in order, so the lines are listed by file in that order, then line."""
    if bad_lines is None:
        return None
    if files is not None and hasattr(bad_lines, "know_files"):
        bad_lines.know_files(files)
    return FileBadLines(bad_lines, file)


def past_stop(bad_lines, files: list[str], file: str) -> bool:
    """Whether reading stopped (`BadLines(stop=True)`) at a bad line of a file before `file`
    in `files`: the files after it are not read."""
    stopped = getattr(bad_lines, "stopped", None) if bad_lines is not None else None
    if stopped is None or stopped.path not in files:
        return False
    return files.index(stopped.path) < files.index(file)


def is_glob(path: str) -> bool:
    return bool(GLOB_CHARS.search(path)) and not Path(path).exists()


def _is_disk_folder(p: Path) -> bool:
    return (p / "state.json").is_file() or (p / "dataset_dict.json").is_file()


_MODEL_FILES = ("tokenizer_config.json", "tokenizer.json", "model.safetensors", "pytorch_model.bin")


def _model_files(folder: Path) -> list[str]:
    """The model or tokenizer files of `folder` when it is such a folder (else [])."""
    if not (folder / "config.json").is_file() and not (folder / "tokenizer_config.json").is_file():
        return []
    return [n for n in _MODEL_FILES if (folder / n).is_file()]


def _refuse_model_folder(folder: Path) -> None:
    """A model or tokenizer folder given as data (its JSON files would read as a dataset of
    configs) is a UsageError saying where such a folder goes."""
    found = _model_files(folder)
    if found:
        raise UsageError(
            f"{folder}: a model or tokenizer folder ({', '.join(found[:2])}), not a dataset",
            hint="a model goes where a command takes one (`trlprep convert --tokenizer`, "
            "`trlprep report --chat-template`, `trlprep train --model`); the data is another "
            "path",
        )


def _walk(folder: Path) -> tuple[list[str], list[str]]:
    """The data files under `folder` (any depth, sorted) and what was left out of them
    (model or tokenizer folders as `DIR/`, files of no data format), as relative paths.

    Hidden files and folders are left out unsaid; `.txt` files are data only in a folder of
    text files (beside other data they are notes), and never a README, LICENSE, NOTICE or
    CHANGELOG."""
    found, left = [], []
    for root, dirs, files in os.walk(folder):
        kept = []
        for d in sorted(d for d in dirs if not d.startswith(".")):
            if _model_files(Path(root, d)):  # its config.json is no data
                left.append(os.path.relpath(os.path.join(root, d), folder) + "/")
            else:
                kept.append(d)
        dirs[:] = kept
        for name in files:
            if name.startswith(".") or name in _SKIP:
                continue
            fmt = split_suffix(name)[0]
            path = os.path.join(root, name)
            if fmt and not (fmt == "text" and _NOTES.match(name)):
                found.append(path)
            else:
                left.append(os.path.relpath(path, folder))
    if any(split_suffix(f)[0] != "text" for f in found):  # notes.txt beside the data
        left += [os.path.relpath(f, folder) for f in found if split_suffix(f)[0] == "text"]
        found = [f for f in found if split_suffix(f)[0] != "text"]
    return sorted(found), sorted(left)


def _folder_files(folder: Path) -> list[str]:
    """The data files under `folder` (`_walk`)."""
    return _walk(folder)[0]


def input_files(
    path: str | os.PathLike, split: str | None = None, input_format: str | None = None
) -> list[str] | None:
    """The files a multi-file input reads, in order; None for one file, a `save_to_disk`
    folder or a Hub id (read as before)."""
    found = _candidates(path, input_format)
    if found is None:
        return None
    files, names = found
    return pick_split(files, split, str(path), names, keep_unnamed=isinstance(path, Inputs))


def candidate_files(path: str | os.PathLike, input_format: str | None = None) -> list[str] | None:
    """Every data file of a multi-file input, whatever its split (None: not one)."""
    found = _candidates(path, input_format)
    return None if found is None else found[0]


def _candidates(
    path: str | os.PathLike, input_format: str | None
) -> tuple[list[str], list[str]] | None:
    """Every data file of a multi-file input, before a split is picked, and the names their
    splits are read from: below the folder or a glob's fixed folder, a given file's own
    name (a folder above the input names no split). None: not a multi-file input."""
    if isinstance(path, Inputs):
        files: list[str] = []
        names: list[str] = []
        for p in path.paths:
            found = input_files(p, None, input_format)
            files += found or [p]
            names += _named_below(found, p) if found else [os.path.basename(p)]
        return files, names
    path = str(path)
    p = Path(path)
    if p.is_dir():
        if _is_disk_folder(p) or (input_format or "").lower() == "disk":
            return None
        _refuse_model_folder(p)
        files = _folder_files(p)
        _ROOTS.update(dict.fromkeys(files, path))
        if not files:
            return None  # the reader says what the folder lacks
        return files, _named_below(files, path)
    if is_glob(path):
        files = sorted(
            f
            for f in glob.glob(os.path.expanduser(path), recursive=True)
            if os.path.isfile(f) and (input_format or split_suffix(f)[0])
        )
        if not files:
            raise InputError(f"{path}: no files match", hint="check the pattern (quote it)")
        _ROOTS.update(dict.fromkeys(files, _glob_root(path)))
        return files, _named_below(files, path)
    return None


def _named_below(files: list[str], path: str | os.PathLike) -> list[str]:
    """`files` of the folder or glob `path`, named below it (a glob: below its fixed folder)."""
    root = str(path)
    root = os.path.expanduser(_glob_root(root)) if is_glob(root) else root
    return [os.path.relpath(f, root) for f in files]


def _glob_root(pattern: str) -> str:
    """The folder a glob's matches lie under: its parts before the first wildcard."""
    parts = Path(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if GLOB_CHARS.search(part))
    return str(Path(*parts[:fixed])) if fixed else "."


def input_root(file: str | os.PathLike) -> str | None:
    """The folder (or a glob's fixed folder) that `file` was read from as one of its files
    (None: it was given itself), as the user named it."""
    return _ROOTS.get(str(file))


def check_formats(files: list[str], input_format: str | None) -> str:
    """The one format of `files`; files of different formats are an InputError."""
    if input_format:
        return input_format
    by_fmt: dict[str, str] = {}
    for f in files:
        fmt = split_suffix(f)[0]
        if not fmt:
            raise UsageError(
                f"{f}: cannot tell the file format from its name",
                hint="pass --input-format",
            )
        by_fmt.setdefault(fmt, f)
    if len(by_fmt) > 1:
        shown = ", ".join(f"{f} ({fmt})" for fmt, f in by_fmt.items())
        raise InputError(
            f"the input mixes file formats: {shown}",
            hint="put files of one format in a folder, or pass the files of one format",
        )
    return next(iter(by_fmt))
