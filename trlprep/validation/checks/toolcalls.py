"""Checks on tool calls inside message lists: arguments that are not the JSON text of an
object (`invalid-arguments`), or that are, encoded as JSON twice (`double-encoded-arguments`).

A tool call's `arguments` string is the JSON text of an object. Text that is no JSON, or
JSON of a list, number or null, cannot be rendered as the call's arguments and
`convert --chat-template` refuses the row. Text whose JSON value is a string (the object's
JSON text encoded once more) reaches every template as a string, not the object.
Found columnar: JSON is parsed by Polars (`json_path_match`, null for what is not JSON) and
strings told by a regular expression over every call's arguments (`tool_calls[]` and its
`function`); only the values flagged as doubly encoded are parsed in Python, to tell what
they hold.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrays import list_lengths, to_numpy_bool
from trlprep.columns.arrowtypes import is_json_field, is_list, is_string
from trlprep.validation.checks.common import BatchSink
from trlprep.validation.checks.msgarrays import Owners

RULE = "double-encoded-arguments"
INVALID = "invalid-arguments"
# the user's string starts (after whitespace) with a quote: its JSON value is a string
_PLAIN = r'^\s*"'
# the same for tagged JSON text (`jsonargs`): the JSON literal of such a string
_TAGGED = r'^\s*"(?:\s|\\[nrt])*\\"'


def check_tool_arguments(msgs: pa.Array, row_of: np.ndarray, column: str, sink: BatchSink) -> None:
    """Flag rows whose tool-call arguments are JSON text of a string (`row_of`: the row
    owning each message of `msgs`)."""
    for args, field, message_of in _arguments(msgs):
        owner = row_of[message_of]  # the row of each call's arguments
        texts = args if is_string(args.type) else None
        if texts is None or len(texts) == 0:
            continue
        tagged = is_json_field(field)
        _check_objects(texts, tagged, owner, column, sink)
        hit = to_numpy_bool(pc.match_substring_regex(texts, _TAGGED if tagged else _PLAIN))
        if not hit.any():
            continue
        idx = np.flatnonzero(hit)
        values = texts.take(pa.array(idx)).to_pylist()
        kinds = [_inner(json.loads(v) if tagged else v) for v in values]
        keep = np.array([k is not None for k in kinds])
        if not keep.any():
            continue
        shown = [
            f"{_preview(v, tagged)} holds {k}" for v, k in zip(values, kinds, strict=True) if k
        ]
        sink.flag_values(
            RULE,
            column,
            shown,
            owner[idx[keep]],
            message=f"column {column!r}: a tool call's arguments are JSON text of a string "
            "(encoded twice), not of an object",
        )


def _check_objects(texts: pa.Array, tagged: bool, owner: np.ndarray, column: str, sink) -> None:
    """Flag arguments whose text is no JSON, or JSON of neither an object nor a string (a
    string is the double encoding's case). Tagged JSON text holds the JSON literal of the
    user's value: an object is fine, a string is checked as the text it holds."""
    import polars as pl

    values = pl.Series(texts.cast(pa.large_string()))
    if tagged:  # the user's string itself (an object's text comes back as its JSON text)
        values = values.str.json_path_match("$")
    parsed = values.str.json_path_match("$")
    first = values.str.strip_chars_start().str.slice(0, 1)
    # no JSON at all (a leading `"` too: `"city": "Paris"` is an object's braces forgotten),
    # or JSON of neither an object nor a string
    bad = values.is_not_null() & (parsed.is_null() | ((first != '"') & (first != "{")))
    bad = bad.fill_null(False).to_numpy()
    if not bad.any():
        return
    shown = [_preview_text(v) for v in values.filter(pl.Series(bad)).to_list()]
    sink.flag_values(
        INVALID,
        column,
        shown,
        owner[np.flatnonzero(bad)],
        message=f"column {column!r}: a tool call's arguments are not the JSON text of an object",
    )


def flag_missing_content(
    msgs: pa.Array, where: np.ndarray, owners: Owners, column: str, sink: BatchSink
) -> None:
    """Flag `missing-content` on the rows owning the messages of `where` (a mask over
    `msgs`); those holding OpenAI's legacy `function_call` instead of content are told the
    layout that reads it (only they: another row's reason names no function_call)."""
    legacy = np.zeros(len(msgs), dtype=bool)
    if pa.types.is_struct(msgs.type) and msgs.type.get_field_index("function_call") >= 0:
        legacy = where & to_numpy_bool(pc.struct_field(msgs, "function_call").is_valid())
    sink.flag(
        "missing-content",
        column,
        owners.rows(legacy),
        message=f"column {column!r}: a message has no content and no tool_calls (it holds "
        "OpenAI's legacy function_call: --from openai-chat reads it as a tool call)",
    )
    sink.flag("missing-content", column, owners.rows(where & ~legacy))


def _preview_text(text: str, limit: int = 48) -> str:
    shown = text if len(text) <= limit else text[:limit] + "..."
    return json.dumps(shown, ensure_ascii=False)


def _inner(text: str) -> str | None:
    """What a string whose JSON value is a string holds ("the JSON text of an object", ...);
    None when its JSON value is no string (or it is no JSON)."""
    try:
        once = json.loads(text)
    except (ValueError, TypeError):
        return None
    if not isinstance(once, str):
        return None
    try:
        twice = json.loads(once)
    except ValueError:
        return "a string, not JSON text"
    return (
        "the JSON text of an object"
        if isinstance(twice, dict)
        else "the JSON text of a " + ("string" if isinstance(twice, str) else type(twice).__name__)
    )


def _preview(value: str, tagged: bool, limit: int = 48) -> str:
    """The arguments string as the data holds it (shortened)."""
    text = json.loads(value) if tagged else value
    return text if len(text) <= limit else text[:limit] + "..."


def _arguments(msgs: pa.Array):
    """(arguments array, its field, the message of each) of every arguments field of the
    messages' tool calls: `tool_calls[].function.arguments`, `tool_calls[].arguments`."""
    if not pa.types.is_struct(msgs.type) or msgs.type.get_field_index("tool_calls") < 0:
        return
    calls = pc.struct_field(msgs, "tool_calls")
    if not (is_list(calls.type) and pa.types.is_struct(calls.type.value_type)):
        return
    parent = np.repeat(np.arange(len(msgs), dtype=np.int64), list_lengths(calls))
    for args, field in _call_arguments(pc.list_flatten(calls)):
        yield args, field, parent


def _call_arguments(calls: pa.Array):
    t = calls.type
    for holder, holder_type in ((calls, t), *_function(calls)):
        j = holder_type.get_field_index("arguments")
        if j >= 0:
            yield pc.struct_field(holder, "arguments"), holder_type.field(j)


def _function(calls: pa.Array):
    j = calls.type.get_field_index("function")
    if j >= 0 and pa.types.is_struct(calls.type.field(j).type):
        fn = pc.struct_field(calls, "function")
        yield fn, fn.type
