"""Column preparation, side columns and rules that look at several columns of a row.

`prepare_column` turns one of the type's columns into a typed Arrow array (decoding the
JSON text of mixed-kind columns, flagging rows of the wrong kind, nulls and wrong types);
`check_side_columns` checks tools/images/margin/chat_template_kwargs; `cross_checks`
applies prompt/completion turn order, implicit-prompt, chosen == rejected, step and image
count rules. Python runs only over distinct values (tools JSON, mixed-kind texts).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from trlprep import textops
from trlprep.arrowtypes import ValueKind, is_json_field, is_list, json_kinds, value_kind
from trlprep.checks import BatchSink, MessagesInfo, list_lengths, to_numpy_bool
from trlprep.registry import Column, DatasetType, Format, Kind

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
    'store booleans (true/false); `--coerce` converts 0/1 and "true"/"false" to booleans'
)


def _want(c: Column, fmt: Format) -> tuple[ValueKind, pa.DataType, str]:
    if c.kind is Kind.CONTENT:
        if fmt is Format.STANDARD:
            return ValueKind.STRING, pa.string(), "string"
        return ValueKind.MESSAGES, _MSG_TYPE, "list"
    return _WANT[c.kind]


def _column(data: pa.Table | pa.RecordBatch, name: str) -> tuple[pa.Field, pa.Array] | None:
    i = data.schema.get_field_index(name)
    if i < 0:
        return None
    arr = data.column(i)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return data.schema.field(i), arr


def _wrong_rule(c: Column) -> str:
    return {Kind.LABEL: "label-type", Kind.LABELS: "labels-type"}.get(c.kind, "wrong-type")


# ---------------------------------------------------------------- the type's columns


def prepare_column(
    data: pa.Table | pa.RecordBatch, c: Column, fmt: Format, sink: BatchSink
) -> pa.Array | None:
    """The column as a typed array, or None when absent or unusable (rows already flagged)."""
    name = c.name_in(fmt)
    want, null_type, want_json = _want(c, fmt)
    got = _column(data, name)
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
            message=f"column {name!r} holds {arr.type} values; {_WANT_TEXT[want]} are needed "
            f"in {fmt.value} format",
            hint=_wrong_hint(c, fmt, arr, kind),
        )
        if c.required:
            sink.flag("null-value", name, ~valid & ~flagged)
        return None
    if c.required:
        sink.flag("null-value", name, to_numpy_bool(arr.is_null()) & ~flagged)
    return arr


def _wrong_hint(c: Column, fmt: Format, arr: pa.Array, kind: ValueKind) -> str | None:
    if c.kind in (Kind.LABEL, Kind.LABELS):
        values = pc.list_flatten(arr) if c.kind is Kind.LABELS and is_list(arr.type) else arr
        if pa.types.is_integer(values.type) or pa.types.is_string(values.type):
            return _COERCE_HINT
        return "store booleans (true/false)"
    if c.kind is Kind.CONTENT:
        other = {ValueKind.STRING: "standard", ValueKind.MESSAGES: "conversational"}.get(kind)
        if other:
            return f"the data looks {other}: pass --format {other} (or leave --format out)"
        if pa.types.is_list(arr.type) and pa.types.is_struct(arr.type.value_type):
            return 'messages need "role" and "content" keys (use --role-map for other names)'
    return None


def _decode_mixed(arr, c, name, want, want_json, sink):
    """Decode the JSON text of a mixed-kind column; rows of another kind are flagged."""
    kinds = np.asarray(json_kinds(arr).to_numpy(zero_copy_only=False), dtype=object)
    bad = (kinds != want_json) & (kinds != "null")
    rule = "label-type" if c.kind is Kind.LABEL else "mixed-kind"
    if bad.any():
        seen = sorted(set(kinds[bad]))
        sink.flag(
            rule,
            name,
            bad,
            message=f"column {name!r} mixes kinds: these rows hold a "
            f"{'/'.join(seen)} where {_WANT_TEXT[want]} are needed",
            hint=_COERCE_HINT if c.kind is Kind.LABEL else None,
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
    """Arrow values of the JSON texts where `good` (null elsewhere), parsed once per distinct text."""
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
            m = {**m, "content": [{"type": "text", "text": m["content"]}]}
        out.append(m)
    return out


# ---------------------------------------------------------------- side columns


def check_side_columns(data: pa.Table | pa.RecordBatch, sink: BatchSink) -> np.ndarray | None:
    """tools, images/image, margin, chat_template_kwargs; returns images per row (or None)."""
    images = None
    if (got := _column(data, "tools")) is not None:
        _check_tools(*got, sink)
    if (got := _column(data, "margin")) is not None:
        _check_kind(*got, sink, {"number"}, lambda t: pa.types.is_integer(t) or pa.types.is_floating(t), "numbers")
    if (got := _column(data, "chat_template_kwargs")) is not None:
        _check_kwargs(*got, sink)
    if (got := _column(data, "images")) is not None:
        f, arr = got
        if _check_kind(f, arr, sink, {"list"}, is_list, "lists"):
            images = _count_images(f, arr)
    if (got := _column(data, "image")) is not None:
        one = to_numpy_bool(got[1].is_valid()).astype(np.int64)
        images = one if images is None else images + one
    return images


def _check_kind(f, arr, sink, json_ok: set[str], type_ok, what: str) -> bool:
    """Flag non-null values of the wrong kind; True when the column is usable as typed."""
    if pa.types.is_null(arr.type):
        return True
    if is_json_field(f):
        kinds = np.asarray(json_kinds(arr).to_numpy(zero_copy_only=False), dtype=object)
        bad = ~np.isin(kinds, list(json_ok | {"null"}))
        sink.flag("mixed-kind", f.name, bad, message=f"column {f.name!r}: values must be {what}")
        return True
    if type_ok(arr.type):
        return True
    sink.flag(
        "wrong-type",
        f.name,
        to_numpy_bool(arr.is_valid()),
        message=f"column {f.name!r} holds {arr.type} values; {what} are needed",
    )
    return False


def _count_images(f: pa.Field, arr: pa.Array) -> np.ndarray:
    if not is_json_field(f):
        return list_lengths(arr)
    return _per_distinct(
        arr, lambda t: len(v) if isinstance(v := json.loads(t), list) else 0, dtype=np.int64
    )


def _per_distinct(arr: pa.Array, fn, dtype=object) -> np.ndarray:
    """fn applied once per distinct value (nulls included as None), spread back to rows."""
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        enc = pc.dictionary_encode(arr)
        results = np.array([fn(v) for v in enc.dictionary.to_pylist()] + [fn(None)], dtype=dtype)
        idx = pc.fill_null(enc.indices, len(enc.dictionary)).to_numpy(zero_copy_only=False)
        return results[idx]
    hashes = pl.from_arrow(pa.table({"v": arr})).select(pl.col("v").hash()).to_series().to_numpy()
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    reps = arr.take(pa.array(first)).to_pylist()
    return np.array([fn(v) for v in reps], dtype=dtype)[inverse]


def _check_tools(f: pa.Field, arr: pa.Array, sink: BatchSink) -> None:
    if pa.types.is_null(arr.type):
        return
    mixed = is_json_field(f)
    problems = _per_distinct(arr, lambda v: _tools_problem(v, mixed))
    bad = problems != None  # noqa: E711 (elementwise on an object array)
    if bad.any():
        sink.flag("invalid-tools", f.name, bad, details=sorted(set(problems[bad]))[:5])


def _tools_problem(value: Any, mixed: bool) -> str | None:
    """Why a row's tools value is not a list of function schemas (None when it is)."""
    if value is None:
        return None
    if mixed or isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return "not valid JSON"
        if mixed and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return "not valid JSON"
    if value is None:
        return None
    if not isinstance(value, list):
        return f"a {type(value).__name__}, not a list"
    for i, item in enumerate(value):
        if not _is_tool(item):
            return f"item {i} is not a function schema"
    return None


