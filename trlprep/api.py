"""The Python API over files and in-memory datasets (each function takes any supported kind)."""

from __future__ import annotations

import os
from typing import Any

from trlprep.adapters import as_input, map_splits
from trlprep.detect import Detection, detect_batches, detect_table
from trlprep.readers import iter_batches


def detect(
    data: Any, *, split: str | None = None, input_format: str | None = None
) -> Detection | dict[str, Detection]:
    """Detect the type, format and modality of a dataset, checking every row.

    `data` is a path (streamed in record batches), a `datasets.Dataset`, `pyarrow.Table`,
    `polars.DataFrame` or list of row dicts; a `DatasetDict` gives one result per split.
    """
    if isinstance(data, (str, os.PathLike)):
        return detect_batches(iter_batches(data, split=split, input_format=input_format))
    return map_splits(data, lambda d: detect_table(as_input(d).table))
