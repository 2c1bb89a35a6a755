"""The `trlprep` Typer application, its global options and error handling."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from trlprep.errors import TrlprepError

app = typer.Typer(
    name="trlprep",
    help="Detect, validate, convert and chat-template datasets for TRL-style post-training.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)
_state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show the Python traceback on errors."),
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
            except KeyboardInterrupt:
                err.print("interrupted")
                raise typer.Exit(130) from None
            except (typer.Exit, typer.Abort, SystemExit):
                raise
            except Exception as e:  # a bug or an unexpected library error
                if _state["debug"]:
                    raise
                err.print(f"error: {type(e).__name__}: {e}", markup=False)
                err.print("  hint: rerun with --debug for the traceback", markup=False)
                raise typer.Exit(2) from None

        return app.command(*args, **kwargs)(wrapper)

    return deco


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit as e:
        code = e.code
        if isinstance(code, int) and code != 0 and code not in (1, 2, 130):
            sys.exit(2)
        raise
