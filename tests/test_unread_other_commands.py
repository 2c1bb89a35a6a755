"""`validate` and `report` say a layout option the import does not read (and `report` a
`--split-mode` for data that holds no implicit pairs of text), one warning each, as convert
says them (`test_unread_options.py`): `validate --from alpaca --pairing all-pairs` once
checked the rows as without it and said nothing. Options left at their defaults unwritten
are never said; `detect` takes no layout option at all."""

from __future__ import annotations

import warnings

from realdata.support import run, sample

import trlprep
from trlprep.conversion.unread import UnreadOptionWarning

ALPACA = sample("alpaca_demo")
DPO = sample("dpo_demo")
HH = sample("hh_rlhf")
PRM = sample("prm800k_openr")


def _unread(output: str, doing: str) -> list[str]:
    return [line for line in output.splitlines() if f"is read by no step of this {doing}" in line]


def _caught(call) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in caught if w.category is UnreadOptionWarning]


def test_validate_says_a_layout_option_the_layout_does_not_read():
    res = run("validate", ALPACA, "--from", "alpaca", "--pairing", "all-pairs", "--neutral", "drop")
    said = _unread(res.output, "validation")
    assert res.exit_code == 0 and len(said) == 2, res.output
    assert said[0].startswith("warning: --pairing all-pairs is read by no step")
    assert "alpaca_en_demo.json: the alpaca layout" in said[0]
    assert said[0].endswith("oasst-ranked layouts (--from ranked), without --threshold")
    assert said[1].endswith("--neutral applies to the prm800k layout (--from prm800k)")


def test_validate_says_nothing_of_options_read_or_unwritten():
    for args in ([], ["--prompt-style", "plain"]):
        res = run("validate", ALPACA, "--from", "alpaca", *args)
        assert res.exit_code == 0 and not _unread(res.output, "validation"), res.output
    res = run("validate", PRM, "--from", "prm800k", "--neutral", "drop")
    assert not _unread(res.output, "validation"), res.output
    # alpaca made messages reads no prompt template
    res = run("validate", ALPACA, "--from", "alpaca", "--conversational", "--prompt-style", "plain")
    said = _unread(res.output, "validation")
    assert len(said) == 1 and said[0].endswith("(--from alpaca), without --conversational")


def test_validate_in_python_names_the_keywords():
    said = _caught(lambda: trlprep.validate(str(ALPACA), from_="alpaca", pairing="all-pairs"))
    assert len(said) == 1 and said[0].startswith("pairing='all-pairs' is read by no step")
    assert "(from_='ranked'), without threshold" in said[0] and "--" not in said[0]
    assert not _caught(lambda: trlprep.validate(str(ALPACA), from_="alpaca"))


def test_report_says_a_layout_option_the_layout_does_not_read():
    res = run("report", ALPACA, "--from", "alpaca", "--margin")
    said = _unread(res.output, "report")
    assert res.exit_code == 0 and len(said) == 1, res.output
    assert said[0].startswith("warning: --margin is read by no step of this report")
    assert (
        "the alpaca layout" in said[0]
        and "oasst-ranked, alpacafarm, " in said[0]  # and the other layouts reading it
        and "layouts (--from ranked; ranked and oasst-ranked without --threshold)" in said[0]
    )
    res = run("report", ALPACA, "--from", "alpaca")
    assert res.exit_code == 0 and not _unread(res.output, "report"), res.output


def test_report_says_split_mode_only_where_no_implicit_pair_is_cut():
    res = run("report", DPO, "--split-mode", "char")  # explicit pairs of messages
    said = _unread(res.output, "report")
    assert res.exit_code == 0 and len(said) == 1, res.output
    assert said[0].startswith("warning: --split-mode char is read by no step of this report")
    assert "(preference (conversational))" in said[0]
    res = run("report", HH, "--split-mode", "char")  # implicit pairs of text: the prompt cut
    assert res.exit_code == 0 and not _unread(res.output, "report"), res.output
    res = run("report", DPO)
    assert res.exit_code == 0 and not _unread(res.output, "report"), res.output


def test_report_in_python_names_the_keywords():
    said = _caught(lambda: trlprep.report(str(DPO), split_mode="char", validate=False))
    assert len(said) == 1 and said[0].startswith("split_mode='char' is read by no step")
    said = _caught(lambda: trlprep.report(str(ALPACA), from_="alpaca", neutral="drop"))
    assert len(said) == 1 and said[0].startswith("neutral='drop' is read by no step")
    assert "(from_='prm800k')" in said[0] and "--" not in said[0]


def test_detect_takes_no_layout_option():
    for args in (["--from", "alpaca"], ["--map", "prompt=instruction"], ["--pairing", "all-pairs"]):
        res = run("detect", ALPACA, *args)
        assert res.exit_code == 2 and "No such option" in res.output, res.output
