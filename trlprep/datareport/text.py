"""The data report as a compact terminal summary."""

from __future__ import annotations

from typing import Any

from trlprep.datareport.figures import at_max_note
from trlprep.datareport.measures import ANSWERS
from trlprep.datareport.places import said_at
from trlprep.datareport.reasoningneed import reasoning_end_warning
from trlprep.datareport.validating import IMPORT_RULES
from trlprep.errors import NOT_PAIRED
from trlprep.wording import noun, plural


def unlisted(rows: dict[str, Any], shown: int) -> str:
    """The line saying how many rows the report could not read it leaves out of its list
    (`rows`: the JSON's `rows`; `shown`: those listed), and what lists every one."""
    n = rows["rejected"] - shown
    if set(rows["rejected_by_stage"]) == {"import"}:
        where = "`trlprep validate` lists each"
    else:  # refused by the template or the tokenizer, which validate does not run
        where = "`trlprep convert --on-error skip` writes each to its rejects file"
    return f"and {plural(n, 'more row')} not listed ({where})"


def rejected_lines(rows: dict[str, Any], limit: int = 5) -> list[str]:
    """The rows left out, by stage; those of an import by reason, as validate and convert
    count them (`N x stage: reason (e.g. line 4, ...)`), the others' first rows."""
    out = []
    for stage, n in rows["rejected_by_stage"].items():
        said = "not paired (no error)" if stage == NOT_PAIRED else f"failed at {stage}"
        out.append(f"  {plural(n, 'row')} {said}")
    reasons = rows.get("rejected_reasons", [])
    for r in reasons[:limit]:
        ex = ", ".join(said_at(e) for e in r["examples"])
        out.append(
            f"    {r['count']:,} x {r['stage']}: {r['reason']}" + (f" (e.g. {ex})" if ex else "")
        )
    if len(reasons) > limit:
        out.append(
            f"    ... and {len(reasons) - limit} more reasons (`trlprep validate` lists each)"
        )
    listed = sum(r["count"] for r in reasons)
    stages = {r["stage"] for r in reasons}
    shown = [e for e in rows.get("rejected_examples", []) if e["stage"] not in stages][:3]
    for ex in shown:
        out.append(f"    {said_at(ex)} ({ex['stage']}): {ex['reason']}")
    if rows["rejected"] > listed + len(shown):
        out.append(f"    {unlisted(rows, listed + len(shown))}")
    return out


def checked_as(val: dict[str, Any]) -> str:
    """`, as `trlprep validate --from sharegpt` says ...`: the validate that gives this
    verdict, where the report read a layout unnamed (validate alone checks the columns as
    they are); else nothing."""
    if not val.get("checked_as"):
        return ""
    return f", as `trlprep validate {val['checked_as']}` says (the rows as imported)"


def _refused_issues(issues: list[dict[str, Any]]) -> list[str]:
    """The validation's issues of the rows an import refused (as `validate --from LAYOUT`
    says them) in one line: `rejected_lines` listed them by reason already."""
    said = []
    for rule in IMPORT_RULES:
        n = sum(i["count"] for i in issues if i["rule"] == rule)
        if n:
            said.append(f"{rule}, {plural(n, 'row')}")
    return ["  " + "; ".join(said) + ": the rows left out above"] if said else []


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def render_text(r: dict[str, Any]) -> str:
    """A few lines per section: what a person checks before training (data of several
    splits: the totals, then each split)."""
    splits = r.get("splits")
    if not splits:
        return _render_one(r)
    sizes = ", ".join(f"{name} {s['rows']['in']:,}" for name, s in splits.items())
    out = [f"splits: {sizes}", "== all splits ==", _render_one(r).rstrip("\n")]
    across = r.get("duplicates", {}).get("across_splits", {})
    for name, c in across.items():
        out.append(
            f"  {name}: {plural(c.get('rows_in_another_split', 0), 'row')} also in another split"
            + (
                f", {plural(c['prompts_in_another_split'], 'prompt')} too"
                if "prompts_in_another_split" in c
                else ""
            )
        )
    for name, s in splits.items():
        out += [f"== split {name} ==", _render_one(s).rstrip("\n")]
    return "\n".join(out) + "\n"


