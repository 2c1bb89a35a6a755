"""Every conversational real sample x every original chat template, compared byte for byte.

Not a test (it runs hundreds of conversions): `python tests/realdata/rendersweep.py
[--templates a,b] [--cases x,y] [--details]`. Each case is read by trlprep's own CLI (with
`--from` / `--map` where the sample needs it) into a conversational JSON Lines file; that
file is then converted with `--chat-template` for each original template (its model's
bos/eos as `--template-kwarg`s, `--on-error skip`), and each output row is compared with
TRL's `apply_chat_template` over transformers on a tiny tokenizer carrying the same
template (the reference; where the render moved images held inline to an `images` column,
of the messages TRL's trainers prepare for such a dataset, `prepare_multimodal_messages`).
Each row is counted as one of:

- equal: the render equals the reference;
- refused-ok: trlprep refused the row and the reference raises too;
- DIFFERENT: trlprep's render differs from the reference (a defect);
- REFUSED-RENDERS: trlprep refused a row the reference renders (a defect);
- CRASH: the whole run failed (a defect when the reference renders some row).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1])]

from realdata.support import TEMPLATES, rows_of, run  # noqa: E402
from realdata.sweepcases import CASES, KWARGS  # noqa: E402
from templates_support import template_tokenizer, tokens_for  # noqa: E402

TRL_KEYS = ("prompt", "completion", "chosen", "rejected", "messages")


def _is_conversation(value) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict)


def _trl_example(row: dict) -> dict:
    """The row's conversational columns, as TRL's `apply_chat_template` takes them."""
    return {k: row[k] for k in TRL_KEYS if k in row and _is_conversation(row[k])}


def _tools(row: dict):
    tools = row.get("tools")
    return json.loads(tools) if isinstance(tools, str) else tools


def reference(template: str, row: dict, kwargs: dict) -> dict:
    """TRL's render of `row` with the original `template` (raises where the template does)."""
    from trl.data_utils import apply_chat_template

    tok = template_tokenizer(TEMPLATES / f"{template}.jinja")
    given = {k: [_handed_over(m) for m in v] for k, v in _trl_example(row).items()}
    # the documented fittings (README "Chat templates"), tried in turn: as given; string
    # contents as text parts (TRL's vision format) for templates that render only parts;
    # text-only parts joined for templates that render only strings
    as_parts = {k: [_as_parts(m) for m in v] for k, v in given.items()}
    joined = {k: [_joined(m) for m in v] for k, v in given.items()}
    first = None
    for example in dict.fromkeys(json.dumps(e) for e in (given, as_parts, joined)):
        example = json.loads(example)
        try:
            out = apply_chat_template(example, tok, tools=_tools(row), **kwargs)
        except Exception:
            continue
        out = {k: v for k, v in out.items() if k != "label"}
        first = first or out
        if not _unrenderable(out) and not _drops_text(out, example):
            return out
    if first is None:
        apply_chat_template(given, tok, tools=_tools(row), **kwargs)  # its own error
    return first


def _moved_media(base: list[dict], rendered: list[dict]) -> bool:
    """The render moved images held inline to an `images` column the read rows have not (a
    rendered row carries it): TRL takes such data as vision data (moved videos alone are
    not: TRL hands their rows to the template as written)."""
    have = {k for r in base for k in r}
    return any("images" in r and "images" not in have for r in rendered)


def _trl_vision(row: dict) -> dict:
    """`row` as TRL's trainers hand a dataset with an `images` column to the template:
    each conversation through `prepare_multimodal_messages` (every string content one text
    part; a part holding its medium inline is what filling a bare part from `images` gives)."""
    from trl.data_utils import prepare_multimodal_messages

    return {**row, **{k: prepare_multimodal_messages(v) for k, v in _trl_example(row).items()}}


def _as_parts(message: dict) -> dict:
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": [{"type": "text", "text": content}]}
    return message


def _drops_text(render: dict, example: dict) -> bool:
    """The render leaves out a text part's text (Qwen3 renders content of parts as empty)."""
    text = "".join(v for v in render.values() if isinstance(v, str))
    texts = []
    for m in (m for v in example.values() for m in v):
        c = m.get("content")
        parts = [{"text": c}] if isinstance(c, str) else c if isinstance(c, list) else []
        texts += [p["text"].strip()[-20:] for p in parts if (p.get("text") or "").strip()]
    return any(t not in text for t in texts)


def _drops_parts(template: str, row: dict, kwargs: dict, render: dict) -> bool:
    """The original renders content given as parts as if it were empty (Qwen3: a message of
    parts renders no text and no medium)."""
    example = _trl_example(row)
    for empty in (None, ""):
        emptied = {
            k: [{**m, "content": empty} if isinstance(m.get("content"), list) else m for m in v]
            for k, v in example.items()
        }
        try:
            if emptied != example and reference(template, {**row, **emptied}, kwargs) == render:
                return True
        except Exception:  # noqa: BLE001, S112 - that emptying does not render: try the next
            continue
    return False


