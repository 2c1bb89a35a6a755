"""The sections of the HTML data report that show measured figures: token lengths,
truncation per max length, chosen vs rejected, labels (each figure tagged with its JSON
path, `htmlparts.fig`); `htmlsections` puts them among the others."""

from __future__ import annotations

from html import escape
from typing import Any

from trlprep.datareport import svg
from trlprep.datareport.figures import at_max_note
from trlprep.datareport.htmlparts import fig, fig_of, pct, table
from trlprep.datareport.reasoningneed import reasoning_end_warning


def lengths_section(r: dict[str, Any]) -> str:
    lengths = r["lengths"]
    keys = ("min", "p50", "p90", "p99", "max", "mean")
    rows = [
        [escape(role)] + [fig(f"lengths.{role}.{k}", s.get(k)) for k in keys]
        for role, s in lengths.items()
    ]
    html = (
        "<p class=muted>Tokens per row after the chat template, as the trainer tokenises "
        "(sequence: prompt + the longer answer).</p>"
    )
    html += table(["", *keys], rows)
    note = at_max_note(lengths.get("sequence") or next(iter(lengths.values())))
    if note:
        html += f"<p class=muted>{escape(note[0].upper() + note[1:])}.</p>"
    mark = r["report"]["max_length"]
    for role, s in lengths.items():
        hist = s.get("histogram") or {}
        chart = svg.histogram(
            hist.get("edges", []),
            hist.get("counts", []),
            f"{role} length (tokens)",
            mark if role == "sequence" else None,
        )
        if chart:
            html += f"<h3>{escape(role)}</h3>{chart}"
    return html


def truncation_section(r: dict[str, Any]) -> str:
    t = r["truncation"]
    # rows cut before their reasoning's end, where the answers were looked at (`reasoningneed`)
    reasoning = any("reasoning_end_cut" in lim for lim in t["limits"])
    rows = []
    for i, lim in enumerate(t["limits"]):
        label = str(lim["max_length"]) + (
            " (--max-length)" if lim["max_length"] == t["max_length"] else ""
        )
        k = f"truncation.limits.{i}"
        rows.append([
            escape(label), fig(f"{k}.truncated", lim["truncated"]), pct(lim["truncated_share"]),
            *(fig_of(k, lim, f) for f in ("prompt_cut", "completion_cut", "completion_lost")),
            fig_of(k, lim, "tokens_cut"),
            *([fig_of(k, lim, "reasoning_end_cut")] if reasoning else []),
        ])  # fmt: skip
    html = f"<p class=muted>Truncation mode: {escape(t['mode'])}.</p>"
    html += table(["max length", "rows", "share", "prompt cut", "completion cut",
                    "completion lost", "tokens cut",
                    *(["reasoning end cut"] if reasoning else [])], rows)  # fmt: skip
    for warning in reasoning_end_warning(t):  # the text report's, convert's and train's words
        html += f"<p class=bad>{escape(warning)}</p>"
    html += svg.bars(
        [
            (str(x["max_length"]), x["truncated_share"], pct(x["truncated_share"]))
            for x in t["limits"]
        ],
        "share of rows truncated per max length",
    )
    return html


def preference_section(r: dict[str, Any]) -> str:
    p = r["preference"]
    rows = [
        ["pairs", fig("preference.pairs", p["pairs"])],
        [
            "chosen longer",
            fig("preference.chosen_longer", p["chosen_longer"])
            + f" ({pct(p['chosen_longer_share'])})",
        ],
        ["rejected longer", fig("preference.rejected_longer", p["rejected_longer"])],
        ["same length", fig("preference.same_length", p["same_length"])],
        ["identical pairs", fig("preference.identical_pairs", p["identical_pairs"])],
        [
            "mean tokens chosen / rejected",
            fig("preference.chosen_mean", p["chosen_mean"])
            + " / "
            + fig("preference.rejected_mean", p["rejected_mean"]),
        ],
    ]
    if "margin" in p:
        m = p["margin"]
        rows.append(
            [
                "margin min / mean / max",
                " / ".join(fig(f"preference.margin.{k}", m[k]) for k in ("min", "mean", "max")),
            ]
        )
    html = (
        "<p class=muted>A DPO run learns any length bias: compare how often chosen is longer.</p>"
    )
    html += table(["", ""], rows)
    html += svg.bars(
        [("chosen longer", p["chosen_longer"], str(p["chosen_longer"])),
         ("rejected longer", p["rejected_longer"], str(p["rejected_longer"])),
         ("same length", p["same_length"], str(p["same_length"]))],
        "pairs by which answer is longer",
    )  # fmt: skip
    return html


def labels_section(r: dict[str, Any]) -> str:
    lab = r["labels"]
    if "true" in lab:
        return table(["", ""], [
            ["rows", fig("labels.rows", lab["rows"])],
            ["true (desirable)", fig("labels.true", lab["true"]) + f" ({pct(lab['true_share'])})"],
            ["false (undesirable)", fig("labels.false", lab["false"])],
        ])  # fmt: skip
    steps = lab["steps"]
    html = (
        "<p>Steps per row: "
        + ", ".join(f"{k} {fig(f'labels.steps.{k}', steps.get(k))}" for k in ("min", "p50", "max"))
        + "</p>"
    )
    rows = [
        [str(x["position"]), fig(f"labels.by_position.{i}.steps", x["steps"]),
         fig(f"labels.by_position.{i}.true", x["true"]), pct(x["true_share"])]
        for i, x in enumerate(lab["by_position"])
    ]  # fmt: skip
    return html + table(["step", "rows", "true", "share true"], rows)
