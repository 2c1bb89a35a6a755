"""What the processes of `trlprep train` print: in a multi-process run (`torchrun`,
`accelerate launch`) the main process speaks for all (the data log, notes, an error met
setting up, transformers' warnings), and transformers' own bars follow `--progress` as the
data bars do."""

from __future__ import annotations

import typer

from trlprep.errors import TrlprepError

QUIET_EXIT_DELAY_S = 3.0  # (see `quiet_unless`)


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
