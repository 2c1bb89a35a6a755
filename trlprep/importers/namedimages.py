"""MiniCPM-V's named images: `image` an object `{"<image_00>": PATH, "<image_01>": PATH}` whose
keys stand in the conversation where each image goes -> `<image>` placeholders and the
row's `images` in the order the names stand (TRL's vision layout, as MiniCPM-V's own
dataset puts each named image where its name stands).

A row whose `image` is one path (MiniCPM-V's single image, `<image>` in the text) reads
as the object `{"<image>": PATH}` (`io.kinds` makes it so where the rows mix both). A row
naming an image its object lacks, or whose object holds an image no name stands for, is
refused.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.importers.jsonarrow import lists_from
from trlprep.importers.messages import field_of, flatten_lists, messages_from
from trlprep.importers.rejects import Rejections

NAME = re.compile(r"<image_\d+>")
PREFIX = "<image_"
PLACEHOLDER = "<image>"


def named(images: pa.Array) -> bool:
    """True when an `image` column holds MiniCPM-V's named images (an object per row)."""
    return pa.types.is_struct(images.type) and any(
        NAME.fullmatch(f.name) or f.name == PLACEHOLDER for f in images.type
    )


def named_as_images(
    messages: pa.Array, image: pa.Array, bad: Rejections
) -> tuple[pa.Array, pa.Array]:
    """(`messages` with each `<image_NN>` made `<image>`, each row's `images`: the paths
    of its names in the order they stand, or its lone `<image>` path); rows naming an
    image they lack, or holding one no name stands for, marked in `bad`."""
    n = len(messages)
    items, parent, _ = flatten_lists(messages)
    content = pc.fill_null(field_of(items, "content"), "")
    pieces = pc.split_pattern(content, PREFIX)
    after, piece_msg, piece_pos = flatten_lists(pieces)
    digits = pc.struct_field(pc.extract_regex(after, r"^(?P<n>\d+)>"), [0])
    found = (piece_pos > 0) & np.asarray(digits.is_valid().to_numpy(zero_copy_only=False), bool)
    at = np.flatnonzero(found)
    rows = parent[piece_msg[at]]
    keys = pc.binary_join_element_wise(PREFIX, digits.take(pa.array(at)), ">", "")
    paths = pa.nulls(len(at), pa.string())
    held = np.zeros(n, np.int64)  # entries of each row's object
    lone = None
    for f in image.type:
        col = pc.struct_field(image, [image.type.get_field_index(f.name)]).cast(pa.string())
        present = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), bool)
        held += present
        if f.name == PLACEHOLDER:
            lone = col
            continue
        hit = pc.equal(keys, f.name)
        paths = pc.if_else(hit, col.take(pa.array(rows, pa.int64())), paths)
    missing = np.asarray(paths.is_null().to_numpy(zero_copy_only=False), bool)
    no_image = np.zeros(n, bool)
    no_image[rows[missing]] = True
    bad.add(no_image, "a `<image_NN>` placeholder names no image of the row's `image` object")
    uses = np.bincount(rows, minlength=n).astype(np.int64)
    lone_n = np.zeros(n, np.int64)
    if lone is not None:
        lone_n = np.asarray(lone.is_valid().to_numpy(zero_copy_only=False), np.int64)
    unused = (held - lone_n != uses) & ~no_image & (uses > 0)
    bad.add(
        unused,
        "the row's `image` object and its `<image_NN>` placeholders differ (an image no "
        "placeholder names, or a name standing twice)",
    )
    fields = {name: field_of(items, name) for name in items.type.names if name != "content"}
    fields["content"] = pc.replace_substring_regex(
        field_of(items, "content"), NAME.pattern, PLACEHOLDER
    )
    valid = np.asarray(messages.is_valid().to_numpy(zero_copy_only=False), bool)
    made = messages_from(fields, parent, n, valid=valid)
    order = np.argsort(rows, kind="stable")  # the names in conversation order, row by row
    values = paths.take(pa.array(order, pa.int64()))
    if lone is not None:  # a row of one path: that path (names and a lone path: refused)
        both = (lone_n > 0) & (uses > 0)
        bad.add(both, "the row's `image` object mixes `<image>` with `<image_NN>` names")
        lone_rows = np.flatnonzero((lone_n > 0) & ~both)
        rows = np.concatenate([rows[order], lone_rows])
        values = pa.concat_arrays([values, lone.take(pa.array(lone_rows, pa.int64()))])
        order = np.argsort(rows, kind="stable")
        rows, values = rows[order], values.take(pa.array(order, pa.int64()))
    else:
        rows = rows[order]
    lengths = np.bincount(rows, minlength=n).astype(np.int64)
    # a row with no image object has no images ([]: TRL's vision collator takes no null)
    return made, lists_from(values, lengths)
