"""The `--coerce` note counts the values read as booleans in the rows kept: a row a later
stage rejects (a stepwise `["true", null]`, refused by validation or by the import) is
not counted, in the CLI (plain and `--map labels=...`) and the Python API alike."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

import trlprep
from trlprep.cli import app
from trlprep.io.labels import READ_AS

# 3 values are read as booleans in the rows kept ("true", "false", 1); row 2's "true" is
# read too, but the row is rejected (a null label)
ROWS = [
    {"prompt": "p1", "completions": ["a", "b"], "labels": ["true", "false"]},
    {"prompt": "p2", "completions": ["a", "b"], "labels": ["true", None]},
    {"prompt": "p3", "completions": ["a"], "labels": [1]},
]


def _write(path: Path, column: str = "labels") -> Path:
    rows = [{**{k: v for k, v in r.items() if k != "labels"}, column: r["labels"]} for r in ROWS]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("column", "args", "stage"),
    [("labels", (), "validation"), ("ok", ("--map", "labels=ok"), "import")],
)
def test_cli_note_counts_only_kept_rows(tmp_path, column, args, stage):
    src, out = _write(tmp_path / "in.jsonl", column), tmp_path / "out.jsonl"
    res = CliRunner().invoke(
        app, ["convert", str(src), "-o", str(out), "--coerce", "--on-error", "skip", *args]
    )
    assert res.exit_code == 0, res.output
    assert "3 rows in, 1 rejected, 2 converted" in res.output
    assert f"1 x {stage}:" in res.output and "(e.g. line 2)" in res.output
    said = [x for x in res.output.splitlines() if "read as booleans" in x]
    assert said == [f"note: column {column!r}: 3 values ({READ_AS}) read as booleans (--coerce)"]
    labels = [json.loads(x)["labels"] for x in out.read_text().splitlines()]
    assert labels == [[True, False], [True]]


def test_python_api_note_counts_only_kept_rows(tmp_path):
    src = _write(tmp_path / "in.jsonl")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = trlprep.convert(str(src), coerce=True, on_error="skip")
    assert out.num_rows == 2
    said = [str(w.message) for w in caught if "read as booleans" in str(w.message)]
    assert said == [
        'column \'labels\': 3 values (0/1 and "true"/"false") read as booleans (coerce)'
    ]