def _render_one(r: dict[str, Any]) -> str:
    h, rows = r["report"], r["rows"]
    out = [
        f"{h['path'] or 'data'}"
        + (f" [split {h['split']}]" if h.get("split") else "")
        + f": {h['type']} ({h['format']}), {plural(rows['in'], 'row')}"
        + (
            f", {rows['rejected']:,} not reportable: the figures below are of the other "
            f"{plural(rows['in'] - rows['rejected'], 'row')}"
            if rows["rejected"]
            else ""
        ),
    ]
    if h.get("layout") == "map":
        out.append("  columns renamed by --map, as `trlprep convert --map` reads them")
    elif h.get("layout"):
        out.append(f"  read as the {h['layout']} layout, as `trlprep convert` reads it")
    if h.get("input_rows") is not None:
        kept = h["input_rows"] - rows["rejected"]
        out.append(
            f"  import: {plural(kept, 'input row')} -> {plural(h['imported_rows'], 'row')}"
            + (f", {h['expansion']}" if h.get("expansion") else "")
            + " (the figures below are of these)"
        )
    for note in h.get("notes", []):
        out.append(f"  note: {note}")
    if h.get("measured_as") and h["measured_as"] != h["type"]:
        out.append(f"  measured as {h['measured_as']}, as trainers read it (prompt extracted)")
    if h["extra_columns"]:
        out.append("  extra columns: " + ", ".join(h["extra_columns"]))
    if h["tokenizer"]:
        tmpl = f", template {h['chat_template']}" if h["chat_template"] else ""
        out.append(f"  tokens: {h['tokenizer']}{tmpl}")
    out += rejected_lines(rows)
    for remark in rows.get("remarks", [])[:5]:
        out.append(f"  note: {remark}")
    val = r.get("validation")
    if val is not None:
        verdict = "valid" if val["valid"] else "INVALID"
        # `errors` / `warnings` count kinds of issue (rules); each one's rows follow
        out.append(
            f"validation: {verdict} ({val['errors']} {noun(val['errors'], 'kind')} of error, "
            f"{val['warnings']} {noun(val['warnings'], 'kind')} of warning)" + checked_as(val)
        )
        out += _refused_issues(val["issues"])
        for i in [i for i in val["issues"] if i["rule"] not in IMPORT_RULES][:8]:
            out.append(f"  {i['rule']}, {plural(i['count'], 'row')}: {i['message']}{_where(i)}")
    lengths = r.get("lengths")
    if lengths:
        out.append("token lengths     min    p50    p90    p99    max     mean")
        for role, s in lengths.items():
            if role == "sequence" and list(lengths) == ["text", "sequence"]:
                continue  # one text per row: its sequence is the text, said once
            if s.get("rows"):
                out.append(
                    f"  {role:<12}{s['min']:>7}{s['p50']:>7}{s['p90']:>7}{s['p99']:>7}"
                    f"{s['max']:>7}{s['mean']:>9.1f}"
                )
        note = at_max_note(lengths.get("sequence") or next(iter(lengths.values())))
        if note:
            out.append(f"  note: {note}")
        t = r["truncation"]
        out.append(f"truncated ({t['mode']}):")
        for lim in t["limits"]:
            mark = " <- --max-length" if lim["max_length"] == t["max_length"] else ""
            parts = (
                ""  # one text per row: no prompt or completion to cut
                if h["type"] == "language-modeling"
                else f"  (prompt cut {lim['prompt_cut']}, completion cut "
                f"{lim['completion_cut']}, completion lost {lim['completion_lost']}"
                + (
                    f", reasoning end cut {lim['reasoning_end_cut']}"
                    if "reasoning_end_cut" in lim
                    else ""
                )
                + ")"
            )
            out.append(
                f"  {lim['max_length']:>6}: {lim['truncated']:>8} "
                f"{noun(lim['truncated'], 'row'):<4} "
                f"{_pct(lim['truncated_share']):>7}{parts}{mark}"
            )
        out += reasoning_end_warning(t)
    elif h.get("tokenizer") and not rows["reported"]:
        out.append("token lengths: none measured: every row failed before it was tokenised")
    elif h.get("chat_template"):  # a template file or built-in name: no tokenizer
        out.append(
            f"token lengths: the template {h['chat_template']} brings no tokenizer: "
            "pass --tokenizer SRC (or --chat-template MODEL, a model folder or Hub id) to "
            "measure them"
        )
    else:
        out.append("token lengths: pass --tokenizer or --chat-template MODEL to measure them")
    p = r.get("preference")
    if p:
        n = p["pairs"]
        out.append(
            f"preference: of {plural(n, 'pair')}, chosen longer in "
            f"{_pct(p['chosen_longer_share'])}, rejected longer in "
            f"{_pct(p['rejected_longer'] / n if n else None)}, same length in "
            f"{_pct(p['same_length'] / n if n else None)} (mean {p['chosen_mean']:.1f} vs "
            f"{p['rejected_mean']:.1f} tokens), {plural(p['identical_pairs'], 'identical pair')}"
        )
        if "margin" in p:
            m = p["margin"]
            out.append(f"  margin: min {m['min']}, mean {m['mean']}, max {m['max']}")
    lab = r.get("labels")
    if lab and "true" in lab:
        out.append(
            f"labels: {lab['true']} true, {lab['false']} false ({_pct(lab['true_share'])} true)"
        )
    elif lab:
        out.append(f"steps per row: p50 {lab['steps'].get('p50')}, max {lab['steps'].get('max')}")
        share = ", ".join(
            f"step {x['position']} {_pct(x['true_share'])}" for x in lab["by_position"][:8]
        )
        out.append(f"  share of true labels: {share}")
    c = r.get("conversation")
    if c:
        t = c["turns"]
        turns = (
            plural(t["max"], "turn")
            if t["min"] == t["max"]
            else f"{t['min']}-{t['max']} turns (p50 {t['p50']})"
        )
        of = (
            f" (of all {plural(c['rows'], 'row')} read, those refused above too)"
            if c["rows"] != rows["reported"]
            else ""
        )
        out.append(
            f"conversation{of}: {turns} per row, "
            f"{plural(c['distinct_patterns'], 'role pattern')}, "
            f"{plural(c['same_role_in_a_row'], 'row')} with same-role turns in a row, "
            f"{plural(c['tool_calls'], 'tool call')}, {_media(c)}"
        )
        for pat in c["patterns"][:PATTERNS_SHOWN]:
            out.append(f"  {pat['rows']:>8}  {pat['pattern']}")
        if c["distinct_patterns"] > PATTERNS_SHOWN:
            left = sum(p["rows"] for p in c["patterns"][:PATTERNS_SHOWN])
            others = c["distinct_patterns"] - PATTERNS_SHOWN
            out.append(
                f"  {c['rows'] - left:>8}  {noun(c['rows'] - left, 'row')} in "
                f"{plural(others, 'other pattern')} (-f json, -o report.html list more)"
            )
        if sft_weighted(r):
            out.append(weights_line(c["weights"]))
    d = r.get("duplicates", {})
    if d:
        line = f"duplicates: {plural(d.get('exact_rows', 0), 'exact duplicate row')}"
        if "distinct_prompts" in d:
            line += (
                f"; {plural(d['distinct_prompts'], 'distinct prompt')}, "
                f"{plural(d['rows_with_shared_prompt'], 'row')} share a prompt"
            )
        if "identical_pairs" in d:
            line += f"; {plural(d['identical_pairs'], 'pair')} with chosen = rejected"
        out.append(line)
    txt = r.get("text", {})
    for role, cnt in txt.get("by_role", {}).items():
        empty = f"{plural(cnt['empty'], 'row')} empty/whitespace, " if role in ANSWERS else ""
        share = _pct(cnt["non_ascii"] / cnt["rows"] if cnt["rows"] else None)
        out.append(
            f"{'text' if role == 'text' else role + ' text'}: {empty}non-ASCII in {share} of rows"
        )
    if txt.get("special_tokens_in_text"):
        toks = ", ".join(f"{k} x{v}" for k, v in txt["special_tokens_in_text"].items())
        out.append(f"special tokens written in the text: {toks}")
    rendered = h.get("format") != "conversational" or bool(h.get("chat_template"))
    out += _examples(r.get("examples") or [], rendered, weighted=sft_weighted(r))
    return "\n".join(out) + "\n"


