"""Each topic's section of the HTML data report (overview, validation, conversations,
duplicates, text, rendered examples; token lengths, truncation, chosen vs rejected and labels
from `htmlmeasures`), made from the JSON report's figures, each figure tagged with its JSON
path (`htmlparts.fig`).
"""

from __future__ import annotations

from html import escape
from typing import Any

from trlprep.datareport import svg
from trlprep.datareport.htmlmeasures import (
    labels_section,
    lengths_section,
    preference_section,
    truncation_section,
)
from trlprep.datareport.htmlparts import fig, fig_of, pct, table
from trlprep.datareport.places import anchor, said_at
from trlprep.datareport.text import checked_as, sft_weighted, unlisted
from trlprep.errors import NOT_PAIRED
from trlprep.wording import noun


def _overview(r: dict[str, Any]) -> str:
    h, rows, s = r["report"], r["rows"], r["summary"]
    cards = [
        ("rows", fig("rows.in", rows["in"])),
        (
            "type",
            f"{escape(h['type'])}<br><span class=muted>{escape(str(h['format']))}"
            + (
                f", measured as {escape(h['measured_as'])}"
                if h.get("measured_as") not in (None, h["type"])
                else ""
            )
            + (f", read as the {escape(h['layout'])} layout" if h.get("layout") else "")
            + "</span>",
        ),  # fmt: skip
        (
            "truncated at --max-length",
            fig("summary.truncated", s.get("truncated"))
            + f" <span class=muted>{pct(s.get('truncated_share'))}</span>",
        ),
        ("duplicate rows", fig("summary.duplicate_rows", s.get("duplicate_rows"))),
        ("empty answers", fig("summary.empty_answers", s.get("empty_answers"))),
    ]
    if "valid" in s:
        cls = "ok" if s["valid"] else "bad"
        cards.insert(
            2, ("validation", f'<span class="{cls}">{"valid" if s["valid"] else "invalid"}</span>')
        )
    html = (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><span class=muted>{escape(k)}</span><b>{v}</b></div>'
            for k, v in cards
        )
        + "</div>"
    )
    facts = [
        ("columns", escape(", ".join(f"{k}: {v}" for k, v in h["columns"].items()))),
        ("extra columns", escape(", ".join(h["extra_columns"]) or "none")),
        ("chat template", escape(str(h["chat_template"] or "none"))),
        ("tokenizer", escape(str(h["tokenizer"] or "none (no token lengths)"))),
        ("truncation", escape(h["truncation"])),
        *(
            [
                (
                    "input rows imported",
                    fig("report.input_rows", h["input_rows"])
                    + " -> "
                    + fig("report.imported_rows", h["imported_rows"])
                    + " rows",
                )
            ]
            if h.get("input_rows") is not None
            else []
        ),
        ("rows reported", fig("rows.reported", rows["reported"])),
        ("rows not reportable", fig("rows.rejected", rows["rejected"])),
    ]
    for stage, n in rows["rejected_by_stage"].items():
        said = "not paired (no error)" if stage == NOT_PAIRED else f"failed at {stage}"
        facts.append((said, fig(f"rows.rejected_by_stage.{stage}", n)))
    html += table(["", ""], [[escape(k), v] for k, v in facts]).replace("<td>", '<td class="l">')
    html += _rejected(rows)
    for note in h.get("notes", []):  # how the input was read (a text file's blank lines)
        html += f"<p class=muted>note: {escape(note)}</p>"
    return html


def _rejected(rows: dict[str, Any]) -> str:
    """The rows left out as the text report lists them (`text.rejected_lines`): an import's
    by reason (rows, reason, the first rows' places), the others' first rows."""
    reasons = rows.get("rejected_reasons", [])
    listed = [
        [escape(r["stage"]), fig(f"rows.rejected_reasons.{i}.count", r["count"]),
         f'<span class="l">{escape(r["reason"])}</span>',
         escape(", ".join(said_at(e) for e in r["examples"]))]
        for i, r in enumerate(reasons)
    ]  # fmt: skip
    html = table(["stage", "rows", "reason", "first rows"], listed) if listed else ""
    stages = {r["stage"] for r in reasons}
    shown = [e for e in rows["rejected_examples"] if e["stage"] not in stages]
    for ex in shown:
        html += f"<p class=muted>{_at(ex)} ({escape(ex['stage'])}): {escape(ex['reason'])}</p>"
    told = sum(r["count"] for r in reasons) + len(shown)
    if rows["rejected"] > told:
        html += f"<p class=muted>{escape(unlisted(rows, told))}</p>"
    return html


def _at(ex: dict[str, Any]) -> str:
    return escape(said_at(ex))


