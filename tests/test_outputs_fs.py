"""Outputs on the file system: permissions, recognisable temporary names, stale leftovers,
unwritable places (issue 13: defects 2, 3 and 5); devices, FIFOs, links, nameless paths and
the rejects file's name (QA report 1: defects 1, 5 and 12)."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

import trlprep
from trlprep.errors import InputError, UsageError
from trlprep.importers.rejectsfile import RejectsWriter, default_rejects_path
from trlprep.io import tempfiles, writers

TABLE = pa.table({"prompt": ["a", "b"], "completion": ["c", "d"]})


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize("name", ["out.parquet", "out.jsonl", "out.jsonl.gz", "out.arrow"])
def test_files_get_the_permissions_open_gives(tmp_path, umask022, name):
    writers.write(TABLE, tmp_path / name)
    assert _mode(tmp_path / name) == 0o644


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        writers.write(TABLE, tmp_path / "out.parquet")
        writers.write(TABLE, tmp_path / "folder")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "out.parquet") == 0o640
    assert _mode(tmp_path / "folder") == 0o750


def test_save_to_disk_folder_gets_0755_and_its_files_0644(tmp_path, umask022):
    writers.write(TABLE, tmp_path / "ds")
    assert _mode(tmp_path / "ds") == 0o755
    files = [p for p in (tmp_path / "ds").rglob("*") if p.is_file()]
    assert files and all(_mode(p) == 0o644 for p in files)


def test_rejects_file_gets_0644(tmp_path, umask022):
    w = RejectsWriter(tmp_path / "r.jsonl")
    w.write(pa.table({"row": [1], "reason": ["bad"]}))
    w.commit()
    assert _mode(tmp_path / "r.jsonl") == 0o644


def test_temporary_names_say_trlprep_host_and_pid(tmp_path):
    name = tempfiles.temp_name(tmp_path / "out.parquet").name
    assert name.startswith(".out.parquet.trlprep-") and name.endswith(".tmp")
    assert f"-{os.getpid()}-" in name
    assert tempfiles.is_stale(name, time.time() - 60) is False  # this process is alive


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporaries_of_a_dead_process_are_removed_by_the_next_write(tmp_path):
    pid, host = _dead_pid(), tempfiles._HOST
    stale_file = tmp_path / f".out.parquet.trlprep-{host}-{pid}-abcdef.tmp"
    stale_file.write_bytes(b"x" * 100)
    stale_dir = tmp_path / f".trlprep-{host}-{pid}-abcdef.tmp"
    stale_dir.mkdir()
    (stale_dir / "second-half.parquet").write_bytes(b"x")
    live = tmp_path / f".other.jsonl.trlprep-{host}-{os.getpid()}-abcdef.tmp"
    live.write_bytes(b"x")
    foreign = tmp_path / f".x.parquet.trlprep-ffffff-{pid}-abcdef.tmp"  # another machine
    foreign.write_bytes(b"x")
    # an output being replaced when its process died: the .old is the only copy
    orphan_old = tmp_path / f".gone.parquet.trlprep-{host}-{pid}-abcdef.old"
    orphan_old.write_bytes(b"x")
    mine = [tmp_path / "keep.tmp", tmp_path / ".hidden", tmp_path / ".trlprep-notours"]
    for p in mine:
        p.write_bytes(b"x")
    past = time.time() - 3600
    for p in tmp_path.iterdir():
        os.utime(p, (past, past))

    writers.write(TABLE, tmp_path / "new.parquet")

    assert not stale_file.exists() and not stale_dir.exists()
    assert live.exists() and foreign.exists() and orphan_old.exists()
    assert all(p.exists() for p in mine)


def test_just_created_entries_are_never_stale(tmp_path):
    name = f".o.parquet.trlprep-{tempfiles._HOST}-{_dead_pid()}-abcdef.tmp"
    assert tempfiles.is_stale(name, time.time()) is False
    assert tempfiles.is_stale(name, time.time() - 30) is True


@pytest.mark.parametrize("err", [errno.EACCES, errno.ENOENT, errno.ENOSPC, errno.EROFS])
def test_unwritable_output_is_one_message_naming_the_path(tmp_path, monkeypatch, err):
    def refuse(*a, **k):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(tempfiles.os, "open", refuse)
    monkeypatch.setattr(tempfiles.os, "mkdir", refuse)
    for target in (tmp_path / "out.parquet", tmp_path / "folder"):
        with pytest.raises(InputError) as e:
            writers.write(TABLE, target)
        assert str(target) in e.value.message and os.strerror(err) in e.value.message
        assert e.value.hint and e.value.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_proc_output_is_an_input_error():
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc here")
    with pytest.raises(InputError) as e:
        writers.write(TABLE, "/proc/out.parquet")
    assert "/proc/out.parquet" in e.value.message and e.value.hint


def test_write_error_midway_is_an_input_error_and_leaves_nothing(tmp_path, monkeypatch):
    w = writers.open_writer(tmp_path / "o.jsonl", TABLE.schema)

    class Full:
        def write(self, b):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self):
            pass

    w._sink = Full()
    with pytest.raises(InputError, match="No space left"):
        with w:
            w.write(TABLE)
    assert list(tmp_path.iterdir()) == []


# Devices, FIFOs and links as outputs (QA report 1, defects 1, 5 and 12). Device nodes are
# made with os.mknod in tmp_path (root only), never by writing to the real /dev.

PREF = '{"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}\n'


def _cli(*args: str):
    from typer.testing import CliRunner

    from trlprep.cli import app

    return CliRunner().invoke(app, list(args))


@pytest.fixture
def data(tmp_path) -> str:
    (tmp_path / "in.jsonl").write_text(PREF * 3)
    return str(tmp_path / "in.jsonl")


def _null_device(path: Path) -> Path:
    """A character device like /dev/null (major 1, minor 3) inside a test folder."""
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return path


def _is_char_device(path: Path) -> bool:
    return stat.S_ISCHR(os.lstat(path).st_mode)


def _read_fifo(path: Path) -> dict:
    """Read a FIFO to its end in a thread; the result's "data" holds the bytes."""
    import threading

    got: dict = {}

    def read():
        with open(path, "rb") as f:
            got["data"] = f.read()

    t = threading.Thread(target=read, daemon=True)
    t.start()
    got["thread"] = t
    return got


