"""What every part of the Ray engine shares: the hidden columns rows carry, connecting to
Ray, and the blocks of a dataset with their global row offsets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from trlprep.errors import UsageError

if TYPE_CHECKING:
    import ray.data

PAIR_KEY = "__trlprep_pair_key__"
LINE = "__trlprep_line__"  # each row's 1-based file line (null: not a line-based file)
REJECT = "__trlprep_reject__"  # (stage, reason) of a row a stage refused; null otherwise
HALF = "__trlprep_half__"  # 0/1: first or second row of an unpaired pair (--order blocks)
REJECT_TYPE = pa.struct([("stage", pa.string()), ("reason", pa.string())])


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise UsageError("--engine ray needs Ray Data", hint='pip install "trlprep[ray]"') from None
    return ray


def init(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to Ray: `address` "auto" or "ray://host:port" (None: a local instance)."""
    import logging

    ray = _ray()
    for name in ("ray", "ray.data"):  # Ray Data logs each dataset's execution at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    _context()
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False)
    if address is None:
        kwargs["num_cpus"] = num_cpus
    ray.init(address=address, logging_level="ERROR", **kwargs)


def _context() -> None:
    """Row numbers follow the input's order and outputs keep it; a DataError raised in a
    task stays one (in RayTaskError)."""
    ctx = _ray().data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.raise_original_map_exception = True


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
