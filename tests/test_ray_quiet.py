"""Ray's driver printed a raylet's "A worker died or was killed" line into a command's
output (an idle render actor stopped as the run ended: CI saw it before the counts line);
`trlprep.ray.base.init` keeps those lines out, and Ray's other lines as they were."""

from __future__ import annotations

import contextlib
import io

import pytest

pytest.importorskip("ray")

from ray._private import worker  # noqa: E402

from trlprep.ray import base  # noqa: E402


def _printed(lines: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        data = {"lines": lines, "pid": "raylet", "is_err": False}
        worker.print_to_stdstream(data, ignore_prefix=False)
    return out.getvalue()


def test_worker_deaths_are_kept_out_of_the_output_and_other_lines_printed():
    base._quiet_worker_deaths()
    base._quiet_worker_deaths()  # once only: not wrapped twice
    assert _printed(["A worker died or was killed while executing a task"]) == ""
    assert "another raylet error" in _printed(["another raylet error"])