@pytest.mark.parametrize("cmd", ["validate", "report"])
def test_report_to_a_device_is_written_through_it(tmp_path, data, cmd):
    dev = _null_device(tmp_path / "null")
    r = _cli(cmd, data, "-o", str(dev), "--format", "json")  # no --overwrite needed
    assert r.exit_code == 0, r.output
    assert _is_char_device(dev)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "null"]


def test_convert_jsonl_to_a_device_goes_through_it_other_formats_are_refused(tmp_path, data):
    dev = _null_device(tmp_path / "null")
    r = _cli("convert", data, "--to", "lm", "-o", str(dev), "--output-format", "jsonl")
    assert r.exit_code == 0, r.output
    for extra in ([], ["--overwrite"], ["--output-format", "parquet"]):
        r = _cli("convert", data, "--to", "lm", "-o", str(dev), *extra)
        assert r.exit_code == 2 and "is a character device" in r.stderr, r.output
        assert "--output-format jsonl" in r.stderr
    assert _is_char_device(dev)  # never a save_to_disk folder, never renamed over
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "null"]


def test_full_device_is_one_message(tmp_path, data):
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    full = tmp_path / "full"
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # like /dev/full
    r = _cli("convert", data, "--to", "lm", "-o", str(full), "--output-format", "jsonl")
    assert r.exit_code == 2 and "No space left on device" in r.stderr, r.output
    assert _is_char_device(full)


def test_report_to_a_fifo_reaches_its_reader(tmp_path, data):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = _read_fifo(fifo)
    r = _cli("validate", data, "-o", str(fifo), "--format", "json")
    got["thread"].join(10)
    assert r.exit_code == 0, r.output
    assert json.loads(got["data"])["valid"] is True
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_jsonl_to_a_fifo_reaches_its_reader_parquet_is_refused(tmp_path, data):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = _read_fifo(fifo)
    r = _cli("convert", data, "--to", "lm", "-o", str(fifo), "--output-format", "jsonl")
    got["thread"].join(10)
    assert r.exit_code == 0, r.output
    assert [json.loads(x) for x in got["data"].splitlines()] == [{"text": "The sky is blue."}] * 3
    with pytest.raises(UsageError, match="Parquet file"):  # no reader: refused before opening
        writers.write(TABLE, fifo, output_format="parquet")
    for shards in (f"{fifo}/", trlprep.ShardedOutput(fifo, num_shards=2)):
        with pytest.raises(UsageError, match="FIFO"):
            writers.ShardWriter(shards, TABLE.schema, "parquet")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_own_descriptor_is_written_through_in_order(tmp_path):
    """`-o /dev/stdout` on a redirected stdout: the report lands after what was printed
    before it and before what is printed after it (not at offset 0 of a new opening)."""
    path = tmp_path / "log.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, b"before\n")
        writers.write_text(f"/dev/fd/{fd}", "report\n")
        os.write(fd, b"after\n")
    finally:
        os.close(fd)
    assert path.read_text() == "before\nreport\nafter\n"


