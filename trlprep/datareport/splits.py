"""One report over several splits: each split's own report, and the totals of them all.

The totals are built from the splits' per-row numbers put together (not by averaging their
figures), so a p99 or a duplicate count over train + test is what it would be over the
rows at once; rows and prompts that recur across splits (test rows seen in training) are
counted per split.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from trlprep.datareport.build import measure, where_of
from trlprep.datareport.collected import Collected, add_figures
from trlprep.datareport.result import DataReport, summary


def split_names(data: Any, input_format: str | None = None) -> list[str] | None:
    """The splits of `data` when it has more than one (None: one dataset)."""
    from trlprep.io.adapters import is_dataset_dict

    if is_dataset_dict(data):
        names = list(data)
        return names if len(names) > 1 else None
    if not isinstance(data, (str, os.PathLike)):
        return None
    p = Path(str(data))
    if p.is_dir() and (p / "dataset_dict.json").is_file():
        try:
            names = json.loads((p / "dataset_dict.json").read_text())["splits"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return list(names) if len(names) > 1 else None
    return _file_splits(os.fspath(data), input_format)


def _file_splits(path: str, input_format: str | None) -> list[str] | None:
    """Splits of a folder or glob of files named for them (`data/train-*.parquet`,
    `data/test_sft-*.parquet`), each file in one split."""
    from trlprep.io.inputfiles import input_files
    from trlprep.io.splitfiles import file_splits

    names = file_splits(path, input_format)
    if names is None:
        return None
    found = [set(input_files(path, name, input_format) or ()) for name in names]
    if sum(len(f) for f in found) != len(set().union(*found)):
        return None  # a file named for two splits: not a split layout
    return names


def report_splits(data: Any, names: list[str], options: dict[str, Any]) -> DataReport:
    """Each split's report under `splits`, the totals of all rows at the top level."""
    from trlprep.datareport.figures import build
    from trlprep.io.adapters import is_dataset_dict

    reports: dict[str, DataReport] = {}
    collected: dict[str, Collected] = {}
    loaded = None
    for name in names:
        if is_dataset_dict(data):
            rep, col, loaded = measure(data[name], loaded=loaded, **options)
        else:
            rep, col, loaded = measure(data, split=name, loaded=loaded, **options)
        reports[name], collected[name] = rep, col
    first = reports[names[0]].data["report"]
    same_type = len({r.data["report"]["measured_as"] for r in reports.values()}) == 1
    merged, where = _merge(collected, same_type)
    max_length, mode = options.get("max_length"), options.get("truncation", "keep_start")
    figures = build(merged, max_length, mode, where)
    figures.pop("examples", None)
    figures["duplicates"]["across_splits"] = _across(collected)
    header = {
        **first,
        "path": str(data) if isinstance(data, (str, os.PathLike)) else None,
        "split": None,
        "splits": names,
        "type": _same(reports, "type"),
        "measured_as": _same(reports, "measured_as"),
        "format": _same(reports, "format"),
        "extra_columns": sorted(
            {c for r in reports.values() for c in r.data["report"]["extra_columns"]}
        ),
        "notes": [
            f"{name}: {note}"
            for name, r in reports.items()
            for note in r.data["report"].get("notes", [])
        ],
    }
    out: dict[str, Any] = {"report": header, **figures, "validation": _validation(reports)}
    top = summary(out, max_length)
    out["splits"] = {name: rep.data for name, rep in reports.items()}
    return DataReport({"summary": top, **out})


def _same(reports: dict[str, DataReport], key: str) -> Any:
    values = {r.data["report"][key] for r in reports.values()}
    return values.pop() if len(values) == 1 else "mixed: " + ", ".join(sorted(map(str, values)))


def _merge(parts: dict[str, Collected], same_type: bool) -> tuple[Collected, Any]:
    """The splits' per-row numbers as one `Collected` (figures of rows only when the splits
    share a type), and where each of its positions lies (split, row, line)."""
    m = Collected()
    for c in parts.values():
        m.rows_in += c.rows_in
        for stage, n in c.rejected.items():
            m.rejected[stage] = m.rejected.get(stage, 0) + n
        m.row_ids += c.row_ids
        if not same_type:
            continue
        add_figures(m, c)
    if same_type and len({tuple(c.lengths) for c in parts.values()}) > 1:
        m.lengths = {}  # some splits were measured, some not: no length totals
    sizes = [sum(len(x) for x in c.row_ids) for c in parts.values()]
    bounds = np.cumsum(sizes)
    names = list(parts)
    per_split = [where_of(c) for c in parts.values()]

    def where(pos: int) -> dict[str, Any]:
        i = int(np.searchsorted(bounds, pos, side="right"))
        start = int(bounds[i - 1]) if i else 0
        return {"split": names[i], **per_split[i](pos - start)}

    return m, where


def _across(parts: dict[str, Collected]) -> dict[str, dict[str, int]]:
    """Per split: its rows (and prompts) that also occur in another split."""
    out: dict[str, dict[str, int]] = {}
    for kind, attr in (("rows", "row_hashes"), ("prompts", "prompt_hashes")):
        hashes = {
            n: np.concatenate(getattr(c, attr)) if getattr(c, attr) else np.zeros(0, np.uint64)
            for n, c in parts.items()
        }
        if not any(len(h) for h in hashes.values()):
            continue
        for name, h in hashes.items():
            others = [v for k, v in hashes.items() if k != name]
            rest = np.concatenate(others) if others else np.zeros(0, np.uint64)
            out.setdefault(name, {})[f"{kind}_in_another_split"] = int(np.isin(h, rest).sum())
    return out


def _validation(reports: dict[str, DataReport]) -> dict[str, Any] | None:
    vals = [r.data.get("validation") for r in reports.values()]
    if any(v is None for v in vals):
        return None
    return {
        "valid": all(v["valid"] for v in vals),
        "errors": sum(v["errors"] for v in vals),
        "warnings": sum(v["warnings"] for v in vals),
        "issues": [],  # each split lists its own
    }


__all__ = ["report_splits", "split_names"]
