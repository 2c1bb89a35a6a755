"""`--engine ray` writing to object storage (here `file://` URIs, written by Ray tasks as
to `s3://`) writes the local engine's shards, byte for byte: JSON Lines without a message's
null keys, Parquet row groups cut at 65,536 rows (not one a Ray block), `--num-shards` and
`--max-shard-size` cut as locally; all or nothing (a failed shard, SIGTERM). Reading from
object storage names rows, rejects and errors as the local engine names a local folder's.
On the session's local Ray instance (`ray_support`)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray, run_outcome  # noqa: E402, F401  (the session's Ray)
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402

REAL = Path(__file__).parent / "realdata"
TOOLCALLS = REAL / "xtuner_qwen35_toolcalls" / "qwen35_tokenize_data.first12.jsonl"
GLAIVE = REAL / "glaive_toolcall" / "glaive_toolcall_en_demo.json"
HH = REAL / "hh_rlhf" / "harmless-base-test.sample.jsonl"


def _cli(*args: object) -> tuple[int, str]:
    res = CliRunner().invoke(app, [str(a) for a in args])
    return res.exit_code, res.output


@pytest.mark.parametrize("data", [TOOLCALLS, GLAIVE], ids=["xtuner", "glaive"])
def test_ray_object_storage_jsonl_is_the_local_bytes(tmp_path, data):
    """Messages with optional keys (reasoning, tool calls): no null key written, text as
    written (not \\u-escaped), the local engine's shard name."""
    local, remote = tmp_path / "local.jsonl", tmp_path / "remote"
    code, said = _cli("convert", data, "-o", local)
    assert code == 0, said
    args = ["-o", f"{remote.as_uri()}/", "--output-format", "jsonl", "--engine", "ray"]
    code, said = _cli("convert", data, *args)
    assert code == 0, said
    assert [p.name for p in remote.iterdir()] == ["train-00000-of-00001.jsonl"]
    written = (remote / "train-00000-of-00001.jsonl").read_bytes()
    assert written == local.read_bytes()
    assert b'"reasoning_content":null' not in written and b'"tool_calls":null' not in written
    code, said = _cli("convert", data, *args)  # an existing output, as locally
    assert code == 2 and "exists" in said and "--overwrite" in said


def test_ray_object_storage_parquet_has_the_local_row_groups(tmp_path):
    """66,000 rows in several Ray blocks, written by Ray tasks: row groups of at most 65,536
    rows as the local writer cuts them (not one a Ray block), the local bytes; with
    `--num-shards 2`, the local engine's two shards, byte for byte."""
    src = tmp_path / "in.parquet"
    n = 66_000
    rows = pa.table({"prompt": [f"q{i}" for i in range(n)], "completion": ["a"] * n})
    pq.write_table(rows, src, row_group_size=10_000)
    for shards in ([], ["--num-shards", 2]):
        local, remote = tmp_path / f"local{len(shards)}", tmp_path / f"remote{len(shards)}"
        for engine, out in (("local", f"{local}/"), ("ray", f"{remote.as_uri()}/")):
            code, said = _cli("convert", src, "--to", "lm", "-o", out, *shards, "--engine", engine)
            assert code == 0, said
        names = sorted(p.name for p in local.iterdir())
        assert sorted(p.name for p in remote.iterdir()) == names
        for name in names:
            assert (remote / name).read_bytes() == (local / name).read_bytes()
        groups = [
            [md.row_group(i).num_rows for i in range(md.num_row_groups)]
            for md in (pq.ParquetFile(remote / name).metadata for name in names)
        ]
        assert groups == ([[33_000], [33_000]] if shards else [[65_536, 464]])


