"""The local Ray instance the Ray tests share: 2 CPUs, started once per test session (Ray
takes seconds to start) and shut down at its end. Import `local_ray` into a test module."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def local_ray():
    """A local Ray instance with 2 CPUs (left running when one already runs)."""
    import logging

    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    for name in ("ray", "ray.data"):  # Ray Data logs every dataset's statistics at DEBUG
        logging.getLogger(name).setLevel(logging.WARNING)
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    if started:
        ray.shutdown()


def run_outcome(res, out) -> tuple[int, str, bytes, str | None]:
    """(exit code, messages, output bytes, rejects text) of a CLI run that wrote `out`
    (a file, or Ray's folder of one shard): the output names written OUT and Ray's own
    `ray: ` prefix dropped, so both engines' runs compare equal."""
    import re

    written = b""
    if out.is_dir():
        (shard,) = out.iterdir()
        written = shard.read_bytes()
    elif out.exists():
        written = out.read_bytes()
    rej = out.parent / f"{out.stem}.rejects.jsonl"
    rejects = rej.read_text() if rej.exists() else None
    said = re.sub(r"(ray_out|local)(\.jsonl)?( \(1 shard\))?", "OUT", res.output)
    said = "\n".join(x.removeprefix("ray: ") for x in said.splitlines())
    return res.exit_code, said, written, rejects
