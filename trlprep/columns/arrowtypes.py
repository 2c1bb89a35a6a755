"""What an Arrow column holds, read from its type: strings, messages, labels, ids ...

Columns whose rows mix JSON kinds (some strings, some lists) cannot have one Arrow type;
the readers keep them as JSON text and tag the field with `JSON_FIELD_KEY` metadata, so
they can be told apart here and reported row by row.
"""

from __future__ import annotations

from enum import Enum

import pyarrow as pa
import pyarrow.compute as pc

JSON_FIELD_KEY = b"trlprep.json"


class ValueKind(str, Enum):
    STRING = "string"
    MESSAGES = "messages"  # list<struct<role, content, ...>>
    STRINGS = "list<string>"
    BOOL = "bool"
    BOOLS = "list<bool>"
    INT = "int"
    INTS = "list<int>"
    FLOAT = "float"
    NULL = "null"  # every value null
    MIXED = "mixed"  # JSON text of values of different kinds
    OTHER = "other"

    def __str__(self) -> str:
        return self.value


def is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t)


def is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def is_message_struct(t: pa.DataType) -> bool:
    return pa.types.is_struct(t) and t.get_field_index("role") >= 0


def is_messages(t: pa.DataType) -> bool:
    return is_list(t) and is_message_struct(t.value_type)


def is_json_field(field: pa.Field) -> bool:
    return bool(field.metadata) and field.metadata.get(JSON_FIELD_KEY) == b"1"


def value_kind(field: pa.Field | pa.DataType) -> ValueKind:
    """Classify a column by its Arrow type."""
    if isinstance(field, pa.Field):
        if is_json_field(field):
            return ValueKind.MIXED
        t = field.type
    else:
        t = field
    if pa.types.is_null(t):
        return ValueKind.NULL
    if is_string(t):
        return ValueKind.STRING
    if pa.types.is_boolean(t):
        return ValueKind.BOOL
    if pa.types.is_integer(t):
        return ValueKind.INT
    if pa.types.is_floating(t):
        return ValueKind.FLOAT
    if is_list(t):
        v = t.value_type
        if is_message_struct(v):
            return ValueKind.MESSAGES
        if is_string(v):
            return ValueKind.STRINGS
        if pa.types.is_boolean(v):
            return ValueKind.BOOLS
        if pa.types.is_integer(v):
            return ValueKind.INTS
        if pa.types.is_null(v):
            return ValueKind.NULL
    return ValueKind.OTHER


def content_is_parts(t: pa.DataType) -> bool:
    """True for messages whose `content` is a list of typed parts (vision layout)."""
    if not is_messages(t):
        return False
    idx = t.value_type.get_field_index("content")
    if idx < 0:
        return False
    ct = t.value_type.field(idx).type
    return is_list(ct) and pa.types.is_struct(ct.value_type)


def json_kinds(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Per-row kind of a JSON-text column: 'string', 'list', 'object', 'bool', 'number', 'null'."""
    first = pc.utf8_slice_codeunits(arr, 0, 1)
    kinds = pc.case_when(
        pc.make_struct(
            pc.equal(first, '"'),
            pc.equal(first, "["),
            pc.equal(first, "{"),
            pc.is_in(first, pa.array(["t", "f"])),
            pc.equal(first, "n"),
        ),
        "string",
        "list",
        "object",
        "bool",
        "null",
        "number",
    )
    return pc.if_else(pc.is_null(arr), pa.scalar("null"), kinds)


def flat_messages(arr: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, pa.Array]:
    """(flattened message structs, per-message row index) for a messages column."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return pc.list_flatten(arr), pc.list_parent_indices(arr)


# Part types that carry media, as chat-template processors (transformers: image, video,
# audio), OpenAI (image_url, input_audio, file; Responses: input_image, input_file) and
# Anthropic (image, document) spell them. Any other type (reasoning, thinking, tool_call,
# tool_use, tool_result, refusal ...) is text-like, not media.
MEDIA_PART_TYPES: frozenset[str] = frozenset(
    {
        "image",
        "image_url",
        "image_file",
        "input_image",
        "video",
        "video_url",
        "audio",
        "audio_url",
        "input_audio",
        "file",
        "input_file",
        "document",
    }
)
# Keys that hold media whatever the part's type says (transformers reads these).
MEDIA_PART_KEYS: tuple[str, ...] = ("image", "image_url", "video", "audio", "input_audio")


# Which media column a part's media goes with (`images`, `videos`, `audios`), by its type,
# else by the key holding the media; files and documents go with none.
MEDIA_KINDS: dict[str, str] = {
    **dict.fromkeys(("image", "image_url", "image_file", "input_image"), "image"),
    **dict.fromkeys(("video", "video_url"), "video"),
    **dict.fromkeys(("audio", "audio_url", "input_audio"), "audio"),
}
_MEDIA_KEY_KINDS: dict[str, str] = {
    "image": "image", "image_url": "image", "video": "video", "audio": "audio",
    "input_audio": "audio",
}  # fmt: skip


def media_kind(part: dict) -> str | None:
    """`image`, `video` or `audio` for a content part holding that media (None: text-like,
    a file or document, or no part at all)."""
    kind = part.get("type")
    if isinstance(kind, str) and kind in MEDIA_PART_TYPES:
        return MEDIA_KINDS.get(kind)
    return next((v for k, v in _MEDIA_KEY_KINDS.items() if part.get(k) is not None), None)


def is_media_part(part: dict) -> bool:
    """True for one content part (a dict) that is an image, video, audio or file."""
    kind = part.get("type")
    if isinstance(kind, str) and kind in MEDIA_PART_TYPES:
        return True
    return any(part.get(k) is not None for k in MEDIA_PART_KEYS)


def has_media_parts(arr: pa.ChunkedArray | pa.Array) -> bool:
    """True when a messages column with list-of-parts content holds a media part (an image,
    video, audio or file: `MEDIA_PART_TYPES`); text, reasoning and tool parts are not media."""
    if not content_is_parts(arr.type):
        return False
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    parts = pc.list_flatten(pc.struct_field(pc.list_flatten(arr), "content"))
    if len(parts) == 0:
        return False
    t = parts.type
    for key in MEDIA_PART_KEYS:
        if t.get_field_index(key) >= 0 and pc.struct_field(parts, key).null_count < len(parts):
            return True
    if t.get_field_index("type") < 0:
        return False
    kinds = pc.struct_field(parts, "type")
    if not (pa.types.is_string(kinds.type) or pa.types.is_large_string(kinds.type)):
        return False
    media = pc.is_in(kinds, pa.array(sorted(MEDIA_PART_TYPES), kinds.type))
    return bool(pc.any(media).as_py() or False)
