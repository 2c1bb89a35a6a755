"""The report's page (parsed back: every section, every number equal to the JSON) and CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

import trlprep
from trlprep.datareport.htmlparts import fmt as _fmt

ROOT = Path(__file__).resolve().parent.parent
TINY = str(ROOT / "examples" / "tiny-chat-model")
PREF = ROOT / "examples" / "preference_conversational.jsonl"
pytestmark = pytest.mark.usefixtures("tokenizer_loaded_here")


class Page(HTMLParser):
    """Section ids, `data-key` values, and whether anything reaches outside the file."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.keys: dict[str, str] = {}
        self.external: list[str] = []
        self.svgs = 0
        self._key: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a.get("id"))
        if tag == "svg":
            self.svgs += 1
        if tag in ("script", "link", "img", "iframe") or any(
            k in ("src", "href") and v and v.startswith(("http", "//")) for k, v in attrs
        ):
            self.external.append(tag)
        if "data-key" in a:
            self._key, self._text = a["data-key"], []

    def handle_data(self, data):
        if self._key is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "span" and self._key is not None:
            self.keys[self._key] = "".join(self._text)
            self._key = None


def figures_of(rep) -> dict[str, str]:
    """The figures the page of `rep` shows, by their JSON path (`data-key`), each checked
    equal to the JSON's (`–`: a figure the JSON does not hold)."""
    from trlprep.errors import UsageError

    page = Page()
    page.feed(rep.to_html())
    for key, shown in page.keys.items():
        try:
            value = rep.value(key)
        except UsageError:  # (a summary figure of a report with no token lengths)
            value = None
        assert shown == _fmt(value), key
    return page.keys


@pytest.fixture(scope="module")
def pref(tokenizer_loaded_here):
    rep = trlprep.report(PREF, chat_template=TINY, max_length=30)
    page = Page()
    page.feed(rep.to_html())
    return rep, page


def test_every_section_is_present(pref):
    rep, page = pref
    assert page.sections == [
        "overview", "validation", "lengths", "truncation", "preference",
        "conversation", "duplicates", "text", "examples",
    ]  # fmt: skip
    assert page.svgs >= 5  # a histogram per role, truncation and preference bars
    assert not page.external  # self-contained: no script, stylesheet or image to fetch


def test_every_number_on_the_page_equals_the_json(pref):
    rep, page = pref
    assert len(page.keys) > 40
    assert figures_of(rep) == page.keys
    for must in ("rows.in", "summary.truncated", "truncation.limits.0.truncated",
                 "truncation.limits.0.reasoning_end_cut", "lengths.sequence.p99",
                 "preference.chosen_longer", "duplicates.exact_rows",
                 "conversation.patterns.0.rows"):  # fmt: skip
        assert must in page.keys


def test_figures_shown_as_numbers_not_exponents():
    assert _fmt(11181.1667) == "11181.2"  # a mean of long sequences (was 1.118e+04)
    assert (_fmt(89.375), _fmt(0.0123456), _fmt(9999.4)) == ("89.38", "0.01235", "9999")


def test_page_reads_on_a_phone_and_in_the_dark(pref):
    rep, _ = pref
    html = rep.to_html()
    assert 'name="viewport"' in html and "prefers-color-scheme:dark" in html
    assert '<mark class="trained">' in html  # the trained part highlighted


def test_validation_issues_link_to_their_rows(tmp_path):
    rows = [json.loads(x) for x in PREF.open()]
    path = tmp_path / "dup.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [rows[0], rows[0], *rows[1:]]))
    rep = trlprep.report(path, chat_template=TINY)
    page = Page()
    page.feed(rep.to_html())
    issues = rep.data["validation"]["issues"]
    assert issues and issues[0]["rule"] == "duplicate-row"
    assert page.keys["validation.issues.0.count"] == str(issues[0]["count"])
    assert 'href="#ex-2"' in rep.to_html() and 'id="ex-2"' in rep.to_html()


