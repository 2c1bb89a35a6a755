"""A streamed batch of another type than planned names its first row as every other message
does: the shard's own row beside the shard (was: `rows from row 52 on`, the whole folder's
row, next to the shard's path). Reading makes shards agree before this check, so the
command line seldom reaches it: the check is called here directly."""

from __future__ import annotations

import types

import numpy as np
import pyarrow as pa
import pytest

from trlprep.conversion.rowids import InputRows
from trlprep.conversion.stream import _check_batch
from trlprep.errors import ROW_ID, DataError
from trlprep.io.shards import Shards
from trlprep.registry import PREFERENCE, Format

PLAN = types.SimpleNamespace(
    src=PREFERENCE, fmt=Format.STANDARD, source_columns=("prompt", "chosen", "rejected")
)
SHARDS = Shards(["d/a.parquet", "d/b.parquet"], [0, 50], [50, 50])


def _batch(ids: list[int]) -> pa.Table:
    """Prompt-completion rows (not preference), input rows `ids` (the first ones of the
    batch set aside before the check, as rows missing a value are)."""
    n = len(ids)
    return pa.table({"prompt": ["q"] * n, "completion": ["a"] * n, ROW_ID: pa.array(ids)})


def _said(source: InputRows, path: str | None = None) -> str:
    with pytest.raises(DataError) as e:
        _check_batch(_batch([52, 53]), PLAN, source, path)
    return str(e.value)


def test_a_parquet_shard_s_rows_are_named_by_the_shard_and_its_own_row():
    said = _said(InputRows(50, None, "d/b.parquet", SHARDS), "d/b.parquet")
    assert "rows from d/b.parquet row 2 on are not preference (standard)" in said
    assert "row 52" not in said


def test_one_file_names_its_line_or_its_row_even_after_rows_were_set_aside():
    lines = np.array([10, 11, 12, 13])  # the lines of input rows 50-53
    assert "rows from line 12 on" in _said(InputRows(50, lines))
    assert "rows from row 52 on" in _said(InputRows(50, None))
