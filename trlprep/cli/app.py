"""The `trlprep` Typer application, its global options and error handling."""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from trlprep import __version__
from trlprep.cli.conventions import Command, Group
from trlprep.errors import TrlprepError

TERMINATED = 128 + signal.SIGTERM  # the exit code of a run stopped by SIGTERM (143)

app = typer.Typer(
    name="trlprep",
    help="Detect, validate, convert and chat-template datasets for TRL-style post-training.",
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)
_state = {"debug": False}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every `finally` and context manager cleans up."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trlprep {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show the Python traceback on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    _state["debug"] = debug


def fail(error: TrlprepError) -> typer.Exit:
    """Print a user error in one block (message, location, hint) and return its exit."""
    loc = error.location()
    text = escape(f"{loc + ': ' if loc else ''}{error.message}")
    err.print(f"[bold red]error[/]: {text}", markup=True)
    if error.hint:
        err.print(f"  [cyan]hint[/]: {escape(error.hint)}", markup=True)
    return typer.Exit(error.exit_code)


def command(*args: Any, **kwargs: Any) -> Callable:
    """`app.command` that turns trlprep errors into one message and an exit code."""

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            try:
                return fn(*a, **kw)
            except TrlprepError as e:
                if _state["debug"]:
                    raise
                raise fail(e) from None
            except KeyboardInterrupt as e:
                terminated = isinstance(e, Terminated)
                err.print("terminated" if terminated else "interrupted")
                raise typer.Exit(TERMINATED if terminated else 130) from None
            except (typer.Exit, typer.Abort, SystemExit):
                raise
            except Exception as e:  # a bug or an unexpected library error
                if _state["debug"]:
                    raise
                err.print(f"error: {type(e).__name__}: {e}", markup=False)
                err.print("  hint: rerun with --debug for the traceback", markup=False)
                raise typer.Exit(2) from None

        kwargs.setdefault("cls", Command)
        return app.command(*args, **kwargs)(wrapper)

    return deco


def handle_sigterm() -> None:
    """Turn the first SIGTERM into `Terminated` in this process (not in forked workers)."""
    main_pid = os.getpid()

    def on_sigterm(signum: int, frame: object) -> None:
        if os.getpid() != main_pid:  # a forked worker: die as SIGTERM would
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # cleaning up: one is enough
        raise Terminated()

    signal.signal(signal.SIGTERM, on_sigterm)


def main() -> None:
    """Console-script entry point."""
    handle_sigterm()
    try:
        app()
    except Terminated:
        err.print("terminated")
        sys.exit(TERMINATED)
    except SystemExit as e:
        code = e.code
        if isinstance(code, int) and code != 0 and code not in (1, 2, 130, TERMINATED):
            sys.exit(2)
        raise
