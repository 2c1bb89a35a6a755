"""The data report as one self-contained HTML page (inline CSS and SVG, no script).

Every number shown from the JSON report sits in an element with `data-key="dotted.path"`
(the path of the figure in the JSON), so scripts and tests can read the page back.
The page follows the reader's light or dark theme and fits a phone's width.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from trlprep.datareport.figures import at_max_note
from trlprep.datareport.htmlparts import CSS, fig, table
from trlprep.datareport.htmlsections import SECTION_HTML

SECTIONS = (
    ("overview", "Overview"),
    ("validation", "Validation"),
    ("lengths", "Token lengths"),
    ("truncation", "Truncation"),
    ("preference", "Chosen vs rejected"),
    ("labels", "Labels"),
    ("conversation", "Conversations"),
    ("duplicates", "Duplicates"),
    ("text", "Text"),
    ("examples", "Rendered examples"),
)


def render_html(r: dict[str, Any]) -> str:
    """The page: a header, a summary of cards, then one `<section id=...>` per topic."""
    h = r["report"]
    title = f"Data report: {h['path'] or 'dataset'}"
    splits = r.get("splits") or {}
    present = [(sid, name) for sid, name in SECTIONS if _has(r, sid)]
    if splits:  # the totals show no rows: each split shows its own
        present = [("splits", "Splits")] + [(s, n) for s, n in present if s != "examples"]
    anchors = {name: f"split-{re.sub(r'[^A-Za-z0-9_-]', '_', name)}" for name in splits}
    links = [(sid, escape(n)) for sid, n in present]
    links += [(anchors[name], f"split {escape(name)}") for name in splits]
    body = [
        f"<h1>{escape(title)}</h1>",
        "<nav>" + "".join(f'<a href="#{sid}">{n}</a>' for sid, n in links) + "</nav>",
    ]
    body += _sections(r, present, anchors)
    for name, sub in splits.items():
        inner = "".join(_sections(sub, [(s, n) for s, n in SECTIONS if _has(sub, s)]))
        inner = _prefixed(inner, anchors[name], f"splits.{name}.")
        body.append(f'<section id="{anchors[name]}"><h2>Split {escape(name)}</h2>{inner}</section>')
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>"
        + "".join(body)
        + "</main></body></html>\n"
    )


def _sections(r: dict[str, Any], present: list[tuple[str, str]], anchors=None) -> list[str]:
    out = []
    for sid, name in present:
        inner = _splits(r, anchors) if sid == "splits" else SECTION_HTML[sid](r)
        out.append(f'<section id="{sid}"><h2>{escape(name)}</h2>{inner}</section>')
    return out


def _prefixed(html: str, anchor: str, key: str) -> str:
    """A split's sections inside the page: their ids, links and JSON paths made its own."""
    html = re.sub(r'(id|href)="(#?)', lambda m: f'{m.group(1)}="{m.group(2)}{anchor}-', html)
    html = html.replace('<section id="', '<section class="split" id="')
    return html.replace('data-key="', f'data-key="{escape(key)}')


def _splits(r: dict[str, Any], anchors: dict[str, str]) -> str:
    """One row per split: its size and headline figures, linked to its sections."""
    rows = []
    for name, sub in r["splits"].items():
        s, k = sub["summary"], f"splits.{name}.summary"
        rows.append([
            f'<a href="#{anchors[name]}">{escape(name)}</a>',
            fig(f"{k}.rows", s.get("rows")), fig(f"{k}.rows_rejected", s.get("rows_rejected")),
            fig(f"{k}.p99_tokens", s.get("p99_tokens")) + _at_max(sub, "p99"),
            fig(f"{k}.max_tokens", s.get("max_tokens")),
            fig(f"{k}.truncated", s.get("truncated")),
            fig(f"{k}.duplicate_rows", s.get("duplicate_rows")),
            fig(f"duplicates.across_splits.{name}.rows_in_another_split",
               r["duplicates"].get("across_splits", {}).get(name, {}).get("rows_in_another_split")),
        ])  # fmt: skip
    head = ["split", "rows", "not reportable", "p99 tokens", "max tokens",
            "truncated at --max-length", "duplicate rows",
            "rows also in another split"]  # fmt: skip
    return (
        "<p class=muted>The sections below count every split's rows together; each split's "
        "own follow.</p>" + table(head, rows)
    )


def _at_max(r: dict[str, Any], name: str) -> str:
    """A mark after a split's quantile that is its max for want of rows (nearest rank)."""
    seq = r.get("lengths", {}).get("sequence", {})
    if name not in seq.get("quantiles_at_max", []):
        return ""
    return f' <span class="muted" title="{escape(at_max_note(seq))}">(max)</span>'


def _has(r: dict[str, Any], sid: str) -> bool:
    if sid in ("overview", "duplicates", "text", "examples"):
        return True
    return bool(r.get(sid))


__all__ = ["SECTIONS", "render_html"]
