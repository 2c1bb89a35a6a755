"""What the processes of `trlprep train` print: in a multi-process run (`torchrun`,
`accelerate launch`) the main process speaks for all (the data log, notes, an error met
setting up, transformers' warnings), and transformers' own bars follow `--progress` as the
data bars do."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import typer

from trlprep.errors import TrlprepError

QUIET_EXIT_DELAY_S = 3.0  # (see `quiet_unless`)


def main_process_here() -> bool:
    """Whether this is the main process of the run (the only one, or rank 0 of a launch)."""
    return os.environ.get("RANK", "0") == "0"


def quiet_unless(main_process: bool, e: TrlprepError) -> Exception:
    """`e`, said by the main process; another process of a multi-process run, which met the
    same error setting up (data, model, options), exits with its code saying nothing, a
    moment later: a launcher stops every process once one exits, which must not stop the
    main process before it has said the error."""
    if main_process:
        return e
    import time

    time.sleep(QUIET_EXIT_DELAY_S)
    return typer.Exit(e.exit_code)


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
