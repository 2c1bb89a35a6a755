"""Memory freed by a command given back to the system as it is freed, so that a streamed
command's peak follows the batch it holds, not what the allocators kept from earlier ones.

Set once by the CLI for every command but `train` (torch's CPU tensors do better with the
blocks glibc keeps), before any data library loads; the Python API leaves the process's
allocators as its caller set them. Three allocators hold freed memory by default: Arrow's
mimalloc keeps freed pages for a while (`MIMALLOC_PURGE_DELAY`, read when pyarrow loads),
so does polars' jemalloc (10 s; `_RJEM_MALLOC_CONF`, read as polars starts), and glibc's
malloc (numpy, Python's bytes) raises its mmap threshold to the largest block freed (up to
32 MiB), after which blocks of that size come from heaps it seldom shrinks.
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 1 << 20  # blocks from this size on are mapped apart, and unmapped when freed


def return_freed_memory() -> None:
    """Have mimalloc (Arrow's default pool), polars' jemalloc and glibc's malloc give freed
    memory back at once; a value the user set in the environment is kept."""
    if "pyarrow" not in sys.modules:  # read once, as the pool starts
        os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
    if "polars" not in sys.modules:
        os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):  # no mallopt to call: nothing to set
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)  # a fixed threshold: never raised


__all__ = ["MMAP_THRESHOLD", "return_freed_memory"]
