"""Global row numbers and file lines: each row's `ROW_ID` (its row in the whole input) and
`LINE` (its file line, for local JSON Lines files), as the local engine numbers them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from trlprep.errors import ROW_ID
from trlprep.ray.base import _arrow, _blocks, _ray, entered, unwrapped

if TYPE_CHECKING:
    import ray.data


@unwrapped()
def numbered(ds: ray.data.Dataset) -> tuple[ray.data.Dataset, int]:
    """`ds` with `ROW_ID` (each row's index in the whole dataset) and its row count; every
    block as the local engine takes data in (`base.entered`: Ray's pickled-object columns
    read as Python values, `datasets`' `Json` columns decoded, a `tools` struct made each
    row's own JSON text), since a Ray dataset (one of the caller's, or read from object
    storage by Ray) enters here."""
    ray = _ray()
    blocks = _blocks(ds)
    refs = [_remote(_number).remote(ref, offset) for ref, offset, _ in blocks]
    refs = _joinable(refs)
    total = sum(n for _, _, n in blocks)
    return (ray.data.from_arrow_refs(refs) if refs else ds), total


@functools.cache
def _remote(fn: Callable[..., Any]) -> Any:
    """`fn` as a Ray remote function, made once per process."""
    return _ray().remote(fn)


def _number(block: Any, offset: int) -> pa.Table:
    t = entered(block)
    if ROW_ID in t.column_names:
        return t
    return t.append_column(ROW_ID, pa.array(np.arange(offset, offset + t.num_rows)))


def _joinable(refs: list[Any]) -> list[Any]:
    """`refs` made to join as the local engine joins pieces read apart
    (`trlprep.io.joining.concat_tables`): tool-call arguments that are JSON text in one
    block made so in all, and every column whose blocks hold kinds Arrow cannot merge
    (text in one, numbers in another), or that is JSON text in any block, made tagged
    JSON text in every block. `trlprep.io.kinds` then carries an extra as it is, and in a
    column it reads refuses the rows of another kind than most rows of the whole dataset
    hold (marked on each block's column: `with_major_kinds`), as the local engine does."""
    from trlprep.detection.columnroles import carried_columns
    from trlprep.io.joining import argument_columns, conflicting_columns
    from trlprep.io.kinds import major_kinds

    ray = _ray()
    if len(refs) < 2:
        return refs
    schemas = ray.get([_remote(_schema).remote(ref) for ref in refs])
    arguments = argument_columns(schemas)
    if arguments:
        refs = [_remote(_same_arguments).remote(ref, arguments) for ref in refs]
        schemas = ray.get([_remote(_schema).remote(ref) for ref in refs])
    names = conflicting_columns(schemas)
    if not names:
        return refs
    read = names - carried_columns(n for s in schemas for n in s.names if n != ROW_ID)
    pairs = [_tagger().remote(ref, names, read) for ref in refs]
    majors = major_kinds(ray.get([counts for _, counts in pairs]))
    refs = [table for table, _ in pairs]
    if not majors:
        return refs
    return [_remote(_with_majors).remote(ref, majors) for ref in refs]


@functools.cache
def _tagger() -> Any:
    return _ray().remote(num_returns=2)(_tag_columns)


def _schema(block: Any) -> pa.Schema:
    return _arrow(block).schema


def _same_arguments(block: Any, names: set[str]) -> pa.Table:
    from trlprep.io.joining import same_arguments

    return same_arguments(_arrow(block), names)


def _tag_columns(
    block: Any, names: set[str], read: set[str]
) -> tuple[pa.Table, dict[str, dict[str, int]]]:
    """`block` with the columns `names` tagged JSON text, and the kinds its rows hold in
    the columns `read` (`kind_counts`)."""
    from trlprep.io.joining import tag_columns
    from trlprep.io.kinds import kind_counts

    t = tag_columns(_arrow(block), names)
    return t, kind_counts(t, read)


def _with_majors(block: Any, majors: dict[str, str]) -> pa.Table:
    from trlprep.io.kinds import with_major_kinds

    return with_major_kinds(_arrow(block), majors)


def _span(block: Any) -> tuple[int, int, bool]:
    """(first ROW_ID, last ROW_ID, whether they never decrease) of a non-empty block."""
    ids = _arrow(block).column(ROW_ID).to_numpy()
    return int(ids[0]), int(ids[-1]), bool(np.all(np.diff(ids) >= 0))


def _drop_row_ids(block: Any) -> pa.Table:
    return _arrow(block).drop_columns([ROW_ID])


def in_row_order(ds: ray.data.Dataset, drop_row_ids: bool = False) -> ray.data.Dataset:
    """`ds` (rows carrying ROW_ID) materialized with its rows in ROW_ID order, rows of one
    ROW_ID kept as they are (`drop_row_ids`: without the ROW_ID column). Ray keeps the
    order of blocks only as a best effort (with `preserve_order` set, blocks have still
    been seen to pass each other): blocks in order within themselves are put back in order
    by their rows (no data moves), anything else is sorted. The result is the list of
    blocks itself (no operation left to run, so nothing left to reorder them)."""
    ray = _ray()
    ds = ds.materialize()
    blocks = [ref for ref, _, n in _blocks(ds) if n]
    spans = ray.get([_remote(_span).remote(ref) for ref in blocks])
    order = sorted(range(len(blocks)), key=lambda i: (spans[i][0], spans[i][1], i))
    inside = all(s[2] for s in spans)
    chained = all(spans[a][1] <= spans[b][0] for a, b in zip(order, order[1:], strict=False))
    if not (inside and chained):
        return in_row_order(ds.sort(ROW_ID), drop_row_ids)
    if not blocks:
        return ds.drop_columns([ROW_ID]).materialize() if drop_row_ids else ds
    refs = [blocks[i] for i in order]
    if drop_row_ids:
        refs = [_remote(_drop_row_ids).remote(ref) for ref in refs]
    return ray.data.from_arrow_refs(refs)
