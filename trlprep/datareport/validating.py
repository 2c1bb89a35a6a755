"""The report's validation section: the rows checked as `trlprep validate` checks them,
said as the report's JSON gives it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.datareport.sources import joined

# the rules of the rows an import refused (`validate --from LAYOUT`'s), which name input rows
IMPORT_RULES = ("import-failed", "import-not-paired")


def imported_validation(
    path: str, split, input_format, type, batches: Iterable[Any], origin: np.ndarray,
    refused: tuple[Any, str, Any],
) -> tuple[dict[str, Any], set[int]]:  # fmt: skip
    """The imported rows (`batches`, imported from the input's rows `origin`) validated as
    the conversion checks them, their issues named by the input's rows and file lines, the
    rows the import `refused` (its `ImportStats`, layout and options) said first (as
    `validate --from LAYOUT` says them); and the imported rows the other issues name first
    (the examples shown beside them)."""
    from trlprep.validation.imported import to_input_rows
    from trlprep.validation.validate import validate_table

    table, lines = joined(list(batches))
    rep = validate_table(table, lines=lines, type=type, path=path)
    del table, lines
    flagged = {i.rows[0] for i in rep.issues if i.rows}  # positions among the imported rows
    to_input_rows(rep, origin)
    said_refused(rep, *refused)
    from trlprep.io.shards import note_shards

    note_shards(rep, path, split, input_format)  # several files: each row's file
    return validation_dict(rep), flagged


def validation(
    data: Any, path: str | None, type, split, input_format, refused: Any = None
) -> dict[str, Any]:
    """The validation of `path`, or of in-memory `data`: imported rows where `refused` (the
    import's `ImportStats`, layout and options) says the rows it refused, as
    `imported_validation` says them."""
    from trlprep.validation.validate import validate_path, validate_table

    if path is not None:
        rep = validate_path(path, type=type, split=split, input_format=input_format)
    else:
        from trlprep.io.adapters import as_input

        table = data if isinstance(data, pa.Table) else getattr(as_input(data), "table", None)
        rep = validate_table(table, type=type)
    if refused is not None:
        said_refused(rep, *refused)
    return validation_dict(rep)


def said_refused(rep: Any, stats: Any, layout: str, options: Any) -> None:
    """The rows an import refused (`stats`) said in the validation `rep` as `validate --from
    LAYOUT` says them, ahead of the other issues: an `import-failed` error per reason (ties
    left unpaired: an `import-not-paired` warning), so the verdicts agree."""
    from trlprep.validation.collect import DEFAULT_MAX_ERRORS
    from trlprep.validation.imported import import_issues

    rep.issues[:0] = import_issues(stats, layout, DEFAULT_MAX_ERRORS, options)


def validation_dict(rep: Any) -> dict[str, Any]:
    """A validation `Report` as the report's JSON gives it."""
    return {
        "valid": rep.valid,
        "errors": len(rep.errors),
        "warnings": len(rep.warnings),
        "issues": [
            {
                "rule": i.rule,
                "severity": str(getattr(i.severity, "value", i.severity)),
                "column": i.column,
                "count": i.count,
                "message": i.message,
                "rows": list(i.rows),
                "lines": list(i.lines) if i.lines is not None else None,
                **_places(i),
                **({"named": len(i.repeats)} if i.repeats else {}),
            }  # fmt: skip
            for i in rep.issues
        ],
    }


def _places(issue: Any) -> dict[str, list[str]]:
    """`places`: each row the issue names as `file:line` (`file row N`), where the input is
    several files (a folder of shards), whose line numbers alone name no row."""
    if issue.places:
        return {"places": list(issue.places)}
    if issue.files and issue.lines is not None and not issue.rows:
        return {"places": [f"{f}:{int(x)}" for f, x in zip(issue.files, issue.lines, strict=False)]}
    return {}


def read_validation(
    path: str, batches: Iterable[Any], det: Any, type, split, input_format, how: str
) -> dict[str, Any]:
    """The validation of `path`'s batches as the report read them (`batches`, detected as
    `det`), the input not read again: as `validate_path` validates it, streamed (`how`:
    "streamed") or whole ("whole": the batches joined, one file read whole)."""
    from trlprep.io.shards import note_shards
    from trlprep.validation.validate import validate_read, validate_table

    if how == "whole":
        batches = list(batches)
        tables = [b.data if isinstance(b.data, pa.Table) else pa.Table.from_batches([b.data])
                  for b in batches]  # fmt: skip
        table = pa.concat_tables(tables) if tables else pa.table({})
        known = batches and all(b.lines is not None for b in batches)
        lines = np.concatenate([b.lines for b in batches]) if known else None
        del batches, tables
        rep = validate_table(table, lines=lines, type=type, path=path)
    else:
        rep = validate_read(path, batches, det, type=type, split=split, input_format=input_format)
    note_shards(rep, path, split, input_format)  # several files: each row's file
    return validation_dict(rep)


def validated_as_read(path: str, split, input_format) -> str | None:
    """How `validate_path` reads `path` where the report's batches can be its own:
    "streamed" (JSON Lines, CSV, Parquet, plain text), "whole" (one JSON document), or
    None (read it again: Arrow IPC and `save_to_disk` folders are memory-mapped, several
    JSON documents joined as `validate` joins them)."""
    from trlprep.io.readers import resolve_format
    from trlprep.io.shards import Inputs, input_files
    from trlprep.validation.validate import STREAMED

    try:
        files = input_files(path, split, input_format)
        fmt = resolve_format(Inputs(files) if files else path, input_format)
    except Exception:  # noqa: BLE001 - read again, where reading says what is wrong
        return None
    if fmt in STREAMED:
        return "streamed"
    return "whole" if fmt == "json" and files is None else None


__all__ = [
    "IMPORT_RULES",
    "imported_validation",
    "read_validation",
    "validated_as_read",
    "validation",
    "validation_dict",
]
