"""Write a `save_to_disk` folder atomically (`write_disk`), over `to_dataset`: a
`datasets.Dataset` of an Arrow table, trlprep's schema metadata kept in its description."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

from trlprep.columns.arrowtypes import is_json_field
from trlprep.errors import UsageError
from trlprep.io.datasetfolders import description_of
from trlprep.io.jsonencode import content_as_json
from trlprep.io.tempfiles import cannot_write, replace_into, staged_dir, writing


def write_disk(data: pa.Table | Mapping[str, pa.Table], path: Path) -> None:
    import datasets

    for table in data.values() if isinstance(data, Mapping) else (data,):
        mixed = [f.name for f in table.schema if is_json_field(f)]
        if mixed:  # `datasets` keeps no field metadata: the column would read back as text
            raise UsageError(
                f"column {mixed[0]!r} mixes value kinds across rows, which a save_to_disk "
                "folder cannot store",
                hint="run `trlprep detect` to find the rows; or write .jsonl, .parquet or .arrow",
            )

    path, tmp = staged_dir(path, "disk")
    bars = datasets.is_progress_bar_enabled()
    try:
        datasets.disable_progress_bars()
        if isinstance(data, Mapping):
            dd = datasets.DatasetDict({k: to_dataset(t, split=k) for k, t in data.items()})
            dd.save_to_disk(str(tmp))
        else:
            to_dataset(data).save_to_disk(str(tmp))
        with writing(path):
            replace_into(tmp, path)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise cannot_write(path, e) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if bars:
            datasets.enable_progress_bars()


def to_dataset(table: pa.Table, split: str | None = None):
    """A `datasets.Dataset` over `table` (its `huggingface` schema metadata, if any, kept;
    its trlprep metadata in the description, `datasetfolders.description_of`)."""
    import datasets

    from trlprep.io.jsonargs import untagged

    table = untagged(table)  # tool-call arguments as strings (datasets keeps no tags)
    # contents of mixed kinds as `Json` (each as written), as `datasets` reads such JSON
    table = content_as_json(table)
    info = datasets.DatasetInfo(description=description_of(table.schema, table.num_rows))
    try:
        return datasets.Dataset(table, info=info, split=split)
    except (ValueError, TypeError, KeyError):  # stale features in the schema metadata
        return datasets.Dataset(table.replace_schema_metadata(None), info=info, split=split)
