"""Arrow -> JSON text with only the keys each object holds, vectorised.

One Arrow struct gives every object the keys of all objects, null where one had none. JSON
written from it would hold keys its input lacked (`"id": null` in every message when only
the tool messages had an `id`), which templates that test `'tool_calls' in message` or
`message.id is defined`, and APIs that refuse unknown keys, take for data. Here null-valued
keys are left out at any depth, except the ones a caller keeps (a message's `content`:
an OpenAI tool-call message's `content: null` is its own). Columnar: each field is encoded
once for all rows and the pieces joined, lists through their offsets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection

import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_json_field, is_list, is_messages
from trlprep.columns.textops import join_lists

# a message's keys written even when null (its content: null beside tool calls)
MESSAGE_KEEPS = frozenset({"content"})

_LS = pa.large_string()
# per struct (a column and the fields down to it), its keys in the order a reader met them
KeyOrders = dict[tuple[str, ...], list[str]]


def _is_list(t: pa.DataType) -> bool:
    return (
        is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_large_list_view(t)
        or pa.types.is_fixed_size_list(t)
    )


def _text(text: str | None) -> pa.Scalar:
    return pa.scalar(text, _LS)


def _null_as_text(texts: pa.Array) -> pa.Array:
    return pc.fill_null(texts, _text("null")) if texts.null_count else texts


def _json_array(lists: pa.Array, items: pa.Array) -> pa.Array:
    """Per list, `[` its items' JSON texts joined by commas `]` (a null list too)."""
    body = join_lists(lists, items, ",")
    return pc.binary_join_element_wise(_text("["), body, _text("]"), _text(""))


def _nulls_kept(arr: pa.Array, texts: pa.Array) -> pa.Array:
    """`texts`, null where `arr` is (copied only where `arr` holds a null)."""
    return pc.if_else(arr.is_valid(), texts, _text(None)) if arr.null_count else texts


def has_null_fields(t: pa.DataType, arr: pa.Array, keep: Collection[str] = ()) -> bool:
    """True when a struct inside `arr` (of type `t`) holds a null field not in `keep`
    (`keep` applies to the outermost struct only)."""
    if pa.types.is_dictionary(t):
        return False
    if pa.types.is_struct(t):
        return any(
            (f.name not in keep and child.null_count) or has_null_fields(f.type, child)
            for f, child in zip(t, arr.flatten(), strict=True)
        )
    if _is_list(t):
        return has_null_fields(t.value_type, arr.flatten())
    return False


def encode_dropping_nulls(
    arr: pa.Array,
    leaf: Callable[[pa.Array], pa.Array],
    keep: Collection[str] = (),
    raw: bool = False,
    orders: KeyOrders | None = None,
    path: tuple[str, ...] = (),
) -> pa.Array:
    """The compact JSON text of each value of `arr` (large strings; null stays null), every
    null-valued object key left out but those in `keep` (outermost objects only). Tagged
    JSON-text fields and `datasets`' `Json` values are written as the JSON they hold; `leaf`
    encodes the other scalars (a null inside a list stays `null`). Keys come in the struct's
    order, or with `orders` in the order noted there for these values (`key_order`)."""
    t = arr.type
    if raw:
        return arr.cast(_LS)
    if isinstance(t, pa.BaseExtensionType) and t.extension_name == "arrow.json":
        return arr.storage.cast(_LS)
    if pa.types.is_dictionary(t):
        return encode_dropping_nulls(arr.dictionary_decode(), leaf, keep, False, orders, path)
    if pa.types.is_struct(t):
        return _struct(arr, leaf, keep, orders, path)
    if _is_list(t):  # list views too: flattened in their order (their casts lose rows)
        flat = arr.flatten()  # the values of non-null lists only, slice offsets applied
        items = _null_as_text(encode_dropping_nulls(flat, leaf, (), False, orders, path))
        return _nulls_kept(arr, _json_array(arr, items))
    return leaf(arr).cast(_LS)  # scalars, maps: as they are


def _struct(
    arr: pa.Array,
    leaf: Callable[[pa.Array], pa.Array],
    keep: Collection[str],
    orders: KeyOrders | None,
    path: tuple[str, ...],
) -> pa.Array:
    # one join of the pieces: a field every object holds as its key and its values, one
    # some objects lack as `,"key":value` (null where it lacks it: left out). Where the first
    # field may be absent, each field leads with a comma and the first comma is cut (not
    # `null_handling="skip"`: it drops the rows where every piece is null)
    fields = []
    named = list(zip(arr.type, arr.flatten(), strict=True))
    for f, child in named if orders is None else _noted_order(named, orders.get(path, ())):
        text = encode_dropping_nulls(
            child, leaf, raw=is_json_field(f), orders=orders, path=(*path, f.name)
        )
        if f.name in keep:
            text = _null_as_text(text)
        # a struct's children are null where it is: no more nulls than that, always held
        fields.append(
            (json.dumps(f.name, ensure_ascii=False), text, text.null_count <= arr.null_count)
        )
    lead = bool(fields) and fields[0][2]
    pieces = []
    for i, (name, text, always) in enumerate(fields):
        key = _text(("," if i or not lead else "") + name + ":")
        pieces += [key, text] if always else [pc.binary_join_element_wise(key, text, _text(""))]
    if lead:
        out = pc.binary_join_element_wise(
            _text("{"), *pieces, _text("}"), _text(""), null_handling="replace", null_replacement=""
        )
        return _nulls_kept(arr, out)
    if pieces:
        joined = pc.binary_join_element_wise(
            *pieces, _text(""), null_handling="replace", null_replacement=""
        )
        inner = pc.utf8_slice_codeunits(joined, 1)
    else:
        inner = pa.array([""] * len(arr), _LS)
    out = pc.binary_join_element_wise(_text("{"), inner, _text("}"), _text(""))
    return _nulls_kept(arr, out)


