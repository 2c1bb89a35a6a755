"""What every part of the Ray engine shares: the hidden columns rows carry, connecting to
Ray, and the blocks of a dataset with their global row offsets."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from trlprep.errors import TrlprepError, UsageError

# LINE: each row's 1-based file line (null: not a line-based file)
from trlprep.io.csvranges import LINE  # noqa: F401

if TYPE_CHECKING:
    import ray.data

PAIR_KEY = "__trlprep_pair_key__"
REJECT = "__trlprep_reject__"  # (stage, reason) of a row a stage refused; null otherwise
HALF = "__trlprep_half__"  # 0/1: first or second row of an unpaired pair (--order blocks)
# turn: a `--split-turns all` row's refused turn (`trlprep.conversion.byturn`); null: whole row
REJECT_TYPE = pa.struct([("stage", pa.string()), ("reason", pa.string()), ("turn", pa.int64())])


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise UsageError("--engine ray needs Ray Data", hint='pip install "trlprep[ray]"') from None
    return ray


def init(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to Ray: `address` "auto" or "ray://host:port" (None: a local instance)."""
    ray = _ray()
    for name in ("ray", "ray.data"):  # Ray Data logs each dataset's execution at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    _context()
    _quiet_worker_deaths()
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False)
    if address is None:
        kwargs["num_cpus"] = num_cpus
    ray.init(address=address, logging_level="ERROR", **kwargs)


def _quiet_worker_deaths() -> None:
    """Ray's driver prints a raylet's "A worker died or was killed" into the command's
    stdout (even with `log_to_driver=False`), also for an idle actor stopped as a run ends;
    a task that really lost its worker is retried or raises, and says so. Those lines go to
    the `trlprep.ray` logger (debug) instead; Ray's other lines are printed as before."""
    try:
        from ray._private import worker
    except ImportError:  # another Ray layout: its lines stay as they are
        return
    printer = getattr(worker, "print_to_stdstream", None)
    if printer is None or getattr(printer, "_trlprep", False):
        return

    def printing(data: dict, *args: Any, **kwargs: Any) -> None:
        lines = data.get("lines") or []
        if data.get("pid") == "raylet" and all("A worker died" in str(x) for x in lines):
            logging.getLogger("trlprep.ray").debug("%s", " ".join(map(str, lines)))
            return
        printer(data, *args, **kwargs)

    printing._trlprep = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = printing


@contextlib.contextmanager
def unwrapped() -> Iterator[None]:
    """A trlprep error raised inside a Ray task leaves as itself (its message, exit code),
    not as the RayTaskError that wraps it (`raise_original_map_exception` does not reach
    every path: a task's error met by `materialize` or `iter_batches` stays wrapped), and
    Ray Data does not print its traceback. Also a decorator."""
    _quiet_trlprep_errors()
    try:
        yield
    except Exception as e:
        found = _cause(e)
        if found is None or found is e:
            raise
        raise found from None


def _cause(e: BaseException | None, depth: int = 0) -> TrlprepError | None:
    """The innermost trlprep error in `e`'s chain (Ray keeps the original in `.cause`)."""
    if e is None or depth > 8:
        return None
    for nxt in (getattr(e, "cause", None), e.__cause__):
        found = _cause(nxt, depth + 1) if isinstance(nxt, BaseException) else None
        if found is not None:
            return found
    return e if isinstance(e, TrlprepError) and not _wrapped(e) else None


def _wrapped(e: BaseException) -> bool:
    """True for Ray's RayTaskError(DataError): a subclass of both, its text a traceback."""
    return any(c.__name__ == "RayTaskError" for c in type(e).__mro__)


def _context() -> None:
    """Row numbers follow the input's order and outputs keep it; a DataError raised in a
    task stays one (in RayTaskError), and Ray Data does not print its traceback."""
    ctx = _ray().data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.raise_original_map_exception = True
    _quiet_trlprep_errors()


class _TrlprepErrorFilter(logging.Filter):
    """Drops Ray Data's console records about a trlprep error raised in a task (its
    traceback, "Exception occurred in Ray Data ... internal code"): the error reaches
    the caller as itself (`unwrapped`), said once. Ray logs them while handling it."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else sys.exc_info()[1]
        return _cause(exc) is None


def _quiet_trlprep_errors() -> None:
    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            if not any(isinstance(f, _TrlprepErrorFilter) for f in handler.filters):
                handler.addFilter(_TrlprepErrorFilter())


def _arrow(block: Any) -> pa.Table:
    from ray.data.block import BlockAccessor

    return block if isinstance(block, pa.Table) else BlockAccessor.for_block(block).to_arrow()


# Ray Data keeps a column it cannot type (text in most rows, a number in one) as pickled
# Python objects under this extension type
PICKLED = "ray.data.arrow_pickled_object"


def entered(block: Any) -> pa.Table:
    """A block as the local engine takes data in: Ray's pickled-object columns read as
    trlprep reads Python values (`column_from_values`: values of several kinds as tagged
    JSON text, so `trlprep.io.kinds` names each row's kind), then `at_entry`."""
    from trlprep.io.jsonext import at_entry
    from trlprep.io.jsontext import column_from_values

    t = _arrow(block)
    for i, f in enumerate(t.schema):
        if isinstance(f.type, pa.BaseExtensionType) and f.type.extension_name == PICKLED:
            # the values are Python objects already: one pass over them, as the API reads rows
            field, values = column_from_values(f.name, t.column(i).to_pylist())
            t = t.set_column(i, field, values)
    return at_entry(t)


def _blocks(ds: ray.data.Dataset) -> list[tuple[Any, int, int]]:
    """(block ref, offset of its first row, rows) of every block, in dataset order."""
    out, offset = [], 0
    for bundle in ds.materialize().iter_internal_ref_bundles():
        for entry in bundle.blocks:
            n = entry.metadata.num_rows
            out.append((entry.ref, offset, n))
            offset += n
    return out