def _validation(r: dict[str, Any]) -> str:
    v = r["validation"]
    verdict = f'<p class="{"ok" if v["valid"] else "bad"}">{"valid" if v["valid"] else "invalid"}: '
    verdict += f"{fig('validation.errors', v['errors'])} {noun(v['errors'], 'kind')} of error, "
    verdict += (
        f"{fig('validation.warnings', v['warnings'])} {noun(v['warnings'], 'kind')} of warning "
        f"(the rows of each below){escape(checked_as(v))}</p>"
    )
    examples = {e.get("line", e["row"]) for e in r.get("examples", [])}
    rows = []
    for i, issue in enumerate(v["issues"]):
        word = "line" if issue["lines"] else "row"
        where = []
        for x in (issue["lines"] or issue["rows"])[:10]:
            where.append(f'<a href="#ex-{x}">{word} {x}</a>' if x in examples else f"{word} {x}")
        if issue.get("places"):  # several files: a line number alone names no row
            shown = {e["row"]: anchor(e) for e in r.get("examples", []) if e.get("place")}
            where = [
                f'<a href="#{shown[x]}">{escape(p)}</a>' if x in shown else escape(p)
                for x, p in zip(issue["rows"] or [None] * 10, issue["places"][:10], strict=False)
            ]
        rows.append([
            escape(issue["rule"]), escape(issue["severity"]),
            fig(f"validation.issues.{i}.count", issue["count"]),
            f'<span class="l">{escape(issue["message"])}</span>', ", ".join(where),
        ])  # fmt: skip
    listing = table(["rule", "severity", "rows", "message", "first rows"], rows) if rows else ""
    return verdict + listing


def _weights(w: dict[str, Any]) -> str:
    """What SFT trains on where the messages carry weights, each number with its key."""
    k = "conversation.weights."
    html = (
        f"<p>Per-message weights in {fig(k + 'rows_with_weights', w['rows_with_weights'])} "
        "rows: SFT trains only on the assistant messages whose weight is not 0 ("
        f"{fig(k + 'assistant_messages_trained', w['assistant_messages_trained'])} of "
        f"{fig(k + 'assistant_messages', w['assistant_messages'])}), none of the system, user "
        "or tool tokens (--no-assistant-only-loss: every token)"
    )
    if w["assistant_messages_weight_0"]:
        html += (
            f"; {fig(k + 'assistant_messages_weight_0', w['assistant_messages_weight_0'])} "
            "assistant messages with weight 0 (or loss: false) in "
            f"{fig(k + 'rows_with_weight_0', w['rows_with_weight_0'])} rows left out"
        )
    if w["fractional_weights"]:
        html += (
            f"; {fig(k + 'fractional_weights', w['fractional_weights'])} assistant messages "
            "with a weight other than 0 or 1: SFT refuses those rows"
        )
    return html + ".</p>"


def _conversation(r: dict[str, Any]) -> str:
    c = r["conversation"]
    t = c["turns"]
    of = (
        f"<p class=muted>Of all {fig('conversation.rows', c['rows'])} rows read, those the "
        "template or tokenizer refused too.</p>"
        if c["rows"] != r["rows"]["reported"]
        else ""
    )
    facts = [
        ["turns per row (min / p50 / max)", " / ".join(
            fig(f"conversation.turns.{k}", t.get(k)) for k in ("min", "p50", "max"))],
        ["distinct role patterns", fig("conversation.distinct_patterns", c["distinct_patterns"])],
        ["rows with same-role turns in a row", fig_of("conversation", c, "same_role_in_a_row")],
        ["tool calls", fig("conversation.tool_calls", c["tool_calls"])],
        ["rows with tools", fig("conversation.rows_with_tools", c["rows_with_tools"])],
        *(
            [name, fig(f"conversation.{name}", c.get(name)) + " in "
             + fig(f"conversation.rows_with_{name}", c.get(f"rows_with_{name}")) + " rows"]
            for name in ("images", "videos", "audios")
        ),
        *(
            [f"&lt;{m}&gt; placeholders with no {m}s column",
             fig(f"conversation.{m}_placeholders_without_column", c[key]) + " in "
             + fig(f"conversation.rows_with_{m}_placeholders_without_column",
                   c.get(f"rows_with_{m}_placeholders_without_column")) + " rows"]
            for m in ("image", "video", "audio")
            if c.get(key := f"{m}_placeholders_without_column")
        ),
    ]  # fmt: skip
    w = c.get("weights")
    html_w = _weights(w) if sft_weighted(r) else ""
    html = of + table(["", ""], facts) + html_w
    pats = [
        [f"<code>{escape(p['pattern'])}</code>", fig(f"conversation.patterns.{i}.rows", p["rows"])]
        for i, p in enumerate(c["patterns"])
    ]
    html += "<h3>Role patterns</h3>" + table(["pattern", "rows"], pats).replace(
        "<td>", '<td class="l">', 1
    )
    hist = c["turns_histogram"]
    html += svg.bars(
        [(f"{k} turns", v, str(v)) for k, v in list(hist.items())[:20]], "rows per turn count"
    )
    return html