def key_order(
    arr: pa.Array, keep: Collection[str], orders: KeyOrders, path: tuple[str, ...]
) -> list[tuple[pa.Field, pa.Array]]:
    """The fields of struct array `arr` with their values, in the order a JSON reader meets
    them in the written text (readers order fields as first met, and an object written
    without a null key no longer shows where the struct put it): those met in earlier
    batches of the output (`orders[path]`, extended here), then those met first here, by
    the first object holding each, then the struct's order; those never held last. So the
    output read back and written again is the same text, whatever batches it was cut in."""
    known = orders.setdefault(path, [])
    rank = {name: i for i, name in enumerate(known)}
    valid = arr.is_valid()
    ranked, met = [], []
    for k, (f, child) in enumerate(zip(arr.type, arr.flatten(), strict=True)):
        if f.name in rank:
            ranked.append(((0, rank[f.name], k), f, child))
            continue
        first = pc.index(valid if f.name in keep else child.is_valid(), True).as_py()
        if first >= 0:
            met.append((first, k, f.name))
        ranked.append(((1, first, k) if first >= 0 else (2, k, k), f, child))
    known.extend(name for _, _, name in sorted(met))
    return [(f, child) for _, f, child in sorted(ranked, key=lambda r: r[0])]


def _noted_order(
    named: list[tuple[pa.Field, pa.Array]], known: Collection[str]
) -> list[tuple[pa.Field, pa.Array]]:
    """`named` (a struct's fields and values) in the order `key_order` noted (`known`), those
    it never met (held by no object) last, in the struct's order: the order `key_order` gives
    them again, without reading their values a second time."""
    rank = {name: i for i, name in enumerate(known)}
    last = len(rank)
    ranked = sorted(range(len(named)), key=lambda k: (rank.get(named[k][0].name, last), k))
    return [named[k] for k in ranked]


def _note_orders(t: pa.DataType, arr: pa.Array, keep, orders: KeyOrders, path) -> bool:
    """Notes in `orders` the order a reader meets the keys of every struct inside `arr`
    (`key_order`, each struct once, for `encode_messages` to write them in); True when each
    is its struct's own order (written as Arrow's struct gives them, the reader's order)."""
    if pa.types.is_dictionary(t):
        return _note_orders(t.value_type, arr.dictionary_decode(), keep, orders, path)
    if pa.types.is_struct(t):
        fields = key_order(arr, keep, orders, path)
        own = [f.name for f, _ in fields] == [f.name for f in t]
        inner = [_note_orders(f.type, c, (), orders, (*path, f.name)) for f, c in fields]
        return own and all(inner)
    if _is_list(t):
        return _note_orders(t.value_type, arr.flatten(), (), orders, path)
    return True


def messages_needing_drop(field: pa.Field, arr: pa.Array, orders: KeyOrders | None) -> bool:
    """True for a messages column some of whose messages (or their parts, tool calls) hold
    null-valued keys that JSON output leaves out, or whose keys a reader meets in another
    order than the struct's (`orders`: the output's so far, each struct's noted here for
    `encode_messages`; None: the struct's)."""
    if not is_messages(field.type):
        return False
    msgs = arr.flatten()
    t = field.type.value_type
    own_order = orders is None or _note_orders(t, msgs, MESSAGE_KEEPS, orders, (field.name,))
    return not own_order or has_null_fields(t, msgs, MESSAGE_KEEPS)


def encode_messages(
    arr: pa.Array, leaf: Callable[[pa.Array], pa.Array], orders: KeyOrders | None, name: str
) -> pa.Array:
    """Each row's messages (column `name`) as JSON text (strings), every message with the
    keys it holds (its `content` always), parts and tool calls too, keys in the order a
    reader meets them over the whole output (`orders`, kept by the writer: noted for these
    rows by `messages_needing_drop`)."""
    msgs = arr.flatten()
    msgs = _null_as_text(encode_dropping_nulls(msgs, leaf, MESSAGE_KEEPS, False, orders, (name,)))
    return _nulls_kept(arr, _json_array(arr, msgs)).cast(pa.string())


__all__ = [
    "MESSAGE_KEEPS",
    "encode_dropping_nulls",
    "encode_messages",
    "has_null_fields",
    "key_order",
    "messages_needing_drop",
]
