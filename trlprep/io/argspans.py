"""Tool-call arguments written as JSON objects in JSON Lines, read without a line-by-line parse.

Arrow's JSON reader types every row's arguments object as one struct (the union of all rows'
keys, in first-seen order), which loses each row's own object; such chunks used to be parsed
line by line (`jsonl._jsonl_python`). Here the chunk's bytes are scanned instead: each
`"arguments": VALUE` (an object, array or string) is cut out, Arrow parses the chunk with
the value's number in its place, and each tool call's arguments field gets that value's
text exactly as the line-by-line path builds it (`jsonargs.array_with_text_arguments`):
compact JSON text, tagged, in a column holding any object; the plain string in a column
holding strings only. Polars (serde_json) re-encodes the values: compact, key order kept, a
repeated key's last value in its first place, strings escaped as `json.dumps` escapes them;
only values whose numbers it may spell otherwise (exponents, 16+ digits, below 1e-4, `-0`)
go through Python's `json`.

`read_json_arguments` returns None, and the caller parses the chunk as before, wherever
this is not exact: a string or bracket that crosses a line (broken JSON), arguments given as
a number or boolean, a value serde_json refuses (invalid JSON, NaN, a lone surrogate, deep
nesting), an `"arguments"` key outside the tool calls the line-by-line path rewrites (a
tool schema's parameter so named, a `tool_calls` nested in other fields), a call holding
both its own `arguments` and a `function` object.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import relist
from trlprep.columns.arrowtypes import JSON_FIELD_KEY
from trlprep.io import jsontext

ARGUMENTS = "arguments"
CALL_FIELDS = ("tool_calls", "function_call")
_TAG = {JSON_FIELD_KEY: b"1"}
_KEY = np.frombuffer(ARGUMENTS.encode(), dtype=np.uint8)
_WS = np.zeros(256, dtype=bool)
_WS[[32, 9, 13, 10]] = True
_OBJECT_ARGUMENTS = re.compile(rb'"arguments"\s*:\s*[\[{]')  # a cheap first look
_OPEN, _CLOSE, _QUOTE = 1, 2, 3
_EVENT = np.zeros(256, dtype=np.uint8)  # the bytes that make a JSON line's structure
_EVENT[[ord("{"), ord("[")]] = _OPEN
_EVENT[[ord("}"), ord("]")]] = _CLOSE
_EVENT[ord('"')] = _QUOTE
_MAX_WS = 256  # whitespace run between a key, its colon and its value that we follow
# numbers serde_json may read or write otherwise than Python (see tests/test_jsonl_args_fast)
# (the first: an exponent, not the hex digits of a `\u00e9` escape)
_RISKY_NUMBER = r"(^|[^0-9A-Za-z])[0-9.]+[eE]|[0-9][0-9.]{15,}|-0\.0*([^0-9]|$)|0\.0000"
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


class _Decline(Exception):
    """The columnar read would not be exact: the caller parses the chunk as before."""


def read_json_arguments(chunk: bytes, line_stops: np.ndarray, block_size: int) -> pa.Table | None:
    """The chunk's rows as `jsonl._jsonl_python` builds them where tool-call arguments are
    objects (None where there are none, or where this read would not be exact).

    `line_stops`: the position of each line's end (its newline, or the chunk's end).
    """
    if not _OBJECT_ARGUMENTS.search(chunk):
        return None  # strings only (OpenAI's layout): Arrow reads them as they are
    try:
        starts, ends, objects = _argument_spans(chunk, line_stops)
        if not objects.any():
            return None
        spans = _spans(chunk, starts, ends)
        texts = _json_texts(spans)
        table = jsontext.read_json_rows(_with_numbers(chunk, starts, ends), block_size=block_size)
        plain: list[pa.Array] = []

        def strings() -> pa.Array:
            if not plain:
                plain.append(_plain_texts(spans, objects))
            return plain[0]

        return _fill(table, texts, strings, objects)
    except (_Decline, *_ARROW_ERRORS):
        return None


# ---------------------------------------------------------------- finding the values


def _argument_spans(chunk: bytes, line_stops: np.ndarray) -> tuple[np.ndarray, ...]:
    """(start, end, is an object or array) of every non-null value of an `"arguments"` key,
    outermost only, in file order; raises _Decline where the text is not plain JSON lines."""
    raw = np.frombuffer(chunk, dtype=np.uint8)
    quotes, brackets, steps = _structure(raw)
    if (np.searchsorted(quotes, line_stops, side="right") & 1).any():
        raise _Decline  # a line end inside a string: broken JSON, named line by line
    opens, closes = quotes[0::2], quotes[1::2]
    named = np.flatnonzero(closes - opens == len(ARGUMENTS) + 1)
    word = raw[opens[named][:, None] + np.arange(1, len(ARGUMENTS) + 1)]
    key_ends = closes[named[(word == _KEY).all(axis=1)]]
    colons = _skip_ws(raw, key_ends + 1)
    colons = colons[raw[np.minimum(colons, len(raw) - 1)] == ord(":")]  # keys, not values
    values = _skip_ws(raw, colons + 1)
    first = raw[np.minimum(values, len(raw) - 1)]
    strings, containers = first == ord('"'), np.isin(first, (ord("{"), ord("[")))
    if (values >= len(raw)).any() or not (strings | containers | (first == ord("n"))).all():
        raise _Decline  # a number or boolean as arguments
    ends = np.zeros(len(values), dtype=np.int64)
    ends[strings] = closes[np.searchsorted(opens, values[strings])] + 1
    ends[containers] = _closing_brackets(brackets, steps, values[containers]) + 1
    keep = strings | containers  # null arguments stay null
    starts, ends, objects = values[keep], ends[keep], containers[keep]
    if (np.searchsorted(line_stops, starts) != np.searchsorted(line_stops, ends - 1)).any():
        raise _Decline
    before = np.maximum.accumulate(np.concatenate(([0], ends[:-1])))
    outer = starts >= before  # an `"arguments"` key inside another arguments value goes with it
    return starts[outer], ends[outer], objects[outer]


def _structure(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the quotes that open and close strings, the brackets outside strings, +1 for each
    opening bracket and -1 for each closing one), in one pass over the bytes."""
    folded = raw & 0xDF  # `{` and `[` both 0x5B, `}` and `]` both 0x5D (compares beat a lookup)
    at = np.flatnonzero((folded == 0x5B) | (folded == 0x5D) | (raw == ord('"')))
    kind = _EVENT[raw[at]]
    quote = np.flatnonzero(kind == _QUOTE)
    q = at[quote]
    after_backslash = np.flatnonzero((q > 0) & (raw[np.maximum(q - 1, 0)] == 92))
    runs = np.zeros(len(after_backslash), dtype=np.int64)
    back, active = q[after_backslash] - 1, np.arange(len(after_backslash))
    while active.size:  # count each backslash run back from its quote
        runs[active] += 1
        back[active] -= 1
        more = (back[active] >= 0) & (raw[np.maximum(back[active], 0)] == 92)
        active = active[more]
    real = np.zeros(len(at), dtype=bool)
    real[quote] = True
    real[quote[after_backslash[runs % 2 == 1]]] = False  # an escaped quote
    if real.sum() % 2:
        raise _Decline
    # for a bracket: an even count of quotes before it (xor: far faster than a bool cumsum)
    outside = np.bitwise_xor.accumulate(real.view(np.uint8)) == 0
    bracket = outside & (kind != _QUOTE)
    steps = np.where(kind[bracket] == _OPEN, 1, -1).astype(np.int8)
    return at[real], at[bracket], steps


