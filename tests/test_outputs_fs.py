"""Outputs on the file system: permissions, recognisable temporary names, stale leftovers,
unwritable places (issue 13: defects 2, 3 and 5)."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from trlprep.errors import InputError
from trlprep.importers.run import RejectsWriter
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
