"""`--engine ray` reads one Parquet file of several row groups in several Ray tasks, one per
run of row groups (each block a run: no worker holds the whole file), with the local
engine's rows, row order, rejects (rows named by index) and counts. On the session's local
Ray instance with 2 CPUs (`ray_support`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402

ROWS = [{"chosen": f"The sky is blue {i}.", "rejected": f"The sky is red {i}."} for i in range(13)]
ROWS[3] = {"chosen": "Blue.", "rejected": "Green."}  # no shared prompt: refused by the edge
ROWS[11] = {"chosen": "Up.", "rejected": "Down."}


def _parquet(tmp: Path) -> Path:
    """13 rows in row groups of 5, 5 and 3 rows."""
    path = tmp / "in.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path, row_group_size=5)
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
    return path


def test_a_parquet_files_row_groups_are_read_apart_into_blocks(tmp_path):
    from trlprep.errors import ROW_ID
    from trlprep.ray.base import _blocks
    from trlprep.ray.sources import read_numbered

    ds, total, _ = read_numbered(str(_parquet(tmp_path)))
    # one block per run of row groups (a whole-file read would cut 13 rows as 4, 4, 4, 1)
    assert [n for _, _, n in _blocks(ds)] == [5, 5, 3]
    assert total == 13
    got = ds.to_pandas()
    assert got["chosen"].tolist() == [r["chosen"] for r in ROWS]
    assert got[ROW_ID].tolist() == list(range(13))


def test_cli_ray_over_row_groups_equals_local(tmp_path):
    src = _parquet(tmp_path)
    said, rejects = {}, {}
    for engine, out in (("local", tmp_path / "local.jsonl"), ("ray", tmp_path / "ray_out")):
        args = ["convert", str(src), "--to", "preference", "-o", str(out), "--on-error", "skip"]
        res = CliRunner().invoke(app, [*args, "--output-format", "jsonl", "--engine", engine])
        assert res.exit_code == 0, res.output
        said[engine] = next(x for x in res.output.splitlines() if " rows in, " in x)
        rejects[engine] = (tmp_path / f"{out.stem}.rejects.jsonl").read_text()
    # `-o ray_out --output-format jsonl`: one file, as locally
    assert (tmp_path / "ray_out").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert rejects["ray"] == rejects["local"]
    assert [json.loads(x)["row"] for x in rejects["ray"].splitlines()] == [3, 11]
    counts = {e: re.search(r"\(standard\): (.*) -> ", line)[1] for e, line in said.items()}
    assert counts["ray"] == counts["local"] == "13 rows in, 2 rejected, 11 converted -> 11 rows out"


def test_ray_parquet_output_has_the_local_row_groups(tmp_path, monkeypatch):
    """Long rows in several Ray blocks: the driver's shard writer cuts row groups by bytes
    as the local writer does (groups of the rows, not of the blocks): the same bytes."""
    from trlprep.io import writers

    monkeypatch.setattr(writers, "ROW_GROUP_BYTES", 12_000)
    rows = [
        {"chosen": f"Q {i}? " + "yes " * (300 + 40 * (i % 5)), "rejected": f"Q {i}? no"}
        for i in range(40)
    ]
    src = tmp_path / "long.parquet"
    pq.write_table(pa.Table.from_pylist(rows), src, row_group_size=7)
    for engine in ("local", "ray"):
        out = tmp_path / engine
        args = ["convert", str(src), "--to", "preference", "-o", f"{out}/", "--engine", engine]
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
    (local,) = (tmp_path / "local").iterdir()
    (ray,) = (tmp_path / "ray").iterdir()
    assert pq.ParquetFile(local).metadata.num_row_groups > 3
    assert ray.read_bytes() == local.read_bytes()
