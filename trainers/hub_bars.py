"""transformers' own bars and warnings during a run, as the run's `progress` and process
say (`trlprep train --no-progress` and `trlprep.train(progress=False)` alike)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


def shown(progress: bool | None) -> bool:
    """Whether this process shows bars for a run's `progress` (None: on a terminal): never
    another process than the main one of a multi-process run."""
    main = os.environ.get("RANK", "0") == "0"
    return main and (sys.stderr.isatty() if progress is None else bool(progress))


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
