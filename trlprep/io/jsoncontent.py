"""JSON Lines whose message `content` is a string in some messages and a list of parts in
others, read by Arrow's C++ reader instead of line by line.

Arrow refuses such a chunk ("changed from string to array"). Each string-valued `content`
key is rewritten in the text, as one regular-expression pass over the chunk's lines, into a
list of one text part carrying a flag (`{"type": "text", "text": S, FLAG: true}`); Arrow
then reads the chunk, and the flag moves from the part to its message (`textparts.MARK`), as
`columns.textparts` holds such content. A `"content"` key inside a string cannot match (its
quotes are escaped there); one elsewhere (an argument, a tool schema, a column) can, so the
rewrite counts: the flags found at message level must number the rewrites, else the chunk
is read line by line as before. A messages column whose contents were all strings gets them
back as strings, as the line-by-line read types it.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths
from trlprep.columns.arrowtypes import is_messages
from trlprep.columns.textparts import MARK, parts_content
from trlprep.io.jsonencode import _line_array
from trlprep.io.jsontext import concat_text, read_json_rows
from trlprep.io.sources import ARROW_ERRORS

FLAG = "__trlprep_text_part__"
_STRING_CONTENT = r'"content"\s*:\s*("(?:[^"\\]|\\.)*")'
_AS_PART = '"content":[{"type":"text","text":\\1,"' + FLAG + '":true}]'
_AS_PART_END = '"' + FLAG + '":true}]'  # once per rewritten content
_KINDS_DIFFER = re.compile(r"/content\) changed from (string to array|array to string)")


def content_kinds_differ(error: BaseException) -> bool:
    """True when Arrow refused a chunk because message content changes kind."""
    return bool(_KINDS_DIFFER.search(str(error)))


def read_mixed_content(chunk: bytes, block_size: int) -> pa.Table | None:
    """The chunk's rows with string contents read as flagged text parts (see the module
    docstring), or None when that cannot be done exactly."""
    text = pc.replace_substring_regex(_line_array(chunk), _STRING_CONTENT, _AS_PART)
    found = pc.sum(pc.count_substring(text, _AS_PART_END)).as_py() or 0
    if not found:
        return None
    try:
        table = read_json_rows(_joined(text), block_size=block_size)
    except ARROW_ERRORS:
        return None
    flagged = 0
    for i, f in enumerate(table.schema):
        if not (is_messages(f.type) and parts_content(f.type)):
            continue
        parts_type = f.type.value_type.field("content").type.value_type
        if parts_type.get_field_index(FLAG) < 0:
            continue
        arr, n = _flag_messages(table.column(i).combine_chunks())
        flagged += n
        table = table.set_column(i, pa.field(f.name, arr.type), arr)
    if flagged != found or any(FLAG in str(f.type) for f in table.schema):
        return None  # a rewrite landed somewhere else than a message's content
    return table


def _joined(text: pa.Array) -> pa.Buffer:
    """The lines of `text` (each ending in its newline) back to back: its data buffer where
    it is one run from offset 0, else joined."""
    offsets = text.buffers()[1]
    plain = pa.types.is_large_string(text.type) and text.null_count == 0 and text.offset == 0
    if plain and offsets is not None and text.buffers()[2] is not None:
        bounds = np.frombuffer(offsets, dtype=np.int64)[[0, len(text)]]
        if bounds[0] == 0:
            return text.buffers()[2].slice(0, int(bounds[1]))
    return concat_text(text)


def _flag_messages(arr: pa.Array) -> tuple[pa.Array, int]:
    """A messages array whose parts carry `FLAG` as one whose messages carry `MARK`
    (strings all: content back as strings); and the number of flagged parts."""
    msgs = pc.list_flatten(arr)
    content = pc.struct_field(msgs, "content")
    parts = pc.list_flatten(content)
    flag = pc.fill_null(pc.struct_field(parts, FLAG), False)
    n = int(pc.sum(pc.cast(flag, pa.int64())).as_py() or 0)
    msg_of_part = np.asarray(pc.list_parent_indices(content).to_numpy(zero_copy_only=False))
    per_msg = np.bincount(
        msg_of_part[np.asarray(flag.to_numpy(zero_copy_only=False), dtype=bool)],
        minlength=len(msgs),
    )
    mark = pa.array(np.where(per_msg > 0, True, None), pa.bool_())
    keep = [k for k, g in enumerate(parts.type) if g.name != FLAG]
    new_parts = pa.StructArray.from_arrays(
        [parts.field(k) for k in keep],
        fields=[parts.type.field(k) for k in keep],
        mask=parts.is_null() if parts.null_count else None,
    )
    offsets = list_lengths(content)
    new_content = pa.ListArray.from_arrays(
        pa.array(np.concatenate([[0], np.cumsum(offsets)]).astype(np.int32)),
        new_parts,
        mask=content.is_null() if content.null_count else None,
    )
    every = n == int(pc.sum(pc.cast(content.is_valid(), pa.int64())).as_py() or 0)
    if every and n:  # every content was a string: typed as strings, as a line parse types it
        new_content, mark = pc.struct_field(pc.list_element(new_content, 0), "text"), None
    fields, children = [], []
    for k, g in enumerate(msgs.type):
        child = new_content if g.name == "content" else msgs.field(k)
        fields.append(pa.field(g.name, child.type) if g.name == "content" else g)
        children.append(child)
    if mark is not None:
        fields.append(pa.field(MARK, pa.bool_()))
        children.append(mark)
    new_msgs = pa.StructArray.from_arrays(
        children, fields=fields, mask=msgs.is_null() if msgs.null_count else None
    )
    lengths = list_lengths(arr)
    out = pa.ListArray.from_arrays(
        pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)),
        new_msgs,
        mask=arr.is_null() if arr.null_count else None,
    )
    return out, n
