"""Rows of a folder of Parquet shards are named by their shard file and their row in it
(`a.parquet row 3`, 0-based as `row N` is everywhere), in convert's, the API's and report's
warnings, whether the folder is read whole or in batches, as JSON Lines shards name
`a.jsonl:4`; and the writer Ray's object-storage outputs use writes the local bytes."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from trlprep.converters.common import first_place_named, merge_row_warnings, merge_rows_texts

from tests.realdata.support import counts, run, sample

CUT = [0, 50, 110, 163]  # the HH-RLHF sample's 163 rows in three shards


def _hh_shards(root: Path) -> tuple[Path, Path]:
    """The real HH-RLHF sample cut into three JSON Lines shards and the same three as
    Parquet shards of row groups of 16 rows (several batches a file)."""
    lines = sample("hh_rlhf").read_text(encoding="utf-8").splitlines(keepends=True)
    jl, pqd = root / "jl", root / "pq"
    jl.mkdir(parents=True)
    pqd.mkdir(parents=True)
    for i in range(3):
        part = lines[CUT[i] : CUT[i + 1]]
        name = f"train-{i:05d}-of-00003"
        (jl / f"{name}.jsonl").write_text("".join(part), encoding="utf-8")
        table = pa.Table.from_pylist([json.loads(x) for x in part])
        pq.write_table(table, pqd / f"{name}.parquet", row_group_size=16)
    return jl, pqd


def _warnings(output: str) -> list[str]:
    return [x for x in output.splitlines() if x.startswith("warning: ")]


def _as_parquet(line: str, jl: Path, pqd: Path) -> str:
    """A JSON Lines shard's `file.jsonl:L` said as the Parquet shard's `file.parquet row L-1`."""

    def one(m: re.Match) -> str:
        return f"{pqd / m['name']}.parquet row {int(m['line']) - 1}"

    return re.sub(rf"{re.escape(str(jl))}/(?P<name>[\w-]+)\.jsonl:(?P<line>\d+)", one, line)


def test_parquet_shards_name_their_file_and_row_in_convert_api_and_report(tmp_path):
    jl, pqd = _hh_shards(tmp_path)
    said = {}
    for name, folder in (("jl", jl), ("pq", pqd)):
        res = run("convert", folder, "--to", "preference", "-o", tmp_path / f"{name}.jsonl")
        assert res.exit_code == 0, res.output
        assert counts(res.output) == (163, 0, 163, 163)
        said[name] = _warnings(res.output)
    assert len(said["pq"]) == 2
    # the Parquet shards' rows are the JSON Lines shards' lines, less one (0-based)
    assert said["pq"] == [_as_parquet(x, jl, pqd) for x in said["jl"]]
    first = f"warning: {pqd / 'train-00001-of-00003.parquet'} row 36, "
    assert said["pq"][0].startswith(first), said["pq"][0]
    assert "rows 86" not in " ".join(said["pq"])  # not the whole folder's rows
    # the Python API reads the folder whole: the same words
    import trlprep

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trlprep.convert(str(pqd), to="preference")
    told = [str(w.message) for w in caught if str(w.message).startswith(str(pqd))]
    assert sorted(told) == sorted(x.removeprefix("warning: ") for x in said["pq"])
    rep = run("report", pqd)
    assert rep.exit_code == 0, rep.output
    notes = [x.strip().removeprefix("note: ") for x in rep.output.splitlines()]
    assert all(x.removeprefix("warning: ") in notes for x in said["pq"]), rep.output


def test_row_places_of_both_kinds_merge_in_file_then_row_order():
    a, b = "d/a.parquet", "d/b.parquet"
    texts = [f"{a} row 9, {a} row 2", f"{b} row 3", f"{b} row 1 (and 2 more)"]  # files as met
    assert merge_rows_texts(texts) == f"{a} row 2, {a} row 9, {b} row 1, {b} row 3 (and 2 more)"
    merged = merge_row_warnings([f"{a} row 9: empty", "x.jsonl:4: empty", f"{a} row 1: empty"])
    assert merged == [f"{a} row 1, {a} row 9, x.jsonl:4: empty"]
    counted = merge_row_warnings(
        [f"1 row ({a} row 4): moved", f"2 rows ({b} row 0, {b} row 5): moved"]
    )
    assert counted == [f"3 rows ({a} row 4, {b} row 0, {b} row 5): moved"]
    assert first_place_named(f"{a} row 7, {a} row 9: empty") == (a, 7)
    assert first_place_named("x.jsonl:4: empty") == ("x.jsonl", 4)
