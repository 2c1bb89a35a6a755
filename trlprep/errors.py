"""Errors a user can cause, each with the exit code the CLI returns for it; `warn_user`: a
warning named at the user's line; `holding_warnings`: those of an attempt that may be redone;
`unknown_choice`: the one wording of a value that is not one of an option's choices."""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class TrlprepWarning(UserWarning):
    """A warning trlprep gives its user (the CLI prints it as one `warning:` line)."""


class TemplateNote(TrlprepWarning):
    """What a chat-template render did to some rows (text parts joined, the common prefix
    used as the prompt): `trlprep convert` prints it as a `note:` line, the Python API warns."""


class TrlprepError(Exception):
    """Base error: a short message, an optional location and a hint on what to do."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        path: str | None = None,
        line: int | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = path
        self.line = line
        self.row = row
        self.column = column

    def location(self) -> str:
        parts = []
        if self.path:
            parts.append(str(self.path) + (f":{self.line}" if self.line is not None else ""))
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.row is not None and self.line is None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        loc = self.location()
        text = f"{loc}: {self.message}" if loc else self.message
        return text + (f"\n  hint: {self.hint}" if self.hint else "")


class UsageError(TrlprepError):
    """Bad arguments: unknown names, conflicting options (exit 2)."""

    exit_code = 2


class InputError(TrlprepError):
    """A file that cannot be read or written (exit 2)."""

    exit_code = 2


class DataError(TrlprepError):
    """Data that does not fit what was asked of it (exit 1). `counts`: where rows were
    refused, how many of how many (`RowCounts`), else None."""

    exit_code = 1
    counts: RowCounts | None = None


@dataclass(frozen=True)
class RowCounts:
    """The rows of a run that stopped on refused rows, every row accounted for: `rows_in`
    read (the whole input), `rejected` of them refused, `kept` the others (rows no step
    refused: `kept_as` says what they would do); `said`: the counts line, as the run said
    it (`preference -> unpaired-preference (standard): 3 rows in, 1 rejected, 2 would
    convert; nothing returned (stopped)`), `route` the route it names, if any."""

    rows_in: int
    rejected: int
    kept: int
    said: str
    route: str | None = None
    kept_as: str = "would convert"


def with_counts(error: DataError, counts: RowCounts) -> DataError:
    """`error` as the Python API raises a stop: its `counts`, and its message ending with
    them (`...; ROUTE: 3 rows in, 1 rejected, 2 would convert; nothing returned (stopped)`)."""
    error.counts = counts
    error.message += f"; {counts.said}"
    return error


# Name of the hidden column that carries each row's input row index through conversion,
# templating and tokenising, so a failure in any stage can name (and skip) the input row.
ROW_ID = "__trlprep_row__"
# The stage of rows a pairing import leaves out because they tie (the annotators or the
# scores name no better answer): no error in the data, so they stop no run and fail no
# validation; they are counted and listed with their reason as every set-aside row is.
NOT_PAIRED = "not paired"


class RowFailures(DataError):
    """Some rows of a table cannot go through a stage; every failing row of it is listed.

    `rows` are positions in the table the stage was given (not input rows: the driver
    maps them back through the `ROW_ID` column), `reasons` one message per row, `stage`
    the step that refused them (conversion, chat template, tokenize, ...).
    """

    def __init__(
        self,
        rows: list[int],
        reasons: list[str],
        *,
        stage: str,
        hint: str | None = None,
    ) -> None:
        if len(rows) != len(reasons):
            raise ValueError("one reason per failing row")
        first = f"row {rows[0]}: {reasons[0]}" if rows else "no rows"
        more = f" ({len(rows) - 1} more {'row fails' if len(rows) == 2 else 'rows fail'})"
        more = more if len(rows) > 1 else ""
        super().__init__(f"{stage}: {first}{more}", hint=hint)
        self.rows = list(rows)
        self.reasons = list(reasons)
        self.stage = stage


def _in_package(frame: Any) -> bool:
    """Whether `frame` runs trlprep's code (by module name: an editable install maps
    converters/ and trainers/ in from other folders, a wheel places them inside)."""
    name = frame.f_globals.get("__name__") or ""
    return name == "trlprep" or name.startswith("trlprep.")


# libraries whose frames wrap trlprep's own (a @torch.no_grad() function, an autograd
# Function's forward and backward): never the user's code
_WRAPPERS = ("torch",)


def _in_wrapper(frame: Any) -> bool:
    name = frame.f_globals.get("__name__") or ""
    return any(name == w or name.startswith(w + ".") for w in _WRAPPERS)


def warn_user(message: str | Warning, category: type[Warning] | None = None) -> None:
    """`warnings.warn` naming the caller's line outside trlprep (the user's code that called
    the public function), however deep in trlprep it is said (Python 3.12's
    `skip_file_prefixes` does this; trlprep runs on 3.10 too)."""
    held = getattr(_held, "items", None)
    if held is not None:
        held.append((message, category))
        return
    frames = []  # frames[i]: the frame at stacklevel i + 2 (1 is this function)
    frame = sys._getframe(1)
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    # the caller of the outermost trlprep frame (torch's frames may lie between trlprep's),
    # past torch's wrapping it
    i = next((k + 1 for k in range(len(frames) - 1, -1, -1) if _in_package(frames[k])), 0)
    while 0 < i < len(frames) and _in_wrapper(frames[i]):
        i += 1
    if category is None or category is UserWarning:
        category = TrlprepWarning
    speaking = getattr(_api_call, "func", None) or _the_running_call()
    if speaking is not None:  # said inside a public API function: in its words
        message = _warning_in_python_words(message, speaking)
    warnings.warn(message, category, stacklevel=i + 2)


def in_callers_words(text: str) -> str:
    """`text` (a warning said for the CLI, logged rather than warned) in the words of the
    public API function running, if any (`speaks_python`); as it is for the CLI."""
    speaking = getattr(_api_call, "func", None) or _the_running_call()
    if speaking is None:
        return text
    from trlprep.keywords.said import python_words

    return python_words(text, speaking) or text


def _warning_in_python_words(message: str | Warning, func: Callable) -> str | Warning:
    from trlprep.keywords.said import python_words

    if isinstance(message, str):
        return python_words(message, func) or message
    if message.args and isinstance(message.args[0], str):
        message.args = (python_words(message.args[0], func), *message.args[1:])
    return message


# per thread, not `catch_warnings`: that swaps process-wide state, and batches may run in threads
_held = threading.local()
# the outermost public API function running in this thread (`speaks_python`), if any
_api_call = threading.local()
# thread id -> the outermost public API function running in that thread: a worker thread
# (a library's prefetch or executor thread working for a call) speaks its caller's words
_running: dict[int, Callable] = {}
_running_lock = threading.Lock()


def _the_running_call() -> Callable | None:
    """The public API function a thread outside any call works for: the one running, when
    one function is running in this process (several: whose worker it is cannot be told,
    and the CLI's words are kept)."""
    if not _running:
        return None
    with _running_lock:
        funcs = set(_running.values())
    return funcs.pop() if len(funcs) == 1 else None


@contextlib.contextmanager
def holding_warnings() -> Iterator[list[tuple[str | Warning, type[Warning] | None]]]:
    """Keep this thread's `warn_user` warnings in the list yielded instead of showing them
    (an attempt that may be redone on fewer rows: only the kept attempt's are shown, with
    `show_held`)."""
    outer = getattr(_held, "items", None)
    _held.items = []
    try:
        yield _held.items
    finally:
        _held.items = outer


def show_held(held: list[tuple[str | Warning, type[Warning] | None]]) -> None:
    """Show warnings kept by `holding_warnings` (held again by an enclosing hold)."""
    for message, category in held:
        warn_user(message, category)


def speaks_python(func: Callable[P, R]) -> Callable[P, R]:
    """`func` (a public Python API function) with the TrlprepErrors it raises said in the
    API's words: the CLI flags in their message and hint become keyword arguments
    (`trlprep.keywords.said.python_words`); the CLI, calling the same code unwrapped, keeps
    its own."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        outer = getattr(_api_call, "func", None)
        _api_call.func = outer or func
        me = threading.get_ident()
        if outer is None:
            with _running_lock:
                _running[me] = func
        try:
            result = func(*args, **kwargs)
        except TrlprepError as e:
            _in_python_words(e, func)
            raise
        finally:
            _api_call.func = outer
            if outer is None:
                with _running_lock:
                    _running.pop(me, None)
        if outer is None:
            _said_in_python(result, func)
        return result

    return wrapper


def _said_in_python(result: Any, func: Callable) -> None:
    """The messages, hints and notes of a returned validation `Report` or `Detection` (one
    per split in a dict) said in `func`'s words, as its errors are."""
    from trlprep.keywords.said import python_words

    report = sys.modules.get("trlprep.validation.report")
    detect = sys.modules.get("trlprep.detection.detect")
    kinds = tuple(
        k for k in (getattr(report, "Report", None), getattr(detect, "Detection", None)) if k
    )
    figures = sys.modules.get("trlprep.datareport.result")
    for item in result.values() if isinstance(result, dict) else (result,):
        if figures is not None and isinstance(item, figures.DataReport):
            _report_in_python_words(item.data, func)
        if not kinds or not isinstance(item, kinds):
            continue
        for said in getattr(item, "issues", None) or getattr(item, "problems", None) or ():
            said.message = python_words(said.message, func) or said.message
            said.hint = python_words(said.hint, func)
        item.notes[:] = [python_words(n, func) or n for n in item.notes]


def _report_in_python_words(data: dict, func: Callable) -> None:
    """A `DataReport`'s notes (how its input was read) and its validation issues' words."""
    from trlprep.keywords.said import python_words

    header = data.get("report") or {}
    header["notes"] = [python_words(n, func) or n for n in header.get("notes") or ()]
    for issue in (data.get("validation") or {}).get("issues") or ():
        for key in ("message", "hint"):
            if isinstance(issue.get(key), str):
                issue[key] = python_words(issue[key], func)


def _in_python_words(e: TrlprepError, func: Callable) -> None:
    """`e`'s message and hint with CLI flags said as keyword arguments (once: an API function
    calling another one leaves the error as the inner one said it)."""
    from trlprep.keywords.said import python_words

    if getattr(e, "said_in_python", False):
        return
    e.message = python_words(e.message, func) or e.message
    e.hint = python_words(e.hint, func)
    e.args = (e.message, *e.args[1:])
    e.said_in_python = True


# ------------------------------------------------ a value that is not one of an option's choices
def did_you_mean(value: object, allowed: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for a value one slip away from an allowed one, else nothing."""
    import difflib

    text = str(value).strip().lower()
    close = difflib.get_close_matches(text, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_choice(flag: str, value: object, allowed: Iterable[str]) -> UsageError:
    """The error for `value` given to `flag` (`--on-error`), which takes only `allowed`."""
    allowed = list(allowed)
    return UsageError(
        f"unknown {flag} {value!r}" + did_you_mean(value, allowed),
        hint="use one of: " + ", ".join(allowed),
    )