def _hh_shards(folder: Path, fmt: str) -> Path:
    """The real HH-RLHF sample in three shards (Parquet: row groups of 16 rows); JSON Lines:
    the second shard's line 6 broken."""
    lines = HH.read_text(encoding="utf-8").splitlines(keepends=True)
    folder.mkdir()
    cut = [0, 50, 110, len(lines)]
    for i in range(3):
        part, name = lines[cut[i] : cut[i + 1]], folder / f"train-{i:05d}-of-00003.{fmt}"
        if fmt == "jsonl":
            if i == 1:
                part[5] = '{"chosen": "broken\n'
            name.write_text("".join(part), encoding="utf-8")
        else:
            pq.write_table(pa.Table.from_pylist([json.loads(x) for x in part]), name, 16)
    return folder


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_ray_object_storage_inputs_are_named_as_local_files(tmp_path, fmt):
    """A `file://` folder of shards read by Ray: the warnings, the counts line (a bad line
    skipped), the rejects records (`file`, `line`, `row`) and, without skipping, the error
    name `URI:line` / `URI row N` in the local engine's words, byte for byte."""
    folder = _hh_shards(tmp_path / "hh", fmt)
    uri = folder.as_uri()
    skip = ["--from", "hh", "--on-error", "skip", "--on-bad-lines", "skip"]
    local, ray = tmp_path / "local.jsonl", tmp_path / "ray_out.jsonl"
    res = CliRunner().invoke(app, ["convert", str(folder), "-o", str(local), *skip])
    args = ["convert", uri, "-o", str(ray), *skip, "--engine", "ray"]
    ray_res = CliRunner().invoke(app, args)
    code, said, written, rejects = run_outcome(res, local)
    ray_code, ray_said, ray_written, ray_rejects = run_outcome(ray_res, ray)
    assert code == ray_code == 0, ray_res.output
    assert ray_said.replace(uri, str(folder)) == said
    assert ray_rejects.replace(uri, str(folder)) == rejects
    assert ray_written == written
    shard = "train-00001-of-00003"
    first = f"{uri}/{shard}.jsonl:37" if fmt == "jsonl" else f"{uri}/{shard}.parquet row 36"
    assert f"(e.g. {first}, " in ray_said
    if fmt == "jsonl":
        assert f'"line":6,"file":"{uri}/{shard}.jsonl"' in ray_rejects
        code, said = _cli("convert", folder, "-o", tmp_path / "x.jsonl")
        ray_code, ray_said = _cli("convert", uri, "-o", tmp_path / "y.jsonl", "--engine", "ray")
        assert code == ray_code == 1
        assert ray_said.replace(uri, str(folder)) == said
        assert ray_said.startswith(f"error: {uri}/{shard}.jsonl:6: invalid JSON")


def test_ray_object_storage_output_is_all_or_nothing(tmp_path, monkeypatch):
    """A shard's write failing (the second of three) or SIGTERM arriving while shards are
    written: nothing of the run in the output folder (no shard, no staging prefix), an
    existing output untouched; then a run that succeeds writes every shard."""
    from trlprep.cli.app import handle_sigterm
    from trlprep.ray import remote

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": f"t{i}"}) + "\n" for i in range(30)))
    out = tmp_path / "out"
    args = ["convert", src, "-o", out.as_uri(), "--output-format", "jsonl", "--engine", "ray"]
    real, driver = remote._write_shard, os.getpid()

    def failing(uri, *rest):
        if "part-00001" in uri:
            raise OSError(28, "No space left on device")
        return real(uri, *rest)

    monkeypatch.setattr(remote, "_write_shard", failing)
    code, said = _cli(*args, "--num-shards", 3)
    assert code == 2 and "cannot write the output: No space left on device" in said, said
    assert not out.exists()  # the folder this run created removed too

    def terminated(uri, *rest):  # SIGTERM to the driver while it waits for this shard
        if "part-00001" in uri:
            import time

            os.kill(driver, signal.SIGTERM)
            time.sleep(20)
        return real(uri, *rest)

    out.mkdir()
    (out / "train-00000-of-00001.jsonl").write_text("old\n")
    monkeypatch.setattr(remote, "_write_shard", terminated)
    before = signal.getsignal(signal.SIGTERM)
    handle_sigterm()
    try:
        res = CliRunner().invoke(
            app, [str(a) for a in [*args, "--max-shard-size", 50, "--overwrite"]]
        )
    finally:
        signal.signal(signal.SIGTERM, before)
    assert res.exit_code != 0, (res.output, sorted(p.name for p in out.iterdir()))
    assert [p.name for p in out.iterdir()] == ["train-00000-of-00001.jsonl"]
    assert (out / "train-00000-of-00001.jsonl").read_text() == "old\n"


