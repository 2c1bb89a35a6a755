"""The text report in CI logs (not a terminal, 80 columns) and counts in words (13.9, 13.14)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tests.realdata.support import run
from trlprep.validation.report import Issue, Report
from trlprep.validation.rules import Severity
from trlprep.wording import noun, plural

LONG = (
    "a message role is missing or unknown ('human'), and this message goes on long enough "
    "that an eighty-column table would have to cut it: THE-END-OF-THE-MESSAGE"
)


def _report() -> Report:
    issue = Issue(
        "unknown-role-with-a-long-rule-name", Severity.ERROR, LONG, hint="try --role-map",
        column="a_long_column_name_for_prompts", count=1234, rows=[3, 17], lines=[4, 18],
    )  # fmt: skip
    return Report("preference", "conversational", 1, [issue], path="x.jsonl")


def _render(console: Console) -> str:
    _report().render_text(console)
    return console.file.getvalue()


def test_not_a_terminal_wraps_every_message_whole():
    text = _render(Console(file=io.StringIO(), width=80, force_terminal=False))
    assert max(len(line) for line in text.splitlines() if not line.startswith("hint")) <= 80
    flat = " ".join(line.strip() for line in text.splitlines())
    assert " ".join(LONG.split()) in flat  # nothing cut, nothing dropped
    assert "1,234 rows, lines 4, 18" in flat
    assert "INVALID: 1 row of preference (conversational); 1 error" in text


def test_terminal_keeps_the_table():
    text = _render(Console(file=io.StringIO(), width=200, force_terminal=True))
    assert "┃" in text and "THE-END-OF-THE-MESSAGE" in text


@pytest.mark.parametrize(
    ("n", "word", "want"),
    [(0, "row", "0 rows"), (1, "row", "1 row"), (2, "step", "2 steps"), (1000, "row", "1,000 rows"),
     (1, "entry", "1 entry"), (3, "entry", "3 entries"), (2, "was", "2 were")],
)  # fmt: skip
def test_plural(n, word, want):
    assert plural(n, word) == want


def test_noun_and_where():
    assert noun(1, "line") == "line" and noun(2, "line") == "lines"
    one = Issue("r", Severity.ERROR, "m", count=1, rows=[0], lines=[1])
    assert one.where() == "line 1"
    assert Report("lm", "standard", 1).summary() == "valid: 1 row of lm (standard)"


def test_a_path_longer_than_a_line_stays_whole_so_it_can_be_copied(tmp_path):
    folder = tmp_path / ("a" * 90) / "in"
    folder.mkdir(parents=True)
    (folder / "00.jsonl").write_text('{"prompt": "p", "completion": "c"}\n' * 3)
    (folder / "01.jsonl").write_text('{"prompt": "p", "completion": 1}\n')
    res = run("validate", folder)
    assert res.exit_code == 1, res.output
    assert any(line.strip().startswith(f"{folder}/01.jsonl:1") for line in res.output.splitlines())
