"""xLAM / APIGen function calling (Salesforce/xlam-function-calling-60k and sets made like it)
-> conversational prompt-completion with tool calls.

A row holds `query` (the user's text), `tools` (the JSON text of a list of xLAM tool
descriptions) and `answers` (the JSON text of a list of calls `{"name", "arguments"}`),
often beside an `id`. It becomes:

- `prompt`: `[{"role": "user", "content": query}]`;
- `completion`: one assistant message with no content and `tool_calls` = the answers, each
  `{"type": "function", "function": {"name", "arguments"}}`, arguments kept as the row's
  JSON value (tagged JSON text, see `trlprep.io.jsonargs`: written back as the object,
  handed to templates parsed);
- `tools`: each description as OpenAI's function schema (`importers.xlamschema` says how
  xLAM's types and optional arguments map), kept as JSON text written back as the list.

`tools` and `answers` given as lists rather than JSON text are read the same. A row whose
`answers` or `tools` is not valid JSON, is no list, holds an item that is no call (or tool),
or whose `answers` is empty (nothing to train on) is refused with the column and the
reason. Other columns (`id`) are carried along.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

from trlprep.columns.arrowtypes import is_string
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers.base import (
    Converted,
    Importer,
    ImportOptions,
    Rejections,
    assemble,
    require,
)
from trlprep.importers.jsonarrow import as_json_strings, decode_json_column, lists_from
from trlprep.importers.promptanswers import user_messages
from trlprep.importers.xlamschema import tools_schemas
from trlprep.io.jsonargs import tagged
from trlprep.io.jsontext import dumps, json_field
from trlprep.registry import PROMPT_COMPLETION, DatasetType, Format

CONSUMED = ("query", "answers", "tools")
CALLS_TYPE = pa.list_(
    pa.struct(
        [("type", pa.string()),
         ("function", pa.struct([("name", pa.string()), ("arguments", pa.string())]))]
    )
)  # fmt: skip


class XLAM(Importer):
    name = "xlam"
    aliases = ("apigen", "xlam-function-calling")
    description = (
        "xLAM / APIGen function calling (query, tools and answers as JSON text) -> "
        "conversational prompt-completion: prompt = user(query), completion = one assistant "
        "message whose tool_calls are the answers (arguments kept as objects); tools made "
        "OpenAI function schemas (xLAM's Python types mapped to JSON Schema; an argument "
        "is required unless its type says optional, e.g. `str, optional`)."
    )
    reads = "query, answers, tools (JSON text or lists) [+ id]"
    columns = CONSUMED

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        names = schema.names
        return (
            all(c in names for c in CONSUMED)
            and is_string(schema.field("query").type)
            and "messages" not in names
        )

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return PROMPT_COMPLETION, Format.CONVERSATIONAL

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        return [
            'query -> prompt: [{"role": "user", "content": query}]',
            "answers -> completion: one assistant message, tool_calls = the answers "
            "({type: function, function: {name, arguments}}), arguments as objects",
            "tools -> tools: OpenAI function schemas (str -> string, int -> integer, "
            "float -> number, bool -> boolean, List[X] -> array of X, dict -> object); an "
            "argument is required unless its type says optional (`str, optional`)",
        ]

    def sources(self, schema: pa.Schema, opts: ImportOptions) -> dict[str, str]:
        return {"prompt": "query", "completion": "answers"}

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        require(table, "query", "answers", layout=self.name)
        n = table.num_rows
        query = as_array(table.column("query"))
        if not (is_string(query.type) or pa.types.is_null(query.type)):
            raise DataError(
                f"must hold text (the user's request), not {query.type}", column="query"
            )
        _refuse_nulls(table, "answers", bad)
        calls, problems = decode_json_column(
            as_json_strings(table.column("answers")), "answers", _calls
        )
        bad.add_per_row(problems != None, _said("answers", problems))  # noqa: E711
        calls = calls.cast(CALLS_TYPE) if pa.types.is_null(calls.type) else calls
        message = pa.StructArray.from_arrays(
            [pa.array(["assistant"] * n, pa.string()), pa.nulls(n, pa.string()), calls],
            names=["role", "content", "tool_calls"],
        )
        completion = lists_from(message, np.ones(n, np.int64))
        produced: dict[str, pa.Array] = {
            "prompt": user_messages(query.cast(pa.string())),
            "completion": completion.cast(tagged(completion.type)),
        }
        notes: list[str] = []
        if "tools" in table.column_names:
            produced["tools"] = _tools(table, bad, notes)
        out = assemble(table, produced, CONSUMED)
        if "tools" in produced:
            i = out.schema.get_field_index("tools")
            out = out.set_column(i, json_field("tools"), out.column(i))
        return Converted(out, notes=notes)


def _refuse_nulls(table: pa.Table, name: str, bad: Rejections) -> None:
    col = as_array(table.column(name))
    bad.add(~np.asarray(col.is_valid().to_numpy(zero_copy_only=False), bool), f"{name} is null")


def _said(column: str, problems: np.ndarray) -> np.ndarray:
    """Each row's problem prefixed by the column it is in."""
    out = problems.copy()
    at = np.flatnonzero(problems != None)  # noqa: E711
    out[at] = [f"{column}: {p}" for p in problems[at]]
    return out


def _unquoted(value: Any) -> Any:
    """A JSON value that is itself JSON text (a list written as a string inside JSON text,
    as a column of mixed kinds holds it) parsed once more."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _calls(value: Any) -> tuple[Any, str | None]:
    """xLAM answers -> tool calls (arguments as JSON text), or the problem."""
    value = _unquoted(value)
    if not isinstance(value, list):
        return None, f"not a list of calls ({type(value).__name__})"
    if not value:
        return None, "an empty list: no call to train on"
    out = []
    for i, call in enumerate(value):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            return None, f'item {i} is not a call {{"name", "arguments"}}'
        args = call.get("arguments", call.get("parameters", {}))
        if isinstance(args, str):  # arguments given as JSON text: the object it holds
            try:
                args = json.loads(args)
            except ValueError:
                return None, f"item {i}: arguments are not valid JSON"
        if not isinstance(args, dict):
            return None, f"item {i}: arguments are not an object"
        fn = {"name": call["name"], "arguments": dumps(args)}
        out.append({"type": "function", "function": fn})
    return out, None


def _tools(table: pa.Table, bad: Rejections, notes: list[str]) -> pa.Array:
    """The `tools` column as the JSON text of each row's function schemas (null stays
    null); rows whose tools cannot be read are refused."""
    unmapped: dict[str, None] = {}

    def norm(value: Any) -> tuple[Any, str | None]:
        value = _unquoted(value)
        if value is None:  # JSON null: no tools
            return None, None
        schemas, problem, lost = tools_schemas(value)
        if problem is not None:
            return None, problem
        unmapped.update(dict.fromkeys(lost))
        return dumps(schemas), None

    texts, problems = decode_json_column(as_json_strings(table.column("tools")), "tools", norm)
    bad.add_per_row(problems != None, _said("tools", problems))  # noqa: E711
    if unmapped:
        said = ", ".join(repr(t) for t in unmapped)
        notes.append(
            f"tools: parameter types with no JSON Schema type left out (any value): {said}"
        )
    return texts.cast(pa.string())
