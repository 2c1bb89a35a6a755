"""Real MATH problems as ms-swift's RFT example holds them (modelscope/ms-swift
`examples/train/rft/math.json`): one JSON object of records keyed by each problem's path.

Before: read as one row with a column per record (`detect`: "no dataset type matches the
columns" listing all 40 paths, twice, and no advice). Now every command stops naming the
records keyed by name and the jq command that makes them rows; so made, `detect` advises the
`--map` that makes prompt-completion rows, which render as the original template renders.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import counts, original_render, original_template_args, rows_of, run, sample

DATA = sample("swift_rft_math")
FIRST = "modeling/MATH/data/test/prealgebra_2009.json"
MAP = "prompt=problem,completion=solution"


def _records() -> dict[str, dict]:
    return json.loads(DATA.read_text(encoding="utf-8"))


@pytest.fixture
def rows_file(tmp_path):
    """The records as rows, as the advised `jq -c 'to_entries[] | {id: .key} + .value'`
    writes them."""
    path = tmp_path / "math.rows.jsonl"
    path.write_text(
        "".join(json.dumps({"id": k, **v}) + "\n" for k, v in _records().items()),
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("command", ["detect", "validate", "convert"])
def test_records_keyed_by_name_are_named_with_the_command_that_makes_rows(command, tmp_path):
    args = ["-o", tmp_path / "x.jsonl"] if command == "convert" else []
    res = run(command, DATA, *args)
    assert res.exit_code == 2, res.output
    said = " ".join(res.output.split())
    assert (
        f"{DATA}: the file holds one object of 40 records keyed by name ('{FIRST}', "
        "'modeling/MATH/data/test/algebra_419.json', ...), each holding level, problem, "
        "solution, type" in said
    )
    rows = DATA.with_name("math.first40.rows.jsonl")
    command_line = f"`jq -c 'to_entries[] | {{id: .key}} + .value' {DATA} > {rows}`"
    assert f"make each record a row, its key kept as 'id': {command_line}" in said
    assert "no dataset type matches" not in said


def test_objects_that_are_one_row_stay_one_row(tmp_path):
    """A row of single-turn chosen/rejected objects, and objects of different keys."""
    pair = tmp_path / "pair.json"
    turn = {"from": "gpt", "value": "a"}
    pair.write_text(json.dumps({"chosen": turn, "rejected": {**turn, "value": "b"}}))
    res = run("detect", pair)
    assert "rows           1" in res.output, res.output
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"a": {"x": 1}, "b": {"y": 2}}))
    res = run("detect", other)
    assert "rows           1" in res.output and "keyed by name" not in res.output


def test_the_rows_read_as_problems_with_the_advised_map(rows_file, tmp_path):
    res = run("detect", rows_file)
    said = " ".join(res.output.split())
    assert f"pass `--map {MAP}`" in said, said
    out = tmp_path / "sft.jsonl"
    res = run("convert", rows_file, "--map", MAP, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (40, 0, 40, 40)
    got, src = rows_of(out), _records()
    assert [r["id"] for r in got] == list(src)
    assert [r["prompt"] for r in got] == [v["problem"] for v in src.values()]
    assert [r["completion"] for r in got] == [v["solution"] for v in src.values()]
    assert got[0]["completion"].endswith("$AB=\\sqrt{12}=\\boxed{2\\sqrt3}$.")


def test_conversational_rows_render_as_the_original_template(rows_file, tmp_path):
    out = tmp_path / "r.jsonl"
    args = original_template_args("qwen2_5")
    res = run("convert", rows_file, "--map", MAP, "--conversational", *args, "-o", out)
    assert res.exit_code == 0, res.output
    for row, record in zip(rows_of(out), _records().values(), strict=True):
        user = [{"role": "user", "content": record["problem"]}]
        answer = {"role": "assistant", "content": record["solution"]}
        assert row["prompt"] == original_render("qwen2_5", user, add_generation_prompt=True)
        assert row["prompt"] + row["completion"] == original_render("qwen2_5", [*user, answer])


def test_the_command_for_a_file_of_a_folder_writes_beside_the_folder(tmp_path):
    import shutil

    folder = tmp_path / "math"
    folder.mkdir()
    shutil.copy(DATA, folder / DATA.name)
    res = run("detect", folder)
    assert res.exit_code == 2, res.output
    said = " ".join(res.output.split())
    rows = tmp_path / "math.first40.rows.jsonl"
    command_line = f"`jq -c 'to_entries[] | {{id: .key}} + .value' {folder / DATA.name} > {rows}`"
    assert f"make each record a row, its key kept as 'id': {command_line}" in said
    res = run("detect", DATA)  # given itself: beside it, as before
    assert f"> {DATA.with_name('math.first40.rows.jsonl')}`" in " ".join(res.output.split())
