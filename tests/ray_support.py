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
