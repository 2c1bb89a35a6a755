"""Qwen-VL's inline image tags, `<img>PATH_OR_URL</img>`, as ms-swift reads them: each tag
becomes an `<image>` placeholder where it stands and its path or URL the row's next entry of
`images` (in the order of the conversation), so the image reaches a vision template instead
of staying text.

A row that holds tags beside an `images` column of its own is refused (which entry belongs
to which tag cannot be told).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.importers.jsonarrow import lists_from, row_lengths
from trlprep.importers.messages import field_of, flatten_lists, messages_from
from trlprep.importers.rejects import Rejections

OPEN, CLOSE = "<img>", "</img>"
TAG = r"<img>.*?</img>"
PLACEHOLDER = "<image>"


def tags_as_images(
    messages: pa.Array, images: pa.Array | None, bad: Rejections
) -> tuple[pa.Array, pa.Array | None]:
    """(`messages` with each `<img>X</img>` made `<image>`, the rows' `images`: each row's
    X in order), or the inputs unchanged where no message content holds a tag. Rows with
    tags and their own non-empty `images` are marked in `bad`."""
    n = len(messages)
    items, parent, _ = flatten_lists(messages)
    content = field_of(items, "content")
    tagged = pc.fill_null(pc.match_substring_regex(content, TAG), False)
    if not pc.any(tagged).as_py():
        return messages, images
    if images is not None:
        both = np.zeros(n, bool)
        both[parent[np.asarray(tagged.to_numpy(zero_copy_only=False), bool)]] = True
        both &= row_lengths(images) > 0
        bad.add(both, "holds Qwen-VL <img> tags and an images column: which is which is unclear")
    # the text after each <img> up to its </img> is a path or URL, in message order
    pieces = pc.split_pattern(pc.fill_null(content, ""), OPEN)
    after, piece_msg, piece_pos = flatten_lists(pieces)
    opened = piece_pos > 0
    closes = pc.match_substring(after, CLOSE)
    found = opened & np.asarray(closes.to_numpy(zero_copy_only=False), bool)
    take = pa.array(np.flatnonzero(found), pa.int64())
    urls = pc.list_element(pc.split_pattern(after.take(take), CLOSE, max_splits=1), 0)
    url_rows = parent[piece_msg[found]]
    fields = {name: field_of(items, name) for name in items.type.names if name != "content"} | {
        "content": pc.replace_substring_regex(content, TAG, PLACEHOLDER)
    }
    valid = np.asarray(messages.is_valid().to_numpy(zero_copy_only=False), bool)
    made = messages_from(fields, parent, n, valid=valid)
    lengths = np.bincount(url_rows, minlength=n).astype(np.int64)
    tag_images = lists_from(urls.cast(pa.string()), lengths)
    if images is None:
        return made, tag_images
    # rows without tags keep their own images
    has_tags = pa.array(lengths > 0)
    return made, pc.if_else(has_tags, tag_images, images.cast(tag_images.type))
