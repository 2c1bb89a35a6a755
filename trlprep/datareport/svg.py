"""Small inline SVG charts (no script, no network): histograms and horizontal bars.

Colours come from CSS variables of the page (`--bar`, `--bar2`, `--fg`), so the charts
follow its light or dark theme; the viewBox scales them to any screen width.
"""

from __future__ import annotations

from html import escape

W, H, PAD = 600, 180, 28


def histogram(edges: list[int], counts: list[int], title: str, mark: int | None = None) -> str:
    """Bars of `counts` between `edges`; `mark` draws a vertical line at that value."""
    if not counts:
        return ""
    top = max(counts) or 1
    n = len(counts)
    lo, hi = edges[0], edges[-1]
    span = max(hi - lo, 1)
    bw = (W - 2 * PAD) / n
    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, c in enumerate(counts):
        h = (H - 2 * PAD) * c / top
        x, y = PAD + i * bw, H - PAD - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bw - 1, 0.5):.1f}" height="{h:.1f}" '
            f'fill="var(--bar)"><title>{edges[i]}–{edges[i + 1] - 1}: {c}</title></rect>'
        )
    axis = H - PAD
    parts.append(
        f'<line x1="{PAD}" y1="{axis}" x2="{W - PAD}" y2="{axis}" stroke="var(--fg)" '
        'stroke-width="1"/>'
    )
    parts.append(_label(PAD, axis + 16, str(lo), "start"))
    parts.append(_label(W - PAD, axis + 16, str(hi), "end"))
    parts.append(_label(PAD, PAD - 8, f"max {top} rows per bin", "start"))
    if mark is not None and lo <= mark <= hi:
        x = PAD + (W - 2 * PAD) * (mark - lo) / span
        parts.append(
            f'<line x1="{x:.1f}" y1="{PAD - 4}" x2="{x:.1f}" y2="{axis}" stroke="var(--bad)" '
            'stroke-width="2" stroke-dasharray="4 3"/>'
        )
        parts.append(_label(x, PAD - 8, f"max length {mark}", "middle", "var(--bad)"))
    parts.append("</svg>")
    return "".join(parts)


def bars(items: list[tuple[str, float, str]], title: str, unit: str = "") -> str:
    """Horizontal bars: (label, value, text shown after the bar) each."""
    if not items:
        return ""
    top = max(v for _, v, _ in items) or 1
    row = 22
    height = row * len(items) + 8
    label_w = 170
    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value, shown) in enumerate(items):
        y = 4 + i * row
        w = (W - label_w - 90) * value / top
        parts.append(_label(label_w - 6, y + 15, label, "end"))
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
            f'fill="var(--bar{"2" if i % 2 else ""})"/>'
        )
        parts.append(_label(label_w + w + 6, y + 15, f"{shown}{unit}", "start"))
    parts.append("</svg>")
    return "".join(parts)


def _label(x: float, y: float, text: str, anchor: str, fill: str = "var(--fg)") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="12" text-anchor="{anchor}" '
        f'fill="{fill}">{escape(text)}</text>'
    )


__all__ = ["bars", "histogram"]
