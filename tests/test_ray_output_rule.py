"""`--engine ray` follows the local engine's one rule for `-o`: a suffix is one file (the
local engine's bytes, its rejects file beside it, its counts line), `out/`, an existing
plain folder or `--num-shards` a shard folder, `out` (or `--output-format disk`) a
`save_to_disk` folder; checked before any work; nothing left on failure; object storage
(a `file://` URI) gets one object, all or nothing. On the session's local Ray instance
(`ray_support`), over the real HH-RLHF and DPO demo samples."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray  # noqa: E402, F401  (the session's Ray)
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402

HH = Path(__file__).parent / "realdata" / "hh_rlhf" / "harmless-base-test.sample.jsonl"
DPO = Path(__file__).parent / "realdata" / "dpo_demo" / "dpo_en_demo.json"  # ShareGPT pairs
ARGS = ["--from", "hh", "--to", "preference", "--on-error", "skip"]  # 4 rows refused


def _cli(*args: object) -> tuple[int, str]:
    res = CliRunner().invoke(app, [str(a) for a in args])
    return res.exit_code, res.output


def _counts(said: str, name: str) -> str:
    """The counts line, the engine's prefix dropped and the output named OUT."""
    line = next(x for x in said.splitlines() if " rows in, " in x)
    return line.removeprefix("ray: ").replace(name, "OUT")


def _no_ray_work(monkeypatch) -> None:
    """Starting Ray (the first work of a Ray run) fails the test."""
    import trlprep.ray

    def started(*args, **kwargs):
        raise AssertionError("Ray started before the output was checked")

    monkeypatch.setattr(trlprep.ray, "init", started)


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".jsonl.gz", ".arrow"])
def test_a_suffix_is_one_file_of_the_local_bytes(tmp_path, suffix):
    """`-o ray_out.SUFFIX`: one file (no folder), byte for byte the local engine's, the
    rejects file beside it as locally (`ray_out.rejects.jsonl`), the local counts line
    (no shard count)."""
    local, ray = tmp_path / f"local{suffix}", tmp_path / f"ray_out{suffix}"
    code, said = _cli("convert", HH, *ARGS, "-o", local)
    assert code == 0, said
    ray_code, ray_said = _cli("convert", HH, *ARGS, "-o", ray, "--engine", "ray")
    assert ray_code == 0, ray_said
    assert ray.is_file()
    assert ray.read_bytes() == local.read_bytes()
    rejects = (tmp_path / "ray_out.rejects.jsonl").read_bytes()
    assert rejects == (tmp_path / "local.rejects.jsonl").read_bytes()
    assert [json.loads(x)["line"] for x in rejects.splitlines()] == [87, 151, 154, 155]
    assert _counts(ray_said, str(ray)) == _counts(said, str(local))
    assert _counts(said, str(local)).endswith(" -> OUT")
    assert "shard" not in ray_said
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [local.name, ray.name, "local.rejects.jsonl", "ray_out.rejects.jsonl"]
    )  # no temporary file left beside them


def test_no_suffix_is_a_save_to_disk_folder_as_local(tmp_path):
    """`-o out` and `-o out.parquet --output-format disk`: a `save_to_disk` folder holding
    the local engine's rows, columns and description; the counts line names no shards."""
    datasets = pytest.importorskip("datasets")
    disk = ("--output-format", "disk")
    cases = [("local", "ray_out", ()), ("local2.parquet", "ray2.parquet", disk)]
    for local_name, ray_name, more in cases:
        local, ray = tmp_path / local_name, tmp_path / ray_name
        code, said = _cli("convert", HH, *ARGS, "-o", local, *more)
        assert code == 0, said
        ray_code, ray_said = _cli("convert", HH, *ARGS, "-o", ray, *more, "--engine", "ray")
        assert ray_code == 0, ray_said
        assert (ray / "state.json").is_file()
        want, got = datasets.load_from_disk(str(local)), datasets.load_from_disk(str(ray))
        assert got.num_rows == want.num_rows == 159
        assert got.data.table.equals(want.data.table)
        assert got.info.description == want.info.description
        assert _counts(ray_said, str(ray)) == _counts(said, str(local))
        assert "shard" not in ray_said


