"""Command-line interface: `trlprep COMMAND ...` (also `python -m trlprep`).

`main` loads only the module of the command it runs (start-up stays light: no data library
is imported before the command needs it); `trlprep.cli.app` loads every command.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from typing import Any

# command -> the module that registers it
COMMANDS = {
    "detect": "detect_cmd",
    "validate": "validate_cmd",
    "report": "report_cmd",
    "convert": "convert_cmd",
    "import": "import_cmd",
    "graph": "convert_cmd",
    "templates": "templates_cmd",
    "check-template": "templates_cmd",
    "pack": "pack_cmd",
    "schema": "schema_cmd",
    "train": "train_cmd",
}


def load_commands(names: list[str] | None = None) -> None:
    """Register the named commands (all of them when `names` is None)."""
    wanted = COMMANDS.values() if names is None else [COMMANDS[n] for n in names]
    for module in dict.fromkeys(wanted):
        importlib.import_module(f"trlprep.cli.{module}")


def _command_in(argv: list[str]) -> str | None:
    """The command an argument list runs, when it runs one (not `--help`, `--version`)."""
    for arg in argv:
        if arg in ("--debug",):
            continue
        return arg if arg in COMMANDS else None
    return None


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] == ["--version"]:  # what `trlprep --version` prints, without typer
        from trlprep import __version__

        try:
            print(f"trlprep {__version__}", flush=True)
        except BrokenPipeError:  # `trlprep --version | true`: nothing to say it to
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
        return
    from trlprep.cli.allocators import return_freed_memory
    from trlprep.cli.app import main as run

    command = _command_in(sys.argv[1:])
    if command not in (None, "train"):  # (torch's CPU tensors reuse the blocks glibc keeps)
        return_freed_memory()  # before any data library loads
    if command is not None:
        load_commands([command])
    elif sys.argv[1:2] != ["--version"]:
        load_commands()
    run()


def __getattr__(name: str) -> Any:
    if name == "app":  # the Typer application, every command registered
        load_commands()
        from trlprep.cli.app import app

        globals()["app"] = app
        return app
    raise AttributeError(f"module 'trlprep.cli' has no attribute {name!r}")


class _Package(types.ModuleType):
    """`trlprep.cli.app` names the application even once the module `app.py` is imported."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "app" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = ["app", "main"]
