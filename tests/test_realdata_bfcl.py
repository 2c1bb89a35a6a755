"""Real function-calling prompts: the Berkeley Function Calling Leaderboard (BFCL v4)."""

from __future__ import annotations

import json

import pytest
from realdata.support import counts, original_render, rows_of, run, sample

BFCL = sample("bfcl")


def test_map_onto_a_list_of_turns_names_the_column_and_its_values(tmp_path):
    out = tmp_path / "o.jsonl"
    res = run("convert", BFCL, "--map", "prompt=question,tools=function", "-o", out)
    assert res.exit_code == 2, res.output
    assert (
        "after --map the columns read as prompt-only, but column 'prompt' (from 'question') holds "
        "list<item: list<item: struct<role: string, content: string>>>: neither text nor a "
        "list of messages"
    ) in res.output
    assert "still match no TRL dataset type" not in res.output


def _flat(tmp_path):
    """What a user does first: one conversation per row (`question[0]`), TRL's names."""
    rows = [json.loads(line) for line in BFCL.read_text(encoding="utf-8").splitlines()]
    path = tmp_path / "flat.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "prompt": r["question"][0], "tools": r["function"]}))
            f.write("\n")
    return rows, path


def test_each_row_keeps_its_own_tool_schemas(tmp_path):
    rows, flat = _flat(tmp_path)
    out = tmp_path / "out.jsonl"
    res = run("convert", flat, "-o", out)
    assert res.exit_code == 0, res.output
    got = rows_of(out)
    # written by hand from line 2: no parameter of another row (was "x": null, "a": null ...)
    assert got[1] == {
        "id": "simple_python_1",
        "prompt": [
            {"role": "user", "content": "Calculate the factorial of 5 using math functions."}
        ],
        "tools": [
            {
                "name": "math.factorial",
                "description": "Calculate the factorial of a given number.",
                "parameters": {
                    "type": "dict",
                    "properties": {
                        "number": {
                            "type": "integer",
                            "description": "The number for which factorial needs to be calculated.",
                        }
                    },
                    "required": ["number"],
                },
            }
        ],
    }
    assert [r["tools"] for r in got] == [r["function"] for r in rows]