def _duplicates(r: dict[str, Any]) -> str:
    d = r.get("duplicates") or {}
    if not d:
        return "<p class=muted>Rows could not be hashed.</p>"
    rows = [["exact duplicate rows", fig("duplicates.exact_rows", d.get("exact_rows"))]]
    if "distinct_prompts" in d:
        rows += [
            ["distinct prompts", fig("duplicates.distinct_prompts", d["distinct_prompts"])],
            ["rows sharing a prompt", fig_of("duplicates", d, "rows_with_shared_prompt")],
        ]  # fmt: skip
    if "identical_pairs" in d:
        same = fig("duplicates.identical_pairs", d["identical_pairs"])
        rows.append(["pairs with chosen = rejected", same])
    html = table(["", ""], rows)
    top = d.get("top_shared_prompts") or []
    if top:
        key = "duplicates.top_shared_prompts"
        shared = [[_at(x), fig_of(f"{key}.{i}", x, "rows")] for i, x in enumerate(top)]
        html += "<h3>Most shared prompts</h3>" + table(["first seen", "rows"], shared)
    return html


def _text(r: dict[str, Any]) -> str:
    t = r.get("text") or {}
    rows = [
        [escape(role), fig(f"text.by_role.{role}.rows", c["rows"]),
         fig_of(f"text.by_role.{role}", c, "empty"), fig_of(f"text.by_role.{role}", c, "non_ascii")]
        for role, c in t.get("by_role", {}).items()
    ]  # fmt: skip
    if not rows:  # every row failed before its text was read
        return "<p class=muted>No row reported: every row failed (see the overview).</p>"
    html = table(["column", "rows", "empty / whitespace", "rows with non-ASCII"], rows)
    toks = t.get("special_tokens_in_text") or {}
    if toks:
        key = "text.special_tokens_in_text"
        found = [[f"<code>{escape(k)}</code>", fig_of(key, toks, k)] for k in toks]
        html += "<p class=bad>Special tokens written literally in the text:</p>"
        html += table(["token", "rows"], found)
    else:
        html += "<p class=muted>No special token of the tokenizer is written in the text.</p>"
    return html


def _examples(r: dict[str, Any]) -> str:
    exs = r.get("examples") or []
    if not exs:
        return "<p class=muted>No row to show.</p>"
    h = r.get("report", {})
    shown = (
        "The messages as JSON, not rendered: pass --chat-template MODEL to see them as trained. "
        if h.get("format") == "conversational" and not h.get("chat_template")
        else ""
    )
    weighted = sft_weighted(r)
    loss = (
        "Highlighted: the part the loss trains on; the messages carry weights, and SFT trains "
        "only on their assistant messages whose weight is not 0 (rows not split so: see "
        "Conversations)."
        if weighted
        else "Highlighted: the part the loss trains on."
    )
    html = (
        f"<p class=muted>{shown}The first rows, and the first row of each validation issue. "
        f"{loss}</p>"
    )
    for ex in exs:
        trained = [p for p in ex["parts"] if p["trained"] and not weighted]
        head = "".join(escape(p["text"] or "") for p in ex["parts"] if p not in trained)
        answers = trained or [None]
        why = " <span class=muted>(named by validation)</span>" if ex.get("flagged") else ""
        html += f'<h3 id="{anchor(ex)}">{_at(ex)}{why}</h3>'
        if weighted and ex.get("loss_parts"):  # the render cut where the loss starts, stops
            html += "<pre>" + "".join(
                f'<mark class="trained">{escape(p["text"])}</mark>' if p["trained"]
                else escape(p["text"])
                for p in ex["loss_parts"]
            ) + "</pre>"  # fmt: skip
            continue
        for p in answers:
            if p is None:
                html += f"<pre>{head}</pre>"
                continue
            label = f"<p class=muted>{escape(p['role'])}</p>" if len(answers) > 1 else ""
            html += (
                f'{label}<pre>{head}<mark class="trained">{escape(p["text"] or "")}</mark></pre>'
            )
    return html


# the HTML of each section of `html.SECTIONS`, by its id
SECTION_HTML = {
    "overview": _overview,
    "validation": _validation,
    "lengths": lengths_section,
    "truncation": truncation_section,
    "preference": preference_section,
    "labels": labels_section,
    "conversation": _conversation,
    "duplicates": _duplicates,
    "text": _text,
    "examples": _examples,
}
