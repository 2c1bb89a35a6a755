"""`--from LAYOUT` that does not fit the data: the message says what the data looks like and
the exit code is a usage error's (2), as for `--from TYPE`; `report --from` whose import
refuses every row says so, not "the dataset has no rows"."""

from __future__ import annotations

import json

import pytest

import trlprep
from trlprep.errors import DataError, UsageError

SHAREGPT = [
    {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
    {"conversations": [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]},
]
PREF = [
    {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."},
    {"prompt": "Water is", "chosen": " wet.", "rejected": " dry."},
]
OTHER = [{"question": "q", "model_answer": "a", "id": 1}]


def _cli(*args: str):
    from typer.testing import CliRunner

    from trlprep.cli import app

    return CliRunner().invoke(app, list(args))


def _write(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.mark.parametrize("cmd", ["convert", "validate", "import"])
def test_from_another_layout_names_the_layout_the_data_is(tmp_path, cmd):
    data = _write(tmp_path / "chat.jsonl", SHAREGPT)
    out = ["-o", str(tmp_path / "out.jsonl")] if cmd != "validate" else []
    to = ["--to", "pc"] if cmd == "convert" else []
    r = _cli(cmd, data, "--from", "alpaca", *to, *out)
    assert r.exit_code == 2, r.output
    assert "alpaca data needs a column 'instruction'" in r.stderr
    assert "the data looks like the sharegpt layout" in r.stderr
    assert "hint: pass --from sharegpt, or rename a column with --map instruction=NAME" in r.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_from_a_layout_on_data_of_a_trl_type_says_to_drop_from(tmp_path):
    data = _write(tmp_path / "pref.jsonl", PREF)
    r = _cli("convert", data, "--from", "alpaca", "--to", "unpaired", "-o", str(tmp_path / "o"))
    assert r.exit_code == 2, r.output
    assert "the data looks like preference (standard)" in r.stderr
    assert "drop --from to read it as it is" in r.stderr


def test_data_of_no_known_shape_keeps_the_data_error():
    with pytest.raises(DataError) as info:
        trlprep.convert(OTHER, "pc", from_="alpaca")
    assert not isinstance(info.value, UsageError)
    assert "or pick another from_" in info.value.hint


def test_api_names_from_keyword():
    with pytest.raises(UsageError) as info:
        trlprep.convert(SHAREGPT, "pc", from_="alpaca")
    assert info.value.hint.startswith("pass from_='sharegpt'")


def test_report_from_a_layout_refusing_every_row_says_so(tmp_path):
    data = _write(tmp_path / "pref.jsonl", PREF)
    r = _cli("report", data, "--from", "hh")
    assert r.exit_code == 1, r.output
    assert "has no rows" not in r.stderr
    assert "no row could be imported as the hh layout: the input's 2 rows were all refused" in (
        r.stderr
    )
    assert "(line 1: chosen: holds no" in r.stderr
    with pytest.raises(DataError, match="the input's 2 rows were all refused"):
        trlprep.report(PREF, from_="hh")