def _is_function(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("name"), str)
        and bool(obj["name"])
        and (obj.get("parameters") is None or isinstance(obj["parameters"], dict))
    )


def _is_tool(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    wrapped = item.get("type") in ("function", None) and _is_function(item.get("function"))
    return wrapped or _is_function(item)


def _check_kwargs(f: pa.Field, arr: pa.Array, sink: BatchSink) -> None:
    t = arr.type
    if pa.types.is_null(t) or pa.types.is_struct(t) or pa.types.is_map(t):
        return
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        mixed = is_json_field(f)

        def not_object(text):
            if text is None:
                return False
            try:
                v = json.loads(text)
                if mixed and isinstance(v, str):
                    v = json.loads(v)
            except ValueError:
                return True
            return not isinstance(v, dict | type(None))

        bad = _per_distinct(arr, not_object, dtype=bool)
        sink.flag(
            "wrong-type",
            f.name,
            bad,
            message=f"column {f.name!r}: values must be objects (or their JSON text)",
        )
        return
    sink.flag(
        "wrong-type",
        f.name,
        to_numpy_bool(arr.is_valid()),
        message=f"column {f.name!r} holds {t} values; objects are needed",
    )


# ---------------------------------------------------------------- several columns


def cross_checks(
    dtype: DatasetType,
    fmt: Format,
    typed: dict[str, pa.Array],
    infos: dict[str, MessagesInfo],
    images: np.ndarray | None,
    sink: BatchSink,
    hashes: dict[str, np.ndarray] | None = None,
) -> None:
    """Rules over several columns of a row (or over turn order within one).

    `hashes` (per-column row hashes) narrow chosen == rejected to rows whose hashes agree.
    """
    roles = {c.role: c.name_in(fmt) for c in dtype.columns_in(fmt)}
    explicit = "prompt" in roles
    if "prompt" in infos:
        _prompt_ending(infos["prompt"], roles["prompt"], sink)
    if explicit:
        for role in ("completion", "chosen", "rejected"):
            if role in infos:
                first = infos[role].first_role
                bad = to_numpy_bool(pc.not_equal(first, "assistant"))
                sink.flag("completion-not-assistant", roles[role], bad)
    if "chosen" in roles and "rejected" in roles:
        c, r = typed.get(roles["chosen"]), typed.get(roles["rejected"])
        if c is not None and r is not None:
            candidates = None
            if hashes is not None and roles["chosen"] in hashes and roles["rejected"] in hashes:
                candidates = hashes[roles["chosen"]] == hashes[roles["rejected"]]
            same = _equal(c, r, candidates)
            sink.flag("chosen-equals-rejected", None, same)
            if not explicit:
                _implicit_prefix(c, r, fmt, same, sink)
    if "completions" in typed and "labels" in typed:
        comp, lab = typed["completions"], typed["labels"]
        both = to_numpy_bool(comp.is_valid()) & to_numpy_bool(lab.is_valid())
        sink.flag("steps-mismatch", "labels", both & (list_lengths(comp) != list_lengths(lab)))
    if fmt is Format.CONVERSATIONAL:
        _image_counts(roles, infos, images, sink)


def _prompt_ending(info: MessagesInfo, column: str, sink: BatchSink) -> None:
    last = info.last_role
    sink.flag(
        "continue-final-message", column, to_numpy_bool(pc.equal(last, "assistant"))
    )
    ends_badly = to_numpy_bool(pc.is_in(last, pa.array(["system", "developer"])))
    sink.flag(
        "prompt-ending",
        column,
        ends_badly,
        details=[f"ends on {v}" for v in pc.unique(last.filter(pa.array(ends_badly))).to_pylist()],
    )


def _equal(a: pa.Array, b: pa.Array, candidates: np.ndarray | None = None) -> np.ndarray:
    """Rows where a == b; only `candidates` (rows whose hashes agree) are compared exactly."""
    out = np.zeros(len(a), dtype=bool)
    idx = np.arange(len(a)) if candidates is None else np.flatnonzero(candidates)
    if not len(idx):
        return out
    if candidates is not None:
        a, b = a.take(pa.array(idx)), b.take(pa.array(idx))
    if value_kind(a.type) is ValueKind.STRING:
        out[idx] = to_numpy_bool(pc.equal(a, b))
        return out
    try:
        df = pl.from_arrow(pa.table({"a": a, "b": b}))
        out[idx] = df.select((pl.col("a") == pl.col("b")).fill_null(False)).to_series().to_numpy()
    except Exception:  # polars cannot compare these nested types; skip the warning
        pass
    return out


def _implicit_prefix(c: pa.Array, r: pa.Array, fmt: Format, same, sink: BatchSink) -> None:
    valid = to_numpy_bool(c.is_valid()) & to_numpy_bool(r.is_valid()) & ~same
    if fmt is Format.STANDARD:
        lcp = textops.common_prefix_bytes(c, r)
        ok = (lcp > 0) & textops.prefix_on_word_boundary(c, r, lcp)
        message = "chosen and rejected share no prompt ending on a word boundary"
    else:
        ok = _first_messages_equal(c, r)
        message = "chosen and rejected do not start with the same message"
    sink.flag("no-common-prefix", None, valid & ~ok, message=message)


def _first_messages_equal(c: pa.Array, r: pa.Array) -> np.ndarray:
    try:
        df = pl.from_arrow(pa.table({"c": c, "r": r}))
        same = pl.lit(True)
        for key in ("role", "content"):
            a = pl.col("c").list.first().struct.field(key)
            b = pl.col("r").list.first().struct.field(key)
            same = same & a.eq_missing(b)
        has = (pl.col("c").list.len() > 0) & (pl.col("r").list.len() > 0)
        return df.select((same & has).fill_null(False)).to_series().to_numpy()
    except Exception:  # content of different layouts (string vs parts): not comparable
        return np.zeros(len(c), dtype=bool)


def _image_counts(
    roles: dict[str, str], infos: dict[str, MessagesInfo], images: np.ndarray | None, sink
) -> None:
    parts = {role: info.images for role, info in infos.items()}
    if images is None and not any(p.any() for p in parts.values()):
        return
    n_images = images if images is not None else np.zeros(sink.num_rows, dtype=np.int64)
    prompt = parts.get("prompt")
    others = [r for r in parts if r != "prompt"]
    sequences = (
        [(f"{roles['prompt']}+{roles[r]}", prompt + parts[r]) for r in others]
        if prompt is not None and others
        else [(roles[r], parts[r]) for r in parts]
    )
    for label, count in sequences:
        bad = count != n_images
        if bad.any():
            i = np.flatnonzero(bad)[:3]
            sink.flag(
                "image-count",
                None,
                bad,
                details=[f"{label}: {int(count[k])} image parts, {int(n_images[k])} images" for k in i],
            )
