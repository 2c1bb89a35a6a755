"""Tool calls naming a function that the row's `tools` do not list (`unknown-tool`).

A model trained on such a row learns to call a function it was never offered. Rows without
`tools` (or with tools that are no list of schemas: `invalid-tools`) are not checked. Found
columnar: each distinct `tools` value is read once for its function names, every call's name
is taken out of the message lists by Arrow, and the (row's tools, name) pairs are matched
against the offered ones with a Polars anti-join.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths
from trlprep.columns.arrowtypes import is_json_field, is_list, is_messages
from trlprep.io.jsonencode import encode_without_null_keys
from trlprep.validation.checks.common import MAX_DETAILS, BatchSink
from trlprep.validation.prepare import get_column

RULE = "unknown-tool"


def check_tool_names(
    data: pa.Table | pa.RecordBatch, typed: dict[str, pa.Array], sink: BatchSink
) -> None:
    """Flag rows whose message columns (`typed`, by name) call a function absent from the
    row's `tools`."""
    got = get_column(data, "tools")
    if got is None or pa.types.is_null(got[1].type):
        return
    import polars as pl

    field, tools = got
    offered, which = _offered(tools, is_json_field(field))
    for column, msgs in typed.items():
        if not is_messages(msgs.type):
            continue
        calls = _call_names(msgs)
        if calls is None:
            continue
        rows, names = calls
        ids = which[rows]
        keep = ids >= 0  # rows with no tools, or tools that are no list of schemas
        if not keep.any():
            continue
        made = pl.DataFrame({"id": ids[keep], "name": names.filter(pa.array(keep))})
        made = made.with_row_index("at").filter(pl.col("name").is_not_null())
        unknown = made.join(offered, on=["id", "name"], how="anti")
        if unknown.height == 0:
            continue
        bad = np.zeros(len(msgs), dtype=bool)
        bad[rows[keep][unknown["at"].to_numpy()]] = True
        shown = list(dict.fromkeys(unknown["name"].to_list()))[:MAX_DETAILS]
        sink.flag(
            RULE,
            column,
            bad,
            message=f"column {column!r}: a tool call names a function the row's tools do not list",
            details=[f"calls {n!r}" for n in shown],
        )


def _offered(tools: pa.Array, tagged: bool) -> tuple[Any, np.ndarray]:
    """(the (id, name) pairs each distinct tools value offers, each row's id or -1)."""
    import polars as pl

    texts = tools if pa.types.is_string(tools.type) else encode_without_null_keys(tools)
    encoded = pc.dictionary_encode(texts.cast(pa.string()))
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    ids = np.where(np.isnan(indices.astype(float)), -1, indices).astype(np.int64)
    pairs_id, pairs_name = [], []
    listed = []  # per distinct value: a list of schemas
    for i, text in enumerate(encoded.dictionary.to_pylist()):
        names = _names(text, tagged)
        listed.append(names is not None)
        pairs_id += [i] * len(names or ())
        pairs_name += names or []
    listed_arr = np.array(listed + [False], dtype=bool)  # [-1] -> False
    ids = np.where(listed_arr[ids], ids, -1)
    offered = pl.DataFrame(
        {"id": pl.Series(pairs_id, dtype=pl.Int64), "name": pl.Series(pairs_name, dtype=pl.String)}
    )
    return offered, ids


def _names(text: str, tagged: bool) -> list[str] | None:
    """The function names a tools value offers; None when it is no list of schemas."""
    try:
        value: Any = json.loads(text)
        if tagged and isinstance(value, str):
            value = json.loads(value)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    names = []
    for item in value:
        if not isinstance(item, dict):
            return None
        fn = item.get("function") if isinstance(item.get("function"), dict) else item
        if not isinstance(fn.get("name"), str):
            return None
        names.append(fn["name"])
    return names


def _call_names(msgs: pa.Array) -> tuple[np.ndarray, pa.Array] | None:
    """(each call's row, each call's name) over `msgs`; None when no message has calls."""
    if msgs.type.value_type.get_field_index("tool_calls") < 0:
        return None
    items = pc.list_flatten(msgs)
    row_of_item = np.repeat(np.arange(len(msgs), dtype=np.int64), list_lengths(msgs))
    calls = pc.struct_field(items, "tool_calls")
    if not (is_list(calls.type) and pa.types.is_struct(calls.type.value_type)):
        return None
    row_of_call = np.repeat(row_of_item, list_lengths(calls))
    flat = pc.list_flatten(calls)
    t = flat.type
    j = t.get_field_index("function")
    if j >= 0 and pa.types.is_struct(t.field(j).type):
        holder = pc.struct_field(flat, "function")
    else:
        holder = flat
    if holder.type.get_field_index("name") < 0 or len(holder) == 0:
        return None
    names = pc.struct_field(holder, "name")
    if not pa.types.is_string(names.type):
        return None
    return row_of_call, names
