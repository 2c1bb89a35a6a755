"""`trlprep report --help` said "Dataset file, save_to_disk folder or Hub id" though report
reads a folder of files or a glob as the other commands do: the help says so now."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from trlprep.cli import app

ROW = {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}


def test_report_help_names_folders_and_globs():
    res = CliRunner().invoke(app, ["report", "--help"], terminal_width=200)
    assert res.exit_code == 0
    assert "a folder of files, a glob" in " ".join(res.output.split())


def test_report_reads_the_folder_and_the_glob_its_help_names(tmp_path):
    for name in ("a.jsonl", "b.jsonl"):
        (tmp_path / name).write_text(json.dumps(ROW) + "\n" + json.dumps(ROW) + "\n")
    for path in (tmp_path, tmp_path / "*.jsonl"):
        res = CliRunner().invoke(app, ["report", str(path)])
        assert res.exit_code == 0, res.output
        assert "preference (standard), 4 rows" in res.output
