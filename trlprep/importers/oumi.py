"""Oumi's conversation format with content items -> TRL's conversational messages.

Oumi (`oumi.core.types.Conversation`) gives `messages` whose content is a string or a list
of content items `{"type": ..., "content": ...}`: `text` items hold their text in
`content`, `image_url` / `image_path` items the image's URL or path (`image_binary` items
hold bytes in `binary`). Read as TRL's parts, every item lacks its `text` (or names no
image), so every row was refused. Here a `text` item becomes `{"type": "text", "text": ...}`
and an image item `{"type": "image", "image": URL or path}`: an image held inline, which
convert moves to `images` (`--inline-media move`) or keeps, as it does transformers' own
parts. String contents stay strings; other items (`image_binary`) are kept as they are and
refused by validation (`invalid-part`). The `metadata` object rows carry is kept.

Oumi's tool messages carry the id of the call they answer as `id`; it becomes the
`tool_call_id` that chat templates read (Gemma's matches it to the call to name the
function). Messages of string content whose tool messages hold an `id` are read as this
layout too, with `--from oumi` or without.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list, is_string
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers.base import Converted, Importer, ImportOptions, Rejections, require
from trlprep.registry import LANGUAGE_MODELING, DatasetType, Format

# Oumi's image item types, whose `content` is the image's URL or path
IMAGE_ITEMS = ("image_url", "image_path")


def _items_type(t: pa.DataType) -> bool:
    """list<struct<role, content: list<struct<type, content, ...>>>> (no LLaMA-Factory
    `value`)."""
    if not (is_list(t) and pa.types.is_struct(t.value_type)):
        return False
    m = t.value_type
    if m.get_field_index("content") < 0 or m.get_field_index("role") < 0:
        return False
    c = m.field("content").type
    if not (is_list(c) and pa.types.is_struct(c.value_type)):
        return False
    item = c.value_type
    if any(item.get_field_index(k) < 0 for k in ("type", "content")):
        return False
    # Oumi's items hold text in `content` (xtuner's odd parts nest messages there)
    return item.get_field_index("value") < 0 and is_string(item.field("content").type)


def _tool_ids_type(t: pa.DataType) -> bool:
    """list<struct<role, id, ...>> with no `tool_call_id`: Oumi's tool messages naming the
    call they answer in `id`."""
    if not (is_list(t) and pa.types.is_struct(t.value_type)):
        return False
    m = t.value_type
    return (
        m.get_field_index("role") >= 0
        and m.get_field_index("id") >= 0
        and m.get_field_index("tool_call_id") < 0
        and is_string(m.field("id").type)
    )


def _tool_ids_held(messages: pa.Array) -> bool:
    """True when a tool message of `messages` holds an `id`."""
    flat = pc.list_flatten(messages)
    tool = pc.and_(pc.equal(flat.field("role"), "tool"), pc.is_valid(flat.field("id")))
    return bool(pc.any(tool).as_py())


class Oumi(Importer):
    looks_like_trl = True  # messages, but items TRL cannot read

    name = "oumi"
    aliases = ("oumi-conversation",)
    description = (
        "Oumi conversations (messages whose content is a string or a list of items "
        "{type: text|image_url|image_path, content}) -> conversational language modeling: "
        "text items as text parts, image items as inline image parts (moved to `images` by "
        "--inline-media move); a tool message's `id` as its `tool_call_id`; `metadata` kept."
    )
    reads = "messages (content items {type, content})"
    columns = ("messages",)

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        if "messages" not in schema.names:
            return False
        t = schema.field("messages").type
        if _items_type(t):
            return True
        if not _tool_ids_type(t) or sample is None or "messages" not in sample.schema.names:
            return False
        return _tool_ids_held(as_array(sample.column("messages")))

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return LANGUAGE_MODELING, Format.CONVERSATIONAL

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        return [
            'messages: {"type": "text", "content": T} -> {"type": "text", "text": T}; '
            '{"type": "image_url" | "image_path", "content": P} -> {"type": "image", "image": P}',
            'messages: a tool message\'s {"id": I} -> {"tool_call_id": I}',
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        require(table, "messages", layout=self.name)
        field = table.schema.field("messages")
        items, ids = _items_type(field.type), _tool_ids_type(field.type)
        if not (items or ids):
            raise DataError(
                "must hold messages whose content is a list of {type, content} items, or "
                "tool messages naming their call in `id`",
                column="messages",
            )
        messages = as_array(table.column("messages"))
        if items:
            messages = trl_parts(messages)
        if ids:
            messages = tool_call_ids(messages)
        i = table.column_names.index("messages")
        table = table.set_column(i, "messages", messages)
        return Converted(table)


def tool_call_ids(messages: pa.Array) -> pa.Array:
    """`messages` with each tool message's `id` given as its `tool_call_id` (the `id` of
    other messages kept; the field left out where no message keeps one), as whole columns."""
    flat = messages.values  # with `.offsets`, as they stand in a slice too
    ids = flat.field("id")
    tool = pc.fill_null(pc.equal(flat.field("role"), "tool"), False)
    call_ids = pc.if_else(tool, ids, pa.scalar(None, ids.type))
    kept = pc.if_else(tool, pa.scalar(None, ids.type), ids)
    names, arrays = [], []
    for f in flat.type:
        if f.name != "id":
            names.append(f.name)
            arrays.append(flat.field(f.name))
            continue
        if kept.null_count < len(kept):
            names.append("id")
            arrays.append(kept)
        names.append("tool_call_id")
        arrays.append(call_ids)
    new_flat = pa.StructArray.from_arrays(arrays, names=names, mask=pc.invert(flat.is_valid()))
    return pa.ListArray.from_arrays(messages.offsets, new_flat, mask=pc.invert(messages.is_valid()))


def trl_parts(messages: pa.Array) -> pa.Array:
    """`messages` with each content item made TRL's part (see the module docstring), as
    whole columns: the lists' offsets and the messages' other fields unchanged."""
    flat = messages.values  # with `.offsets`, as they stand in a slice too
    content = flat.field("content")
    items = content.values
    kind = items.field("type")
    value = items.field("content")
    is_text = pc.fill_null(pc.equal(kind, "text"), False)
    is_image = pc.fill_null(pc.is_in(kind, pa.array(IMAGE_ITEMS)), False)
    names = [f.name for f in items.type]
    text = items.field("text") if "text" in names else pa.nulls(len(items), pa.string())
    fields = {
        "type": pc.if_else(is_image, pa.scalar("image"), kind),
        "text": pc.coalesce(text, pc.if_else(is_text, value, pa.scalar(None, pa.string()))),
        "image": pc.if_else(is_image, value, pa.scalar(None, pa.string())),
    }
    # other keys (Oumi's `binary`) kept; `content` given back where nothing above took it
    for name in names:
        if name not in fields and name != "content":
            fields[name] = items.field(name)
    fields["content"] = pc.if_else(pc.or_(is_text, is_image), pa.scalar(None, value.type), value)
    if pc.all(pc.is_null(fields["content"])).as_py():
        del fields["content"]
    parts = pa.StructArray.from_arrays(
        list(fields.values()), names=list(fields), mask=pc.invert(items.is_valid())
    )
    new_content = pa.ListArray.from_arrays(
        content.offsets, parts, mask=pc.invert(content.is_valid())
    )
    msg_names = [f.name for f in flat.type]
    arrays = [new_content if n == "content" else flat.field(n) for n in msg_names]
    new_flat = pa.StructArray.from_arrays(arrays, names=msg_names, mask=pc.invert(flat.is_valid()))
    return pa.ListArray.from_arrays(messages.offsets, new_flat, mask=pc.invert(messages.is_valid()))
