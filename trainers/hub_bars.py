"""Which process of a run speaks, and whether its bars show: the data bars and
transformers' own bars and warnings, as the run's `progress` and process say (`trlprep
train --no-progress` and `trlprep.train(progress=False)` alike)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


def main_process() -> bool:
    """Whether this is the main process of the run (the only one, or rank 0 of a launch:
    `torchrun`, `accelerate launch`)."""
    return os.environ.get("RANK", "0") == "0"


def data_progress(progress: bool | None) -> bool:
    """Whether reading and tokenising the data show progress: `--progress` / `--no-progress`,
    else when stderr is a terminal (as rich tells it, as the other commands)."""
    from rich.console import Console

    return Console(stderr=True).is_terminal if progress is None else bool(progress)


def shown(progress: bool | None) -> bool:
    """Whether this process shows transformers' bars for a run's `progress` (None: on a
    terminal, told as for the data bars): never another process than the main one of a
    multi-process run."""
    return main_process() and data_progress(progress)


@contextlib.contextmanager
def hub_output(bars: bool, main_process: bool) -> Iterator[None]:
    """transformers' bars (loading the model, writing its shards) shown as the data bars
    are: not with --no-progress, not in a log file, not from every process of a
    multi-process run; its warnings (a new head's load report) from the main process only;
    both as they were afterwards."""
    from transformers.utils import logging as hf_logging

    was_shown, was_level = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    if not bars:
        hf_logging.disable_progress_bar()
    if not main_process:
        hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        if was_shown and not bars:
            hf_logging.enable_progress_bar()
        hf_logging.set_verbosity(was_level)
