"""Tool-call arguments written as JSON objects read without the line-by-line parse
(`io.argspans`): the table is exactly the one the line-by-line path builds, on real samples
and on edge cases; bad lines are still named with the same line and reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trlprep.io import joining, jsonl, jsontext

REAL = Path(__file__).parent / "realdata"


def _refused(*args):
    raise AssertionError("read line by line")


def _block(path: Path, fast: bool) -> jsonl.Batch:
    """`_jsonl_block` on the whole file: with `fast`, the line-by-line path refused; without,
    the columnar read disabled (the line-by-line path, as before it existed)."""
    chunk = path.read_bytes()
    with pytest.MonkeyPatch.context() as m:
        if fast:
            m.setattr(jsonl, "_jsonl_python", _refused)
        else:
            m.setattr(jsonl, "read_json_arguments", lambda *a: None)
        return jsonl._jsonl_block(str(path), chunk, 1, None)


def _assert_same(fast: pa.Table, slow: pa.Table) -> None:
    assert fast.schema.equals(slow.schema, check_metadata=True), (fast.schema, slow.schema)
    assert fast.equals(slow)
    for name in fast.schema.names:
        assert fast.column(name).to_pylist() == slow.column(name).to_pylist()


def _same_as_line_by_line(path: Path, fast_path: bool = True) -> pa.Table:
    """Assert both reads of `path` agree (block and streamed in small chunks); with
    `fast_path`, the block must come without the line-by-line path."""
    slow = _block(path, fast=False)
    fast = (
        _block(path, fast=True)
        if fast_path
        else jsonl._jsonl_block(str(path), path.read_bytes(), 1, None)
    )
    assert fast.lines.tolist() == slow.lines.tolist()
    _assert_same(fast.data, slow.data)
    for size in (1 << 20, 700):  # several chunks: objects in some, strings only in others
        new = joining.concat_tables([b.data for b in jsonl.jsonl_chunks(str(path), size)])
        with pytest.MonkeyPatch.context() as m:
            m.setattr(jsonl, "read_json_arguments", lambda *a: None)
            old = joining.concat_tables([b.data for b in jsonl.jsonl_chunks(str(path), size)])
        _assert_same(new, old)
    return fast.data


def _jsonl(tmp_path: Path, rows: list, name: str = "data.jsonl", **dump) -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, **dump) + "\n" for r in rows), "utf-8")
    return path


def _call(name: str, args, **extra) -> dict:
    return {"id": f"call_{name}", "type": "function", "function": {"name": name, "arguments": args}}


def _assistant(*calls, content=None) -> dict:
    return {"role": "assistant", "content": content, "tool_calls": list(calls)}


def _arguments_of(table: pa.Table, column: str = "messages") -> list:
    out = []
    for msgs in table.column(column).to_pylist():
        for m in msgs or []:
            for c in m.get("tool_calls") or []:
                out.append(c["function"]["arguments"])
    return out


# ---------------------------------------------------------------- real samples


def _drone_rows() -> list[dict]:
    path = REAL / "openai_drone_toolcalls/drone_training.first6.jsonl"
    return [json.loads(x) for x in path.read_text("utf-8").splitlines()]


def test_drone_arguments_as_objects(tmp_path):
    rows = _drone_rows()
    for r in rows:
        for m in r["messages"]:
            for c in m.get("tool_calls") or []:
                c["function"]["arguments"] = json.loads(c["function"]["arguments"])
    table = _same_as_line_by_line(_jsonl(tmp_path, rows))
    assert _arguments_of(table)[0] == '{"altitude":100}'


def test_drone_text_and_object_arguments_in_one_chunk(tmp_path):
    rows = _drone_rows()
    for r in rows[::2]:
        for m in r["messages"]:
            for c in m.get("tool_calls") or []:
                c["function"]["arguments"] = json.loads(c["function"]["arguments"])
    table = _same_as_line_by_line(_jsonl(tmp_path, rows))
    assert _arguments_of(table)[:2] == ['{"altitude":100}', json.dumps('{"altitude": 100}')]


def _glaive_messages(record: dict) -> list[dict]:
    roles = {"human": "user", "gpt": "assistant", "observation": "tool"}
    out = []
    for turn in record["conversations"]:
        if turn["from"] == "function_call":
            call = json.loads(turn["value"])
            out.append(_assistant(_call(call["name"], call["arguments"]), content=""))
        else:
            out.append({"role": roles[turn["from"]], "content": turn["value"]})
    return out


def test_glaive_arguments_as_objects(tmp_path):
    records = json.loads((REAL / "glaive_toolcall/glaive_toolcall_en_demo.json").read_text())
    rows = [
        {"messages": _glaive_messages(r), "tools": json.loads(r["tools"]) if r["tools"] else None}
        for r in records
    ]
    table = _same_as_line_by_line(_jsonl(tmp_path, rows, ensure_ascii=False))
    assert any(a.startswith("{") for a in _arguments_of(table))


def test_llamafactory_reason_tool_use_as_openai_tool_calls(tmp_path):
    path = REAL / "llamafactory_v1/reason_tool_use_demo.first20.jsonl"
    rows = []
    for line in path.read_text("utf-8").splitlines():
        r = json.loads(line)
        messages = []
        for m in r["messages"]:
            calls = [json.loads(c["value"]) for c in m["content"] if c["type"] == "tool_call"]
            text = "".join(c["value"] for c in m["content"] if c["type"] != "tool_call")
            msg = {"role": m["role"], "content": text}
            if calls:
                msg["tool_calls"] = [_call(c["name"], c["arguments"]) for c in calls]
            messages.append(msg)
        rows.append({"messages": messages, "tools": r["tools"]})  # JSON text, as in the sample
    table = _same_as_line_by_line(_jsonl(tmp_path, rows))
    args = _arguments_of(table)
    assert len(args) > 10 and '"C:\\\\Users\\\\Username\\\\Downloads"' in "".join(args)


def _sample_value(schema: dict, i: int):
    kind = schema.get("type")
    if kind == "integer":
        return i * 7
    if kind in ("number", "float"):
        return i + 0.25
    if kind == "boolean":
        return bool(i % 2)
    if kind in ("array", "tuple"):
        return [_sample_value(schema.get("items") or {"type": "string"}, i)]
    if kind in ("dict", "object"):
        return {"k": f"v{i}"}
    return f'värde {i} "q"'


def test_bfcl_questions_with_calls_built_from_their_schemas(tmp_path):
    rows = []
    for i, line in enumerate((REAL / "bfcl/bfcl_v4.sample.jsonl").read_text().splitlines()):
        r = json.loads(line)
        calls = []
        for fn in r["function"]:
            props = fn["parameters"].get("properties", {})
            args = {k: _sample_value(v, i) for k, v in props.items()}
            calls.append(_call(fn["name"], args))
        rows.append({"id": r["id"], "prompt": r["question"][0], "completion": [_assistant(*calls)]})
    table = _same_as_line_by_line(_jsonl(tmp_path, rows))
    assert _arguments_of(table, "completion")[0].startswith('{"base":0,')


# ---------------------------------------------------------------- synthetic


NESTED = {"a": {"b": [1, {"c": [None, True, False, 2.5, -3]}]}, "d": [], "e": {}, "f": [[]]}
STRINGS = {"s": 'é \\u00e9 "quoted" \\ back\nnew\ttab \x01 \u2028 😀 \U0001d11e', "k\u00e9y": "/"}


def test_edge_cases_in_one_chunk(tmp_path):
    rows = [
        {"messages": [_assistant(_call("f", NESTED), _call("g", STRINGS), _call("h", {}))]},
        {"messages": [{"role": "user", "content": "no calls"}]},
        {"messages": [_assistant(_call("f", None)), _assistant(_call("f", '{"as": "text"}'))]},
        {"messages": [_assistant(_call("f", {"z": 1, "a": 2})), _assistant()]},
        {"messages": [_assistant(_call("f", [1, "two"]))], "extra": 1},
        {"messages": None},
        {"other": "no messages"},
        {"messages": [{"role": "assistant", "tool_calls": None}]},
        {"messages": [_assistant(_call("f", {"arguments": {"nested": "key"}, "x": "arguments"}))]},
    ]
    for dump in ({}, {"ensure_ascii": False}, {"separators": (",", ":")}):
        path = _jsonl(tmp_path, rows, **dump)
        table = _same_as_line_by_line(path)
        args = _arguments_of(table)
        assert args[:3] == [json.dumps(a, ensure_ascii=False, separators=(",", ":")) for a in
                            (NESTED, STRINGS, {})]  # fmt: skip
        assert args[3] is None and args[4] == json.dumps('{"as": "text"}')


def test_the_file_own_spelling(tmp_path):
    """Spaces, \\u escapes, `\\/`, a repeated key, CRLF ends, blank lines, long backslash runs."""
    text = (
        '{"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", '
        '"arguments" :  { "b" : 1, "a": "\\u00e9\\/\\"x\\"\\\\\\\\", '
        '"b": 2.50, "c": [ ] } }}]}]}\r\n'
        "\n"
        '{"messages":[{"role":"assistant","tool_calls":[{"function":{"name":"g",'
        '"arguments":{"\\ud83d\\ude00":"\\\\\\\\\\\\\\"","n":-12,"x":0.125}}}]}]}\n'
        "   \n"
    )
    path = tmp_path / "raw.jsonl"
    path.write_bytes(text.encode())
    table = _same_as_line_by_line(path)
    assert _arguments_of(table) == ['{"b":2.5,"a":"é/\\"x\\"\\\\\\\\","c":[]}',
                                    '{"😀":"\\\\\\\\\\\\\\"","n":-12,"x":0.125}']  # fmt: skip


@pytest.mark.parametrize(
    "value",
    ["1e5", "1E-7", "0.00001", "-0", "-0.0", "0.30000000000000004", "123456789012345678901",
     "9061038.661881901", "1.5e300", "0.0001", "100.0"],
)  # fmt: skip
def test_numbers_python_spells_otherwise_are_written_as_python_writes_them(tmp_path, value):
    path = tmp_path / "n.jsonl"
    path.write_text(
        '{"messages": [{"role": "assistant", "tool_calls": [{"function": '
        '{"name": "f", "arguments": {"v": ' + value + ', "w": [' + value + "]}}}]}]}\n"
    )
    table = _same_as_line_by_line(path)
    assert _arguments_of(table) == [
        jsontext.dumps({"v": json.loads(value), "w": [json.loads(value)]})
    ]


def test_prompt_and_completion_with_calls_in_either_order(tmp_path):
    rows = [
        {"prompt": [_assistant(_call("a", {"p": 1}))], "completion": [_assistant(_call("b", "t"))]},
        {
            "completion": [_assistant(_call("c", "{}"))],
            "prompt": [_assistant(_call("d", {"q": 2}))],
        },
    ]
    table = _same_as_line_by_line(_jsonl(tmp_path, rows))
    # objects in `prompt` only: `completion` keeps plain strings, as the line-by-line path does
    assert _arguments_of(table, "prompt") == ['{"p":1}', '{"q":2}']
    assert _arguments_of(table, "completion") == ["t", "{}"]
    assert (
        not table.schema.field("completion")
        .type.value_type.field("tool_calls")
        .type.value_type.field("function")
        .type.field("arguments")
        .metadata
    )  # noqa: E501


def test_legacy_function_call_and_calls_without_function(tmp_path):
    rows = [
        {
            "messages": [
                {"role": "assistant", "function_call": {"name": "f", "arguments": {"a": 1}}}
            ]
        },
        {
            "messages": [
                {"role": "assistant", "tool_calls": [{"name": "g", "arguments": {"b": [2]}}]}
            ]
        },
    ]
    table = _same_as_line_by_line(_jsonl(tmp_path, rows))
    assert table.column("messages").to_pylist()[0][0]["function_call"]["arguments"] == '{"a":1}'


@pytest.mark.parametrize(
    "rows",
    [
        # a tool schema with a parameter named `arguments`
        [{"messages": [_assistant(_call("f", {"a": 1}))],
          "tools": [{"type": "function", "function": {"name": "f", "parameters": {
              "type": "object", "properties": {"arguments": {"type": "object"}}}}}]}],
        # arguments as a number
        [{"messages": [_assistant(_call("f", 5))]}, {"messages": [_assistant(_call("f", {}))]}],
        # a call with both its own arguments and a function object
        [{"messages": [{"role": "assistant", "tool_calls": [
            {"function": {"name": "f", "arguments": {"a": 1}}, "arguments": {"b": 2}}]}]}],
        # tool calls nested under another field, which the line-by-line path leaves alone
        [{"conversation": {"messages": [_assistant(_call("f", {"a": 1}))]}}],
        # NaN (Python reads it)
        [{"messages": [_assistant(_call("f", {"a": float("nan")}))]}],
    ],
)  # fmt: skip
def test_shapes_read_line_by_line_as_before(tmp_path, rows):
    _same_as_line_by_line(_jsonl(tmp_path, rows), fast_path=False)


# ---------------------------------------------------------------- bad lines

GOOD = '{"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]}]}'  # noqa: E501


@pytest.mark.parametrize(
    "bad",
    [
        GOOD.replace('{"a": 1}', '{"a": tru}'),  # broken inside the arguments
        GOOD.replace('{"a": 1}', '{"a": 1]'),  # brackets that do not match
        GOOD.replace('{"a": 1}', '{"a": "open}'),  # a string left open
        GOOD.replace('{"a": 1}', '{"a": 1,}'),  # a trailing comma
        GOOD.replace('{"a": 1}', '{"a": "\\ud800"}'),  # a lone surrogate
        GOOD.replace('{"a": 1}', '{"a": "tab\there"}'),  # a raw control character
        GOOD[:-1],  # cut short
        GOOD.replace('"f"', '"f'),  # broken outside the arguments
        "[1, 2]",
        "null",
        GOOD + " " + GOOD,
    ],
)
def test_bad_lines_named_as_before(tmp_path, bad):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([GOOD, GOOD.replace("1", "2"), bad, GOOD]) + "\n", "utf-8")
    outcomes = []
    for fast in (True, False):
        with pytest.MonkeyPatch.context() as m:
            if not fast:
                m.setattr(jsonl, "read_json_arguments", lambda *a: None)
            try:
                table = jsonl.read_jsonl(str(path)).table
            except Exception as e:  # noqa: BLE001 (a lone surrogate: UnicodeEncodeError, as before)
                table = f"{type(e).__name__}: {e}"
            lines = jsonl.BadLines()
            try:
                rows = jsonl.read_jsonl(str(path), bad=lines)
                kept = (rows.table, rows.lines.tolist())
            except Exception as e:  # noqa: BLE001 (a lone surrogate: UnicodeEncodeError, as before)
                kept = f"{type(e).__name__}: {e}"
            outcomes.append((table, lines.found, kept))
    (t1, f1, k1), (t2, f2, k2) = outcomes
    assert f1 == f2
    for a, b in ((t1, t2), (k1, k2)):
        if isinstance(a, str) or isinstance(b, str):
            assert a == b
        elif isinstance(a, tuple):
            assert a[1] == b[1]
            _assert_same(a[0], b[0])
        else:
            _assert_same(a, b)


# ---------------------------------------------------------------- property


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=6)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
_ARGS = (
    st.none()
    | _TEXT.map(json.dumps)
    | st.dictionaries(_TEXT, _JSON, max_size=4)
    | st.lists(_JSON, max_size=2)
)
_MESSAGE = st.one_of(
    st.builds(lambda c: {"role": "user", "content": c}, _TEXT),
    st.builds(
        lambda calls: {"role": "assistant", "tool_calls": calls},
        st.lists(st.builds(lambda n, a: _call(n, a), st.sampled_from("fgh"), _ARGS), max_size=3),
    ),
)
_ROW = st.fixed_dictionaries({"messages": st.lists(_MESSAGE, max_size=4)})


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(_ROW, min_size=1, max_size=6), ascii_=st.booleans(), compact=st.booleans())
def test_property_same_as_line_by_line(tmp_path, rows, ascii_, compact):
    seps = (",", ":") if compact else (", ", ": ")
    path = _jsonl(tmp_path, rows, ensure_ascii=ascii_, separators=seps)
    slow = _block(path, fast=False)
    fast = jsonl._jsonl_block(str(path), path.read_bytes(), 1, None)
    assert fast.lines.tolist() == slow.lines.tolist()
    _assert_same(fast.data, slow.data)


def test_property_rows_take_the_columnar_read():
    """The common shape (objects, strings and nulls as arguments) is never declined."""
    rows = [{"messages": [_assistant(_call("f", {"a": [i, 0.5, "x"]}), _call("g", "s"))]}
            for i in range(50)]  # fmt: skip
    chunk = "".join(json.dumps(r) + "\n" for r in rows).encode()
    _, stops, _, _ = jsonl._line_spans(chunk)
    assert jsonl.read_json_arguments(chunk, stops, 1 << 22) is not None
    assert np.asarray(stops).size == 51
