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
reported. The trees are flattened into arrays in `importers.oasstmessages`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa

from trlprep.errors import DataError
from trlprep.importers.base import Converted, Importer, ImportOptions, Rejections
from trlprep.importers.jsonarrow import lists_from
from trlprep.importers.messages import map_roles, merged_roles, message_struct
from trlprep.importers.oasstmessages import (
    MESSAGE_COLUMNS,
    Messages,
    alive_messages,
    flatten_messages,
    is_message_export,
    is_tree_export,
    message_depths,
    thread_paths,
    words,
)
from trlprep.importers.ranked import Ranked, ranked_expansion, ranked_options
from trlprep.registry import (
    LANGUAGE_MODELING,
    PREFERENCE,
    UNPAIRED_PREFERENCE,
    DatasetType,
    Format,
)

ROLES = {"prompter": "user", "assistant": "assistant"}


class _OASSTBase(Importer):
    columns = (*MESSAGE_COLUMNS, "prompt", "message_tree_id")
    looks_like_trl = True

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        if is_tree_export(schema):
            t = schema.field("prompt").type
            return t.get_field_index("role") >= 0 and t.get_field_index("text") >= 0
        return is_message_export(schema)

    def needs_whole_input(self, schema: pa.Schema) -> bool:
        return not is_tree_export(schema)

    def _messages(self, table: pa.Table, opts: ImportOptions, bad: Rejections):
        if not (is_tree_export(table.schema) or is_message_export(table.schema)):
            raise DataError(
                "OASST data needs a `prompt` tree (tree export) or message_id, parent_id, "
                "text and role columns (message export); the data has "
                + (", ".join(table.column_names) or "no columns"),
                hint="pick another --from, or rename columns with --map",
            )
        msgs = flatten_messages(table, bad)
        roles = map_roles(pa.array(msgs.role, pa.string()), merged_roles(ROLES, opts.role_map))
        msgs = replace(msgs, role=words(roles))
        depth = message_depths(msgs, bad)
        has_text = np.asarray(msgs.text.is_valid().to_numpy(zero_copy_only=False), bool)
        alive = alive_messages(msgs) & has_text
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
        if is_tree_export(table.schema):
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
        index, lengths = thread_paths(msgs, ends, depth)
        rows = msgs.row[ends]
        messages = lists_from(self._struct(msgs, index), lengths)
        if is_tree_export(table.schema):
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
        index, lengths = thread_paths(msgs, heads, depth)
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
        if is_tree_export(table.schema):
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