def _handed_over(message: dict) -> dict:
    """The message as a user hands it to transformers: tool-call arguments given as JSON text
    parsed (trlprep does so, README "Chat templates"); keys that are None left out."""
    message = {k: v for k, v in message.items() if v is not None}
    calls = message.get("tool_calls")
    if calls:
        message["tool_calls"] = [_parsed_call(c) for c in calls]
    return message


def _parsed_call(call: dict) -> dict:
    fn = call.get("function")
    if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
        try:
            args = json.loads(fn["arguments"])
        except ValueError:
            return call
        if isinstance(args, dict):
            return {**call, "function": {**fn, "arguments": args}}
    return call


def _joined(message: dict) -> dict:
    content = message.get("content")
    if isinstance(content, list) and all(p.get("type") == "text" for p in content):
        return {**message, "content": "".join(p.get("text") or "" for p in content)}
    return message


def _unrenderable(render: dict) -> bool:
    """The original rendered content parts as their Python repr (it reads no parts)."""
    return any(
        "[{'type': " in v or '[{"type": ' in v for v in render.values() if isinstance(v, str)
    )


def _difference(line: int, column: str, mine, want: str) -> str:
    mine = mine if isinstance(mine, str) else repr(mine)
    pairs = enumerate(zip(mine, want, strict=False))
    at = next((i for i, (a, b) in pairs if a != b), min(len(mine), len(want)))
    lo = max(0, at - 80)
    return (
        f"line {line} [{column}] at char {at}:\n"
        f"  mine {mine[lo : at + 200]!r}\n  want {want[lo : at + 200]!r}"
    )


def template_kwargs(template: str, extra: dict) -> tuple[list[str], dict]:
    """The CLI arguments and reference kwargs: the template's special tokens (the reference
    tokenizer carries them) and the `extra` options (given to both)."""
    bos, eos = tokens_for(template)
    args = ["--template-kwarg", f"eos_token={eos}"]
    args += ["--template-kwarg", f"bos_token={bos}"] if bos else []
    for k, v in extra.items():
        args += ["--template-kwarg", f"{k}={json.dumps(v) if not isinstance(v, str) else v}"]
    return args, dict(extra)


def read_base(name: str, tmp: Path, to: str | None) -> tuple[Path, list[dict]] | None:
    """The case read by trlprep into conversational JSON Lines (None: not conversational)."""
    path, extra, _ = CASES[name]
    out = tmp / f"{name}-{to or 'as-is'}.jsonl"
    args = ["convert", HERE / path, *extra, "--on-error", "skip", "-o", out, "--overwrite"]
    res = run(*args, *(["--to", to] if to else []))
    if res.exit_code != 0 or not out.exists():
        print(f"  {name} {to or ''}: not read: {res.output.strip().splitlines()[-1:]}")
        return None
    rows = rows_of(out)
    if not rows or not _trl_example(rows[0]):
        return None
    return out, rows, [*args[:2], *extra, *(["--to", to] if to else [])]


def sweep_one(
    base: Path, rows: list[dict], template: str, tmp: Path, direct: list, extra: dict
) -> dict:
    """Counts (and first examples) of one (case, template, options) triple."""
    args, kwargs = template_kwargs(template, extra)
    out = tmp / f"{base.stem}.{template}.jsonl"
    rejects = tmp / f"{base.stem}.{template}.rejects.jsonl"
    res = run("convert", base, "--chat-template", TEMPLATES / f"{template}.jinja", *args,
              "--on-error", "skip", "--rejects", rejects, "--num-proc", 1, "-o", out,
              "--overwrite")  # fmt: skip
    tally = {"equal": 0, "refused-ok": 0, "DIFFERENT": 0, "REFUSED-RENDERS": 0, "CRASH": 0}
    tally["DIRECT-DIFFERS"] = 0
    examples: list[str] = []
    reasons: dict[str, int] = {}
    all_refused = res.exit_code == 1 and "every row was rejected" in res.output
    if res.exit_code != 0 and not all_refused:
        tally["CRASH"] = len(rows)
        examples.append(res.output.strip()[-600:])
        return {"tally": tally, "examples": examples}
    refused = {r["line"]: r.get("reason", "") for r in rows_of(rejects)} if rejects.exists() else {}
    rendered = [] if all_refused else rows_of(out)
    moved = _moved_media(rows, rendered)
    got = iter(rendered)
    for line, row in enumerate(rows, 1):
        row = _trl_vision(row) if moved else row
        try:
            want, why = reference(template, row, kwargs), None
        except Exception as e:  # noqa: BLE001 - the template's own refusal
            want, why = None, f"{type(e).__name__}: {e}"
        if line in refused:
            if want is None or _unrenderable(want) or _drops_parts(template, row, kwargs, want):
                tally["refused-ok"] += 1
                key = f"{refused[line][:160]} || original: {(why or 'renders no parts')[:160]}"
                reasons[key] = reasons.get(key, 0) + 1
            else:
                tally["REFUSED-RENDERS"] += 1
                examples.append(f"line {line}: refused ({refused[line][:300]}) but renders")
            continue
        mine = next(got)
        if want is None:
            tally["DIFFERENT"] += 1
            examples.append(f"line {line}: rendered but the original raises {why[:300]}")
            continue
        diff = [k for k in want if mine.get(k) != want[k]]
        if diff:
            tally["DIFFERENT"] += 1
            examples.append(_difference(line, diff[0], mine.get(diff[0]), want[diff[0]]))
        else:
            tally["equal"] += 1
    if not all_refused:
        tally["DIRECT-DIFFERS"] = _direct(direct, template, args, tmp, out, examples)
    return {"tally": tally, "examples": examples, "reasons": reasons}


