"""Generic column mapping: data that holds a TRL type under other column or role names.

`map={"prompt": "question", "chosen": "good", "rejected": "bad"}` (CLI `--map
prompt=question,chosen=good,rejected=bad`) renames columns; `role_map={"human": "user"}`
(CLI `--map-role human=user`) renames roles inside every message column. The type and
format are then detected from the renamed columns, exactly as `trlprep detect` would.

`conversational=True` (CLI `--conversational`) turns standard text into messages: a
`prompt` becomes one user message, a `completion`, `chosen` or `rejected` one assistant
message (prompt-only, prompt-completion, preference and unpaired preference); a text
`system` column becomes the prompt's system message where it is non-empty. Standard
language modeling, implicit preference and stepwise supervision have no turn to give a
role to, so the flag is refused for them. Beside a conversational prompt (Tulu 3 RLVR
`messages` + `ground_truth`) the flag makes each text answer one assistant message.

A mapped column of a TRL type that the detected type does not read (`--map
completion=answer` beside `messages`, read as language modeling) is refused, with the map
that reads it, rather than carried as an extra column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_messages
from trlprep.converters.arrowops import as_array
from trlprep.detection.detect import Detection, detect_table
from trlprep.errors import UsageError
from trlprep.importers.base import Converted, Importer, ImportOptions, Rejections
from trlprep.importers.fieldpaths import parse_path
from trlprep.importers.jsonarrow import lists_from, row_lengths
from trlprep.importers.messages import map_roles
from trlprep.registry import (
    LANGUAGE_MODELING,
    PREFERENCE_IMPLICIT,
    STEPWISE_SUPERVISION,
    DatasetType,
    Format,
)

_CONTENT_ROLES = ("text", "prompt", "completion", "chosen", "rejected")
WRAP = {"prompt": "user", "completion": "assistant", "chosen": "assistant", "rejected": "assistant"}


class ColumnMap(Importer):
    name = "map"
    aliases = ("columns", "mapping", "generic")
    description = (
        "Columns of a TRL type under other names: --map NEW=OLD renames columns, --map-role "
        "FROM=TO renames roles in every message column; the type and format are then "
        "detected from the renamed columns."
    )
    reads = "any columns (renamed with --map)"
    columns = ("system",)  # and the columns of the type detected

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        det = detect_table(schema.empty_table())
        if det.type is not None and det.format is None:
            if not (opts.conversational and _wrappable(schema, det)):
                raise _unreadable(schema, det, opts.map, opts.conversational)
            # text answers beside a conversational prompt: --conversational wraps the text
            return det.type, Format.CONVERSATIONAL
        if det.type is not None:
            _check_mapped_read(schema, det, opts.map)
        if det.type is None:
            raise UsageError(
                "after --map the columns ("
                + (", ".join(schema.names) or "none")
                + ") still match no TRL dataset type",
                hint="map them to a type's columns, e.g. --map prompt=question,completion=answer "
                "(`trlprep schema TYPE` lists a type's columns)",
            )
        if opts.conversational and det.format is Format.STANDARD:
            if det.type in (LANGUAGE_MODELING, PREFERENCE_IMPLICIT, STEPWISE_SUPERVISION):
                raise UsageError(
                    f"--conversational: standard {det.type.name} has no prompt or answer turn "
                    "to make a message of",
                    hint="map the columns to prompt/completion (or prompt/chosen/rejected) "
                    "to import them as messages",
                )
            return det.type, Format.CONVERSATIONAL
        # a `messages` column read as another type (KTO's messages + label) is stored as
        # language modeling: the import checks it so, and the conversion reads it as detect
        # does (checked as the read type, it lacked that type's columns: every --map failed)
        return det.stored_type, det.format

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        lines = []
        if opts.map:
            lines.append("columns: " + ", ".join(f"{v} -> {k}" for k, v in opts.map.items()))
        if opts.role_map:
            lines.append("roles: " + ", ".join(f"{k} -> {v}" for k, v in opts.role_map.items()))
        if opts.conversational:
            lines.append(
                "text columns -> messages: prompt -> user, completion/chosen/rejected -> assistant"
            )
            if "system" in schema.names:
                lines.append("system -> the prompt's first message (role system), where non-empty")
        return lines or ["nothing to rename: the data is imported as detected"]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        warn_swift_unread(table.schema, opts)
        notes: list[str] = []
        if opts.conversational:
            table, folded = as_messages(table)
            if folded is not None:
                notes.append(
                    f"column 'system': the system message of the prompt in "
                    f"{folded:,} of {table.num_rows:,} rows (the others are empty)"
                    if folded < table.num_rows
                    else "column 'system': the system message of every prompt"
                )
        if not opts.role_map:
            return Converted(table, notes=notes)
        mapping = {k.lower(): v for k, v in opts.role_map.items()}
        for i, field in enumerate(table.schema):
            if is_messages(field.type):
                table = table.set_column(i, field, rename_roles(table.column(i), mapping))
        return Converted(table, notes=notes)


# the columns of TRL's types a --map may name; one the detected type does not read would be
# carried as an extra column, never as what the user mapped it to
_TYPE_COLUMNS = ("prompt", "completion", "chosen", "rejected", "label", "completions", "labels")


def _check_mapped_read(schema: pa.Schema, det: Detection, mapping: Any) -> None:
    """UsageError when --map names a type's column that the detected type does not read
    (`--map completion=answer` beside a `messages` column: language modeling, the answer
    only an extra column)."""
    back = dict(mapping or {})
    read = set(det.columns.values())
    unread = [c for c in back if c in _TYPE_COLUMNS and c in schema.names and c not in read]
    if not unread or det.type is None:
        return

    def name(col: str) -> str:
        return f"'{col}' (from '{back[col]}')" if back.get(col, col) != col else f"'{col}'"

    c = unread[0]
    whole = det.columns.get("text")
    hint = "map the columns of one type (`trlprep schema TYPE` lists a type's columns)"
    if whole is not None and c in ("completion", "chosen", "rejected", "label"):
        parts = [f"prompt={back.get(whole, whole)}"] + [
            f"{k}={v}" for k, v in back.items() if k != whole
        ]
        conversational = det.format is Format.CONVERSATIONAL
        needs_wrap = conversational and any(
            _is_text(schema.field(k).type) for k in back if k in WRAP and k in schema.names
        )
        wrap = " --conversational (a text answer becomes one assistant message)"
        each = "conversation" if conversational else "text"
        hint = (
            f"to read each {each} in {back.get(whole, whole)!r} as the prompt, map it too: "
            "--map " + ",".join(parts) + (wrap if needs_wrap else "")
        )
    raise UsageError(
        f"after --map the columns read as {det.type.name} ({det.format.value}) from "
        + ", ".join(name(v) for v in det.columns.values())
        + f", which has no column {name(c)}: it would only be carried as an extra column",
        hint=hint,
    )


# ms-swift's columns a --map of query/response leaves unread (`system` is read by
# --conversational); `--from swift` folds them into the prompt (or reads the rejected answer)
_SWIFT_EXTRAS = ("history", "system", "rejected_response")
_SWIFT_READS = {
    "history": "history: the earlier turns of the prompt",
    "system": "system: the prompt's system message",
    "rejected_response": "rejected_response: the rejected answer",
}


def warn_swift_unread(schema: pa.Schema, opts: ImportOptions) -> None:
    """Warn when the columns before --map are ms-swift's (query, response beside history,
    system or rejected_response) and the map leaves some of those carried as extras."""
    from trlprep.errors import warn_user
    from trlprep.importers.swift import Swift

    back = dict(opts.map or {})
    if not back:
        return
    original = pa.schema([f.with_name(back.get(f.name, f.name)) for f in schema])
    if not Swift().sniff(original):
        return
    unread = [
        c
        for c in _SWIFT_EXTRAS
        if c in schema.names and c not in back and not (c == "system" and opts.conversational)
    ]
    if unread:
        several = len(unread) > 1
        warn_user(
            ("columns " if several else "column ")
            + ", ".join(repr(c) for c in unread)
            + " of ms-swift's layout "
            + ("are carried unread as extra columns" if several else "is carried unread")
            + ": --from swift reads "
            + ("them" if several else "it")
            + " ("
            + "; ".join(_SWIFT_READS[c] for c in unread)
            + ") in place of --map"
        )


def _wrappable(schema: pa.Schema, det: Detection) -> bool:
    """Every content column of `det` is text or messages, and every text one is a column
    --conversational makes one message of (prompt, completion, chosen, rejected)."""
    content = [c for role, c in det.columns.items() if role in _CONTENT_ROLES and c in schema.names]
    for c in content:
        t = schema.field(c).type
        if not (is_messages(t) or (_is_text(t) and c in WRAP)):
            return False
    return True


def _unreadable(
    schema: pa.Schema, det: Detection, mapping: Any = None, conversational: bool = False
) -> UsageError:
    """Mapped columns that name a type's columns but hold values that are neither text nor
    messages (a list of conversations, a number), or text in some and messages in others."""
    back = dict(mapping or {})  # output column -> input column

    def name(c: str) -> str:
        return f"'{c}' (from '{back[c]}')" if c in back and back[c] != c else f"'{c}'"

    content = [c for role, c in det.columns.items() if role in _CONTENT_ROLES and c in schema.names]
    text = [c for c in content if _is_text(schema.field(c).type)]
    messages = [c for c in content if is_messages(schema.field(c).type)]
    odd = [
        f"{name(c)} holds {schema.field(c).type}"
        for c in content
        if c not in text and c not in messages
    ]
    if not odd and text and messages:
        return UsageError(
            f"after --map the columns read as {det.type.name}, but column "
            + ", ".join(name(c) for c in text)
            + " holds text and column "
            + ", ".join(name(c) for c in messages)
            + " a list of messages: they must be of the same format",
            hint="add --conversational to make each text one message (prompt: user; "
            "completion, chosen, rejected: assistant)"
            if _wrappable(schema, det) and not conversational
            else "map columns that are all text or all messages",
        )
    layout = _layout_before_map(schema, back)
    return UsageError(
        f"after --map the columns read as {det.type.name}, but column "
        + ("; ".join(odd) or "values of no known format")
        + ": neither text nor a list of messages",
        hint=f"the columns before --map are the {layout} layout: pass `--from {layout}` in "
        f"place of --map (trlprep convert DATA --from {layout} -o OUT)"
        if layout
        else "each row needs a string or one list of {role, content} messages there (a list "
        "of several conversations is one row per conversation: split it first)",
    )


def _layout_before_map(schema: pa.Schema, back: dict[str, str]) -> str | None:
    """The public layout the columns are before `--map` renamed them (`back`: new -> old
    name; MT-Bench's `turns` mapped onto `prompt`), else None."""
    from trlprep.importers.registry import detect_layout

    if any(parse_path(old) is not None for old in back.values()):  # a field of an object
        return None
    names = [back.get(n, n) for n in schema.names]
    if len(set(names)) < len(names):
        return None
    return detect_layout(pa.schema([f.with_name(n) for f, n in zip(schema, names, strict=True)]))


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def rename_roles(col: pa.Array | pa.ChunkedArray, mapping: dict[str, str]) -> pa.Array:
    """A message-list column with its roles renamed (other message fields untouched)."""
    arr = as_array(col)
    items = pc.list_flatten(arr)
    children = items.flatten()
    t = items.type
    i = t.get_field_index("role")
    children[i] = map_roles(children[i], mapping).cast(t.field(i).type)
    struct = pa.StructArray.from_arrays(
        children, fields=list(t), mask=items.is_null() if items.null_count else None
    )
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
    return lists_from(struct, row_lengths(arr), valid)


def as_messages(table: pa.Table) -> tuple[pa.Table, int | None]:
    """Standard text columns of a TRL type as one-message lists (roles by `WRAP`).

    A text `system` column beside a text `prompt` becomes the prompt's first message
    (role system) where it is non-empty, and goes; the count of such rows is returned
    (None when there is no such column)."""
    from trlprep.columns.arrowtypes import is_string
    from trlprep.importers.messages import messages_from

    n = table.num_rows
    rows = np.arange(n, dtype=np.int64)
    folded = None
    for name, role in WRAP.items():
        if name not in table.column_names or not is_string(table.schema.field(name).type):
            continue
        text = as_array(table.column(name)).cast(pa.string())
        valid = np.asarray(text.is_valid().to_numpy(zero_copy_only=False), bool)
        parent, roles = rows, pa.array([role] * n, pa.string())
        if name == "prompt" and _has_text(table, "system"):
            system = as_array(table.column("system")).cast(pa.string())
            has = np.asarray(pc.fill_null(pc.greater(pc.utf8_length(system), 0), False), bool)
            has &= valid
            lead = np.flatnonzero(has)
            both = np.concatenate([lead, rows])
            order = np.lexsort((np.concatenate([np.zeros(len(lead)), np.ones(n)]), both))
            parent = both[order]
            is_turn = np.concatenate([np.zeros(len(lead), np.int64), np.ones(n, np.int64)])
            roles = pa.array(["system", role], pa.string()).take(pa.array(is_turn[order]))
            text = pa.concat_arrays([system.take(pa.array(lead)), text]).take(pa.array(order))
            table = table.drop_columns(["system"])
            folded = int(has.sum())
        col = messages_from({"role": roles, "content": text}, parent, n, valid)
        table = table.set_column(table.column_names.index(name), name, col)
    return table, folded


def _has_text(table: pa.Table, name: str) -> bool:
    from trlprep.columns.arrowtypes import is_string

    return name in table.column_names and is_string(table.schema.field(name).type)
