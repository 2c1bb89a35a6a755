"""`--map NEW=PATH` paths into object columns: `COLUMN.FIELD.SUBFIELD` reads a field of
each object (of each object of a list: one value per item, the list's shape kept), and
`COLUMN[FIELD=VALUE]` keeps the objects of a list whose FIELD is VALUE (compared as text),
optionally followed by `.PATH` into the objects kept.

UltraFeedback, one model's completion and its helpfulness rating:
`completions=completions[model=gpt-3.5-turbo]`,
`scores=completions[model=gpt-3.5-turbo].annotations.helpfulness.Rating`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list
from trlprep.converters.arrowops import as_array
from trlprep.errors import UsageError
from trlprep.importers.jsonarrow import lists_from, row_lengths

_PATH = re.compile(
    r"^(?P<head>[^.\[\]]+)"
    r"(?:\[(?P<key>[^=\[\]]+)=(?P<value>[^\[\]]*)\])?"
    r"(?:\.(?P<fields>[^\[\]]+))?$"
)


@dataclass(frozen=True)
class FieldPath:
    """A parsed path: the column, the item selector (key, value) and the fields below."""

    head: str
    key: str | None
    value: str | None
    fields: tuple[str, ...]

    @property
    def selects(self) -> bool:
        return self.key is not None


def parse_path(src: str) -> FieldPath | None:
    """The path `src` names, or None when it is a plain column name (no field, no selector)."""
    m = _PATH.match(src)
    if m is None or (m["key"] is None and m["fields"] is None):
        return None
    fields = tuple(m["fields"].split(".")) if m["fields"] else ()
    if any(not f for f in fields):
        return None
    return FieldPath(m["head"], m["key"], m["value"], fields)


def path_head(src: str) -> str:
    """The input column a `--map` source reads (`completions` of `completions[model=x].text`)."""
    path = parse_path(src)
    return src if path is None else path.head


def read_path(col: pa.Array | pa.ChunkedArray, path: FieldPath, src: str) -> pa.Array:
    """The values `path` names in the object column `col` (`src`: the path as written)."""
    arr = as_array(col)
    if is_list(arr.type) and pa.types.is_struct(arr.type.value_type):
        items = pc.list_flatten(arr)
        lengths = row_lengths(arr)
        valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
        if path.selects:
            items, lengths = _selected(arr, items, path, src)
        return lists_from(_descend(items, path, src), lengths, valid)
    if path.selects:
        raise UsageError(
            f"--map {src}: [{path.key}=...] picks items of a list of objects, and column "
            f"{path.head!r} holds {arr.type}",
            hint=f"read a field with --map NEW={path.head}.FIELD",
        )
    if not pa.types.is_struct(arr.type):
        raise UsageError(
            f"--map: column {path.head!r} holds no field {path.fields[0]!r}",
            hint=f"{path.head!r} holds {arr.type}, not objects",
        )
    return _descend(arr, path, src)


def _selected(
    lists: pa.Array, items: pa.Array, path: FieldPath, src: str
) -> tuple[pa.Array, np.ndarray]:
    """The items whose `path.key` is `path.value` (as text), and how many each row keeps."""
    key = _field(items, path.key, path.head, src)
    try:
        text = key.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise UsageError(
            f"--map {src}: field {path.key!r} holds {key.type}, which [{path.key}=VALUE] "
            "cannot compare with text",
            hint="pick items by a field of text, numbers or booleans",
        ) from None
    keep = np.asarray(pc.fill_null(pc.equal(text, path.value), False), bool)
    parent = np.asarray(pc.list_parent_indices(lists).to_numpy(zero_copy_only=False), np.int64)
    lengths = np.bincount(parent[keep], minlength=len(lists)).astype(np.int64)
    return items.filter(pa.array(keep)), lengths


def _descend(arr: pa.Array, path: FieldPath, src: str) -> pa.Array:
    """`arr` (objects) read down `path.fields`, a null object giving null."""
    where = path.head + (f"[{path.key}={path.value}]" if path.selects else "")
    for name in path.fields:
        arr = _field(arr, name, where, src)
        where += f".{name}"
    return arr


def _field(arr: pa.Array, name: str, where: str, src: str) -> pa.Array:
    """Field `name` of the objects `arr` (what `where` names), or the error naming the
    fields there are."""
    if not pa.types.is_struct(arr.type) or arr.type.get_field_index(name) < 0:
        fields = [f.name for f in arr.type] if pa.types.is_struct(arr.type) else []
        lead = "--map: column" if "." not in where and "[" not in where else f"--map {src}:"
        raise UsageError(
            f"{lead} {where!r} holds no field {name!r}",
            hint=f"its fields: {', '.join(fields)}" if fields else f"{where!r} holds {arr.type}",
        )
    return pc.struct_field(arr, name)


def emptied_by_pick(
    col: pa.Array | pa.ChunkedArray, name: str, src: str | None, item: str
) -> tuple[np.ndarray, str] | None:
    """(rows, reason) of the list column `col` (`name`, read from the `--map` source
    `src`) whose items `src` picked (`completions[model=M]`) and left none of, or None where
    `src` picks nothing; `item` names one item in the reason."""
    path = parse_path(src or "")
    if path is None or not path.selects:
        return None
    arr = as_array(col)
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
    reason = f"no {item} whose {path.key} is {path.value!r} (--map {name}={src})"
    return valid & (row_lengths(arr) == 0), reason
