"""OASST's message trees flattened into arrays (`oasst`, `oasst-ranked`): every message of
the tree export's nested `replies` or of the message export's rows, with its parent, depth,
whether it is alive (not deleted, nor below a deleted one) and the paths from the root, all
computed over whole columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list, is_string
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers.messages import field_of
from trlprep.importers.rejects import Rejections

MESSAGE_COLUMNS = ("message_id", "parent_id", "text", "role", "rank", "deleted", "replies")
MAX_DEPTH = 1_000


@dataclass
class Messages:
    """Every message of a batch, flat: fields, parent index (-1: root), input row."""

    text: pa.Array  # string
    role: np.ndarray
    rank: np.ndarray  # float, NaN where there is none
    deleted: np.ndarray
    parent: np.ndarray
    row: np.ndarray

    def __len__(self) -> int:
        return len(self.parent)


def is_tree_export(schema: pa.Schema) -> bool:
    return "prompt" in schema.names and pa.types.is_struct(schema.field("prompt").type)


def is_message_export(schema: pa.Schema) -> bool:
    names = set(schema.names)
    return {"message_id", "parent_id", "text", "role"} <= names


def _roots(table: pa.Table) -> pa.StructArray:
    if is_tree_export(table.schema):
        return as_array(table.column("prompt"))
    cols = [c for c in MESSAGE_COLUMNS if c in table.column_names]
    return pa.StructArray.from_arrays([as_array(table.column(c)) for c in cols], names=cols)


def _text(arr: pa.Array | None, n: int, name: str) -> pa.Array:
    if arr is None:
        return pa.nulls(n, pa.string())
    if not (is_string(arr.type) or pa.types.is_null(arr.type)):
        raise DataError(f"message {name} must be text, not {arr.type}", column=name)
    return arr.cast(pa.string())


def words(arr: pa.Array) -> np.ndarray:
    """A short-string column as a numpy object array (via its dictionary, not per value)."""
    enc = pc.dictionary_encode(arr)
    names = np.asarray(enc.dictionary.to_pylist() + [None], dtype=object)
    codes = pc.fill_null(enc.indices, len(enc.dictionary)).to_numpy(zero_copy_only=False)
    return names[np.asarray(codes, np.int64)]


def _values(arr: pa.Array | None, n: int, kind: str) -> np.ndarray:
    if kind == "rank":
        if arr is None or pa.types.is_null(arr.type):
            return np.full(n, np.nan)
        return np.asarray(pc.fill_null(arr.cast(pa.float64()), np.nan).to_numpy(), float)
    if arr is None or pa.types.is_null(arr.type):
        return np.zeros(n, dtype=bool)
    return np.asarray(pc.fill_null(arr.cast(pa.bool_()), False).to_numpy(zero_copy_only=False))


def flatten_messages(table: pa.Table, bad: Rejections) -> Messages:
    """The messages of the batch, level by level down the nested `replies`."""
    level = _roots(table)
    n = table.num_rows
    parts: list[dict] = []
    parent = np.full(n, -1, dtype=np.int64)
    row = np.arange(n, dtype=np.int64)
    start = 0
    ids: list[pa.Array] = []
    parent_ids = pa.nulls(0, pa.string())
    while len(level):
        k = len(level)
        valid = np.asarray(level.is_valid().to_numpy(zero_copy_only=False), bool)
        parts.append(
            {
                "text": _text(field_of(level, "text"), k, "text"),
                "role": words(_text(field_of(level, "role"), k, "role")),
                "rank": _values(field_of(level, "rank"), k, "rank"),
                "deleted": _values(field_of(level, "deleted"), k, "bool") | ~valid,
                "parent": parent,
                "row": row,
            }
        )
        ids.append(_text(field_of(level, "message_id"), k, "message_id"))
        if start == 0:
            parent_ids = _text(field_of(level, "parent_id"), k, "parent_id")
        replies = field_of(level, "replies")
        if (
            replies is None
            or not is_list(replies.type)
            or pa.types.is_null(replies.type.value_type)
        ):
            break
        items = pc.list_flatten(replies)
        local = np.asarray(pc.list_parent_indices(replies).to_numpy(zero_copy_only=False), np.int64)
        parent, row = local + start, row[local]
        start += k
        level = items
    if not parts:
        return Messages(pa.nulls(0, pa.string()), *(np.zeros(0) for _ in range(5)))
    msgs = Messages(
        **{
            key: pa.concat_arrays([p[key] for p in parts])
            if key == "text"
            else np.concatenate([p[key] for p in parts])
            for key in parts[0]
        }
    )
    if not is_tree_export(table.schema) and n:
        _link_by_id(msgs, pa.concat_arrays(ids), parent_ids, n, bad)
    return msgs


def _link_by_id(msgs: Messages, ids: pa.Array, parent_ids: pa.Array, n: int, bad: Rejections):
    """Message export: top-level rows find their parent by `parent_id`."""
    top = np.arange(n)
    has_parent = np.asarray(parent_ids.is_valid().to_numpy(zero_copy_only=False), bool)
    index = pc.index_in(parent_ids, ids)
    found = np.asarray(pc.fill_null(index, -1).to_numpy(zero_copy_only=False), np.int64)
    orphan = has_parent & (found < 0)
    bad.add(orphan, "parent_id names no message of the file")
    msgs.parent[top] = np.where(has_parent & ~orphan, found, -1)
    msgs.deleted[top] |= orphan


def message_depths(msgs: Messages, bad: Rejections) -> np.ndarray:
    """Depth of every message; messages in a cycle are marked deleted and reported."""
    depth = np.zeros(len(msgs), dtype=np.int64)
    cur = msgs.parent.copy()
    for _ in range(MAX_DEPTH):
        up = cur >= 0
        if not up.any():
            break
        depth[up] += 1
        cur[up] = msgs.parent[cur[up]]
    else:
        cyclic = cur >= 0
        msgs.deleted |= cyclic
        msgs.parent[cyclic] = -1  # cut the cycle: they are left out as deleted
        mask = np.zeros(len(bad.reason), dtype=bool)
        mask[msgs.row[cyclic]] = True
        bad.add(mask, "its parent_id links form a cycle")
    return depth


def alive_messages(msgs: Messages) -> np.ndarray:
    """Not deleted, and no ancestor deleted."""
    dead = msgs.deleted.copy()
    cur = msgs.parent.copy()
    while True:
        up = cur >= 0
        if not up.any():
            return ~dead
        dead[up] |= msgs.deleted[cur[up]]
        cur[up] = msgs.parent[cur[up]]


def thread_paths(
    msgs: Messages, ends: np.ndarray, depth: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Message indices of root..end for every end (flat) and the length of each path."""
    lengths = depth[ends] + 1
    out = np.empty(int(lengths.sum()), dtype=np.int64)
    last = np.cumsum(lengths) - 1
    cur = ends.copy()
    for step in range(int(lengths.max()) if len(lengths) else 0):
        live = lengths > step
        out[last[live] - step] = cur[live]
        cur[live] = msgs.parent[cur[live]]
    return out, lengths
