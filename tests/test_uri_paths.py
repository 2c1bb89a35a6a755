"""A URI (`s3://`, `file://`) is never taken for a relative local path. The local engine
refuses a URI input or output (exit 2), saying that `--engine ray` reads and writes object
storage; `--tools` and `--chat-template` are read from local paths only; a rejects file
named by a URI (beside an object-storage output, or `--rejects URI`) is written there all
or nothing (`importers.rejectsfile`, `io.remote.put_file`). Here with `file://` URIs, which
need no network."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.errors import UsageError
from trlprep.importers.rejects import REJECTS_SCHEMA
from trlprep.importers.rejectsfile import (
    RejectsWriter,
    check_apart,
    default_rejects_path,
    stale_rejects_note,
)
from trlprep.io.remote import PREFIX, is_uri

ROWS = [
    {"prompt": "a", "chosen": "b", "rejected": "c"},
    {"prompt": "d", "chosen": "e", "rejected": 5},
    {"prompt": "g", "chosen": "h", "rejected": "i"},
]


def _cli(*args: object) -> tuple[int, str]:
    res = CliRunner().invoke(app, [str(a) for a in args])
    return res.exit_code, res.output


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def test_is_uri():
    assert is_uri("s3://b/k") and is_uri("file:///tmp/x") and is_uri("gs://b/")
    assert not is_uri("data.jsonl") and not is_uri("a/b://c") and not is_uri("C:\\x")
    assert not is_uri("org/name") and not is_uri("/tmp/s3://x")


@pytest.mark.parametrize(
    ("output", "beside"),
    [
        ("s3://b/x.parquet", "s3://b/x.rejects.jsonl"),
        ("s3://b/out/", "s3://b/out.rejects.jsonl"),
        ("file:///tmp/remo/y.jsonl.gz", "file:///tmp/remo/y.rejects.jsonl"),
        ("gs://b/d/train.v1.jsonl", "gs://b/d/train.v1.rejects.jsonl"),
    ],
)
def test_default_rejects_path_of_a_uri_stays_a_uri(output, beside):
    assert default_rejects_path(output) == beside


def test_local_engine_refuses_uri_inputs(tmp_path, monkeypatch):
    """Each command names the URI and says that --engine ray reads it (exit 2), never
    `no such file or folder` for a path it took as relative."""
    monkeypatch.chdir(tmp_path)
    uri = (Path(__file__).parent.parent / "examples" / "preference.jsonl").as_uri()
    for args in (
        ["detect", uri],
        ["validate", uri],
        ["report", uri],
        ["import", uri, "--from", "sharegpt", "-o", "out.jsonl"],
        ["convert", uri, "--to", "unpaired", "-o", "out.jsonl"],
    ):
        code, said = _cli(*args)
        assert code == 2, (args, said)
        assert f"{uri}: the input is an object-storage URI" in said, said
        assert "`convert` and `validate` read and write object storage with --engine ray" in said
        assert "trlprep[ray]" in said
        assert "no such file" not in said
    assert not (tmp_path / "out.jsonl").exists()


def test_local_engine_refuses_a_uri_output_before_reading(tmp_path, bad, monkeypatch):
    """The brief's case: not `create it first (mkdir -p CWD/file:/...)`; nothing written."""
    monkeypatch.chdir(tmp_path)
    out = (tmp_path / "remo" / "y.parquet").as_uri()
    code, said = _cli("convert", bad, "--to", "unpaired", "-o", out, "--on-error", "skip")
    assert code == 2, said
    assert f"{out}: the output is an object-storage URI" in said and "--engine ray" in said
    assert "mkdir" not in said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]


def test_tools_and_chat_template_uris_are_refused(tmp_path, bad):
    code, said = _cli(
        "convert", bad, "--to", "unpaired", "-o", tmp_path / "o.jsonl", "--tools", "s3://b/t.json"
    )
    assert code == 2 and "s3://b/t.json: the --tools file is an object-storage URI" in said
    from trlprep.templates.sources import load_template

    with pytest.raises(UsageError, match="the chat template is an object-storage URI"):
        load_template("s3://b/chat.jinja")


def test_local_engine_writes_a_uri_rejects_file(tmp_path, bad):
    """`--rejects URI` with a local output: the rows' records put there whole."""
    rejects = tmp_path / "remo" / "r.jsonl"
    args = ["--to", "unpaired", "-o", tmp_path / "o.parquet", "--on-error", "skip"]
    code, said = _cli("convert", bad, *args, "--rejects", rejects.as_uri())
    assert code == 0, said
    assert f"1 rejected row -> {rejects.as_uri()}" in said
    (record,) = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert record["line"] == 2 and record["record"]["rejected"] == 5
    assert os.listdir(rejects.parent) == ["r.jsonl"]  # no staging prefix left


def _table():
    import pyarrow as pa

    row = {"row": 1, "line": 2, "stage": "read", "reason": "bad", "record": "{}"}
    return pa.Table.from_pylist([row], schema=REJECTS_SCHEMA)


def test_uri_rejects_writer_all_or_nothing(tmp_path):
    folder = tmp_path / "b"
    uri = f"{folder.as_uri()}/x.rejects.jsonl"
    w = RejectsWriter(uri, explicit=False, output=f"{folder.as_uri()}/x.parquet")
    w.write(_table())
    w.abort()  # a failure or SIGTERM: nothing there, no staging prefix, no local copy
    assert not folder.exists() or not any(folder.iterdir())
    assert w._local is None
    w = RejectsWriter(uri, explicit=False)
    w.write(_table())
    assert w.commit() == "written"
    assert json.loads((folder / "x.rejects.jsonl").read_text())["reason"] == "bad"
    assert [p.name for p in folder.iterdir()] == ["x.rejects.jsonl"]
    with pytest.raises(UsageError, match="exists"):
        RejectsWriter(uri)
    note = stale_rejects_note(f"{folder.as_uri()}/x.parquet")
    assert note and note.startswith(f"{uri} is an earlier run's rejects file")
    w = RejectsWriter(uri, explicit=False, overwrite=True)  # nothing rejected: removed
    assert w.commit() == "removed" and not (folder / "x.rejects.jsonl").exists()


def test_uri_rejects_failed_put_leaves_nothing(tmp_path, monkeypatch):
    """A move into place that fails removes the staged copy and leaves the old file."""
    from trlprep.io import remote

    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "r.jsonl").write_text("old\n")

    def failing(fs, src, dest):
        raise OSError("no space left")

    monkeypatch.setattr(remote, "move", failing)
    w = RejectsWriter(f"{folder.as_uri()}/r.jsonl", overwrite=True)
    w.write(_table())
    with pytest.raises(Exception, match="no space left"):
        w.commit()
    assert sorted(os.listdir(folder)) == ["r.jsonl"]
    assert (folder / "r.jsonl").read_text() == "old\n"
    assert not any(n.startswith(PREFIX) for n in os.listdir(folder))


def test_uri_rejects_apart_from_the_output():
    with pytest.raises(UsageError, match="is the output"):
        check_apart("s3://b/x.parquet", "s3://b/x.parquet")
    with pytest.raises(UsageError, match="inside the output folder"):
        check_apart("s3://b/out/r.jsonl", "s3://b/out/")
    check_apart("s3://b/out.rejects.jsonl", "s3://b/out/")
    check_apart("r.jsonl", "s3://b/r.jsonl")  # a local file and a URI are apart
