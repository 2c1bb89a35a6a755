"""Which split a file's name carries, as `datasets` reads names: a Hub shard's own name
(`data/train_prefs-00000-of-00001.parquet`: `train_prefs`, any word), else `train`,
`validation`/`valid`/`dev` or `test`/`eval` between separators; the files of one split
picked from several, and the note said when a split is read without being named."""

from __future__ import annotations

import os
import re

from trlprep.errors import UsageError

# split names as the Hugging Face Hub recognises them in file and folder names
SPLIT_WORDS = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "val", "dev"),
    "test": ("test", "testing", "eval", "evaluation"),
}
# a Hub shard, `{split}-00000-of-00004.parquet`: the split is the name before the numbers, as
# `datasets` reads it (a word, or words joined by dots: `train_prefs`, `test.en`)
_SHARD = re.compile(r"(?P<split>\w+(?:\.\w+)*)-\d{5}-of-\d{5}(?:[^/\\]*)\.[^/\\.]+")


def noted_split(names: list) -> tuple[str, list[str]] | None:
    """(the split read, `names`) when several splits are there and one is read without
    being named (`datasetfolders.default_split_name`: `train`); None otherwise."""
    from trlprep.io.datasetfolders import default_split_name

    name = default_split_name(names) if len(names) > 1 else None
    return None if name is None else (name, names)


def split_of(name: str) -> str | None:
    """The split the file `name` (a path below the input's folder) carries: a Hub shard's
    own name, else `train`, `validation` or `test` when one of their words is in it."""
    shard = _SHARD.fullmatch(re.split(r"[/\\]", name)[-1])
    if shard is not None:
        return shard["split"]
    tokens = re.split(r"[/\\_.\-]+", name.lower())
    for split, words in SPLIT_WORDS.items():
        if any(w in tokens for w in words):
            return split
    return None


def in_order(names: set[str] | list[str]) -> list[str]:
    """Split names in the order `datasets` gives a folder's splits: train, validation, test,
    then the others sorted."""
    known = [s for s in SPLIT_WORDS if s in names]
    return known + sorted(set(names) - set(known))


def carries_split(name: str, split: str) -> bool:
    """Whether the file `name` is of the split `split`: a Hub shard of exactly that name, or
    another file whose name holds the split (or, for train/validation/test, one of its
    words)."""
    if _SHARD.fullmatch(re.split(r"[/\\]", name)[-1]) is not None:
        return split_of(name) == split
    tokens = re.split(r"[/\\_.\-]+", name.lower())
    words = SPLIT_WORDS.get(split.lower(), (split.lower(),))
    return any(w in tokens for w in words) or split.lower() in tokens


def split_layout(names: list[str]) -> tuple[list[str], list[str]]:
    """(the splits the file `names` carry, in `in_order`; the names carrying none)."""
    found = {n: split_of(n) for n in names}
    return in_order({s for s in found.values() if s}), [n for n, s in found.items() if not s]


def pick_split(
    files: list[str],
    split: str | None,
    where: str,
    names: list[str] | None = None,
    keep_unnamed: bool = False,
):
    """The files of one split: those whose name (`names`: each file's name below the input's
    folder; default the files as given) carries it. No split named: the only split, else
    `train`; files whose names carry no split, beside files that do, are left out (as
    `datasets` leaves them), unless `keep_unnamed` (paths given one by one: then every file
    is read when any carries no split)."""
    below = dict(zip(files, names or files, strict=True))

    def rel(f: str) -> str:
        return below[f]

    if split is not None:
        picked = [f for f in files if carries_split(rel(f), split)]
        if not picked:
            found = split_layout([rel(f) for f in files])[0]
            raise UsageError(
                f"{where}: no file names carry the split {split!r}",
                hint=("splits there: " + ", ".join(found)) if found else "leave out --split",
            )
        return picked
    splits, unnamed = split_layout([rel(f) for f in files])
    if not splits or (keep_unnamed and unnamed) or (len(splits) == 1 and not unnamed):
        return files
    from trlprep.io.datasetfolders import default_split_name

    if (name := default_split_name(splits)) is not None:
        return [f for f in files if split_of(rel(f)) == name]
    raise UsageError(
        f"{where} holds the splits {', '.join(splits)}", hint="choose one with --split"
    )


def split_note(path: str | os.PathLike, read: str, names: list[str], flag: str = "--split") -> str:
    """What `default_split` found, said to the user (`flag`: how to name a split, e.g.
    `--split`, or `split=` from Python)."""
    other = f"{flag}'NAME'" if flag.endswith("=") else f"{flag} NAME"
    return f"{path} holds the splits {', '.join(names)}: reading {read!r} ({other} reads another)"
