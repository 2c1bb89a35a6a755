"""How the rows of a `.json` array are named in every message: by the line their object
starts on where each object starts on a line of its own (pretty-printed, also inside a
`{"data": [...]}` wrapper), else all by their 0-based index (`row N`), which a note says;
several splits side by side in one file are a clear error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trlprep.cli import app

EXAMPLES = Path(__file__).parent.parent / "examples"
REALDATA = Path(__file__).parent / "realdata"
BAD, DUP, ORIG = 3, 4, 1  # row 3: a null `chosen`; row 4 repeats row 1


def _rows() -> list[dict]:
    rows = [json.loads(x) for x in (EXAMPLES / "preference.jsonl").read_text().splitlines()]
    rows = rows[:6]
    rows[BAD] = {**rows[BAD], "chosen": None}
    rows[DUP] = dict(rows[ORIG])
    return rows


def _mixed(rows: list[dict]) -> str:
    """One object per line, except rows 1 and 2, which share line 3."""
    d = [json.dumps(r) for r in rows]
    return "[\n" + ",\n".join([d[0], d[1] + ", " + d[2], *d[3:]]) + "\n]\n"


LAYOUTS = {  # name -> (the file's text, whether its rows are named by line)
    "pretty": (lambda r: json.dumps(r, indent=2), True),
    "wrapped": (lambda r: json.dumps({"data": r}, indent=2), True),
    "minified": (json.dumps, False),
    "wrapped-minified": (lambda r: json.dumps({"rows": r}), False),
    "mixed": (_mixed, False),
}


def _start_lines(text: str, rows: list[dict]) -> list[int]:
    """The 1-based line of each row's opening brace, found by the rows' own indentation."""
    lines = text.splitlines()
    indent = re.match(r" *", lines[1]).group() if lines[0] in ("[", "{") else ""
    if lines[0] == "{":  # a wrapper: its array's items are one level deeper
        indent = re.match(r" *", lines[2]).group()
    found = [i + 1 for i, x in enumerate(lines) if x == indent + "{"]
    assert len(found) == len(rows)
    return found


def _write(tmp_path: Path, layout: str) -> tuple[Path, list[int] | None]:
    rows = _rows()
    make, by_line = LAYOUTS[layout]
    text = make(rows)
    p = tmp_path / "data.json"
    p.write_text(text, encoding="utf-8")
    return p, _start_lines(text, rows) if by_line else None


def _name(row: int, lines: list[int] | None) -> str:
    return f"line {lines[row]}" if lines else f"row {row}"


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_convert_rejects_name_the_row(tmp_path, layout):
    p, lines = _write(tmp_path, layout)
    out = tmp_path / "out.jsonl"
    args = ["convert", str(p), "--to", "unpaired", "-o", str(out), "--on-error", "skip"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "6 rows in, 1 rejected, 5 converted" in res.output
    assert f"(e.g. {_name(BAD, lines)})" in res.output
    (record,) = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    assert record["row"] == BAD and record["record"]["chosen"] is None
    assert record["line"] == (lines[BAD] if lines else None)  # null: named by `row`
    named_by_row = "rows are named `row N`, their 0-based index in the array" in res.output
    assert named_by_row == (lines is None)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_validate_names_the_row_and_its_duplicate(tmp_path, layout):
    p, lines = _write(tmp_path, layout)
    res = CliRunner().invoke(app, ["validate", str(p)])
    assert res.exit_code == 1, res.output
    assert f"null-value (chosen): 1 row, {_name(BAD, lines)}" in res.output
    assert f"({_name(DUP, lines)} repeats {_name(ORIG, lines)})" in res.output
    res = CliRunner().invoke(app, ["validate", str(p), "--format", "json"])
    issues = {i["rule"]: i for i in json.loads(res.output)["issues"]}
    assert issues["null-value"]["rows"] == [BAD]
    assert issues["null-value"].get("lines") == ([lines[BAD]] if lines else None)
    assert issues["duplicate-row"]["rows"] == [DUP]


def test_the_note_names_the_crowded_line(tmp_path):
    p, _ = _write(tmp_path, "mixed")
    res = CliRunner().invoke(app, ["detect", str(p)])
    assert res.exit_code == 1, res.output  # the null `chosen`, named as everywhere
    assert "in 1 of 6 rows (rows of another type, or missing data) (e.g. row 3)" in res.output
    assert f"{p}: several objects of the JSON array start on one line (line 3: rows 1-2)" in (
        " ".join(res.output.split())
    )


@pytest.mark.parametrize(
    "data",
    [
        {"train": [{"a": 1}, {"a": 2}], "test": [{"a": 3}]},
        {"train": [{"a": 1}], "validation": [{"a": 2}]},  # equal lengths: not columns either
        {"train": [{"a": 1}, {"a": 2}], "test": []},  # an empty split: not one row either
    ],
)
def test_splits_side_by_side_are_a_clear_error(tmp_path, data):
    p = tmp_path / "splits.json"
    p.write_text(json.dumps(data, indent=2))
    res = CliRunner().invoke(app, ["validate", str(p)])
    assert res.exit_code == 2, res.output
    out = " ".join(res.output.split())
    assert str(p) in out and "several splits side by side: 'train'" in out
    assert f"jq '.train' {p} > train.json" in out


def test_columns_and_one_row_of_message_lists_are_still_read(tmp_path):
    msgs = {"chosen": [{"role": "user", "content": "a"}], "rejected": [{"role": "user"}] * 2}
    p = tmp_path / "one.json"
    p.write_text(json.dumps(msgs))
    res = CliRunner().invoke(app, ["detect", str(p), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["num_rows"] == 1


@pytest.mark.parametrize("wrap", [False, True])
def test_real_alpaca_minified_and_wrapped(tmp_path, wrap):
    rows = json.loads((REALDATA / "alpaca_demo" / "alpaca_en_demo.json").read_text())
    rows[5]["output"] = None
    rows[9] = dict(rows[2])
    p = tmp_path / "alpaca.json"
    p.write_text(json.dumps({"data": rows}, indent=2) if wrap else json.dumps(rows))
    res = CliRunner().invoke(app, ["validate", str(p), "--from", "alpaca"])
    assert res.exit_code == 1, res.output
    lines = p.read_text().splitlines()
    if wrap:  # each object's `{` on a line of its own, 4 spaces in
        starts = [i + 1 for i, x in enumerate(lines) if x == "    {"]
        assert "import-failed: 1 row, line " + str(starts[5]) in res.output
        assert f"(line {starts[9]} repeats line {starts[2]})" in res.output
    else:
        assert len(lines) == 1
        assert "import-failed: 1 row, row 5" in res.output
        assert "(row 9 repeats row 2)" in res.output
        assert "a minified JSON array (every object on line 1)" in res.output


def test_a_folder_of_minified_arrays_says_it_once(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(5):
        (folder / f"p{i}.json").write_text(json.dumps([{"text": f"a{i}"}, {"text": f"b{i}"}]))
    res = CliRunner().invoke(app, ["validate", str(folder)])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert out.count("a minified JSON array") == 1
    assert (
        f"{folder / 'p0.json'}, {folder / 'p1.json'}, {folder / 'p2.json'} and 2 more files:" in out
    )