def _functions_file(tmp_path, suffix: str):
    """The flat sample with the schemas under another name (`functions`), as JSONL or JSON."""
    rows, flat = _flat(tmp_path)
    recs = [json.loads(line) for line in flat.read_text(encoding="utf-8").splitlines()]
    recs = [{"id": r["id"], "prompt": r["prompt"], "functions": r["tools"]} for r in recs]
    path = tmp_path / f"functions.{suffix}"
    if suffix == "json":
        path.write_text(json.dumps(recs), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return rows, path


@pytest.mark.parametrize("suffix", ["jsonl", "json"])
@pytest.mark.parametrize(
    ("template", "original"), [("qwen2.5", "qwen2_5"), ("llama3.1", "llama3_1")]
)
def test_map_onto_tools_keeps_each_rows_schemas_and_renders_as_the_original(
    tmp_path, suffix, template, original
):
    rows, path = _functions_file(tmp_path, suffix)
    out = tmp_path / "out.jsonl"
    res = run("convert", path, "--map", "tools=functions", "-o", out)
    assert res.exit_code == 0, res.output
    got = rows_of(out)
    assert counts(res.output) == (60, 0, 60, 60)
    # each row its own schemas, keys in the row's own order (was: every row's keys, null)
    assert [json.dumps(r["tools"]) for r in got] == [json.dumps(r["function"]) for r in rows]

    out = tmp_path / "rendered.jsonl"
    res = run("convert", path, "--map", "tools=functions", "--chat-template", template, "-o", out)
    assert res.exit_code == 0, res.output
    for r, row in zip(rows, rows_of(out), strict=True):
        want = original_render(
            original, r["question"][0], tools=r["function"], add_generation_prompt=True
        )
        assert row["prompt"] == want


def _without_null_keys(value):
    """A value with every object key whose value is null left out, at any depth."""
    if isinstance(value, dict):
        return {k: _without_null_keys(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_null_keys(v) for v in value]
    return value


@pytest.mark.parametrize(
    ("template", "original"), [("qwen2.5", "qwen2_5"), ("llama3.1", "llama3_1")]
)
@pytest.mark.parametrize("kind", ["polars", "datasets", "arrow"])
def test_tools_typed_as_one_struct_render_each_rows_own_schemas(kind, template, original):
    """A frame or Dataset holds the schemas as one struct (every key of all rows, null where
    a row has none): each row renders its own schemas, in the struct's key order."""
    import pyarrow as pa

    import trlprep

    raw = [json.loads(line) for line in BFCL.read_text(encoding="utf-8").splitlines()]
    rows = [{"prompt": r["question"][0], "tools": r["function"]} for r in raw]
    if kind == "polars":
        pl = pytest.importorskip("polars")
        data = pl.DataFrame(rows)
        table = data.to_arrow()
    elif kind == "datasets":
        datasets = pytest.importorskip("datasets")
        data = datasets.Dataset.from_list(rows)
        table = data.data.table
    else:
        data = table = pa.Table.from_pylist(rows)
    held = table.column("tools").to_pylist()
    assert any("null" in json.dumps(t) for t in held)  # the struct gave rows others' keys
    out = trlprep.convert(data, chat_template=template)
    back = out.to_arrow() if kind == "polars" else out.data.table if kind == "datasets" else out
    texts = back.column("prompt").to_pylist()
    same_order = 0
    for r, h, text in zip(rows, held, texts, strict=True):
        own = _without_null_keys(h)
        assert own == r["tools"]  # the row's own keys and values (order aside)
        assert text == original_render(original, r["prompt"], tools=own, add_generation_prompt=True)
        if json.dumps(own) == json.dumps(r["tools"]):  # keys in the row's own order
            same_order += 1
            assert text == original_render(
                original, r["prompt"], tools=r["tools"], add_generation_prompt=True
            )
    assert same_order >= 39  # the rest hold the struct's order (the first row's keys first)
    # same kind out as in: the column given back as the caller's struct type
    assert back.schema.field("tools").type == table.schema.field("tools").type


def test_parquet_tools_struct_written_back_as_each_rows_own_schemas(tmp_path):
    """A Parquet file written from Arrow holds the schemas as one struct: the output holds
    each row's own schemas (no other row's parameters as nulls)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = [json.loads(line) for line in BFCL.read_text(encoding="utf-8").splitlines()]
    rows = [{"id": r["id"], "prompt": r["question"][0], "tools": r["function"]} for r in raw]
    path = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    out = tmp_path / "out.jsonl"
    res = run("convert", path, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (60, 0, 60, 60)
    got = rows_of(out)
    assert [r["tools"] for r in got] == [r["tools"] for r in rows]  # was: nulls of all rows
    assert [r["id"] for r in got] == [r["id"] for r in rows]


def test_polars_frame_mapped_onto_tools_gets_its_struct_type_back():
    """`map={"tools": "functions"}` on a frame holding the schemas as one struct: each row
    renders its own schemas, and `tools` comes back in the frame's own struct type."""
    pl = pytest.importorskip("polars")
    import trlprep

    raw = [json.loads(line) for line in BFCL.read_text(encoding="utf-8").splitlines()]
    frame = pl.DataFrame([{"prompt": r["question"][0], "functions": r["function"]} for r in raw])
    out = trlprep.convert(frame, map={"tools": "functions"}, chat_template="qwen2.5")
    assert out.columns == ["prompt", "tools"]
    assert out.schema["tools"] == frame.schema["functions"]
    held = frame.to_arrow().column("functions").to_pylist()
    for r, h, text in zip(raw, held, out["prompt"].to_list(), strict=True):
        own = _without_null_keys(h)
        assert own == r["function"]
        assert text == original_render(
            "qwen2_5", r["question"][0], tools=own, add_generation_prompt=True
        )
