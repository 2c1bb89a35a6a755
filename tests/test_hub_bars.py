"""transformers' bars during `trlprep train` show as the data bars do: the same terminal
test (rich's: `TTY_COMPATIBLE`, `FORCE_COLOR`, then whether stderr is a terminal), and only
in the main process of a multi-process run."""

from __future__ import annotations

import pytest
from trlprep.trainers.hub_bars import data_progress, main_process, shown


@pytest.fixture
def off_a_terminal(monkeypatch):
    for name in ("TTY_COMPATIBLE", "FORCE_COLOR", "RANK", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    "env, expected",
    [({}, False), ({"TTY_COMPATIBLE": "1"}, True), ({"FORCE_COLOR": "1"}, True)],
)
def test_hub_bars_take_a_terminal_as_the_data_bars_do(off_a_terminal, env, expected):
    # pytest captures stderr: no terminal unless the environment says one is there
    for name, value in env.items():
        off_a_terminal.setenv(name, value)
    assert data_progress(None) is expected
    assert shown(None) is expected  # was: stderr.isatty() alone (FORCE_COLOR: no bars)


def test_hub_bars_follow_progress_and_show_in_the_main_process_only(off_a_terminal):
    assert main_process() and shown(True) and not shown(False)
    off_a_terminal.setenv("TTY_COMPATIBLE", "1")
    off_a_terminal.setenv("RANK", "1")  # another process of `torchrun` / `accelerate launch`
    assert not main_process()
    assert not shown(True) and not shown(None)
    assert data_progress(None)  # the data bars' own test; the caller adds the process
