"""The Python API does what the CLI does with broken JSON Lines lines (`on_bad_lines`), empty
inputs (`allow_empty`) and says its returned reports' hints and its warnings with keywords."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from realdata.support import counts, rows_of, run, sample

import trlprep
from trlprep.importers import RejectedRowsWarning, import_dataset

HH = sample("hh_rlhf")
KTO = sample("kto_demo")


@pytest.fixture
def hh_bad(tmp_path):
    """Six real HH rows with a cut-off line at line 4."""
    lines = HH.read_text(encoding="utf-8").splitlines()[:6]
    lines.insert(3, lines[3][:40])
    path = tmp_path / "hh_bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def kto01(tmp_path):
    """Six real KTO rows with labels 0/1 and a broken line at line 3."""
    rows = json.loads(KTO.read_text(encoding="utf-8"))[:6]
    lines = [json.dumps({**r, "label": int(r["label"] in (True, "true"))}) for r in rows]
    lines.insert(2, '{"messages": [')
    path = tmp_path / "kto01.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _with_warnings(call):
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        result = call()
    return result, said


def _skipped(said, line):
    """The one warning of the skipped lines: count, first line, and the rejects it holds."""
    bad = [w.message for w in said if "bad line skipped" in str(w.message)]
    assert len(bad) == 1, [str(w.message) for w in said]
    assert str(bad[0]).startswith(f"1 bad line skipped (line {line}: invalid JSON")
    assert isinstance(bad[0], RejectedRowsWarning)
    rejects = bad[0].rejects.to_pylist()
    assert [(r["line"], r["stage"], r["row"]) for r in rejects] == [(line, "read", None)]
    return rejects


def test_convert_skips_a_broken_hh_line_as_the_cli_does(hh_bad, tmp_path):
    out, said = _with_warnings(
        lambda: trlprep.convert(hh_bad, "preference", from_="hh", on_bad_lines="skip")
    )
    _skipped(said, 4)
    assert out.num_rows == 6  # 7 lines = 6 rows + 1 skipped
    assert out.column("chosen")[0].as_py()[-1]["role"] == "assistant"
    cli = run("convert", hh_bad, "--from", "hh", "--to", "preference", "--on-bad-lines", "skip",
              "-o", tmp_path / "o.jsonl")  # fmt: skip
    assert cli.exit_code == 0 and counts(cli.output) == (6, 0, 6, 6)
    assert "1 bad line skipped (line 4" in cli.output and "on_bad_lines" not in cli.output
    assert rows_of(tmp_path / "o.jsonl") == out.to_pylist()


def test_import_dataset_and_read_skip_a_broken_hh_line(hh_bad):
    table, said = _with_warnings(lambda: import_dataset(hh_bad, "hh", on_bad_lines="skip"))
    _skipped(said, 4)
    assert table.num_rows == 6
    src, said = _with_warnings(lambda: trlprep.read(hh_bad, on_bad_lines="skip"))
    _skipped(said, 4)
    assert src.lines.tolist() == [1, 2, 3, 5, 6, 7]
    from trlprep.io.jsonl import BadLines

    bad = BadLines()  # read's own keyword keeps working, its caller holding the lines
    src, said = _with_warnings(lambda: trlprep.read(hh_bad, bad_lines=bad))
    assert bad.lines == [4] and src.table.num_rows == 6 and not said


def test_detect_lists_the_skipped_line_as_a_problem(hh_bad):
    det = trlprep.detect(hh_bad, on_bad_lines="skip")
    assert det.num_rows == 6
    assert [(p.code, p.lines) for p in det.problems] == [("invalid-line", [4])]
    cli = run("detect", hh_bad, "--on-bad-lines", "skip")
    assert "problem [invalid-line]" in cli.output and "(e.g. line 4)" in cli.output


def test_a_wrong_on_bad_lines_value_is_refused_in_python_words(hh_bad):
    for call in (
        lambda: trlprep.convert(hh_bad, "preference", from_="hh", on_bad_lines="drop"),
        lambda: trlprep.detect(hh_bad, on_bad_lines="drop"),
        lambda: import_dataset(hh_bad, "hh", on_bad_lines="drop"),
    ):
        with pytest.raises(trlprep.UsageError, match="unknown on_bad_lines 'drop'"):
            call()


def test_an_empty_input_needs_allow_empty(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    for call in (
        lambda: trlprep.detect(path),
        lambda: import_dataset(path, "hh"),
        lambda: trlprep.convert(path, "unpaired"),  # was: "cannot tell the dataset type"
        lambda: trlprep.convert([], "unpaired"),
    ):
        with pytest.raises(trlprep.DataError) as info:
            call()
        assert info.value.hint.endswith("pass allow_empty=True to accept an empty dataset")
    assert trlprep.detect(path, allow_empty=True).num_rows == 0
    assert import_dataset(path, "hh", allow_empty=True).num_rows == 0
    # as `trlprep convert --allow-empty` writes it: no rows, the columns of the type asked for
    out = trlprep.convert(path, "unpaired", allow_empty=True)
    assert (out.num_rows, out.column_names) == (0, ["prompt", "completion", "label"])
    assert trlprep.convert([], "pc", allow_empty=True) == []
    with pytest.raises(trlprep.UsageError) as info:
        trlprep.convert(path, allow_empty=True)
    assert info.value.hint == "with allow_empty=True, pass to=TYPE (the empty result's columns)"
    cli = run("detect", path)
    assert cli.exit_code == 1 and "--allow-empty" in cli.output


def test_kto_0_1_labels_skip_a_line_and_coerce(kto01):
    out, said = _with_warnings(
        lambda: trlprep.convert(kto01, "unpaired", coerce=True, on_bad_lines="skip")
    )
    _skipped(said, 3)
    assert out.column("label").to_pylist() == [
        r["label"] in (True, "true") for r in json.loads(KTO.read_text())[:6]
    ]


def test_a_returned_report_says_keywords_the_cli_flags(kto01, tmp_path):
    report = trlprep.validate(kto01, on_bad_lines="skip")
    assert [i.rule for i in report.issues] == ["invalid-line"]
    said = " ".join(report.notes)
    assert "coerce=True reads them as booleans" in said and "--coerce" not in said
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    (issue,) = trlprep.validate(empty).issues
    assert (
        issue.hint == "check the file (and split); pass allow_empty=True to accept an empty dataset"
    )
    cli = run("validate", empty)  # the CLI keeps its flags
    assert "pass --allow-empty to accept" in cli.output
    from trlprep.api import validate  # the internal function too

    assert "--allow-empty" in validate(empty).issues[0].hint


def test_warnings_of_the_api_say_keywords(tmp_path):
    # real Alpaca rows, one with LLaMA-Factory's `history`: standard format cannot hold it
    rows = json.loads(sample("alpaca_demo").read_text(encoding="utf-8"))[:4]
    rows[1]["history"] = [[rows[0]["instruction"], rows[0]["output"]]]
    path = tmp_path / "alpaca.jsonl"
    path.write_text("".join(json.dumps({"history": [], **r}) + "\n" for r in rows))
    why = "standard format cannot hold (import with {} to keep them)"
    for call in (
        lambda: trlprep.convert(path, "pc", from_="alpaca", on_error="skip"),
        lambda: import_dataset(path, "alpaca", on_error="skip"),
    ):
        out, said = _with_warnings(call)
        assert out.num_rows == 3
        (left_out,) = [str(w.message) for w in said if "left out" in str(w.message)]
        assert why.format("conversational=True") in left_out, left_out
    cli = run("convert", path, "--from", "alpaca", "--to", "pc", "--on-error", "skip",
              "-o", tmp_path / "o.jsonl")  # fmt: skip
    assert counts(cli.output) == (4, 1, 3, 3) and why.format("--conversational") in cli.output


def test_convert_to_unpaired_warns_of_its_assumption_as_the_cli_does(tmp_path):
    """Unpairing labels every chosen completion good and every rejected one bad: the CLI
    warned of it, `trlprep.convert` said nothing (the same ConversionWarning now)."""
    from trlprep.converters import UNPAIR_WARNING

    import trlprep

    data = str(Path(__file__).resolve().parents[1] / "examples" / "preference.jsonl")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = trlprep.convert(data, to="unpaired")
    assert out.num_rows == 16
    said = [str(w.message) for w in caught if issubclass(w.category, trlprep.ConversionWarning)]
    assert said == [UNPAIR_WARNING]
    res = run("convert", data, "--to", "unpaired", "-o", tmp_path / "o.jsonl")
    assert res.exit_code == 0 and f"warning: {UNPAIR_WARNING}" in " ".join(res.output.split())
    with warnings.catch_warnings(record=True) as caught:  # no unpairing: no such warning
        warnings.simplefilter("always")
        trlprep.convert(data, to="preference-implicit")
    assert not [w for w in caught if UNPAIR_WARNING in str(w.message)]


def test_a_pair_s_margin_left_out_by_a_conversion_is_said():
    """A `margin` (reward modelling's) measures a pair: converting pairs to unpaired rows or
    to prompt-completion leaves it out, with a warning (it went silently)."""
    rows = [{"prompt": "Q", "chosen": " yes", "rejected": " no", "margin": 0.5}]
    for to in ("unpaired", "prompt-completion"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = trlprep.convert(rows, to=to)
        assert "margin" not in out[0]
        said = [str(w.message) for w in caught if "margin" in str(w.message)]
        name = trlprep.get_type(to).name
        assert said == [
            f"column 'margin' left out: it measures a pair, and {name} rows are no pairs"
        ]
    with warnings.catch_warnings(record=True) as caught:  # kept where pairs stay pairs
        warnings.simplefilter("always")
        out = trlprep.convert(rows, to="preference-implicit")
    assert out[0]["margin"] == 0.5 and not [w for w in caught if "margin" in str(w.message)]
