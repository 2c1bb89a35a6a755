"""Inputs and outputs a new user tries first: a `.tsv` file is read as tab-separated CSV, a
CSV whose rows hold tabs says so, and `trlprep ... | head` ends quietly (exit 141, as a
shell says of SIGPIPE) instead of an `error: BrokenPipeError` or the exit 1 of invalid data."""

from __future__ import annotations

import errno
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.io.tempfiles import cannot_write

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TSV = "prompt\tchosen\trejected\nThe sky is\t blue, clear.\t green.\nGrass is\t green.\t red.\n"


@pytest.mark.parametrize("name", ["d.tsv", "d.tsv.gz", "folder/a.tsv"])
def test_tsv_files_are_read_with_tabs_between_fields(tmp_path, name):
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    body = TSV.encode()
    path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
    given = path.parent if name.startswith("folder/") else path
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(app, ["convert", str(given), "--to", "unpaired", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "preference -> unpaired-preference (standard): 2 rows in, 0 rejected" in res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0] == {"prompt": "The sky is", "completion": " blue, clear.", "label": True}


def test_a_csv_holding_tabs_is_told_to_be_named_tsv(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(TSV)
    res = CliRunner().invoke(app, ["detect", str(path)])
    assert res.exit_code == 1
    assert "d.csv:2: expected 1 field (as the header), got 2" in res.stderr
    assert "hint: tab-separated? name the file .tsv (or .tsv.gz)" in res.stderr


def _run_into_closed_pipe(*argv: str, stderr_too: bool = False) -> subprocess.CompletedProcess:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write, as `| head` after its lines
    try:
        return subprocess.run(
            [sys.executable, "-m", "trlprep", *argv],
            stdout=write_end,
            stderr=write_end if stderr_too else subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "argv",
    [
        ["detect", str(EXAMPLES / "preference.jsonl")],  # plain text lines
        ["validate", str(EXAMPLES / "preference.jsonl")],  # rich (would exit 1: invalid data)
        ["graph"],  # a rich table
    ],
)
def test_a_closed_stdout_pipe_ends_quietly_with_141(argv):
    res = _run_into_closed_pipe(*argv)
    assert res.returncode == 141, res.stderr
    assert res.stderr == ""


def test_version_into_a_closed_pipe_ends_quietly():
    res = _run_into_closed_pipe("--version")
    assert res.returncode == 141
    assert "Traceback" not in res.stderr


def test_an_error_into_a_closed_pipe_keeps_its_exit_code():
    res = _run_into_closed_pipe("detect", "no-such-file.jsonl", stderr_too=True)
    assert res.returncode == 2  # `2>&1 | head`: the usage error's code, not click's 1


def test_an_output_pipe_closed_early_says_the_output_is_cut_short():
    e = cannot_write("/dev/stdout", BrokenPipeError(errno.EPIPE, "Broken pipe"))
    assert "/dev/stdout: cannot write the output: Broken pipe" in str(e)
    assert "stopped before the end" in e.hint and "does not take new files" not in e.hint


@pytest.mark.parametrize("name", ["d.csv", "d.json", "d.tsv"])
def test_an_empty_text_file_is_a_dataset_without_rows_like_an_empty_jsonl(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    res = CliRunner().invoke(app, ["detect", str(path)])
    assert res.exit_code == 1
    assert f"{name}: the dataset has no rows" in res.stderr
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(
        app, ["convert", str(path), "--to", "pc", "-o", str(out), "--allow-empty"]
    )
    assert res.exit_code == 0, res.output
    assert "prompt-completion: 0 rows in, 0 rejected, 0 converted -> 0 rows out" in res.output
    assert out.exists() and out.read_text() == ""


@pytest.mark.parametrize("name", ["d.parquet", "d.arrow"])
def test_an_empty_binary_file_says_it_is_empty(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    res = CliRunner().invoke(app, ["detect", str(path)])
    assert res.exit_code == 2
    assert "hint: the file is empty (0 bytes): an interrupted write or download?" in res.stderr


def test_a_folder_holding_other_files_is_refused_without_advising_overwrite(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.md").write_text("mine")
    data = str(EXAMPLES / "preference.jsonl")
    res = CliRunner().invoke(app, ["convert", data, "--to", "unpaired", "-o", str(folder)])
    assert res.exit_code == 2
    assert "the folder holds more than data files (notes.md); it is not replaced" in res.stderr
    assert "--overwrite" not in res.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["notes.md"]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_a_pandas_index_column_keeps_one_name_in_every_output(tmp_path, suffix):
    import pyarrow.parquet as pq

    path = tmp_path / "d.csv"  # pandas' `to_csv` without index=False: a nameless first column
    path.write_text(",prompt,completion\n0,The sky is, blue.\n1,Grass is, green.\n")
    res = CliRunner().invoke(app, ["detect", str(path)])
    assert "extra columns  Unnamed: 0" in res.output
    out = tmp_path / f"out{suffix}"
    res = CliRunner().invoke(app, ["convert", str(path), "--to", "lm", "-o", str(out)])
    assert res.exit_code == 0, res.output
    if suffix == ".parquet":
        names = pq.read_table(out).column_names
    else:
        names = list(json.loads(out.read_text().splitlines()[0]))
    assert names == ["Unnamed: 0", "text"]


def test_an_xz_file_named_xz_says_it_is_xz(tmp_path):
    import lzma

    path = tmp_path / "d.jsonl.xz"
    path.write_bytes(lzma.compress(b'{"text": "a"}\n'))
    res = CliRunner().invoke(app, ["detect", str(path)])
    assert res.exit_code == 2
    assert "the file is xz-compressed, which trlprep does not read" in res.stderr
    assert "cannot tell the file format from its name" not in res.stderr


def test_standard_input_as_dash_says_to_save_it_to_a_file():
    res = CliRunner().invoke(app, ["detect", "-"])
    assert res.exit_code == 2
    assert "standard input (-) is not read" in res.stderr
    assert "save it to a file first" in res.stderr


def test_a_named_pipe_as_input_fails_at_once_instead_of_hanging(tmp_path):
    fifo = tmp_path / "pipe.jsonl"  # as `<(zcat data.jsonl.gz)` gives: read once only
    os.mkfifo(fifo)
    res = subprocess.run(
        [sys.executable, "-m", "trlprep", "detect", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2, res.stderr
    assert "a pipe or device cannot be read" in res.stderr
    assert "save it to a file first" in res.stderr


@pytest.mark.parametrize("command", ["detect", "validate"])
def test_a_model_folder_given_as_data_says_where_it_goes(command):
    res = CliRunner().invoke(app, [command, str(EXAMPLES / "tiny-chat-model")])
    assert res.exit_code == 2
    assert "a model or tokenizer folder (tokenizer_config.json" in res.stderr
    assert "`trlprep train --model`); the data is another path" in res.stderr


@pytest.mark.parametrize("name", ["out.jsonl", "out.parquet"])
def test_shards_asked_for_a_file_name_are_refused_before_any_work(tmp_path, name):
    out = tmp_path / name
    data = str(EXAMPLES / "preference.jsonl")
    res = CliRunner().invoke(
        app, ["convert", data, "--to", "unpaired", "-o", str(out), "--num-shards", "2"]
    )
    assert res.exit_code == 2
    assert "write a folder of shards, and this is a" in res.stderr
    assert f"-o {tmp_path / 'out'}/" in res.stderr
    assert "warning: unpairing" not in res.stderr  # refused before converting
    assert not out.exists()
