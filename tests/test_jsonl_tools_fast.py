"""A `tools` column Arrow types as one struct keeps Arrow's parse of the chunk: the column is
rebuilt from each line's own value, exactly as the line-by-line path builds it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from trlprep.io import jsonl
from trlprep.io.jsontext import tools_from

REAL = Path(__file__).parent / "realdata"


def _both(path: Path, fast_path: bool = True) -> tuple[pa.Table, pa.Table]:
    """(`_jsonl_block`'s table, the line-by-line path's table); with `fast_path`, the first
    must come without the line-by-line path."""
    chunk = path.read_bytes()
    slow = jsonl._jsonl_python(str(path), chunk, 1, None)
    if fast_path:
        with pytest.MonkeyPatch.context() as m:
            m.setattr(jsonl, "_jsonl_python", _refused)
            fast = jsonl._jsonl_block(str(path), chunk, 1, None)
    else:
        fast = jsonl._jsonl_block(str(path), chunk, 1, None)
    assert fast.lines.tolist() == slow.lines.tolist()
    return fast.data, slow.data


def _refused(*args):
    raise AssertionError("read line by line")


def _assert_same(fast: pa.Table, slow: pa.Table) -> None:
    assert fast.schema.equals(slow.schema, check_metadata=True)
    assert fast.equals(slow)
    for name in fast.schema.names:
        assert fast.column(name).to_pylist() == slow.column(name).to_pylist()


def _jsonl(tmp_path: Path, rows: list, name: str = "data.jsonl", sep: str = "\n") -> Path:
    path = tmp_path / name
    path.write_text(sep.join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    return path


def _glaive_rows() -> list[dict]:
    rows = json.loads((REAL / "glaive_toolcall/glaive_toolcall_en_demo.json").read_text("utf-8"))
    for r in rows:  # its tools are JSON text: as schemas, as tool-calling data mostly holds them
        r["tools"] = json.loads(r["tools"]) if r.get("tools") else None
    return rows


SYNTHETIC = [
    {"id": 1, "tools": [{"type": "function", "function": {"name": "a", "parameters": {}}}]},
    {"id": 2},  # no tools
    {"id": 3, "tools": None},
    {
        "id": 4,
        "tools": [
            {
                "function": {
                    "name": "wetter_é",
                    "description": 'says "hi" \\ back\n\ttab 😀 \u2028 \u0001',
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "city": {"type": "string", "enum": ["Zürich", "東京"]},
                            "days": {"type": "integer", "minimum": 1, "maximum": 14},
                            "ratio": {"type": "number", "default": 0.5},
                            "deep": {"type": "object", "properties": {"x": {"items": [[]]}}},
                        },
                        "required": ["city"],
                    },
                },
                "type": "function",
            }
        ],
    },
    {"id": 5, "tools": []},
    {"id": 6, "tools": [{"type": "function", "function": {"name": "b", "strict": True}}]},
    {"id": 7, "tools": [{"type": "function", "function": {"name": "a", "parameters": {}}}]},
]


def test_bfcl_tools_struct_same_as_line_by_line(tmp_path):
    rows = [json.loads(x) for x in (REAL / "bfcl/bfcl_v4.sample.jsonl").read_text().splitlines()]
    for r in rows:
        r["tools"] = r.pop("function")
    fast, slow = _both(_jsonl(tmp_path, rows))
    assert fast.schema.field("tools").metadata  # tagged JSON text
    _assert_same(fast, slow)


def test_bfcl_renamed_functions_mapped_onto_tools_same_as_line_by_line(tmp_path):
    rows = [json.loads(x) for x in (REAL / "bfcl/bfcl_v4.sample.jsonl").read_text().splitlines()]
    for r in rows:
        r["functions"] = r.pop("function")
    path = _jsonl(tmp_path, rows)
    with tools_from({"tools": "functions"}):
        fast, slow = _both(path)
    assert fast.schema.field("functions").metadata  # tagged JSON text
    _assert_same(fast, slow)


def test_glaive_and_drone_tools_same_as_line_by_line(tmp_path):
    fast, slow = _both(_jsonl(tmp_path, _glaive_rows()))
    _assert_same(fast, slow)
    fast, slow = _both(REAL / "openai_drone_toolcalls/drone_training.first6.jsonl")
    _assert_same(fast, slow)


def test_synthetic_tools_same_as_line_by_line(tmp_path):
    fast, slow = _both(_jsonl(tmp_path, SYNTHETIC, sep="\n\n"))  # blank lines between
    assert fast.schema.field("tools").metadata
    _assert_same(fast, slow)


def test_raw_spelling_of_tools_same_as_line_by_line(tmp_path):
    """Spaces, \\u escapes, `\\/`, `1E2` and CRLF line ends in the file's own text."""
    text = (
        '{"tools": [ {"b" : 1, "a": "\\u00e9\\/\\"x\\"", "c": 2.50} ], "id": 1}\r\n'
        '{"id": 2, "tools": [{"z": {"y": [{"k": null}, {"j": [1]}]}, "f": 1E2}]}\r\n'
        '{"id": 3, "tools": [{"n": -12, "x": 0.125, "big": 123456789, '
        '"e": "8.99e9 1234567890123456789"}]}\n'
    )
    path = tmp_path / "raw.jsonl"
    path.write_bytes(text.encode())
    _assert_same(*_both(path))
    path.write_bytes(text.encode().replace(b'"id": 3', b'"id": 3, "x": 0.12345678901234567'))
    _assert_same(*_both(path))  # long numbers outside tools: Arrow's as they are
    path.write_bytes(text.encode().replace(b'"c": 2.50', b'"b": 2.50'))  # a repeated key
    _assert_same(*_both(path, fast_path=False))  # Arrow refuses it


@pytest.mark.parametrize(
    "value",
    [
        '"\\ud800"',
        "1e400",
        "-0",
        "-0.0",
        "0.30000000000000004",
        "1e5",
        "123456789012345678901",
        "0.9966944968625999",
        "9061038.661881901",
        "0.000095531",
        "-0.00001234",
    ],
)
def test_values_polars_may_spell_otherwise_take_the_line_by_line_path(tmp_path, value):
    path = tmp_path / "odd.jsonl"
    path.write_text('{"tools": [{"a": 1}]}\n{"tools": [{"a": ' + value + "}]}\n")
    try:
        jsonl._jsonl_python(str(path), path.read_bytes(), 1, None)
    except Exception as e:  # a lone surrogate: both paths refuse it alike
        with pytest.raises(type(e)):
            jsonl._jsonl_block(str(path), path.read_bytes(), 1, None)
        return
    _assert_same(*_both(path, fast_path=False))