def _direct(direct: list, template: str, args: list, tmp: Path, two_step: Path, examples) -> int:
    """Rows whose render, converted straight from the sample (one run, `--chat-template`),
    differs from the two-step render (read, then rendered), in order."""
    out = tmp / f"direct.{template}.jsonl"
    res = run(*direct, "--chat-template", TEMPLATES / f"{template}.jinja", *args,
              "--on-error", "skip", "--num-proc", 1, "-o", out, "--overwrite")  # fmt: skip
    if res.exit_code != 0:
        examples.append(f"direct run failed: {res.output.strip()[-400:]}")
        return 1
    rendered = ("text", "prompt", "completion", "chosen", "rejected")
    mine = [{k: r.get(k) for k in rendered} for r in rows_of(out)]
    want = [{k: r.get(k) for k in rendered} for r in rows_of(two_step)]
    bad = sum(a != b for a, b in zip(mine, want, strict=False)) + abs(len(mine) - len(want))
    if bad:
        examples.append(f"direct: {len(mine)} rows vs {len(want)} read then rendered")
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", default="")
    parser.add_argument("--cases", default="")
    parser.add_argument("--details", action="store_true", help="print each defect's examples")
    parser.add_argument("--json", type=Path, help="write every pair's result here")
    parser.add_argument("--kwargs", action="store_true", help="also each template's options")
    ns = parser.parse_args(argv)
    if not TEMPLATES.is_dir():
        print("../shared/data/chat_templates is absent")
        return 2
    templates = ns.templates.split(",") if ns.templates else sorted(
        p.stem for p in TEMPLATES.glob("*.jinja")
    )  # fmt: skip
    cases = ns.cases.split(",") if ns.cases else list(CASES)
    results: dict[str, dict] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        bases = []
        for name in cases:
            for to in [None, *CASES[name][2]]:
                base = read_base(name, tmp, to)
                if base:
                    bases.append((f"{name}{'->' + to if to else ''}", *base))
        runs = [(t, {}) for t in templates]
        runs += [(t, kw) for t in templates for kw in KWARGS.get(t, [])] if ns.kwargs else []
        for template, extra in runs:
            for label, path, rows, direct in bases:
                r = sweep_one(path, rows, template, tmp, direct, extra)
                opts = "".join(f" {k}={v}" for k, v in extra.items())
                results[f"{label} x {template}{opts}"] = r
                bad = {k: v for k, v in r["tally"].items() if v and k.isupper()}
                if bad:
                    print(f"{label} x {template}{opts}: {r['tally']}")
                    if ns.details:
                        print("\n".join(r["examples"][:3]))
                sys.stdout.flush()
    print(summary(results))
    print(f"{len(results)} pairs in {time.perf_counter() - start:.0f} s")
    if ns.json:
        ns.json.write_text(json.dumps(results, indent=1))
    defects = any(k.isupper() and v for r in results.values() for k, v in r["tally"].items())
    return 1 if defects else 0


def summary(results: dict[str, dict]) -> str:
    """A Markdown table: per template, rows equal / refused-ok / defects over every case."""
    lines = ["| Template | pairs | equal | refused-ok | DIFFERENT | REFUSED-RENDERS | CRASH |"
             " DIRECT-DIFFERS |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for t in dict.fromkeys(k.split(" x ")[1] for k in results):
        mine = [r["tally"] for k, r in results.items() if k.split(" x ")[1] == t]
        tot = {k: sum(m[k] for m in mine) for k in mine[0]} if mine else {}
        lines.append(f"| {t} | {len(mine)} | " + " | ".join(str(v) for v in tot.values()) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
