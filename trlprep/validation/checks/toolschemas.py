"""Tool schemas that contradict themselves (`required-not-property`): a function whose
`parameters.required` names a property its `parameters.properties` lack (Functionary's
test conversation requires `get_car_price`, the function's own name, of a function whose
one property is `car_name`): the schema requires an argument it never defines, and a
model trained on it learns the contradiction.

`schema_contradictions` says them for one list of schemas (a row's `tools`, a `--tools` /
`tools=` file); `check_tool_schemas` flags the rows of a batch, each distinct `tools` value
read once. Values that are no list of schemas are `invalid-tools`'s, not checked here.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.columns.arrowtypes import is_json_field
from trlprep.validation.checks.common import BatchSink
from trlprep.validation.checks.sides import per_distinct
from trlprep.validation.prepare import get_column

RULE = "required-not-property"


def schema_contradictions(tools: Any) -> list[str]:
    """What contradicts itself in a list of tool schemas, one text per function (`function
    'f' requires 'x', not among its properties (a, b)`); [] for none, and for a value that
    is no list."""
    if not isinstance(tools, list):
        return []
    out = []
    for item in tools:
        fn = item.get("function") if isinstance(item, dict) else None
        fn = fn if isinstance(fn, dict) else item
        params = fn.get("parameters") if isinstance(fn, dict) else None
        if not isinstance(params, dict) or not isinstance(params.get("required"), list):
            continue
        props = params.get("properties")
        props = props if isinstance(props, dict) else {}
        missing = [r for r in params["required"] if isinstance(r, str) and r not in props]
        if missing:
            have = ", ".join(map(str, props)) or "none"
            out.append(
                f"function {fn.get('name')!r} requires {', '.join(map(repr, missing))}, "
                f"not among its properties ({have})"
            )
    return out


def check_tool_schemas(data: pa.Table | pa.RecordBatch, sink: BatchSink) -> None:
    """Flag the rows whose `tools` hold a schema that contradicts itself, each with what."""
    got = get_column(data, "tools")
    if got is None or pa.types.is_null(got[1].type):
        return
    field, tools = got
    mixed = is_json_field(field)
    said = per_distinct(tools, lambda v: tuple(schema_contradictions(_parsed(v, mixed))))
    counts = np.fromiter((len(s) for s in said), np.int64, len(said))
    if not counts.any():
        return
    rows = np.repeat(np.arange(len(said)), counts)
    values = [text for s in said for text in s]
    sink.flag_values(
        RULE,
        field.name,
        pa.array(values, pa.string()),
        rows,
        message=f"column {field.name!r}: a tool schema's `required` names a property its "
        "`properties` lack",
    )


def _parsed(value: Any, mixed: bool) -> Any:
    """A row's tools as Python values (JSON text read; twice for a column of several kinds,
    whose strings are tagged JSON text); None where it is no JSON."""
    try:
        if isinstance(value, str):
            value = json.loads(value)
        if mixed and isinstance(value, str):
            value = json.loads(value)
    except ValueError:
        return None
    return value
