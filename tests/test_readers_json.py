"""JSON files as published: arrays of records, columns, and one object as one row."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.errors import InputError
from trlprep.io.readers import iter_batches, read

SNI = Path(__file__).parent / "realdata" / "sni_task063" / "task063_first_i_elements.first12.jsonl"


@pytest.fixture
def sni_task_file(tmp_path: Path) -> Path:
    """The real task object pretty-printed, as allenai/natural-instructions publishes it."""
    task = json.loads(SNI.read_text(encoding="utf-8"))
    p = tmp_path / "task063_first_i_elements.json"
    p.write_text(json.dumps(task, indent=4, ensure_ascii=False), encoding="utf-8")
    return p


def test_one_object_is_one_row(sni_task_file):
    text = sni_task_file.read_text()
    assert text.count("\n") > 100 and '"URL": [\n        NaN\n    ]' in text
    src = read(sni_task_file)
    assert src.table.num_rows == 1 and src.lines is None
    row = src.table.to_pylist()[0]
    assert len(row["Definition"]) == 1 and len(row["Positive Examples"]) == 2
    assert len(row["Instances"]) == 12 and row["Reasoning"] == []
    assert row["Instances"][1]["output"] == ["n, f"]
    assert math.isnan(row["URL"][0])  # NaN, as the file holds it
    (batch,) = iter_batches(sni_task_file)
    assert batch.data.num_rows == 1


def test_convert_reads_the_published_task_file(sni_task_file, tmp_path):
    out = tmp_path / "pc.jsonl"
    res = CliRunner().invoke(
        app,
        ["convert", str(sni_task_file), "--from", "instances", "--to", "prompt-completion",
         "-o", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 12
    assert rows[1]["prompt"].endswith("\n\n2, ['n', 'f', 'V', 'a', '4729', '1347']")
    assert rows[1]["completion"] == "n, f"
    assert rows[1]["instance_id"] == "task063-62a4be2dbad84644895e452d7d5db203"


@pytest.mark.parametrize(
    "data, rows",
    [
        ([{"a": 1}, {"a": 2}], [{"a": 1}, {"a": 2}]),  # records
        ({"train": [{"a": 1}, {"a": 2}]}, [{"a": 1}, {"a": 2}]),  # one-key wrapper
        ({"a": [1, 2], "b": ["x", "y"]}, [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]),  # columns
        ({"a": [1, 2], "b": [3]}, [{"a": [1, 2], "b": [3]}]),  # unequal lists: one row
        ({"a": "x", "b": [1, 2]}, [{"a": "x", "b": [1, 2]}]),  # a scalar field: one row
    ],
)
def test_json_shapes(tmp_path, data, rows):
    p = tmp_path / "d.json"
    p.write_text(json.dumps(data))
    assert read(p).table.to_pylist() == rows


@pytest.mark.parametrize(
    "text, found",
    [
        ("[1, 2]", "found an array whose item 0 is a number"),
        ('[{"a": 1}, "x"]', "found an array whose item 1 is a string"),
        ("{}", "found an empty object"),
        ("null", "found null"),
        ("true", "found a boolean"),
    ],
)
def test_json_that_holds_no_rows_is_a_clear_error(tmp_path, text, found):
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(InputError, match=found) as e:
        read(p)
    assert e.value.path == str(p) and "one object (one row)" in str(e.value)


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ('[\n  {"a": 1},\n  {\n    "a": 2\n  }\n]\n', [2, 3]),
        ('\ufeff[{"a": "x\\ny"},\n{"a": "z"}]', [1, 2]),  # a BOM; an escaped newline
        ('  [\n\n{"a": 1} ,\n\t{"a": "[{\\n"}  ]  \n', [3, 4]),
        ('[{"a": 1}, {"a": 2}]', None),  # minified: one line names no row
        ('[{"a": 1}]', [1]),
        ('{"rows": [\n{"a": 1},\n{"a": 2}]}', [2, 3]),  # a one-key wrapper
        ('{\n  "data" : [\n    {"a": 1},\n    {"a": 2}\n  ]\n}\n', [3, 4]),
        ('{"data": [{"a": 1}, {"a": 2}]}', None),
    ],
)
def test_array_rows_are_named_by_the_line_their_object_starts(tmp_path, text, lines):
    p = tmp_path / "a.json"
    p.write_text(text, encoding="utf-8")
    src = read(p)
    assert src.table.column_names == ["a"]
    assert (None if src.lines is None else src.lines.tolist()) == lines
    if lines:
        assert [b.lines.tolist() for b in iter_batches(p, batch_rows=1)] == [[n] for n in lines]


@pytest.mark.parametrize(
    "text",
    ['{"a": [1, 2]}', '{"a": 1}', '{"rows": [\n{"a": 1},\n{"a": 2}], "n": 2}'],
)
def test_other_json_shapes_have_no_lines(tmp_path, text):
    p = tmp_path / "a.json"
    p.write_text(text, encoding="utf-8")
    assert read(p).lines is None