def _skip_ws(raw: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The first position at or after each of `at` that is not JSON whitespace."""
    at = at.copy()
    for _ in range(_MAX_WS):
        ws = (at < len(raw)) & _WS[raw[np.minimum(at, len(raw) - 1)]]
        if not ws.any():
            return at
        at[ws] += 1
    raise _Decline


def _closing_brackets(brackets: np.ndarray, steps: np.ndarray, opens: np.ndarray) -> np.ndarray:
    """The position of the bracket closing each opening bracket at `opens`."""
    if not len(opens):
        return opens
    depth = np.cumsum(steps, dtype=np.int32)  # after each bracket
    if depth.min() < 0:
        raise _Decline
    i = np.searchsorted(brackets, opens)
    level = depth[i]
    closers = np.flatnonzero(steps < 0)
    closer_depth = depth[closers]
    out = np.full(len(opens), -1, dtype=np.int64)
    for lv in np.unique(level):  # the first closer after the opener back at its level
        same = closers[closer_depth == lv - 1]
        mine = level == lv
        j = np.searchsorted(same, i[mine])
        if (j >= len(same)).any():
            raise _Decline
        out[mine] = brackets[same[j]]
    return out


# ---------------------------------------------------------------- the values' text


def _spans(chunk: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.LargeStringArray:
    offsets = np.empty(2 * len(starts), dtype=np.int64)
    offsets[0::2], offsets[1::2] = starts, ends
    spans = pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(chunk)
    )[0::2]  # the odd entries are the text between values
    try:
        spans.validate(full=True)
    except pa.ArrowInvalid:  # not UTF-8
        raise _Decline from None
    return spans


def _json_texts(spans: pa.LargeStringArray) -> pa.Array:
    """Each value as `json.dumps(value, ensure_ascii=False, separators=(",", ":"))` writes it."""
    import polars as pl

    ls = pa.large_string()
    wrapped = pc.binary_join_element_wise(  # so a string value comes back as JSON text
        pa.scalar("[", ls), spans, pa.scalar("]", ls), pa.scalar("", ls)
    )
    out = pl.from_arrow(wrapped).str.json_path_match("$").to_arrow()
    if out.null_count:
        raise _Decline  # invalid JSON, NaN, a lone surrogate, deep nesting
    out = pc.utf8_slice_codeunits(out.cast(pa.large_string()), 1, -1)
    risky = pc.or_(_has_risky_number(spans), _has_risky_number(out))
    redo = np.flatnonzero(risky.to_numpy(zero_copy_only=False))
    if not len(redo):
        return out.cast(pa.string())
    import json

    texts = out.to_pylist()
    try:
        for k in redo:
            texts[k] = jsontext.dumps(json.loads(spans[int(k)].as_py()))
    except (ValueError, RecursionError):
        raise _Decline from None
    return pa.array(texts, pa.string())


def _has_risky_number(texts: pa.Array) -> pa.Array:
    # strings are not cut out first: digits in them only send a value through Python
    return pc.match_substring_regex(texts, _RISKY_NUMBER)


def _plain_texts(spans: pa.LargeStringArray, objects: np.ndarray) -> pa.Array:
    """Each string value as the string it holds (null for objects)."""
    import polars as pl

    strings = pc.if_else(pa.array(objects), pa.scalar(None, pa.large_string()), spans)
    out = pl.from_arrow(strings).str.json_path_match("$").to_arrow()
    if out.null_count != int(objects.sum()):
        raise _Decline
    return out.cast(pa.string())


def _with_numbers(chunk: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.Buffer:
    """The chunk with the k-th value replaced by the number k."""
    n = len(starts)
    bounds = np.empty(2 * n + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, len(chunk)
    bounds[1:-1:2], bounds[2:-1:2] = starts, ends
    pieces = pa.LargeStringArray.from_buffers(2 * n + 1, pa.py_buffer(bounds), pa.py_buffer(chunk))
    numbers = pa.array(np.arange(n)).cast(pa.large_string())
    order = np.arange(2 * n + 1)
    order[1::2] = 2 * n + 1 + np.arange(n)
    text = pa.concat_arrays([pieces, numbers]).take(pa.array(order))
    one = pa.LargeListArray.from_arrays(pa.array([0, len(text)], pa.int64()), text)
    return pc.binary_join(one, pa.scalar("", pa.large_string()))[0].as_buffer()


# ---------------------------------------------------------------- the arguments fields


def is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t)


Slot = Callable[[pa.Array, pa.Field], tuple[pa.Array, pa.Field]]


def _fill(
    table: pa.Table, texts: pa.Array, plain: Callable[[], pa.Array], objects: np.ndarray
) -> pa.Table:
    """`table` with each arguments number replaced by its value's text; raises _Decline
    unless every value was found in the tool calls the line-by-line path rewrites."""
    found: dict[int, list[np.ndarray]] = {}
    for i, col in enumerate(table.columns):

        def seen(child: pa.Array, f: pa.Field, i: int = i) -> tuple[pa.Array, pa.Field]:
            if pa.types.is_int64(child.type):
                found.setdefault(i, []).append(child.drop_null().to_numpy())
            elif not pa.types.is_null(child.type):
                raise _Decline
            return child, f

        _value(col.combine_chunks(), seen)
    ids = np.concatenate([a for v in found.values() for a in v] or [np.zeros(0, np.int64)])
    if len(ids) != len(objects) or (np.bincount(ids, minlength=len(objects)) != 1).any():
        raise _Decline  # a value landed elsewhere (a schema's `arguments` parameter ...)
    for i, pieces in found.items():
        as_json = bool(objects[np.concatenate(pieces)].any())
        values = texts if as_json else plain()
        field = pa.field(ARGUMENTS, pa.string(), metadata=_TAG if as_json else None)
        arr = _value(table.column(i).combine_chunks(), _texts_slot(values, field))
        table = table.set_column(i, table.schema.field(i).with_type(arr.type), arr)
    return table


def _texts_slot(values: pa.Array, field: pa.Field) -> Slot:
    """An arguments field of numbers made the texts they number."""

    def slot(child: pa.Array, f: pa.Field) -> tuple[pa.Array, pa.Field]:
        if pa.types.is_null(child.type):
            return child, f
        return values.take(child), field.with_nullable(f.nullable)

    return slot


def _value(arr: pa.Array, slot: Slot) -> pa.Array:
    """A column value (messages, lists of them, or one message), as `jsonargs._text_args`
    walks it: a message's `tool_calls` / `function_call` are rewritten, nothing else."""
    t = arr.type
    if is_list(t):
        return relist(arr, _value(arr.flatten(), slot))
    if pa.types.is_struct(t):
        return _restruct(arr, {name: lambda c, f: _calls(c, slot) for name in CALL_FIELDS})
    return arr


def _calls(arr: pa.Array, slot: Slot) -> pa.Array:
    t = arr.type
    if is_list(t) and pa.types.is_struct(t.value_type):
        return relist(arr, _call(arr.flatten(), slot))
    if pa.types.is_struct(t):
        return _call(arr, slot)
    return arr


def _call(arr: pa.Array, slot: Slot) -> pa.Array:
    """One tool call: its `function` object's arguments where it has one, else its own."""
    t = arr.type
    k = t.get_field_index("function")
    if k < 0 or not pa.types.is_struct(t.field(k).type):
        return _restruct(arr, {ARGUMENTS: slot})
    own = t.get_field_index(ARGUMENTS)
    inner = t.field(k).type.get_field_index("function")
    if (own >= 0 and not pa.types.is_null(t.field(own).type)) or inner >= 0:
        raise _Decline  # which one the line-by-line path rewrites differs per row
    return _restruct(arr, {"function": lambda c, f: _restruct(c, {ARGUMENTS: slot})})


def _restruct(arr: pa.Array, rewrite: dict) -> pa.Array:
    fields, children = [], []
    for k, f in enumerate(arr.type):
        child = arr.field(k)
        if f.name in rewrite:
            out = rewrite[f.name](child, f)
            child, f = out if isinstance(out, tuple) else (out, f.with_type(out.type))
        fields.append(f)
        children.append(child)
    mask = arr.is_null() if arr.null_count else None
    return pa.StructArray.from_arrays(children, fields=fields, mask=mask)
