"""JSON Lines rows hold the top-level keys their input rows held (was: every column in every
row, `"tools": null` on rows that had no tools), the columns a dataset type names excepted,
and the first row of a file holds every column so that readers find them all."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from realdata.support import counts, rows_of, run, sample

from trlprep.io.jsonencode import _polars_ndjson, to_jsonl
from trlprep.io.jsontext import json_field
from trlprep.io.readers import read
from trlprep.io.writers import open_writer, write

XTUNER = sample("xtuner_qwen35_toolcalls")


def _lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def _table() -> pa.Table:
    tools = pa.array(["[]", None, '[{"type":"function"}]'], pa.string())
    return pa.table(
        [
            pa.array(["p0", "p1", "p2"]),
            pa.array([None, "c1", "c2"]),
            pa.array([True, None, False]),
            tools,
            pa.array([None, None, "s2"]),
        ],
        schema=pa.schema(
            [
                pa.field("prompt", pa.string()),
                pa.field("completion", pa.string()),
                pa.field("label", pa.bool_()),
                json_field("tools"),
                pa.field("system", pa.string()),
            ]
        ),
    )


def test_rows_alone_hold_their_own_extras_and_every_type_column():
    rows = _lines(to_jsonl(_table()))
    assert rows[0] == {"prompt": "p0", "completion": None, "label": True, "tools": []}
    assert rows[1] == {"prompt": "p1", "completion": "c1", "label": None}
    assert list(rows[2]) == ["prompt", "completion", "label", "tools", "system"]


def test_an_extra_first_column_is_left_out_without_a_stray_comma():
    t = pa.table({"system": [None, "s"], "id": pa.array([None, None], pa.int64())})
    assert to_jsonl(t) == b'{}\n{"system":"s"}\n'


def test_rows_without_nulls_are_the_same_bytes_as_before():
    t = pa.table({"prompt": ["a", "b"], "meta": [{"k": 1}, {"k": 2}], "n": [1.5, 2.0]})
    assert to_jsonl(t) == _polars_ndjson(t)
    assert to_jsonl(t, {}) == _polars_ndjson(t)


def test_a_file_s_first_row_holds_every_column_and_later_batches_their_own(tmp_path):
    out = tmp_path / "out.jsonl"
    first = _table()
    with open_writer(out, first.schema, output_format="jsonl") as w:
        w.write(first)
        w.write(first.slice(1, 1))
    rows = _lines(out.read_bytes())
    assert rows[0] == {
        "prompt": "p0", "completion": None, "label": True, "tools": [], "system": None,
    }  # fmt: skip
    assert "system" not in rows[1] and "tools" not in rows[1]
    assert rows[3] == rows[1]


def test_a_column_null_in_every_row_survives_the_round_trip(tmp_path):
    pl = pytest.importorskip("polars")
    datasets = pytest.importorskip("datasets")
    t = pa.table(
        {
            "prompt": [f"p{i}" for i in range(300)],
            "empty": pa.nulls(300, pa.string()),
            "late": [None] * 299 + ["x"],
        }
    )
    out = tmp_path / "out.jsonl"
    write(t, out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[1] == '{"prompt":"p1"}'
    names = ["prompt", "empty", "late"]
    assert read(out).table.column_names == names
    # Polars infers from the first lines alone (and types `late` Null there, as it did when
    # every row held it: read it with its type given)
    frame = pl.read_ndjson(out, schema_overrides={"late": pl.String})
    assert frame.columns == names and frame["late"][299] == "x"
    back = datasets.load_dataset("json", data_files=str(out), split="train")
    assert back.column_names == names and back[299]["late"] == "x"


def test_xtuner_rows_get_tools_only_where_the_input_had_them(tmp_path):
    out = tmp_path / "out.jsonl"
    res = run("convert", XTUNER, "-o", out, "--to", "prompt-completion")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (12, 0, 12, 12)
    raw = [json.loads(line) for line in XTUNER.read_text(encoding="utf-8").splitlines()]
    got = rows_of(out)
    assert got[0]["tools"] is None  # the file's first row: every column
    for i in range(1, 12):
        assert ("tools" in got[i]) == ("tools" in raw[i]), i
        assert got[i].get("tools") == raw[i].get("tools"), i
