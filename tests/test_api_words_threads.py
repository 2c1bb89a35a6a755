"""Warnings said in a worker thread (a library's executor or prefetch thread working for a
public function) speak that function's keyword arguments, as its own thread's do."""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

from trlprep.errors import speaks_python, warn_user

SAID = "3 rows left out; pass --on-error skip to go on, or --coerce"


def _public(on_error: str = "stop", coerce: bool = False) -> None:
    """Stands for a public function whose work runs in a worker thread."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(warn_user, SAID).result()


def _caught(call) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in caught]


def test_a_worker_thread_speaks_its_caller_s_words():
    said = _caught(speaks_python(_public))
    assert said == ["3 rows left out; pass on_error='skip' to go on, or coerce=True"]


def test_the_cli_s_calls_keep_their_flags_in_worker_threads():
    assert _caught(_public) == [SAID]


def test_two_calls_at_once_leave_a_worker_s_words_as_they_are():
    entered, done = threading.Event(), threading.Event()

    def waiting(on_error: str = "stop") -> None:
        entered.set()
        done.wait(10)

    call = threading.Thread(target=speaks_python(waiting))
    call.start()
    try:
        assert entered.wait(10)
        said = _caught(speaks_python(_public))  # whose worker it is cannot be told
    finally:
        done.set()
        call.join()
    assert said == [SAID]
    assert _caught(speaks_python(_public)) == [  # the other call is over: its caller's
        "3 rows left out; pass on_error='skip' to go on, or coerce=True"
    ]