def test_shard_folders_stay_shard_folders(tmp_path):
    """`out/`, an existing plain folder (no slash) and `--num-shards 2`: shard folders of
    the local engine's shards, counted in the counts line."""
    existing = tmp_path / "existing"
    existing.mkdir()
    two = ("--num-shards", 2)
    runs = [(f"{tmp_path / 'slash'}/", ()), (str(existing), ()), (tmp_path / "n", two)]
    for out, more in runs:
        local = f"{out}-local/" if str(out).endswith("/") else None
        code, said = _cli("convert", HH, *ARGS, "-o", out, *more, "--engine", "ray")
        assert code == 0, said
        folder = Path(str(out).rstrip("/"))
        names = sorted(p.name for p in folder.iterdir())
        n = 2 if more else 1
        assert names == [f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
        assert re.search(rf"-> {re.escape(str(out))} \({n} shards?\)", said), said
        if local is not None:
            code, said = _cli("convert", HH, *ARGS, "-o", local)
            assert code == 0, said
            (mine,) = Path(local).iterdir()
            assert (folder / mine.name).read_bytes() == mine.read_bytes()


def test_the_output_is_checked_before_any_work_as_local(tmp_path, monkeypatch):
    """An existing file without --overwrite, a file's name given --num-shards, the output
    being the input, a missing folder: refused with the local engine's words, Ray never
    started."""
    src = tmp_path / "in.jsonl"
    src.write_text(HH.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "old.jsonl").write_text("old\n")
    _no_ray_work(monkeypatch)
    cases = [
        ("-o", tmp_path / "old.jsonl"),
        ("-o", tmp_path / "x.jsonl", "--num-shards", 2),
        ("-o", src),
        ("-o", tmp_path / "no" / "x.parquet"),
        ("-o", tmp_path / "x.csv"),
    ]
    for case in cases:
        code, said = _cli("convert", src, *ARGS, *case)
        ray_code, ray_said = _cli("convert", src, *ARGS, *case, "--engine", "ray")
        assert code != 0 and ray_code == code, (case, said, ray_said)
        assert ray_said == said
    assert (tmp_path / "old.jsonl").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "old.jsonl"]


def test_a_failed_write_leaves_nothing_and_the_old_file_untouched(tmp_path, monkeypatch):
    """A write failing half way (after the first block), or SIGTERM arriving then: the
    existing output is as it was, no temporary file beside it, no rejects file."""
    import os
    import signal

    from trlprep.cli.app import handle_sigterm
    from trlprep.io import writers

    out = tmp_path / "x.parquet"
    out.write_bytes(b"old")
    real, calls = writers._Writer.write, []

    def failing(self, data):
        calls.append(data.num_rows)
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(writers._Writer, "write", failing)
    code, said = _cli("convert", HH, *ARGS, "-o", out, "--overwrite", "--engine", "ray")
    assert code != 0 and "No space left on device" in said, said
    assert len(calls) == 2  # blocks written one after another
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]

    def terminated(self, data):
        calls.append(data.num_rows)
        if len(calls) == 4:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(self, data)

    monkeypatch.setattr(writers._Writer, "write", terminated)
    before = signal.getsignal(signal.SIGTERM)
    handle_sigterm()
    try:
        code, said = _cli("convert", HH, *ARGS, "-o", out, "--overwrite", "--engine", "ray")
    finally:
        signal.signal(signal.SIGTERM, before)
    assert code != 0 and len(calls) == 4, said
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]


def test_object_storage_gets_one_object_all_or_nothing(tmp_path, monkeypatch):
    """`file://.../x.parquet`: one object, the local engine's bytes; an existing one needs
    --overwrite (refused before any work); a failed write leaves it as it was and no
    staging prefix; a folder that does not exist named with no suffix is refused (a
    save_to_disk folder is written only locally) naming what to pass, while an existing
    one is a shard folder, as an existing local folder is."""
    from trlprep.io import writers
    from trlprep.ray.staging import PREFIX

    local, remote = tmp_path / "local.parquet", tmp_path / "store" / "x.parquet"
    code, said = _cli("convert", DPO, "-o", local)
    assert code == 0, said
    args = ["convert", DPO, "--engine", "ray"]
    code, said = _cli(*args, "-o", remote.as_uri())
    assert code == 0, said
    assert [p.name for p in remote.parent.iterdir()] == ["x.parquet"]
    assert remote.read_bytes() == local.read_bytes()
    assert said.rstrip().endswith(f"-> {remote.as_uri()}")
    with monkeypatch.context() as m:
        _no_ray_work(m)
        code, said = _cli(*args, "-o", remote.as_uri())
        assert code == 2 and "exists" in said and "--overwrite" in said, said
        folder = (tmp_path / "store" / "out").as_uri()
        code, said = _cli(*args, "-o", folder)
        assert code == 2 and "save_to_disk" in said and f"{folder}/" in said, said

    def failing(self, data):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(writers._Writer, "write", failing)
        code, said = _cli(*args, "-o", remote.as_uri(), "--overwrite")
        assert code == 2 and "No space left on device" in said, said
        new = (tmp_path / "new" / "y.parquet").as_uri()
        code, said = _cli(*args, "-o", new)
        assert code == 2, said
    assert remote.read_bytes() == local.read_bytes()
    assert not any(p.name.startswith(PREFIX) for p in remote.parent.iterdir())
    assert not (tmp_path / "new").exists()  # the folder this run made removed too
    shards = tmp_path / "store" / "shards"
    shards.mkdir()
    code, said = _cli(*args, "-o", shards.as_uri())
    assert code == 0, said
    assert [p.name for p in shards.iterdir()] == ["train-00000-of-00001.parquet"]
    assert "(1 shard)" in said
