"""The pieces the HTML report is made of: its style sheet, figures tagged with their JSON
path, and tables."""

from __future__ import annotations

from html import escape
from typing import Any

CSS = """
:root{--bg:#fff;--fg:#1d2330;--muted:#5b6475;--line:#d9dde5;--bar:#3b6fd8;--bar2:#7b9be6;
--bad:#c4352b;--ok:#21844a;--mark:#fff1b8;--code:#f5f6f8}
@media (prefers-color-scheme:dark){:root{--bg:#12151b;--fg:#e4e7ee;--muted:#9aa3b5;
--line:#2c3340;--bar:#6f9bff;--bar2:#4a6fbf;--bad:#ff7a6e;--ok:#5fd38b;--mark:#4b4216;
--code:#1b2029}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);
font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif}
main{max-width:960px;margin:0 auto;padding:16px}h1{font-size:1.4em;margin:.2em 0}
h2{font-size:1.15em;border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:1.6em}
nav{display:flex;flex-wrap:wrap;gap:.2em .9em}nav a{white-space:nowrap}a{color:var(--bar)}
.muted{color:var(--muted)}.bad{color:var(--bad);font-weight:600}.ok{color:var(--ok);font-weight:600}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--line);padding:3px 10px;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}td.l{text-align:left}
td span.l{display:block;text-align:left}
.chart{width:100%;height:auto;max-width:640px;display:block;margin:.4em 0}
pre{background:var(--code);padding:10px;overflow-x:auto;white-space:pre-wrap;word-break:break-word;
border-radius:6px;font-size:13px}mark.trained{background:var(--mark);color:inherit}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid var(--line);border-radius:8px;
padding:8px 12px;min-width:130px}.card b{display:block;font-size:1.3em}
"""


def fig(key: str, value: Any, cls: str = "") -> str:
    """A figure with its JSON path."""
    shown = fmt(value)
    c = f' class="{cls}"' if cls else ""
    return f'<span data-key="{escape(key)}"{c}>{escape(shown)}</span>'


def fig_of(path: str, node: dict[str, Any], name: str) -> str:
    """`node[name]` shown with its JSON path `path.name`."""
    return fig(f"{path}.{name}", node.get(name))


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):  # 11181.2, not 1.118e+04: a mean of long sequences
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.1f}"
    return str(value)


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    table = f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


__all__ = ["CSS", "fig", "fig_of", "fmt", "pct", "table"]