def test_rows_validation_names_are_shown_rendered(tmp_path):
    rows = [json.loads(x) for x in PREF.open()]
    path = tmp_path / "late_dup.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*rows, rows[1]]))
    rep = trlprep.report(path, chat_template=TINY, examples=2)
    issue = rep.data["validation"]["issues"][0]
    assert issue["rule"] == "duplicate-row" and issue["lines"] == [7]
    shown = [(e["line"], bool(e.get("flagged"))) for e in rep.data["examples"]]
    assert shown == [(1, False), (2, False), (7, True)]
    html = rep.to_html()
    assert 'href="#ex-7"' in html and 'id="ex-7"' in html


def _cli(*args: str):
    from trlprep.cli import app

    return CliRunner().invoke(app, list(args))


def test_cli_json_html_and_text(tmp_path):
    res = _cli("report", str(PREF), "--chat-template", TINY, "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["rows"]["in"] == 6 and data["lengths"]["prompt"]["rows"] == 6
    out = tmp_path / "r.html"
    res = _cli("report", str(PREF), "--chat-template", TINY, "-o", str(out))
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert f"report: {out}" in res.stdout and "token lengths" in res.stdout
    res = _cli("report", str(PREF), "--tokenizer", TINY)
    assert res.exit_code == 0 and "preference (conversational), 6 rows" in res.stdout


def test_cli_fail_if(tmp_path):
    args = ("report", str(PREF), "--chat-template", TINY, "--max-length", "30", "-f", "json")
    res = _cli(*args, "--fail-if", "truncated_share > 0.05")
    assert res.exit_code == 1
    assert "fail-if: truncated_share" in res.stderr
    res = _cli(*args, "--fail-if", "truncated_share > 0.99")
    assert res.exit_code == 0
    res = _cli(*args, "--fail-if", "truncated_share is big")
    assert res.exit_code == 2 and "KEY OP NUMBER" in res.stderr
    res = _cli("report", str(PREF), "--format", "pdf")
    assert res.exit_code == 2


@pytest.mark.skipif(
    not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")),
    reason="no headless Chromium installed",
)
def test_headless_browser_screenshot(pref, tmp_path):
    rep, _ = pref
    page = tmp_path / "r.html"
    page.write_text(rep.to_html())
    shot = tmp_path / "shot.png"
    browser = next(
        shutil.which(b)
        for b in ("chromium", "chromium-browser", "google-chrome")
        if shutil.which(b)
    )
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
         "--window-size=420,2000", page.as_uri()],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    assert shot.exists() and shot.stat().st_size > 5000


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes" </pre>'


class Text(HTMLParser):
    """Every tag and every piece of text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_user_text_is_escaped_everywhere(tmp_path):
    """Text from the data (contents, column names, validation messages, rendered rows,
    split names) shows as text on the page: it never becomes markup."""
    rows = [json.loads(x) for x in PREF.open()]
    for r in rows:
        r["chosen"][0]["content"] += HOSTILE
        r["prompt"][-1]["content"] = HOSTILE + r["prompt"][-1]["content"]
        r["<b>note</b>"] = HOSTILE
    rows.append(rows[0])  # a validation issue that names a row
    folder = tmp_path / "data"
    folder.mkdir()
    for split in ("train", "test"):
        (folder / f"{split}-0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    rep = trlprep.report(folder, chat_template=TINY, examples=6)
    html = rep.to_html()
    page = Text()
    page.feed(html)
    assert "script" not in page.tags and "img" not in page.tags
    assert page.tags.count("pre") == html.count("</pre>")  # no user </pre> closes a block
    shown = "".join(page.text)
    assert HOSTILE in shown  # the rendered rows show the text as it is
    assert "<b>note</b>" in shown  # the extra column's name stays text
    sections = Page()
    sections.feed(html)
    assert "split-train-examples" in sections.sections and not sections.external