def test_a_link_output_writes_its_target_and_stays_a_link(tmp_path, data):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to("real.json")
    r = _cli("validate", data, "-o", str(link))
    assert r.exit_code == 2 and "already exists" in r.stderr and "a link to" in r.stderr
    r = _cli("validate", data, "-o", str(link), "--overwrite")
    assert r.exit_code == 0, r.output
    assert link.is_symlink() and json.loads(real.read_text())["valid"] is True
    dangling = tmp_path / "out.jsonl"
    dangling.symlink_to("made.jsonl")  # a link to a file still to be made
    writers.write(TABLE, dangling)
    assert dangling.is_symlink() and (tmp_path / "made.jsonl").is_file()
    folder = tmp_path / "ds_link"
    folder.symlink_to("ds")
    writers.write(TABLE, folder)
    writers.write(TABLE, folder, overwrite=True)
    assert folder.is_symlink() and (tmp_path / "ds").is_dir()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_link_loop_is_a_usage_error(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(UsageError, match="a loop"):
        writers.write_text(tmp_path / "a", "x")


def test_reports_need_overwrite_like_every_output(tmp_path, data):
    for cmd in ("validate", "report"):
        out = tmp_path / f"{cmd}.json"
        out.write_text("keep me")
        r = _cli(cmd, data, "-o", str(out))
        assert r.exit_code == 2 and "--overwrite" in r.stderr, r.output
        assert out.read_text() == "keep me"
        r = _cli(cmd, data, "-o", str(out), "--overwrite")
        assert r.exit_code == 0, r.output
        assert json.loads(out.read_text())


@pytest.mark.parametrize("bad", ["", " ", ".", "./", "..", "sub/.."])
def test_an_output_without_a_name_is_a_usage_error(tmp_path, monkeypatch, data, bad):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    for cmd in (["convert", data, "--to", "lm"], ["validate", data], ["report", data]):
        r = _cli(*cmd, "-o", bad, "--overwrite")
        assert r.exit_code == 2, r.output
        assert "Error" not in r.stderr and "traceback" not in r.stderr
        assert ("empty" if not bad.strip() else "not an output") in r.stderr
    with pytest.raises(UsageError) as info:
        writers.write(TABLE, bad)
    assert "-o" not in info.value.hint  # said alike to the CLI and the Python API


def test_dash_output_is_refused_not_written_as_a_file_named_dash(tmp_path, monkeypatch, data):
    monkeypatch.chdir(tmp_path)
    commands = (
        ["convert", data, "--to", "lm", "-o", "-"],
        ["validate", data, "-o", "-"],
        ["report", data, "-o", "-"],
        ["convert", data, "--to", "lm", "-o", "out.jsonl", "--on-error", "skip", "--rejects", "-"],
    )
    for cmd in commands:
        r = _cli(*cmd)
        assert r.exit_code == 2, r.output
        assert "does not take `-` for standard output" in r.stderr
        assert "standard output is /dev/stdout" in r.stderr
        assert not (tmp_path / "-").exists()
        assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize(
    "name, what",
    [
        ("out.json", "JSON (.json)"),
        ("out.csv", "CSV"),
        ("o.tsv.gz", "CSV"),
        ("o.txt", "plain text"),
    ],
)
def test_an_input_only_suffix_says_so_and_names_jsonl(tmp_path, data, name, what):
    r = _cli("convert", data, "--to", "lm", "-o", str(tmp_path / name))
    assert r.exit_code == 2, r.output
    assert f"{what} is an input format only" in r.stderr
    assert "hint: name it .jsonl" in r.stderr
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize(
    "output, rejects",
    [
        ("train.v1.jsonl", "train.v1.rejects.jsonl"),
        ("train.v1.jsonl.gz", "train.v1.rejects.jsonl"),
        ("out.parquet", "out.rejects.jsonl"),
        ("a.b.arrow", "a.b.rejects.jsonl"),
        ("out", "out.rejects.jsonl"),
        ("out/", "out.rejects.jsonl"),
        ("v1.2", "v1.2.rejects.jsonl"),
        ("good.rejects.jsonl", "good.rejects.rejects.jsonl"),
    ],
)
def test_default_rejects_name_replaces_only_the_format_suffix(output, rejects):
    assert default_rejects_path(f"d/{output}") == f"d/{rejects}"


def test_outputs_with_dotted_names_keep_their_own_rejects(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("in.jsonl").write_text(
        '{"prompt": "a", "completion": "b"}\n{"prompt": "c", "completion": 3}\n'
    )
    for out in ("train.v1.jsonl", "train.v2.jsonl"):
        r = _cli("convert", "in.jsonl", "--to", "lm", "-o", out, "--on-error", "skip")
        assert r.exit_code == 0, r.output
    assert Path("train.v1.rejects.jsonl").is_file() and Path("train.v2.rejects.jsonl").is_file()


def test_rejects_that_are_the_output_say_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("in.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    args = ["convert", "in.jsonl", "--to", "lm", "--on-error", "skip"]
    r = _cli(*args, "-o", "o.jsonl", "--rejects", "o.jsonl")
    assert r.exit_code == 2 and "the rejects file is the output (-o o.jsonl)" in r.stderr
    assert "is the input" not in r.stderr
    r = _cli(*args, "-o", "shards/", "--rejects", "shards/r.jsonl")
    assert r.exit_code == 2 and "inside the output folder" in r.stderr
    assert sorted(os.listdir()) == ["in.jsonl"]


def test_a_stream_output_needs_a_named_rejects_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkfifo("pipe")
    Path("in.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    args = ["convert", "in.jsonl", "--to", "lm", "-o", "pipe", "--output-format", "jsonl"]
    r = _cli(*args, "--on-error", "skip")
    assert r.exit_code == 2 and "--rejects FILE" in r.stderr, r.output
    assert sorted(os.listdir()) == ["in.jsonl", "pipe"]
