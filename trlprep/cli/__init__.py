"""Command-line interface: `trlprep COMMAND ...` (also `python -m trlprep`)."""

from trlprep.cli import (  # noqa: F401  (registers commands)
    convert_cmd,
    detect_cmd,
    import_cmd,
    pack_cmd,
    schema_cmd,
    templates_cmd,
    train_cmd,
    validate_cmd,
)
from trlprep.cli.app import app, main

__all__ = ["app", "main"]
