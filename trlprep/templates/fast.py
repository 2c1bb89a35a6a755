"""String-column renderers for built-in templates (no per-row Jinja), used where proven equal."""

from __future__ import annotations


def try_fast(job, plan, batch):
    """Rendered columns for `batch` without Jinja, or None when no fast renderer applies."""
    return None
