"""Command-line interface: `trlprep COMMAND ...` (also `python -m trlprep`)."""

from trlprep.cli import detect_cmd  # noqa: F401  (registers commands)
from trlprep.cli.app import app, main

__all__ = ["app", "main"]
