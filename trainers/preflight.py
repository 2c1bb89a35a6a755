"""Checks a training run passes before any data or model is loaded: the trackers named in
`--report-to` are known and installed, and the output folder can be written and is free (one
policy with `convert`: a non-empty output folder needs `--overwrite` or `--resume`).

Only Accelerate and the standard library are imported here, so these checks cost
milliseconds, not the seconds of loading a model.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from trlprep.errors import InputError, UsageError

# pip package of each tracker (where it differs from the tracker's name)
_PACKAGES = {"comet_ml": "comet-ml", "tensorboard": "tensorboard"}


def check_trackers(report_to: Iterable[str], output_dir: str | Path) -> None:
    """Every tracker in `report_to` is one Accelerate knows and is installed, and those that
    write files (TensorBoard, Aim) can write under `output_dir`."""
    names = [str(n) for n in report_to if n and str(n) != "none"]
    if not names:
        return
    from accelerate.tracking import LOGGER_TYPE_TO_CLASS, get_available_trackers

    known = sorted(LOGGER_TYPE_TO_CLASS)
    unknown = [n for n in names if n != "all" and n not in LOGGER_TYPE_TO_CLASS]
    if unknown:
        raise UsageError(
            f"--report-to {','.join(unknown)}: no such tracker",
            hint="use one or more of: " + ", ".join(["all", *known]) + " (comma-separated)",
        )
    available = {str(t) for t in get_available_trackers()}
    missing = [n for n in names if n != "all" and n not in available]
    if missing:
        packages = " ".join(_PACKAGES.get(n, n) for n in missing)
        raise UsageError(
            f"--report-to {','.join(missing)}: the tracker is not installed",
            hint=f"pip install {packages}, or leave it out of --report-to "
            "(metrics.jsonl is always written)",
        )
    if any(LOGGER_TYPE_TO_CLASS[n].requires_logging_directory for n in names if n != "all"):
        check_writable(output_dir)


def check_writable(output_dir: str | Path) -> None:
    """`output_dir` is a folder (or can be created as one) that this process can write."""
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise InputError(
            f"--output-dir {out} is a file, not a folder", hint="choose a folder for the run"
        )
    existing = out
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(
            f"--output-dir {out}: {existing} is a file, not a folder",
            hint="choose a folder for the run",
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(
            f"--output-dir {out}: {existing} is not writable",
            hint="choose a folder you can write to, or fix its permissions",
        )


def check_output_dir(output_dir: str | Path, *, overwrite: bool, resume: bool | str) -> None:
    """The output folder can be written, and is empty unless the run overwrites it
    (`overwrite`) or continues it (`resume`); raises a UsageError (exit 2) otherwise."""
    check_writable(output_dir)
    out = Path(output_dir)
    if overwrite or (resume not in (False, None, "") and str(resume).lower() != "false"):
        return
    if not out.is_dir():
        return
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    shown = ", ".join(entries[:5]) + (f", ... ({len(entries)} entries)" if len(entries) > 5 else "")
    raise UsageError(
        f"--output-dir {out} is not empty ({shown})",
        hint="pass --overwrite to replace the run in it (its files are removed once the new "
        "run's data and model are ready), --resume to continue its last checkpoint, "
        "or choose a new folder",
    )
