"""OpenAssistant (OASST) conversation trees -> conversational language modeling, or ranked
sibling replies -> preference / unpaired preference.

Two exports are read, both as message objects (`message_id`, `parent_id`, `text`, `role`
prompter|assistant, `rank`, `deleted`, and nested `replies`):
- the tree export (`message_tree_id`, `tree_state`, `prompt` = the root message with its
  `replies` nested at any depth): one tree per row;
- the message export: one message per row, linked to its parent by `parent_id` (as in the
  oasst1/oasst2 Hub datasets), or a root message per row with nested `replies`. A tree's
  messages may be anywhere in the file, so this export is imported as a whole, not per
  batch.

Roles: prompter -> user, assistant -> assistant (`--role-map` overrides). Deleted messages
and everything below them are left out.

`oasst` (conversations): one row per thread, the path from the root to an assistant reply
that the conversation does not go on from (no prompter reply below it is answered), so
every answered branch is a row and no row is a prefix of another one of its tree.
`oasst-ranked`: for every prompter message with two or more ranked assistant replies, the
conversation up to it is the prompt and the replies are ranked completions (`rank`: 0 is
the best); they go through the `ranked` layout's pairing (`--pairing`, or `--threshold` for
unpaired preference: good = rank <= threshold).

Row accounting: in the tree export each output row comes from its tree's row, and a tree
that gives no row is reported (no answered prompt, or no ranked replies). In the message
export an output row is counted as coming from its last message's row; the other messages
are part of it, and rows that cannot be placed (a parent_id not in the file, a cycle) are
reported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list, is_string
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers.base import Converted, Importer, ImportOptions, Rejections
from trlprep.importers.jsonarrow import lists_from
from trlprep.importers.messages import field_of, map_roles, merged_roles, message_struct
from trlprep.importers.ranked import Ranked, ranked_expansion, ranked_options
from trlprep.registry import (
    LANGUAGE_MODELING,
    PREFERENCE,
    UNPAIRED_PREFERENCE,
    DatasetType,
    Format,
)

ROLES = {"prompter": "user", "assistant": "assistant"}
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


def _is_tree_export(schema: pa.Schema) -> bool:
    return "prompt" in schema.names and pa.types.is_struct(schema.field("prompt").type)


def _is_message_export(schema: pa.Schema) -> bool:
    names = set(schema.names)
    return {"message_id", "parent_id", "text", "role"} <= names


def _roots(table: pa.Table) -> pa.StructArray:
    if _is_tree_export(table.schema):
        return as_array(table.column("prompt"))
    cols = [c for c in MESSAGE_COLUMNS if c in table.column_names]
    return pa.StructArray.from_arrays([as_array(table.column(c)) for c in cols], names=cols)


def _text(arr: pa.Array | None, n: int, name: str) -> pa.Array:
    if arr is None:
        return pa.nulls(n, pa.string())
    if not (is_string(arr.type) or pa.types.is_null(arr.type)):
        raise DataError(f"message {name} must be text, not {arr.type}", column=name)
    return arr.cast(pa.string())


def _words(arr: pa.Array) -> np.ndarray:
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
                "role": _words(_text(field_of(level, "role"), k, "role")),
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
    if not _is_tree_export(table.schema) and n:
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


def _depths(msgs: Messages, bad: Rejections) -> np.ndarray:
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


def _alive(msgs: Messages) -> np.ndarray:
    """Not deleted, and no ancestor deleted."""
    dead = msgs.deleted.copy()
    cur = msgs.parent.copy()
    while True:
        up = cur >= 0
        if not up.any():
            return ~dead
        dead[up] |= msgs.deleted[cur[up]]
        cur[up] = msgs.parent[cur[up]]


def _paths(msgs: Messages, ends: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


class _OASSTBase(Importer):
    columns = (*MESSAGE_COLUMNS, "prompt", "message_tree_id")
    looks_like_trl = True

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        if _is_tree_export(schema):
            t = schema.field("prompt").type
            return t.get_field_index("role") >= 0 and t.get_field_index("text") >= 0
        return _is_message_export(schema)

    def needs_whole_input(self, schema: pa.Schema) -> bool:
        return not _is_tree_export(schema)

    def _messages(self, table: pa.Table, opts: ImportOptions, bad: Rejections):
        if not (_is_tree_export(table.schema) or _is_message_export(table.schema)):
            raise DataError(
                "OASST data needs a `prompt` tree (tree export) or message_id, parent_id, "
                "text and role columns (message export); the data has "
                + (", ".join(table.column_names) or "no columns"),
                hint="pick another --from, or rename columns with --map",
            )
        msgs = flatten_messages(table, bad)
        roles = map_roles(pa.array(msgs.role, pa.string()), merged_roles(ROLES, opts.role_map))
        msgs = replace(msgs, role=_words(roles))
        depth = _depths(msgs, bad)
        alive = _alive(msgs) & np.asarray(msgs.text.is_valid().to_numpy(zero_copy_only=False), bool)
        return msgs, depth, alive

    def _struct(self, msgs: Messages, index: np.ndarray) -> pa.StructArray:
        return message_struct(
            {
                "role": pa.array(msgs.role[index].tolist(), pa.string()),
                "content": msgs.text.take(pa.array(index, pa.int64())),
            }
        )

    def _carry(self, table: pa.Table, produced: dict, rows: np.ndarray) -> pa.Table:
        out = pa.table(produced)
        if _is_tree_export(table.schema):
            for f in table.schema:
                if f.name != "prompt" and f.name not in produced:
                    out = out.append_column(f, table.column(f.name).take(pa.array(rows)))
        elif "message_tree_id" in table.column_names:
            out = out.append_column(
                "message_tree_id", table.column("message_tree_id").take(pa.array(rows))
            )
        return out


class OASST(_OASSTBase):
    name = "oasst"
    sibling = "oasst-ranked"
    aliases = ("openassistant", "oasst1", "oasst2")
    description = (
        "OpenAssistant conversation trees (tree export with nested replies, or the message "
        "export linked by parent_id) -> conversational language modeling: one row per "
        "thread (root to an assistant reply the conversation does not go on from); "
        "prompter -> user; deleted messages left out."
    )
    reads = "prompt {text, role, replies [...]} (trees) or message_id, parent_id, text, role"

    def expansion(self, opts: ImportOptions) -> str | None:
        return "one row per thread"

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return LANGUAGE_MODELING, Format.CONVERSATIONAL

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        return [
            "messages: every thread from the root to an assistant reply that is not answered "
            "further (prompter -> user, assistant -> assistant)",
            "deleted messages and their replies are left out",
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        msgs, depth, alive = self._messages(table, opts, bad)
        m = len(msgs)
        child = np.flatnonzero(alive & (msgs.parent >= 0))
        answered = np.zeros(m, dtype=bool)  # a message with a live reply
        answered[msgs.parent[child]] = True
        user = msgs.role == "user"
        continued = np.zeros(m, dtype=bool)  # an assistant whose user reply is answered
        go_on = child[user[child] & answered[child]]
        continued[msgs.parent[go_on]] = True
        ends = np.flatnonzero(alive & (msgs.role == "assistant") & ~continued)
        ends = ends[np.lexsort((ends, msgs.row[ends]))]
        index, lengths = _paths(msgs, ends, depth)
        rows = msgs.row[ends]
        messages = lists_from(self._struct(msgs, index), lengths)
        if _is_tree_export(table.schema):
            has = np.zeros(table.num_rows, dtype=bool)
            has[rows] = True
            bad.add(~has, "the tree holds no answered prompt (no assistant reply)")
        notes = [f"{len(msgs):,} messages -> {len(ends):,} threads"] if len(ends) else []
        return Converted(self._carry(table, {"messages": messages}, rows), rows=rows, notes=notes)


class OASSTRanked(_OASSTBase):
    name = "oasst-ranked"
    aliases = ("openassistant-ranked",)
    description = (
        "OpenAssistant trees, ranked sibling replies -> preference (--pairing) or unpaired "
        "preference (--threshold on rank, 0 = best): the conversation up to a prompter "
        "message is the prompt, its ranked assistant replies the completions."
    )
    reads = (
        "prompt {text, role, replies [{rank, ...}]} (trees) or message_id, parent_id, text, "
        "role, rank"
    )

    options_read = ("pairing", "margin", "threshold")

    def options_used(self, opts: ImportOptions) -> set[str]:
        return ranked_options(opts)

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        return False  # the same data as `oasst`: chosen with --from only

    def expansion(self, opts: ImportOptions) -> str | None:
        return ranked_expansion(opts, "ranked reply")

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return (UNPAIRED_PREFERENCE if opts.threshold is not None else PREFERENCE), (
            Format.CONVERSATIONAL
        )

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        return [
            "prompt: the conversation up to each prompter message with >= 2 ranked replies",
            "completions: its assistant replies, ranked by `rank` (0 is the best), then "
            + Ranked().explain(schema, opts)[0],
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        msgs, depth, alive = self._messages(table, opts, bad)
        ranked = np.flatnonzero(
            alive & (msgs.parent >= 0) & (msgs.role == "assistant") & ~np.isnan(msgs.rank)
        )
        if len(ranked):
            heads, counts = np.unique(msgs.parent[ranked], return_counts=True)
        else:
            heads, counts = np.zeros(0, np.int64), np.zeros(0, np.int64)
        heads = heads[(counts >= 2) & (msgs.role[heads] == "user")]
        heads = heads[np.lexsort((heads, msgs.row[heads]))]
        index, lengths = _paths(msgs, heads, depth)
        prompts = lists_from(self._struct(msgs, index), lengths)
        group = np.full(len(msgs), -1, dtype=np.int64)  # message -> its group, if a head
        group[heads] = np.arange(len(heads))
        members = ranked[group[msgs.parent[ranked]] >= 0]
        members = members[np.lexsort((msgs.rank[members], group[msgs.parent[members]]))]
        per = np.bincount(group[msgs.parent[members]], minlength=len(heads))
        one = lists_from(self._struct(msgs, members), np.ones(len(members), np.int64))
        completions = lists_from(one, per)
        ranks = lists_from(pa.array(msgs.rank[members], pa.float64()), per)
        groups = pa.table({"prompt": prompts, "completions": completions, "ranks": ranks})
        inner = Rejections(len(heads))
        conv = Ranked().convert(groups, opts, inner)
        keep = ~inner.mask[conv.rows]
        out = conv.table.filter(pa.array(keep))
        rows = msgs.row[heads][conv.rows[keep]]
        if _is_tree_export(table.schema):
            has = np.zeros(table.num_rows, dtype=bool)
            has[rows] = True
            bad.add(~has, "the tree holds no prompter message with two ranked replies")
        notes = list(conv.notes)
        if len(inner):
            notes.append(
                f"{len(inner):,} reply groups give no pair (every reply has the same rank)"
            )
        produced = dict(zip(out.column_names, out.columns, strict=True))
        return Converted(self._carry(table, produced, rows), rows=rows, notes=notes)