PATTERNS_SHOWN = 5  # role patterns listed, the most common first
SHOWN_CHARS = 160  # of each rendered part, escaped; the JSON and HTML reports hold it whole


def sft_weighted(r: dict[str, Any]) -> bool:
    """Language-modeling or prompt-completion conversations whose messages carry weights:
    SFT masks them."""
    w = (r.get("conversation") or {}).get("weights") or {}
    sft = r["report"]["type"] in ("language-modeling", "prompt-completion")
    return bool(w.get("rows_with_weights")) and sft


def weights_line(w: dict[str, Any]) -> str:
    """What SFT trains on where messages carry a `weight` (or xtuner's `loss`)."""
    line = (
        f"loss: per-message weights in {plural(w['rows_with_weights'], 'row')}: SFT trains "
        f"only on the assistant messages whose weight is not 0 "
        f"({w['assistant_messages_trained']:,} of {w['assistant_messages']:,}), none of the "
        "system, user or tool tokens (--no-assistant-only-loss: every token)"
    )
    if w["assistant_messages_weight_0"]:
        line += (
            f"; {plural(w['assistant_messages_weight_0'], 'assistant message')} with weight 0 "
            f"(or loss: false) in {plural(w['rows_with_weight_0'], 'row')} left out"
        )
    if w.get("fractional_weights"):
        line += (
            f"; {plural(w['fractional_weights'], 'assistant message')} with a weight other "
            "than 0 or 1: SFT refuses those rows"
        )
    return line


