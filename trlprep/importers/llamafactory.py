"""LLaMA-Factory's v1 data layout -> conversational language modeling or implicit preference.

Rows hold `messages` (SFT) or `chosen_messages` + `rejected_messages` (DPO), and
optionally `tools` (JSON text, kept as the `tools` column). Each message is `{role,
content: [parts], loss_weight?}` and each part `{"type": ..., "value": ...}`:
- `text`: the message text. Text-only inputs get string content (the parts' values
  joined with nothing between them); when any message of the input has an image, video or
  audio, every content becomes a list of parts (`{"type": "text", "text": ...}` /
  `{"type": "image"}` / `{"type": "video"}` / `{"type": "audio"}`), TRL's vision format,
  and the media references go, in order, to the row's `images` / `videos` / `audios`.
- `image_url`, `video_url`, `audio_url`: a media part; its value (a path or URL) goes to
  `images`, `videos` or `audios` (the column only where the input has that medium), as
  LLaMA-Factory's v1 renderer passes them to the processor.
- `reasoning`: the message's `reasoning_content` (the field Qwen3-style templates read).
- `tool_call`: value `{"name": ..., "arguments": {...}}` as JSON text -> one entry of the
  message's `tool_calls` (`{type: function, function: {name, arguments}}`, the arguments
  kept as the JSON the row holds, as the openai-chat layout keeps them).
Where the input holds a reasoning part, every message has `reasoning_content`; where it
holds a tool_call part or a `tools` column, every message has `tool_calls`; where a message
holds `loss_weight`, every message has `weight` (each null where a message has none). "The
input" is the whole file however it is read in batches (`importers.survey`), so the output
is the same wherever a big file is cut.
Per-message `loss_weight` is kept as the message's `weight` (the field OpenAI's fine-tuning
format and trlprep use to mark turns not to train on), value unchanged. Rows with a part
of another type, a tool call that is not such JSON, or no messages are reported.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import JSON_FIELD_KEY, is_json_field, is_list
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers.base import (
    Converted,
    Importer,
    ImportOptions,
    Rejections,
    assemble,
    require,
)
from trlprep.importers.jsonarrow import lists_from, row_lengths
from trlprep.importers.messages import field_of, map_roles, merged_roles, message_struct
from trlprep.importers.survey import whole_input
from trlprep.registry import LANGUAGE_MODELING, PREFERENCE_IMPLICIT, DatasetType, Format

# LLaMA-Factory v1 media part type -> (TRL content part type, side column)
MEDIA_PARTS = {
    "image_url": ("image", "images"),
    "video_url": ("video", "videos"),
    "audio_url": ("audio", "audios"),
}
PART_KINDS = ("text", *MEDIA_PARTS, "reasoning", "tool_call")
PAIR = {"chosen_messages": "chosen", "rejected_messages": "rejected"}


def _parts_type(t: pa.DataType) -> bool:
    """list<struct<role, content: list<struct<type, value>>>>"""
    if not (is_list(t) and pa.types.is_struct(t.value_type)):
        return False
    m = t.value_type
    if m.get_field_index("content") < 0:
        return False
    c = m.field("content").type
    return (
        is_list(c)
        and pa.types.is_struct(c.value_type)
        and c.value_type.get_field_index("value") >= 0
        and c.value_type.get_field_index("type") >= 0
    )


class LlamaFactoryV1(Importer):
    looks_like_trl = True

    name = "llamafactory-v1"
    aliases = ("llamafactory", "llama-factory", "lf-v1")
    description = (
        "LLaMA-Factory v1 rows (messages, or chosen_messages + rejected_messages; content "
        "parts {type: text|image_url|video_url|audio_url|reasoning|tool_call, value}; "
        "per-message loss_weight) -> conversational language modeling or implicit preference; "
        "loss_weight is kept as the message `weight`, reasoning as `reasoning_content`, tool "
        "calls as `tool_calls`, images / videos / audios as parts + `images` / `videos` / "
        "`audios`."
    )
    reads = "messages | chosen_messages + rejected_messages [+ tools]"
    columns = ("messages", *PAIR, "images", "videos", "audios", "tools")

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        names = [n for n in ("messages", *PAIR) if n in schema.names]
        return bool(names) and all(_parts_type(schema.field(n).type) for n in names)

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        if "messages" in schema.names:
            return LANGUAGE_MODELING, Format.CONVERSATIONAL
        return PREFERENCE_IMPLICIT, Format.CONVERSATIONAL

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        cols = "messages" if "messages" in schema.names else "chosen_messages, rejected_messages"
        return [
            f"{cols}: text parts -> content, image_url / video_url / audio_url -> image / "
            "video / audio part + `images` / `videos` / `audios`, reasoning -> "
            "reasoning_content, tool_call -> tool_calls, loss_weight -> weight",
        ]

    def survey(self, table: pa.Table, opts: ImportOptions) -> set[str]:
        """The part types the batch holds (see the module docstring)."""
        return _part_kinds(table, ("messages", *PAIR))

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        if "messages" in table.column_names:
            sources = {"messages": "messages"}
        else:
            require(table, *PAIR, layout="llamafactory-v1")
            sources = PAIR
        for name in sources:
            field = table.schema.field(name)
            if is_json_field(field) or not _parts_type(field.type):
                raise DataError(
                    "must hold messages whose content is a list of {type, value} parts"
                    + (" (rows disagree in kind)" if is_json_field(field) else ""),
                    column=name,
                )
        # what the whole input holds decides the content kind and the message fields of
        # every batch (a batch alone would decide them by where the file was cut)
        kinds = whole_input()
        if kinds is None:
            kinds = _part_kinds(table, sources)
        media = tuple(k for k in MEDIA_PARTS if k in kinds)
        declared = _declared(table, sources, kinds)
        produced: dict[str, pa.Array] = {}
        columns: dict[str, pa.Array] = {}
        for name, out in sources.items():
            messages, found = _convert_column(
                as_array(table.column(name)), name, media, opts, bad, declared
            )
            produced[out] = messages
            for column, values in found.items():
                columns.setdefault(column, values)  # preference sides: the chosen side's
        for column, values in columns.items():
            if column in table.column_names:
                raise DataError(
                    f"the rows have {column[:-1]} parts and {'a' if column == 'videos' else 'an'} "
                    f"`{column}` column", column=column,
                    hint=f"rename it first (--map {column}_orig={column})",
                )  # fmt: skip
            produced[column] = values
        return Converted(assemble(table, produced, tuple(sources)))


def _part_kinds(table: pa.Table, sources) -> set[str]:
    """The part types (`text`, `image_url`, `reasoning`, ...) any message of the table
    holds (columns that hold no parts are left to `convert` to refuse)."""
    seen: set[str] = set()
    for name in sources:
        if name not in table.column_names or not _parts_type(table.schema.field(name).type):
            continue
        col = as_array(table.column(name))
        parts = pc.list_flatten(field_of(pc.list_flatten(col), "content"))
        kind = field_of(parts, "type")
        if len(kind):
            seen.update(k for k in pc.unique(kind.cast(pa.string())).to_pylist() if k)
    return seen


def _declared(table: pa.Table, sources, kinds: set[str] | frozenset[str]) -> set[str]:
    """The message fields every message is given (null where it has none): `tool_calls`
    where the input holds a tool_call part or a `tools` column, `reasoning_content` where
    it holds a reasoning part, `weight` where its messages are typed with `loss_weight`."""
    declared = set()
    if "tool_call" in kinds or "tools" in table.column_names:
        declared.add("tool_calls")
    if "reasoning" in kinds:
        declared.add("reasoning_content")
    for name in sources:
        t = table.schema.field(name).type
        i = t.value_type.get_field_index("loss_weight")
        if i >= 0 and not pa.types.is_null(t.value_type.field(i).type):
            declared.add("weight")
    return declared


def _join_per(values: pa.Array, owner: np.ndarray, n: int) -> pa.Array:
    """The values of each owner joined with nothing between (null where it has none)."""
    order = np.argsort(owner, kind="stable")
    counts = np.bincount(owner, minlength=n)
    lists = lists_from(values.take(pa.array(order, pa.int64())), counts)
    joined = pc.binary_join(lists, "")
    return pc.if_else(pa.array(counts > 0), joined, pa.scalar(None, pa.string()))


def _convert_column(col, name, media: tuple[str, ...], opts, bad: Rejections, declared=()):
    """One messages column as TRL messages, and each medium's per-row references;
    `declared`: as `messages.message_struct`."""
    n = len(col)
    valid = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), bool)
    lengths = row_lengths(col)
    bad.add(~valid | (lengths == 0), f"{name} is null or empty")
    msgs = pc.list_flatten(col)
    msg_row = np.asarray(pc.list_parent_indices(col).to_numpy(zero_copy_only=False), np.int64)
    m = len(msgs)
    content = field_of(msgs, "content")
    parts = pc.list_flatten(content)
    owner = np.asarray(pc.list_parent_indices(content).to_numpy(zero_copy_only=False), np.int64)
    kind = field_of(parts, "type").cast(pa.string())
    value = field_of(parts, "value")
    kinds = np.asarray(pc.fill_null(kind, "").to_numpy(zero_copy_only=False), dtype=object)
    unknown = ~np.isin(kinds, PART_KINDS)
    row_bad = np.zeros(n, dtype=bool)
    if unknown.any():
        row_bad[msg_row[owner[unknown]]] = True
        first = sorted(set(kinds[unknown].tolist()))[0]
        bad.add(row_bad, f"{name}: a content part has type {first!r}, which is none of "
                + ", ".join(PART_KINDS))  # fmt: skip
    value = value.cast(pa.string())

    def of(k: str) -> np.ndarray:
        return np.flatnonzero(kinds == k)

    text_idx, why_idx, call_idx = of("text"), of("reasoning"), of("tool_call")
    reasoning = _join_per(value.take(pa.array(why_idx, pa.int64())), owner[why_idx], m)
    calls, call_bad = _tool_calls(value.take(pa.array(call_idx, pa.int64())), owner[call_idx], m)
    if call_bad.any():
        mask = np.zeros(n, dtype=bool)
        mask[msg_row[call_bad]] = True
        bad.add(mask, f"{name}: a tool_call part is not JSON {{name, arguments}}")
    found: dict[str, pa.Array] = {}
    if media:
        is_part = np.isin(kinds, ("text", *media))
        keep = np.flatnonzero(is_part)
        part_kind = np.array(["text"] * len(keep), dtype=object)
        for k in media:
            part_kind[kinds[keep] == k] = MEDIA_PARTS[k][0]
            at = of(k)
            rows = msg_row[owner[at]]
            order = np.argsort(rows, kind="stable")
            found[MEDIA_PARTS[k][1]] = lists_from(
                value.take(pa.array(at[order], pa.int64())), np.bincount(rows, minlength=n)
            )
        is_media = pa.array(part_kind != "text")
        part_text = pc.if_else(is_media, pa.scalar(None, pa.string()),
                               value.take(pa.array(keep, pa.int64())))  # fmt: skip
        struct = pa.StructArray.from_arrays(
            [pa.array(part_kind.tolist(), pa.string()), part_text], names=["type", "text"]
        )
        text = lists_from(struct, np.bincount(owner[keep], minlength=m))
    else:
        text = _join_per(value.take(pa.array(text_idx, pa.int64())), owner[text_idx], m)
        text = pc.fill_null(text, "")  # a message of tool calls only has empty content
    role = field_of(msgs, "role").cast(pa.string())
    role = map_roles(role, merged_roles({}, opts.role_map))
    weight = field_of(msgs, "loss_weight")
    fields = {
        "role": role,
        "content": text,
        "tool_calls": calls,
        "reasoning_content": reasoning,
        "weight": weight.cast(pa.float64()) if weight is not None else None,
    }
    return lists_from(message_struct(fields, declared), lengths, valid), found


def _tool_calls(values: pa.Array, owner: np.ndarray, m: int) -> tuple[pa.Array, np.ndarray]:
    """`tool_calls` per message from tool_call part values, and which messages hold a bad one."""
    bad = np.zeros(m, dtype=bool)
    names, args = [], []
    for k, text in enumerate(values.to_pylist()):
        try:
            call = json.loads(text)
            ok = isinstance(call, dict) and isinstance(call.get("name"), str)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            bad[owner[k]] = True
            names.append(None)
            args.append(None)
            continue
        names.append(call["name"])
        a = call.get("arguments", {})
        args.append(json.dumps(a, ensure_ascii=False))  # tagged JSON text of the value
    tagged = pa.field("arguments", pa.string(), metadata={JSON_FIELD_KEY: b"1"})
    function = pa.StructArray.from_arrays(
        [pa.array(names, pa.string()), pa.array(args, pa.string())],
        fields=[pa.field("name", pa.string()), tagged],
    )
    call = pa.StructArray.from_arrays(
        [pa.array(["function"] * len(names), pa.string()), function], names=["type", "function"]
    )
    order = np.argsort(owner, kind="stable")
    counts = np.bincount(owner, minlength=m)
    calls = lists_from(call.take(pa.array(order, pa.int64())), counts, counts > 0)
    return calls, bad
