"""The `trlprep` Typer application, its global options and error handling."""

from __future__ import annotations

import functools
import os
import signal
import sys
import warnings
from collections.abc import Callable
from typing import Any

import typer

from trlprep import __version__
from trlprep.cli.conventions import Command, Group
from trlprep.errors import TrlprepError, TrlprepWarning

BAD_LINES_HINT = "; or pass --on-bad-lines skip"  # what a broken JSON Lines line's hint adds
TERMINATED = 128 + signal.SIGTERM  # the exit code of a run stopped by SIGTERM (143)
CLOSED_PIPE = 128 + signal.SIGPIPE  # stdout's reader went away (`| head`): 141, as shells say

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


def _console(**kwargs: Any) -> Any:
    """A rich `Console` whose broken pipe is raised as `BrokenPipeError` (rich would exit 1,
    the exit code of invalid data), so a closed `| head` ends every command alike."""
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    return PipeConsole(**kwargs)


def _print_unpadded(console: Any, table: Any) -> None:
    """`table` printed line by line without the spaces rich pads each line's last cell with
    (the columns keep their widths)."""
    from rich.segment import Segment, Segments

    for line in console.render_lines(table, console.options, pad=False):
        segments = list(line)
        while segments and not segments[-1].control and not segments[-1].text.rstrip(" "):
            segments.pop()
        if segments and not segments[-1].control:
            last = segments[-1]
            segments[-1] = Segment(last.text.rstrip(" "), last.style, last.control)
        console.print(Segments([*segments, Segment.line()]), end="")


class Stream:
    """stdout or stderr for the commands: `print(text, markup=False)` of plain strings and
    `is_terminal` without rich (rich's console is a tenth of a second of start-up); anything
    else (markup, tables, JSON, progress) goes to a rich `Console` built on first use."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Any = None

    @property
    def console(self) -> Any:
        """The rich console of this stream (soft wrap, no highlighting)."""
        if self._console is None:
            self._console = _console(stderr=self._stderr, soft_wrap=True, highlight=False)
        return self._console

    @property
    def file(self) -> Any:
        return sys.stderr if self._stderr else sys.stdout

    @property
    def is_terminal(self) -> bool:
        """As rich decides it (TTY_COMPATIBLE, FORCE_COLOR, then isatty)."""
        if self._console is not None:
            return self._console.is_terminal
        tty = os.environ.get("TTY_COMPATIBLE", "")
        if tty in ("0", "1"):
            return tty == "1"
        force = os.environ.get("FORCE_COLOR")
        if force is not None:
            return force != ""
        try:
            return bool(self.file.isatty())
        except (AttributeError, ValueError):
            return False

    def print(self, *objects: Any, markup: bool | None = None, **kwargs: Any) -> None:
        """rich's `Console.print`; plain strings with `markup=False` are written as they are."""
        if markup is False and not kwargs and all(isinstance(o, str) for o in objects):
            self.file.write(" ".join(objects) + "\n")
            return
        self.console.print(*objects, markup=markup, **kwargs)

    def print_table(self, table: Any) -> None:
        """A rich table: fitted to a terminal's width; off a terminal (a pipe, a file) at its
        natural width, so no cell is wrapped or cut to fit 80 columns."""
        if self.is_terminal:
            _print_unpadded(self.console, table)
            return
        from rich.measure import Measurement

        wide = _console(file=self.file, width=1_000_000, soft_wrap=True, highlight=False)
        width = Measurement.get(wide, wide.options, table).maximum
        fitted = _console(file=self.file, width=width, soft_wrap=True, highlight=False)
        _print_unpadded(fitted, table)

    def print_json(self, json: str | None = None, **kwargs: Any) -> None:
        """rich's `Console.print_json`; off a terminal (no colours) the same text without rich."""
        if self.is_terminal or kwargs:
            self.console.print_json(json, **kwargs)
            return
        import json as json_module

        data = json_module.loads(json)
        self.file.write(json_module.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


out = Stream()
err = Stream(stderr=True)
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
    from rich.markup import escape

    loc = error.location()
    text = escape(f"{loc + ': ' if loc else ''}{error.message}")
    try:
        err.print(f"[bold red]error[/]: {text}", markup=True)
        if error.hint:
            err.print(f"  [cyan]hint[/]: {escape(error.hint)}", markup=True)
    except BrokenPipeError:  # stderr's reader went away (`2>&1 | head -1`): the code still says it
        _quiet()
    return typer.Exit(error.exit_code)


def debug_hint(command: str) -> str:
    """How to rerun `command` with the traceback shown: `--debug` is the root's option,
    given before the command's name (`trlprep report --debug` is refused)."""
    return f"rerun as `trlprep --debug {command} ...` for the traceback"


def _quiet() -> None:
    """stdout and stderr sent to /dev/null (their reader is gone: nothing more can be said)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        os.dup2(devnull, stream.fileno())


def _show_warning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """trlprep's warnings as one `warning: ...` line; other libraries' as Python shows them."""
    if issubclass(category, TrlprepWarning):
        err.print(f"warning: {message}", markup=False)
    else:
        _SHOW(message, category, *args, **kwargs)


_SHOW = warnings.showwarning


def command(*args: Any, **kwargs: Any) -> Callable:
    """`app.command` that turns trlprep errors into one message and an exit code."""

    def deco(fn: Callable) -> Callable:
        import inspect

        skips_bad_lines = "on_bad_lines" in inspect.signature(fn).parameters
        name = args[0] if args else kwargs.get("name") or fn.__name__.replace("_", "-")

        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            try:
                return said(*a, **kw)
            except BrokenPipeError:
                if _state["debug"] or not (_closed(sys.stdout) or _closed(sys.stderr)):
                    raise
                _quiet()  # `trlprep detect DATA | head`: the reader has what it wanted
                raise typer.Exit(CLOSED_PIPE) from None

        def said(*a: Any, **kw: Any) -> Any:
            try:
                with warnings.catch_warnings():  # (the process's own handler given back)
                    warnings.showwarning = _show_warning
                    return fn(*a, **kw)
            except TrlprepError as e:
                if _state["debug"]:
                    raise
                if not skips_bad_lines and e.hint:  # advise only options this command has
                    e.hint = e.hint.replace(BAD_LINES_HINT, "")
                raise fail(e) from None
            except KeyboardInterrupt as e:
                terminated = isinstance(e, Terminated)
                err.print("terminated" if terminated else "interrupted")
                raise typer.Exit(TERMINATED if terminated else 130) from None
            except (typer.Exit, typer.Abort, SystemExit, BrokenPipeError):
                raise
            except Exception as e:  # a bug or an unexpected library error
                if _state["debug"]:
                    raise
                err.print(f"error: {type(e).__name__}: {e}", markup=False)
                err.print(f"  hint: {debug_hint(name)}", markup=False)
                raise typer.Exit(2) from None

        kwargs.setdefault("cls", Command)
        return app.command(*args, **kwargs)(wrapper)

    return deco


def _closed(stream: Any) -> bool:
    """Whether `stream` (stdout, stderr) is a pipe whose reader has gone (not a broken pipe
    of some worker)."""
    import select

    try:
        poller = select.poll()
        poller.register(stream.fileno(), select.POLLOUT)
        return any(ev & select.POLLERR for _, ev in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


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
        if isinstance(code, int) and code != 0 and code not in (1, 2, 130, CLOSED_PIPE, TERMINATED):
            sys.exit(2)
        raise
    finally:  # the command is over: a SIGTERM while the interpreter shuts down just ends it
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # (raised in atexit, it printed tracebacks)