def _examples(
    examples: list[dict[str, Any]], rendered: bool = True, *, weighted: bool = False
) -> list[str]:
    """The rendered rows (`--examples N`), each part escaped on one line, cut at
    `SHOWN_CHARS`; `*` marks the parts the loss trains on. Conversations without a chat
    template are not rendered: their messages are shown as JSON, and the header says so."""
    if not examples:
        return []
    how = (
        "rendered as trained"
        if rendered
        else "messages as JSON, not rendered: pass --chat-template MODEL to see them as trained"
    )
    loss = (
        "* = in the loss: the messages carry weights, SFT trains only on the assistant "
        "messages of weight not 0 (unsplit rows: see loss above)"
        if weighted
        else "* = in the loss"
    )
    out = [f"examples ({how}; {loss}; -o report.html shows them whole):"]
    for ex in examples:
        out.append(f"  {said_at(ex)}:")
        parts = ex.get("parts", [])
        if weighted and ex.get("loss_parts"):  # the render cut where the loss starts, stops
            parts = [{**p, "role": "text"} for p in ex["loss_parts"]]
        for part in parts:
            # JSON is one escaped line already: repr would escape its backslashes twice
            text = repr(part["text"]) if rendered else part["text"]
            if len(text) > SHOWN_CHARS:
                text = f"{text[:SHOWN_CHARS]}... ({len(part['text']):,} chars)"
            mark = "*" if part.get("trained") and (not weighted or "loss_parts" in ex) else " "
            out.append(f"   {mark}{part['role']:<11}{text}")
    return out


def _where(issue: dict[str, Any]) -> str:
    """` (lines 3, 9)`: the issue's first places, less the `named` first ones its message
    says already (`line 164 repeats line 5`): ` (and line 170)`, or nothing."""
    named = issue.get("named", 0)
    at = issue["lines"] if issue["lines"] else issue["rows"]
    word = "line" if issue["lines"] else "row"
    if issue.get("places"):  # several files: `a.jsonl:44`
        at, word = issue["places"], ""
    at = at[named:]
    if not at:
        return ""
    word += "s" if word and len(at) > 1 else ""
    listed = _list(at)
    if issue["count"] > named + len(at) and not listed.endswith("..."):
        listed += ", ..."  # more rows than the issue keeps
    return f" ({'and ' if named else ''}{word + ' ' if word else ''}{listed})"


def _list(xs: list[int], limit: int = 5) -> str:
    shown = ", ".join(map(str, xs[:limit]))
    return shown + (", ..." if len(xs) > limit else "")


def _media(c: dict[str, Any]) -> str:
    """`3 images in 2 rows`; videos and audios only where the rows have some."""
    shown = []
    for medium in ("image", "video", "audio"):
        total = c.get(f"{medium}s") or 0
        if total or medium == "image":
            rows = c.get(f"rows_with_{medium}s") or 0
            inline = c.get(f"inline_{medium}s") or 0
            shown.append(
                plural(total, medium)
                + (f" in {plural(rows, 'row')}" if total else "")
                + (f" ({inline} inline in their message parts)" if inline else "")
            )
        marks = c.get(f"{medium}_placeholders_without_column") or 0
        if marks:  # no column of that medium: the placeholders stand for nothing
            rows = c.get(f"rows_with_{medium}_placeholders_without_column") or 0
            shown.append(
                f"{plural(marks, f'<{medium}> placeholder')} in {plural(rows, 'row')} "
                f"with no {medium}s column"
            )
    return ", ".join(shown)


__all__ = ["checked_as", "render_text", "sft_weighted", "weights_line"]