def test_ray_object_storage_max_shard_size_cuts_as_locally(tmp_path):
    """`--max-shard-size` over the real HH-RLHF sample: the local engine and Ray writing to
    `file://` write as many shards, byte for byte (each cut learns the shard before's bytes
    on disk per byte in memory; the data's size in memory alone gives another count)."""
    for fmt in ("parquet", "jsonl"):
        local, remote = tmp_path / f"local{fmt}", tmp_path / f"remote{fmt}"
        for engine, out in (("local", f"{local}/"), ("ray", f"{remote.as_uri()}/")):
            code, said = _cli(
                "convert", HH, "--to", "preference", "-o", out, "--max-shard-size", "20kB",
                "--output-format", fmt, "--engine", engine,
            )  # fmt: skip
            assert code == 0, said
        names = sorted(p.name for p in local.iterdir())
        assert len(names) > 3
        assert sorted(p.name for p in remote.iterdir()) == names
        for name in names:
            assert (remote / name).read_bytes() == (local / name).read_bytes()


def test_ray_object_storage_rejects_go_beside_the_output(tmp_path, monkeypatch):
    """`--on-error skip` with an object-storage output: the rejects file is an object beside
    it (`x.rejects.jsonl`, `out.rejects.jsonl` for `out/`), the local engine's bytes, never
    a local `file:/...` folder; `--rejects FILE` still wins; an output that fails to be
    written leaves no rejects object either."""
    from trlprep.ray import remote

    src = tmp_path / "bad.jsonl"
    rows = [{"prompt": "a", "chosen": "b", "rejected": "c"}, {"prompt": "d", "chosen": "e"}]
    rows[1]["rejected"] = 5
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    skip = ["--to", "unpaired", "--on-error", "skip"]
    code, said = _cli("convert", src, *skip, "-o", tmp_path / "local.parquet")
    assert code == 0, said
    local = (tmp_path / "local.rejects.jsonl").read_bytes()
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "remo"
    for out, beside in (("x.parquet", "x.rejects.jsonl"), ("out/", "out.rejects.jsonl")):
        uri = f"{folder.as_uri()}/{out}"
        code, said = _cli("convert", src, *skip, "-o", uri, "--engine", "ray")
        assert code == 0, said
        assert f"1 rejected row -> {folder.as_uri()}/{beside}" in said, said
        assert (folder / beside).read_bytes() == local
    assert not any(p.name.startswith("file:") for p in tmp_path.iterdir())
    mine = tmp_path / "mine.jsonl"
    uri = f"{folder.as_uri()}/y.parquet"
    code, said = _cli("convert", src, *skip, "-o", uri, "--engine", "ray", "--rejects", mine)
    assert code == 0 and mine.read_bytes() == local, said
    assert not (folder / "y.rejects.jsonl").exists()

    def failing(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(remote, "write_remote_file", failing)
    uri = f"{folder.as_uri()}/z.parquet"
    code, said = _cli("convert", src, *skip, "-o", uri, "--engine", "ray")
    assert code != 0 and "No space left" in said, said
    assert not (folder / "z.rejects.jsonl").exists() and not (folder / "z.parquet").exists()
    assert sorted(p.name for p in folder.iterdir()) == [
        "out",
        "out.rejects.jsonl",
        "x.parquet",
        "x.rejects.jsonl",
        "y.parquet",
    ]
