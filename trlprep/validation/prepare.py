"""Turn one of a dataset type's columns into a typed Arrow array, flagging what does not fit.

Absent columns and nulls, values of the wrong Arrow type, and rows of a mixed-kind column
(kept as JSON text by the readers) whose kind is not the one the format needs are reported
to the batch sink; the JSON text of the other rows is decoded once per distinct value.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import to_numpy_bool
from trlprep.columns.arrowtypes import (
    ValueKind,
    is_json_field,
    is_list,
    is_string,
    json_kinds,
    value_kind,
)
from trlprep.registry import Column, Format, Kind
from trlprep.validation.checks.common import BatchSink
from trlprep.wording import article, kind_word

_MSG_TYPE = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
# (ValueKind wanted, Arrow type that all-null data is cast to, JSON kind wanted)
_WANT: dict[Kind, tuple[ValueKind, pa.DataType, str]] = {
    Kind.STEPS: (ValueKind.STRINGS, pa.list_(pa.string()), "list"),
    Kind.LABEL: (ValueKind.BOOL, pa.bool_(), "bool"),
    Kind.LABELS: (ValueKind.BOOLS, pa.list_(pa.bool_()), "list"),
    Kind.TOKENS: (ValueKind.INTS, pa.list_(pa.int64()), "list"),
    Kind.MASK: (ValueKind.INTS, pa.list_(pa.int64()), "list"),
}
_WANT_TEXT = {
    ValueKind.STRING: "strings",
    ValueKind.MESSAGES: "message lists",
    ValueKind.STRINGS: "lists of strings",
    ValueKind.BOOL: "booleans",
    ValueKind.BOOLS: "lists of booleans",
    ValueKind.INTS: "lists of integers",
}
_COERCE_HINT = (
    'store booleans (true/false), or pass --coerce, which reads 0/1 and "true"/"false" as '
    "booleans: `trlprep validate --coerce` checks the rows as `trlprep convert --coerce` "
    "converts them (also import, train)"
)
_NO_COERCE_HINT = (
    'store booleans (true/false); `--coerce` reads only 0/1 and "true"/"false" as booleans'
)


def _want(c: Column, fmt: Format) -> tuple[ValueKind, pa.DataType, str]:
    if c.kind is Kind.CONTENT:
        if fmt is Format.STANDARD:
            return ValueKind.STRING, pa.string(), "string"
        return ValueKind.MESSAGES, _MSG_TYPE, "list"
    return _WANT[c.kind]


def get_column(data: pa.Table | pa.RecordBatch, name: str) -> tuple[pa.Field, pa.Array] | None:
    i = data.schema.get_field_index(name)
    if i < 0:
        return None
    arr = data.column(i)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return data.schema.field(i), arr


def plain_type(t: pa.DataType, nested: bool = False) -> pa.DataType:
    """`t` with nested dictionaries (message roles read from Parquet) shown as their values."""
    if nested and pa.types.is_dictionary(t):
        return plain_type(t.value_type, True)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = t.value_field.with_type(plain_type(t.value_type, True))
        return pa.list_(inner) if pa.types.is_list(t) else pa.large_list(inner)
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(plain_type(f.type, True)) for f in t])
    return t


def _wrong_rule(c: Column) -> str:
    return {Kind.LABEL: "label-type", Kind.LABELS: "labels-type"}.get(c.kind, "wrong-type")


# ---------------------------------------------------------------- the type's columns


def prepare_column(
    data: pa.Table | pa.RecordBatch, c: Column, fmt: Format, sink: BatchSink
) -> pa.Array | None:
    """The column as a typed array, or None when absent or unusable (rows already flagged)."""
    name = c.name_in(fmt)
    want, null_type, want_json = _want(c, fmt)
    got = get_column(data, name)
    if got is None:
        if c.required:
            sink.flag(
                "null-value",
                name,
                np.ones(sink.num_rows, dtype=bool),
                message=f"column {name!r} is missing or null",
            )
        return None
    f, arr = got
    flagged = np.zeros(len(arr), dtype=bool)
    if is_json_field(f):
        arr, flagged = _decode_mixed(arr, c, name, want, want_json, sink)
        if arr is None:
            return None
    if pa.types.is_null(arr.type) or (is_list(arr.type) and pa.types.is_null(arr.type.value_type)):
        arr = arr.cast(null_type)
    kind = value_kind(arr.type)
    if kind is not want:
        valid = to_numpy_bool(arr.is_valid())
        rule = _wrong_rule(c)
        sink.flag(
            rule,
            name,
            valid,
            message=f"column {name!r} holds {plain_type(arr.type)} values; "
            f"{_WANT_TEXT[want]} are needed "
            f"in {fmt.value} format" + _not_a_label(c, arr),
            hint=_wrong_hint(c, fmt, arr, kind),
        )
        if c.required:
            sink.flag("null-value", name, ~valid & ~flagged)
        return None
    if c.required and arr.null_count:
        sink.flag("null-value", name, to_numpy_bool(arr.is_null()) & ~flagged)
    return arr


def _not_a_label(c: Column, arr: pa.Array) -> str:
    """Where no value of a `label` column of texts or numbers reads as true/false (DAPO's
    reference answers: "33", "204"), what it may be instead and how to keep it apart; else
    "". Said of what each value is, never of how many the batch holds, so every batch of a
    stream (and every Ray block) says the same of the same values."""
    if c.kind is not Kind.LABEL or not (is_string(arr.type) or pa.types.is_integer(arr.type)):
        return ""
    from trlprep.io.labels import read_labels

    values = arr.drop_null()
    if not len(values) or not read_labels(pa.field("label", values.type), values).bad.all():
        return ""
    return (
        " (no value reads as true or false: no true/false label; if it is something else, "
        "such as a reference answer, rename it, keeping the map's other entries: "
        f"--map ...,label_value={c.name})"
    )


def _wrong_hint(c: Column, fmt: Format, arr: pa.Array, kind: ValueKind) -> str | None:
    if c.kind in (Kind.LABEL, Kind.LABELS):
        values = pc.list_flatten(arr) if c.kind is Kind.LABELS and is_list(arr.type) else arr
        return _COERCE_HINT if _coercible(values) else _NO_COERCE_HINT
    if c.kind is Kind.CONTENT:
        other = {ValueKind.STRING: "standard", ValueKind.MESSAGES: "conversational"}.get(kind)
        if other:
            return f"the data looks {other}: pass --data-format {other} (or leave it out)"
        if pa.types.is_list(arr.type) and pa.types.is_struct(arr.type.value_type):
            return 'messages need "role" and "content" keys (rename ShareGPT-style "from"/"value")'
    return None


def _coercible(values: pa.Array) -> bool:
    """True when every value has a boolean reading under `--coerce` (`trlprep.io.labels`)."""
    from trlprep.io.labels import read_labels

    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)) and not (
        pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    ):
        return False
    return not read_labels(pa.field("label", values.type), values).bad.any()


def _mixed_label_hint(text: pa.Array, name: str) -> str:
    """The hint for a `label` column of several kinds (JSON text): --coerce where it helps."""
    from trlprep.columns.arrowtypes import JSON_FIELD_KEY
    from trlprep.io.labels import read_labels

    tagged = pa.field(name, text.type, metadata={JSON_FIELD_KEY: "1"})
    return _NO_COERCE_HINT if read_labels(tagged, text).bad.any() else _COERCE_HINT


def _mixed_hint(seen: list[str], want: ValueKind) -> str | None:
    """The hint for a text column holding numbers or booleans: `--coerce`, in convert's words
    (`io.kinds.coerce_advice`); None (the rule's own) where it cannot help."""
    from trlprep.io.kinds import coerce_advice

    scalar = {"number", "bool"} & set(seen)
    if want is not ValueKind.STRING or not scalar:
        return None
    if len(scalar) == len(seen):
        return f"{coerce_advice(scalar)} (as `trlprep convert --coerce` does), or make them strings"
    return f"{coerce_advice(scalar)} (not lists or objects: fix those rows)"


def _decode_mixed(arr, c, name, want, want_json, sink):
    """Decode the JSON text of a mixed-kind column; rows of another kind are flagged."""
    kinds = np.asarray(json_kinds(arr).to_numpy(zero_copy_only=False), dtype=object)
    bad = (kinds != want_json) & (kinds != "null")
    rule = "label-type" if c.kind is Kind.LABEL else "mixed-kind"
    if bad.any():
        seen = sorted(set(kinds[bad]))
        at = np.flatnonzero(bad)  # each row said with its own kind
        sink.flag_values(
            rule,
            name,
            pa.array(kinds[at], pa.string()),
            at,
            label=lambda k: f"holds {article(kind_word(k))}",
            message=f"column {name!r} mixes kinds: {_WANT_TEXT[want]} are needed",
            hint=_mixed_label_hint(arr, name) if c.kind is Kind.LABEL else _mixed_hint(seen, want),
        )
    good = kinds == want_json
    typed = _typed_from_json(arr, good, c.kind is Kind.CONTENT)
    if typed is None:
        sink.flag(
            "mixed-kind",
            name,
            good,
            message=f"column {name!r}: values differ in structure and cannot be read as one "
            "type (for example a field that is a string in one row and a list in another)",
        )
        return None, bad | good
    return typed, bad


def _typed_from_json(arr: pa.Array, good: np.ndarray, messages: bool) -> pa.Array | None:
    """Arrow values of the JSON texts where `good` (null elsewhere); one parse per distinct text."""
    texts = arr.filter(pa.array(good))
    distinct = pc.unique(texts)
    values = [json.loads(t) for t in distinct.to_pylist()]
    typed = _to_arrow(values)
    if typed is None and messages:
        typed = _to_arrow([_parts_content(v) for v in values])
    if typed is None:
        return None
    index = pc.index_in(arr, distinct)
    index = pc.if_else(pa.array(good), index, pa.scalar(None, index.type))
    return typed.take(index)


def _to_arrow(values: list[Any]) -> pa.Array | None:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return None


def _parts_content(value: Any) -> Any:
    """Messages with string content rewritten as one text part, to unify with vision rows."""
    if not isinstance(value, list):
        return value
    out = []
    for m in value:
        if isinstance(m, dict) and isinstance(m.get("content"), str):
            text = m["content"]
            m = {**m, "content": [{"type": "text", "text": text}] if text else []}
        out.append(m)
    return out
