"""`trlprep report` on the real samples, read as a reviewer reads it: every figure it
prints is the data's, and nothing it counts goes unaccounted for."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from realdata.support import run

import trlprep
from trlprep.wording import plural

REAL = Path(__file__).resolve().parent / "realdata"
TINY = str(REAL.parent.parent / "examples" / "tiny-chat-model")
HH = REAL / "hh_rlhf" / "harmless-base-test.sample.jsonl"
pytestmark = pytest.mark.usefixtures("tokenizer_loaded_here")


@pytest.fixture(scope="module")
def hh():
    return trlprep.report(HH, from_="hh")


def test_rows_refused_at_import_are_all_accounted_for(hh):
    """HH's 4 rows ending on an empty Assistant turn (lines 87, 151, 154, 155): the report
    names the first and says how many more it does not list (it said '4 rows failed' over
    3 lines, the 4th unmentioned)."""
    rows = hh.data["rows"]
    assert rows["rejected"] == 4 and rows["rejected_by_stage"] == {"import": 4}
    listed = [e["line"] for e in rows["rejected_examples"]]
    assert listed == [87, 151, 154]
    text = " ".join(hh.to_text().split())
    assert "4 rows failed at import" in text  # each counted under its reason
    assert "4 x import: chosen: ends with an empty Assistant turn" in text
    assert "not listed" not in text
    html = hh.to_html()  # the page lists them as the text does (it listed 3, "1 more")
    assert '<span data-key="rows.rejected_reasons.0.count">4</span>' in html
    assert "<td>line 87, line 151, line 154</td>" in html and "not listed" not in html


def test_identical_pairs_are_counted_without_a_tokenizer(tmp_path):
    """Chosen equal to rejected is a text comparison: the report says it (text, HTML, JSON)
    and `--fail-if 'identical_pairs > 0'` holds without a tokenizer (it was a usage error,
    'measured in tokens: pass --tokenizer')."""
    lines = HH.read_text().splitlines()
    row = json.loads(lines[1])
    row["rejected"] = row["chosen"]
    lines[1] = json.dumps(row)
    (same := tmp_path / "hh_same_pair.jsonl").write_text("\n".join(lines) + "\n")
    for path, n in ((HH, 0), (same, 1)):
        rep = trlprep.report(path)
        assert rep.data["duplicates"]["identical_pairs"] == n
        assert rep.value("identical_pairs") == n
        assert f"{plural(n, 'pair')} with chosen = rejected" in rep.to_text()
        assert f'data-key="duplicates.identical_pairs">{n}<' in rep.to_html()
        res = run("report", path, "-f", "json", "--fail-if", "identical_pairs > 0")
        assert res.exit_code == n, res.output
    assert "fail-if: identical_pairs = 1 (> 0)" in res.stderr


def test_identical_pairs_not_said_of_data_without_pairs():
    rep = trlprep.report(REAL / "kto_demo" / "kto_en_demo.json")
    assert "identical_pairs" not in rep.data["duplicates"]
    assert "chosen = rejected" not in rep.to_text()


def test_a_folder_of_shards_names_each_rows_file(tmp_path):
    """HH cut into three shards, a row of the first repeated at the end of the last: the
    report says the same as of the one file, and names the repeated row by file and line
    (it said `(line 44)`: every shard has a line 44)."""
    lines = HH.read_text().splitlines(keepends=True)
    folder = tmp_path / "shards"
    folder.mkdir()
    cuts = [lines[:60], lines[60:120], [*lines[120:], lines[0]]]
    for k, part in enumerate(cuts):
        (folder / f"train-0000{k}-of-00003.jsonl").write_text("".join(part))
    one, shards = trlprep.report(HH), trlprep.report(folder)
    assert shards.data["rows"]["in"] == one.data["rows"]["in"] + 1
    for role, counts in one.data["text"]["by_role"].items():
        assert shards.data["text"]["by_role"][role]["empty"] == counts["empty"]
    issue = shards.data["validation"]["issues"][0]
    last = f"{folder}/train-00002-of-00003.jsonl:44"
    assert issue["rule"] == "duplicate-row" and issue["places"] == [last]
    text = " ".join(shards.to_text().split())
    said = f"exactly ({last} repeats {folder}/train-00000-of-00003.jsonl:1)"
    assert said in text and f"{said} ({last})" not in text  # each place said once
    assert f'<td><a href="#ex-r163">{last}</a></td>' in shards.to_html()  # its example


def test_every_row_refused_by_the_template_says_so_not_pass_a_tokenizer():
    """LLaMA-Factory's vision rows with a text-only template: all 6 refused. The report said
    to pass --tokenizer (given) and showed an empty text table; it says every row failed,
    and where each refused row is written (validate, which runs no template, lists none)."""
    rep = trlprep.report(REAL / "mllm_demo" / "mllm_demo.json", tokenizer=TINY)
    assert rep.data["rows"]["reported"] == 0 and rep.data["rows"]["rejected"] == 6
    text = rep.to_text()
    assert "token lengths: none measured: every row failed before it was tokenised" in text
    assert "brings no tokenizer" not in text and "pass --tokenizer" not in text
    more = "and 3 more rows not listed (`trlprep convert --on-error skip` writes each"
    assert more in text
    html = rep.to_html()
    assert "No row reported: every row failed" in html and "and 1 more row not listed" in html


@pytest.mark.parametrize(
    ("condition", "code"),
    [
        ("rows > 1E1", 1),
        ("rows > 1e+3", 0),
        ("rows >= .5", 1),
        ("rows > 1.2.3", 2),
        ("rows > .", 2),
    ],  # fmt: skip
)
def test_fail_if_reads_numbers_as_written_and_refuses_the_rest(condition, code):
    """Exponents as Python and JSON write them; a malformed number is the usage error
    naming KEY OP NUMBER (it was an internal `ValueError: could not convert ...`)."""
    dpo = REAL / "dpo_demo" / "dpo_en_demo.json"
    res = run("report", dpo, "-f", "json", "--fail-if", condition)
    assert res.exit_code == code, res.output
    if code == 2:
        assert "cannot read the condition" in res.stderr and "ValueError" not in res.stderr


def test_an_answer_of_a_lone_zero_width_space_is_counted_empty():
    """tulu_7B's answer on line 11 is only U+200B: nothing a reader sees, nothing to learn
    from. It was '0 rows empty/whitespace' and `--fail-if 'empty_answers > 0'` passed."""
    path = REAL / "open_instruct_human_eval" / "eval_instances_tulu_1.first60.jsonl"
    rep = trlprep.report(path, from_="generations")
    assert rep.data["text"]["by_role"]["completion"]["empty"] == 1
    assert rep.value("empty_answers") == 1
    assert "completion text: 1 row empty/whitespace" in rep.to_text()
    res = run(
        "report", path, "--from", "generations", "-f", "json", "--fail-if", "empty_answers > 0"
    )
    assert res.exit_code == 1 and "fail-if: empty_answers = 1" in res.stderr


def _hh_shards(tmp_path) -> Path:
    """HH cut into three shards (lines 27, 31, 34 and 35 of the last two hold an empty
    chosen answer), the first row repeated at the end of the last."""
    lines = HH.read_text().splitlines(keepends=True)
    folder = tmp_path / "shards"
    folder.mkdir()
    for k, part in enumerate([lines[:60], lines[60:120], [*lines[120:], lines[0]]]):
        (folder / f"train-0000{k}-of-00003.jsonl").write_text("".join(part))
    return folder


EMPTY = "the chosen completion is only whitespace"


def test_a_folder_of_shards_names_each_file_in_examples_remarks_and_anchors(tmp_path):
    """The converter's remark, the examples and the HTML anchors of a folder of shards name
    each row's file (they said `lines 27, 31, 34, 35`, of two files, `line 44:` and
    `id="ex-1"` twice: every shard has a line 1)."""
    folder = _hh_shards(tmp_path)
    a, b, c = (f"{folder}/train-0000{k}-of-00003.jsonl" for k in range(3))
    rep = trlprep.report(folder)
    remark = f"{b}:27, {c}:31, {c}:34, {c}:35: {EMPTY}"
    assert any(r.startswith(remark) for r in rep.data["rows"]["remarks"])
    assert [e["place"] for e in rep.data["examples"]] == [f"{a}:1", f"{a}:2", f"{a}:3", f"{c}:44"]
    text = rep.to_text()
    assert f"  note: {remark}" in text and f"\n  {c}:44:\n" in text
    html = rep.to_html()
    ids = re.findall(r'<h3 id="([^"]+)"', html)
    assert ids == ["ex-r0", "ex-r1", "ex-r2", "ex-r163"]  # one per row, unique
    assert f'<a href="#ex-r163">{c}:44</a>' in html  # the issue links its example


def test_a_folder_of_shards_imported_names_each_file(tmp_path):
    """`--from hh` of a folder of shards: the rows refused at import and the imported rows'
    validation issues name each row's file (they said `line 27 (import)`, `lines 32, 33`)."""
    folder = _hh_shards(tmp_path)
    b, c = (f"{folder}/train-0000{k}-of-00003.jsonl" for k in (1, 2))
    rep = trlprep.report(folder, from_="hh")
    refused = rep.data["rows"]["rejected_examples"]
    assert [e["place"] for e in refused[:3]] == [f"{b}:27", f"{c}:31", f"{c}:34"]
    issues = {i["rule"]: i for i in rep.data["validation"]["issues"]}
    assert issues["role-alternation"]["places"][:2] == [f"{c}:32", f"{c}:33"]
    assert issues["duplicate-row"]["places"] == [f"{c}:44"]
    text = rep.to_text()
    assert "x import: chosen: ends with an empty Assistant turn" in text
    assert f"(e.g. {b}:27, {c}:31, {c}:34)" in text
    assert f'<a href="#ex-r151">{c}:32</a>' in rep.to_html()


def test_convert_of_a_folder_of_shards_warns_by_file(tmp_path):
    """`convert` (CLI and Python API) warns of a folder of shards' rows by file and line."""
    folder = _hh_shards(tmp_path)
    b, c = (f"{folder}/train-0000{k}-of-00003.jsonl" for k in (1, 2))
    said = f"{b}:27, {c}:31, {c}:34, {c}:35: {EMPTY}"
    res = run("convert", folder, "--to", "preference", "-o", tmp_path / "out.jsonl")
    assert res.exit_code == 0, res.output
    assert f"warning: {said}" in res.output
    with pytest.warns(UserWarning) as caught:
        trlprep.convert(folder, "preference")
    assert any(str(w.message).startswith(said) for w in caught)
