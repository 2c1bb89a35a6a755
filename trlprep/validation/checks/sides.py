"""Side columns: `tools`, `images`/`image`, `margin` and `chat_template_kwargs`.

Arrow types are checked over whole columns; tools and JSON-text kwargs are parsed in
Python once per distinct value (most datasets repeat the same few tool lists).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import to_numpy_bool
from trlprep.columns.arrowtypes import is_json_field, is_list, json_kinds
from trlprep.columns.placeholders import media_entries
from trlprep.validation.checks.common import BatchSink
from trlprep.validation.prepare import get_column
from trlprep.wording import article

# ---------------------------------------------------------------- side columns


def check_side_columns(data: pa.Table | pa.RecordBatch, sink: BatchSink) -> np.ndarray | None:
    """tools, images/image, margin, chat_template_kwargs; returns images per row (or None)."""
    images = None
    if (got := get_column(data, "tools")) is not None:
        _check_tools(*got, sink)
    if (got := get_column(data, "margin")) is not None:
        _check_kind(
            *got,
            sink,
            {"number"},
            lambda t: pa.types.is_integer(t) or pa.types.is_floating(t),
            "numbers",
        )
    if (got := get_column(data, "chat_template_kwargs")) is not None:
        _check_kwargs(*got, sink)
    if (got := get_column(data, "images")) is not None:
        f, arr = got
        if _check_kind(f, arr, sink, {"list"}, is_list, "lists"):
            images = _entries(f, arr)
    if (got := get_column(data, "image")) is not None:
        one = _entries(*got)
        images = one if images is None else images + one
    return images


def _entries(f: pa.Field, arr: pa.Array) -> np.ndarray:
    """Entries per row of media column `f` (lists, their JSON text, an `image` / `video`
    column's paths), as convert and the template stage count them; a column of nulls none."""
    k = media_entries(f, arr)
    return np.zeros(len(arr), np.int64) if k is None else k


def media_columns(data: pa.Table | pa.RecordBatch, sink: BatchSink) -> dict[str, np.ndarray | None]:
    """Entries per row of the `videos` / `audios` list columns (and a `video` column: one
    path or a list), by kind (`video`, `audio`; None: the data has no such column, or not of
    lists)."""
    out: dict[str, np.ndarray | None] = {}
    for kind in ("video", "audio"):
        out[kind] = None
        if (got := get_column(data, f"{kind}s")) is not None:
            f, arr = got
            if _check_kind(f, arr, sink, {"list"}, is_list, "lists"):
                out[kind] = _entries(f, arr)  # list lengths (of JSON text too)
        if kind == "video" and (got := get_column(data, kind)) is not None:
            one = _entries(*got)
            out[kind] = one if out[kind] is None else out[kind] + one
    return out


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


def per_distinct(arr: pa.Array, fn, dtype=object) -> np.ndarray:
    """fn applied once per distinct value (nulls included as None), spread back to rows."""
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        enc = pc.dictionary_encode(arr)
        results = np.array([fn(v) for v in enc.dictionary.to_pylist()] + [fn(None)], dtype=dtype)
        idx = pc.fill_null(enc.indices, len(enc.dictionary)).to_numpy(zero_copy_only=False)
        return results[idx]
    import polars as pl

    hashes = pl.from_arrow(pa.table({"v": arr})).select(pl.col("v").hash()).to_series().to_numpy()
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    reps = arr.take(pa.array(first)).to_pylist()
    return np.array([fn(v) for v in reps], dtype=dtype)[inverse]


def _check_tools(f: pa.Field, arr: pa.Array, sink: BatchSink) -> None:
    if pa.types.is_null(arr.type):
        return
    mixed = is_json_field(f)
    problems = per_distinct(arr, lambda v: _tools_problem(v, mixed))
    bad = problems != None  # noqa: E711 (elementwise on an object array)
    if bad.any():
        at = np.flatnonzero(bad)  # each row said with its own problem
        sink.flag_values("invalid-tools", f.name, pa.array(problems[at], pa.string()), at)


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
        return f"{article(type(value).__name__)}, not a list"
    for i, item in enumerate(value):
        if not _is_tool(item):
            return f"item {i} is not a function schema" + _builtin(item)
    return None


def _builtin(item: Any) -> str:
    """`: a built-in tool {"type": ...}` for an item naming a type but no function (OpenAI's
    and Functionary's `code_interpreter`), which no schema describes; else empty."""
    kind = item.get("type") if isinstance(item, dict) else None
    if not isinstance(kind, str) or kind == "function" or "function" in item:
        return ""
    return f": {json.dumps(item)[:60]}, a built-in tool with no name or parameters"


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

        bad = per_distinct(arr, not_object, dtype=bool)
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
