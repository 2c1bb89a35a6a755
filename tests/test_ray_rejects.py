"""`--engine ray --on-error skip` keeps refused rows on the cluster: the rejects file equals
the local engine's (same rows, order, columns, records; `file` for several files) while
the driver receives them a batch at a time; with `--on-error stop` no record reaches it.
On the session's local Ray instance with 2 CPUs (`ray_support`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402

HH = Path(__file__).parent / "realdata" / "hh_rlhf" / "harmless-base-test.sample.jsonl"
ARGS = ["--from", "hh", "--to", "unpaired", "--on-error", "skip", "--overwrite"]


def _convert(src: Path, out: Path, engine: str, *args: str):
    r = CliRunner().invoke(app, ["convert", str(src), "-o", str(out), "--engine", engine, *args])
    assert r.exit_code == 0, r.output
    return r


def _split(tmp: Path) -> Path:
    """The HH sample as two files (its rejected rows in both)."""
    lines = HH.read_text().splitlines(keepends=True)
    folder = tmp / "two"
    folder.mkdir()
    (folder / "a.jsonl").write_text("".join(lines[:100]))
    (folder / "b.jsonl").write_text("".join(lines[100:]))
    return folder


@pytest.mark.parametrize("files", ["one", "two"])
def test_ray_rejects_file_equals_local_on_hh_rlhf(tmp_path, monkeypatch, files):
    """HH-RLHF rows ending with an empty Assistant turn (lines 87, 151, 154, 155) are
    refused by both engines into byte-identical rejects files; Ray's driver gets them in
    batches of at most 2 rows (the batch size set to 2) and never all 4 at once."""
    from trlprep.importers import RejectsWriter
    from trlprep.ray import rejected

    src = HH if files == "one" else _split(tmp_path)
    _convert(src, tmp_path / "local.jsonl", "local", *ARGS)
    sizes: list[int] = []
    write = RejectsWriter.write

    def counted(self, table):
        sizes.append(table.num_rows)
        return write(self, table)

    monkeypatch.setattr(RejectsWriter, "write", counted)
    monkeypatch.setattr(rejected, "BATCH_ROWS", 2)
    r = _convert(src, tmp_path / "ray_out", "ray", *ARGS)
    assert "163 rows in, 4 rejected, 159 converted -> 318 rows out" in r.output
    assert "4 x import: chosen: ends with an empty Assistant turn" in r.output
    local = (tmp_path / "local.rejects.jsonl").read_bytes()
    assert (tmp_path / "ray_out.rejects.jsonl").read_bytes() == local
    rows = [json.loads(x) for x in local.splitlines()]
    assert [x["line"] for x in rows] == (
        [87, 151, 154, 155] if files == "one" else [87, 51, 54, 55]
    )
    assert ("file" in rows[0]) == (files == "two")
    assert all(x["record"]["chosen"] for x in rows)  # the rows as read
    assert sizes == [2, 2]


def test_two_stages_rejects_in_row_order_as_the_local_engine(tmp_path):
    """HH-RLHF with a template refusing messages about stealing: the importer's rows and
    the template's, interleaved by line, byte for byte as the local engine writes them, and
    the same reasons with the same first lines in the summary."""
    from test_rejects_order import HH_REFUSED, refusing_template

    args = [*ARGS, "--chat-template", str(refusing_template(tmp_path))]
    said = {}
    for engine in ("local", "ray"):
        out = tmp_path / ("local.jsonl" if engine == "local" else "ray_out")
        said[engine] = [
            x for x in _convert(HH, out, engine, *args).output.splitlines() if " x " in x
        ]
    local = (tmp_path / "local.rejects.jsonl").read_bytes()
    assert (tmp_path / "ray_out.rejects.jsonl").read_bytes() == local
    assert [json.loads(x)["line"] for x in local.splitlines()] == [n for n, _ in HH_REFUSED]
    assert said["ray"] == said["local"]
    assert "(e.g. line 37, line 61, line 69)" in said["local"][0]


def test_ray_stop_sends_no_record_to_the_driver(tmp_path, monkeypatch):
    """With --on-error stop the run fails naming the first row and counting the others as
    locally, and the records of refused rows are never made."""
    from trlprep.ray import rejected

    def no_records(*args, **kwargs):
        raise AssertionError("records made with --on-error stop")

    monkeypatch.setattr(rejected, "records", no_records)
    args = ["--from", "hh", "--to", "unpaired"]
    runs = {}
    for engine in ("local", "ray"):
        out = tmp_path / ("local.jsonl" if engine == "local" else "ray_out")
        runs[engine] = CliRunner().invoke(
            app, ["convert", str(HH), "-o", str(out), "--engine", engine, *args]
        )
        assert runs[engine].exit_code == 1
    said = [  # Ray's counts line named so, as when it writes rows
        x.removeprefix("ray: ")
        for x in runs["ray"].output.splitlines()
        if not x.startswith("warning")
    ]
    assert said == [x for x in runs["local"].output.splitlines() if not x.startswith("warning")]
    said = " ".join(runs["ray"].output.split())
    assert (
        "ray: hh -> preference-implicit -> unpaired-preference (conversational): 163 rows in, "
        "4 rejected, 159 would convert (unpairing: 2 per row); nothing written (stopped)"
    ) in said
    assert "sample.jsonl:87: import: chosen: ends with an empty Assistant turn" in said
    assert "(3 more rows fail)" in said


@pytest.mark.parametrize("apart", [True, False])
def test_records_pair_sorted_reject_blocks_with_the_input_blocks_they_overlap(apart):
    """Reject blocks out of order (and rows out of order within one) against an input of
    several blocks: the rejects come back in row order, each with its own record, a batch
    of at most `batch_rows` at a time; input blocks whose rows interleave (`apart` False)
    are sorted again on the cluster."""
    import pyarrow as pa
    import ray

    from trlprep.errors import ROW_ID
    from trlprep.ray.base import LINE, REJECT, REJECT_TYPE
    from trlprep.ray.rejected import records

    n = 40
    ids = list(range(n)) if apart else [i for k in (0, 1) for i in range(k, n, 2)]
    inputs = [
        pa.table({"text": [f"row {i}" for i in part], ROW_ID: part, LINE: [i + 1 for i in part]})
        for part in (ids[:10], ids[10:25], ids[25:])
    ]
    refused = [33, 2, 17, 5, 39, 11, 24, 0]

    def rejects(rows):
        why = pa.array([{"stage": "import", "reason": f"bad {r}"} for r in rows], REJECT_TYPE)
        return pa.table({ROW_ID: rows, LINE: [r + 1 for r in rows], REJECT: why})

    rejected = ray.data.from_arrow([rejects(refused[:3]), rejects(refused[3:])])
    numbered = ray.data.from_arrow(inputs)
    options = ray.data.DataContext.get_current().execution_options
    options.preserve_order = False
    batches = list(records(rejected, numbered, batch_rows=3))
    assert options.preserve_order is False  # the process's setting given back
    assert max(b.num_rows for b in batches) <= 3
    got = [r for b in batches for r in b.to_pylist()]
    assert [r["row"] for r in got] == sorted(refused)
    for r in got:
        assert (r["line"], r["stage"], r["reason"]) == (r["row"] + 1, "import", f"bad {r['row']}")
        assert json.loads(r["record"]) == {"text": f"row {r['row']}"}
