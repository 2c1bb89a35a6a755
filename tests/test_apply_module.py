"""The plan (`conversion.convert`) and its application (`conversion.apply`) are separate modules."""

from __future__ import annotations

import importlib
from pathlib import Path

import trlprep

MOVED = (
    "apply_steps",
    "apply_checked",
    "check_output",
    "convert_table",
    "settle_table",
    "merge_reports",
)
ROW_IDS = ("with_row_ids", "row_ids", "InputRows")  # which input row: a module of its own


def test_the_applying_half_lives_in_apply():
    apply = importlib.import_module("trlprep.conversion.apply")
    convert = importlib.import_module("trlprep.conversion.convert")
    for name in MOVED:
        assert getattr(apply, name).__module__ == "trlprep.conversion.apply", name
        assert not hasattr(convert, name), name  # one home per name
    source = Path(convert.__file__).read_text()
    assert "def apply_steps" not in source and "def make_plan" in source
    rowids = importlib.import_module("trlprep.conversion.rowids")
    for name in ROW_IDS:
        assert getattr(apply, name) is getattr(rowids, name), name  # still importable from apply
        assert getattr(rowids, name).__module__ == rowids.__name__, name
    failures = importlib.import_module("trlprep.conversion.failures")
    for name in ("Failure", "split_missing", "failures_table"):  # what a stage refuses
        assert getattr(failures, name).__module__ == failures.__name__, name
        assert getattr(apply, name) is getattr(failures, name), name  # importable from apply
    for module in (convert, apply, failures, rowids):
        assert len(Path(module.__file__).read_text().splitlines()) < 400


def test_public_convert_is_still_the_api_function():
    importlib.import_module("trlprep.conversion.apply")
    assert trlprep.convert.__module__ == "trlprep.api"
