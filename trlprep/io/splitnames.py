"""Which split a file's name carries, as the Hugging Face Hub reads names (`train`,
`validation`/`valid`/`dev`, `test`/`eval` between separators), the files of one split
picked from several, and the note said when a split is read without being named."""

from __future__ import annotations

import os
import re
from pathlib import Path

from trlprep.errors import UsageError

# split names as the Hugging Face Hub recognises them in file and folder names
SPLIT_WORDS = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "val", "dev"),
    "test": ("test", "testing", "eval", "evaluation"),
}


def noted_split(names: list) -> tuple[str, list[str]] | None:
    """(the split read, `names`) when several splits are there and one is read without
    being named (`datasetfolders.default_split_name`: `train`); None otherwise."""
    from trlprep.io.datasetfolders import default_split_name

    name = default_split_name(names) if len(names) > 1 else None
    return None if name is None else (name, names)


def split_of(name: str) -> str | None:
    tokens = re.split(r"[/\\_.\-]+", name.lower())
    for split, words in SPLIT_WORDS.items():
        if any(w in tokens for w in words):
            return split
    return None


def carries_split(name: str, split: str) -> bool:
    tokens = re.split(r"[/\\_.\-]+", name.lower())
    words = SPLIT_WORDS.get(split.lower(), (split.lower(),))
    return any(w in tokens for w in words) or split.lower() in tokens


def pick_split(files: list[str], split: str | None, where: str, base: Path | None = None):
    """The files of one split: those whose name (below `base`) carries it."""

    def rel(f: str) -> str:
        return os.path.relpath(f, base) if base is not None else f

    if split is not None:
        picked = [f for f in files if carries_split(rel(f), split)]
        if not picked:
            found = sorted({s for f in files if (s := split_of(rel(f)))})
            raise UsageError(
                f"{where}: no file names carry the split {split!r}",
                hint=("splits there: " + ", ".join(found)) if found else "leave out --split",
            )
        return picked
    splits = {split_of(rel(f)) for f in files}
    if len(splits) > 1 and None not in splits:
        from trlprep.io.datasetfolders import default_split_name

        if (name := default_split_name(sorted(splits))) is not None:
            return [f for f in files if split_of(rel(f)) == name]
        raise UsageError(
            f"{where} holds the splits {', '.join(sorted(splits))}",
            hint="choose one with --split",
        )
    return files


def split_note(path: str | os.PathLike, read: str, names: list[str], flag: str = "--split") -> str:
    """What `default_split` found, said to the user (`flag`: how to name a split, e.g.
    `--split`, or `split=` from Python)."""
    other = f"{flag}'NAME'" if flag.endswith("=") else f"{flag} NAME"
    return f"{path} holds the splits {', '.join(names)}: reading {read!r} ({other} reads another)"
