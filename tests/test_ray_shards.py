"""`--engine ray` over a folder of shards, as the local engine: the workers' warnings name
each row's shard (`a.jsonl:4`, `a.parquet row 3`) in the local engine's words. On the
session's local Ray instance (`ray_support`)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402

REAL = Path(__file__).parent / "realdata"
HH = REAL / "hh_rlhf" / "harmless-base-test.sample.jsonl"


def _cli(*args: object) -> tuple[int, str]:
    res = CliRunner().invoke(app, [str(a) for a in args])
    return res.exit_code, res.output


def _said(output: str) -> list[str]:
    """The warning lines, each on one line."""
    return [x for x in output.splitlines() if x.startswith("warning: ")]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_ray_warnings_over_shards_are_the_local_ones(tmp_path, fmt):
    """The real HH-RLHF sample in three shards (Parquet: row groups of 16 rows, so several
    Ray blocks a file): Ray's warnings are the local engine's, byte for byte, naming each
    row's shard; the outputs are equal too."""
    lines = HH.read_text(encoding="utf-8").splitlines(keepends=True)
    folder = tmp_path / "hh"
    folder.mkdir()
    cut = [0, 50, 110, len(lines)]
    for i in range(3):
        part, name = lines[cut[i] : cut[i + 1]], folder / f"train-{i:05d}-of-00003.{fmt}"
        if fmt == "jsonl":
            name.write_text("".join(part), encoding="utf-8")
        else:
            rows = pa.Table.from_pylist([json.loads(x) for x in part])
            pq.write_table(rows, name, row_group_size=16)
    local, ray = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    code, said = _cli("convert", folder, "--to", "preference", "-o", local)
    assert code == 0, said
    code, ray_said = _cli("convert", folder, "--to", "preference", "-o", ray, "--engine", "ray")
    assert code == 0, ray_said
    assert _said(ray_said) == _said(said)
    shard = folder / "train-00001-of-00003"
    first = f"{shard}.jsonl:37, " if fmt == "jsonl" else f"{shard}.parquet row 36, "
    assert _said(said)[0].startswith(f"warning: {first}"), said
    assert ray.read_bytes() == local.read_bytes()  # one file, as locally
