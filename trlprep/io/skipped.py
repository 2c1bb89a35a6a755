"""What the Python API does with JSON Lines lines that hold no JSON object
(`on_bad_lines="skip"`, the CLI's `--on-bad-lines skip`) and with inputs without rows."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from trlprep.errors import DataError, UsageError

if TYPE_CHECKING:
    import pyarrow as pa

    from trlprep.detection.detect import Problem
    from trlprep.io.jsonl import BadLines


def bad_lines_for(on_bad_lines: str) -> BadLines | None:
    """The `BadLines` that keeps the lines skipped with `"skip"`; None with `"error"` (the
    first such line raises a DataError naming it)."""
    from trlprep.io.jsonl import BadLines

    if on_bad_lines not in ("error", "skip"):
        from trlprep.errors import unknown_choice

        raise unknown_choice("--on-bad-lines", on_bad_lines, ("error", "skip"))
    return BadLines() if on_bad_lines == "skip" else None


def read_keeping(data: Any, split: str | None, input_format: str | None, bad: Any) -> Any:
    """`data` read (a `Source`) where it is a path, its bad lines kept in `bad`; else as given."""
    import os

    if not isinstance(data, (str, os.PathLike)):
        return data
    from trlprep.io.readers import read

    return read(data, split=split, input_format=input_format, bad_lines=bad)


def read_choosing(
    path: Any, split: str | None, input_format: str | None, bad_lines: Any, on_bad_lines: str
) -> Any:
    """`trlprep.read(path, on_bad_lines=...)`: the lines skipped said as `convert` says them
    (unless the caller's own `bad_lines` keeps them)."""
    from trlprep.io.readers import read

    bad = bad_lines_for(on_bad_lines)
    if bad is None and bad_lines is not None:
        raise UsageError("read got bad_lines= and on_bad_lines='error'", hint="pass one of them")
    src = read(path, split=split, input_format=input_format, bad_lines=bad_lines or bad)
    if bad_lines is None:
        warn_bad_lines(bad)
    return src


def bad_lines_table(bad: BadLines) -> pa.Table:
    """The skipped lines as rejected rows (`REJECTS_SCHEMA`: stage `read`, no row index;
    each one's `file` too for an input of several files, as rejected rows name theirs)."""
    import pyarrow as pa

    from trlprep.importers.rejects import REJECTS_SCHEMA

    lines, found = bad.lines, bad.found
    table = pa.Table.from_arrays(
        [
            pa.nulls(len(lines), pa.int64()),
            pa.array(lines, pa.int64()),
            pa.array(["read"] * len(lines)),
            pa.array([found[n][0] for n in lines]),
            pa.array([json.dumps(found[n][1], ensure_ascii=False) for n in lines]),
        ],
        schema=REJECTS_SCHEMA,
    )
    files = [getattr(n, "file", None) for n in lines]  # io.inputfiles.FileLine
    if any(f is not None for f in files):
        table = table.add_column(2, "file", pa.array(files, pa.string()))
    return table


def warn_bad_lines(bad: BadLines | None) -> None:
    """Say the skipped lines (`1 bad line skipped (line 4: invalid JSON ...)`, as the CLI's
    summary says them) as a `RejectedRowsWarning` whose `rejects` holds every one."""
    if not bad:
        return
    from trlprep.errors import warn_user
    from trlprep.importers.run import RejectedRowsWarning

    warn_user(RejectedRowsWarning(bad.summary(3), bad_lines_table(bad)))


def bad_line_problems(bad: BadLines) -> list[Problem]:
    """The skipped lines as `invalid-line` detection problems (one per reason, the first
    lines named), so a detection says the file has them."""
    from trlprep.detection.detect import Problem

    return [
        Problem("invalid-line", f"{reason} (skipped)", count=len(lines), lines=lines[:5])
        for reason, lines in bad.by_reason().items()
    ]


def empty_error(path: Any = None, bad: BadLines | None = None) -> DataError:
    """The one message for an input without rows (every command, every API function); where
    lines were skipped as bad (`bad`, --on-bad-lines skip), it names them."""
    where = f"{path}: " if path is not None else ""
    if bad:
        from trlprep.io.jsonl import line_name

        said = "; ".join(
            f"{reason}: "
            + ", ".join(line_name(n) for n in lines[:3])
            + (" ..." if len(lines) > 3 else "")
            for reason, lines in list(bad.by_reason().items())[:3]
        )
        word = "line was" if len(bad) == 1 else "lines were"
        return DataError(
            f"{where}the dataset has no rows: all {len(bad):,} {word} skipped as bad ({said})",
            hint="every row was a skipped line: fix those lines (rerun without "
            "--on-bad-lines skip to see the first one's error and what to do)",
        )
    return DataError(
        f"{where}the dataset has no rows",
        hint="check the file (and --split); pass --allow-empty to accept an empty dataset",
    )
