"""`report` on a folder of shards gives its notes in shard order, then row order (was: by
the row within each file, so a later shard's line 38 came before the first shard's 67)."""

from __future__ import annotations

from pathlib import Path

from trlprep.converters.common import first_place_named

from tests.realdata.support import run, sample

CUT = [0, 20, 120, 163]  # the HH-RLHF sample's 163 rows: a long middle shard


def _shards(root: Path) -> Path:
    lines = sample("hh_rlhf").read_text(encoding="utf-8").splitlines(keepends=True)
    root.mkdir()
    for i in range(3):
        part = "".join(lines[CUT[i] : CUT[i + 1]])
        (root / f"train-{i:05d}-of-00003.jsonl").write_text(part, encoding="utf-8")
    return root


def test_report_notes_of_shards_come_in_shard_then_row_order(tmp_path):
    folder = _shards(tmp_path / "hh")
    res = run("report", folder)
    assert res.exit_code == 0, res.output
    notes = [x.strip().removeprefix("note: ") for x in res.output.splitlines()]
    named = [first_place_named(x) for x in notes]
    at = [(Path(f).name, n) for f, n in (x for x in named if x is not None)]
    # whitespace-only chosen: rows 86, 150, 153, 154; a prefix pair: row 157 (0-based)
    assert at == [("train-00001-of-00003.jsonl", 67), ("train-00002-of-00003.jsonl", 38)]


def test_first_place_named_gives_the_file_and_its_row():
    assert first_place_named("d/b.parquet row 3, d/b.parquet row 9: empty") == ("d/b.parquet", 3)
    assert first_place_named("x.jsonl:4, y.jsonl:1: empty") == ("x.jsonl", 4)
    assert first_place_named("2 rows (rows 5, 7): moved") == ("", 5)
    assert first_place_named("no rows named here") is None
