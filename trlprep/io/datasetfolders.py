"""A split of a `datasets` dataset as Arrow: `save_to_disk` folders and Hub dataset ids.

trlprep's own schema metadata (`META_KEY`: how a file's ids were tokenised,
`templates.tokenrecord`) does not survive `datasets`: a `Dataset` keeps only its own
`huggingface` key, and `save_to_disk` writes only that. It travels in the dataset's
`DatasetInfo.description` instead (`description_of`, read back by `dataset_table`), which
`save_to_disk` / `load_from_disk`, `select`, `filter`, `map` and `with_format` keep.

`concatenate_datasets` keeps it too, though the rows added were never tokenised by trlprep
(`DatasetInfo.from_merge` drops the other dataset's empty description), and the record
cannot be told apart from the merged rows. So the description also holds the number of
rows it was written for, and a dataset holding more rows than that (the whole tokenised
dataset merged with any other, or with itself) is read without the record: its ids are
then judged by what they show, as a JSON Lines file's. Subsets (`select`, `filter`,
`train_test_split`, saved or not) keep the record; a subset merged with fewer other rows
than it left out is not detected: convert merged data again rather than merge tokenised
data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa

from trlprep.errors import InputError, UsageError
from trlprep.io.sources import ARROW_ERRORS, first_line, split_suffix

META_KEY = b"trlprep"  # trlprep's key in a schema's metadata


def default_split_name(names: list[str]) -> str | None:
    """The split read when none is named: the only one, else `train`; None when there are
    several and no `train` (the caller's usage error lists them). The one rule for
    `save_to_disk` folders, Hub-style files and `datasets.DatasetDict` objects."""
    if len(names) == 1:
        return names[0]
    return "train" if "train" in names else None


def pick_split(dd, split: str | None, where: str, flag: str = "--split"):
    """The split `split` of a DatasetDict (None: `default_split_name`); several splits and
    no `train`, or a split it lacks, is a UsageError listing them (`flag`: how to name one)."""
    names = list(dd)
    if split is None:
        name = default_split_name(names)
        if name is None:
            raise UsageError(
                f"{where} has several splits ({', '.join(names)}) and none is named",
                hint=f"choose one with {flag}",
            )
        return dd[name]
    if split not in dd:
        raise UsageError(f"{where} has no split {split!r}", hint="available: " + ", ".join(names))
    return dd[split]


def read_disk(path: str, split: str | None) -> pa.Table:
    p = Path(path)
    if not p.is_dir():
        raise InputError(f"{path}: not a dataset folder (it is a file)", hint=format_hint())
    if not ((p / "state.json").is_file() or (p / "dataset_dict.json").is_file()):
        held = sorted(e.name for e in p.iterdir())
        shown = ", ".join(held[:3]) + (f", ... ({len(held) - 3} more)" if len(held) > 3 else "")
        what = f"it holds only {shown}" if held else "the folder is empty"
        raise InputError(
            f"{path}: no data files to read, and not a save_to_disk folder (no state.json or "
            f"dataset_dict.json): {what}",
            hint=folder_hint(p),
        )
    import datasets

    try:
        ds = datasets.load_from_disk(path)
    except (FileNotFoundError, ValueError, KeyError, OSError, *ARROW_ERRORS) as e:
        raise InputError(
            f"{path}: cannot load the dataset folder: {first_line(e)}",
            hint="expected a folder written by Dataset.save_to_disk or DatasetDict.save_to_disk",
        ) from None
    if isinstance(ds, datasets.DatasetDict):
        ds = pick_split(ds, split, path)
    return dataset_table(ds)


def format_hint() -> str:
    return "pass a .jsonl/.json/.parquet/.csv/.arrow/.txt file or a save_to_disk folder"


def folder_hint(p: Path) -> str:
    from trlprep.io.inputfiles import _NOTES

    files = sorted(
        f.name
        for f in p.iterdir()
        if f.is_file() and split_suffix(f)[0] and not _NOTES.match(f.name)
    )
    if files:
        shown = ", ".join(files[:3]) + (", ..." if len(files) > 3 else "")
        return f"it holds data files ({shown}): pass one of them"
    return "expected a folder written by Dataset.save_to_disk; " + format_hint()


def dataset_table(ds) -> pa.Table:
    """The Arrow table of a `datasets.Dataset`, with a filtered/selected view applied and
    trlprep's metadata (`META_KEY`) from its description, if any, in the schema metadata
    (not when the dataset holds more rows than the description was written for)."""
    table = ds.data.table if hasattr(ds.data, "table") else ds.data
    held = table.num_rows  # a select / filter view keeps every row it was made from
    indices = getattr(ds, "_indices", None)
    if indices is not None:
        idx = indices.table if hasattr(indices, "table") else indices
        table = table.take(idx.column(0))
    info = getattr(ds, "info", None)
    kept = description_metadata(getattr(info, "description", None), held)
    if kept is not None and META_KEY not in (table.schema.metadata or {}):
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: kept})
    return table


def description_of(schema: pa.Schema, rows: int | None = None) -> str:
    """The `DatasetInfo.description` that keeps `schema`'s trlprep metadata (`META_KEY`):
    `{"trlprep": ..., "rows": rows}` as JSON (`rows`: how many rows it describes); "" when
    it has none (or none that reads as JSON)."""
    raw = (schema.metadata or {}).get(META_KEY)
    if not raw:
        return ""
    try:
        kept: dict = {META_KEY.decode(): json.loads(raw)}
    except ValueError:
        return ""
    if rows is not None:
        kept["rows"] = rows
    return json.dumps(kept, ensure_ascii=False)


def description_metadata(description: str | None, rows: int | None = None) -> bytes | None:
    """The trlprep metadata value (`META_KEY`) a `DatasetInfo.description` written by
    `description_of` keeps; None for any other description, and when `rows` (the rows the
    dataset holds) exceeds the rows it was written for (other rows merged in)."""
    if not description or not description.startswith('{"trlprep"'):
        return None
    try:
        kept = json.loads(description)
        value = kept.get(META_KEY.decode())
    except (ValueError, AttributeError):
        return None
    written = kept.get("rows")
    if isinstance(written, int) and rows is not None and rows > written:
        return None
    return None if value is None else json.dumps(value, ensure_ascii=False).encode()


def read_hub(name: str, split: str | None) -> pa.Table:
    from trlprep.io.sources import check_hub

    check_hub(name)  # no network: one error in seconds, not rounds of retries
    import datasets

    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as e:  # the Hub client raises many kinds; all mean "cannot load"
        offline = any(
            os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
            for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
        )
        hint = (
            "this machine is set offline (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE): download the "
            "dataset where there is network and pass the local file or folder"
            if offline
            else "check the dataset id and your network, or pass a local file or folder"
        )
        raise InputError(
            f"{name}: cannot load from the Hugging Face Hub: {first_line(e)}", hint=hint
        ) from None
    if isinstance(ds, datasets.DatasetDict):
        ds = pick_split(ds, split, name)
    return dataset_table(ds)


__all__ = [
    "META_KEY",
    "dataset_table",
    "default_split_name",
    "description_metadata",
    "description_of",
    "pick_split",
    "read_disk",
    "read_hub",
]
