"""The TRL guide's conversion recipes in plain Python, one row at a time: the test oracle.

Each recipe takes a list of row dicts and returns a list of row dicts, written as directly
as the guide's `map`/`filter` code (`prompt + completion` is string or list concatenation),
plus trlprep's documented choices where the guide is silent: `margin` is dropped with the
pair, unpairing interleaves each pair's rows, prompt extraction follows
`trlprep.converters.prefix`'s rules (reimplemented here independently).

Keys are in the order `datasets` gives the recipe's columns (`mapped`: `map` merges the
function's output into the row as a dict update, after `remove_columns`; `renamed`:
`rename_column` keeps the place); edges the guide has no recipe for are written as the
same calls would be (a `map` that removes the input's columns, a rename where the edge
renames). `test_converters_order` checks these orders against `datasets` and TRL.
"""

from __future__ import annotations

WS = " \t\n\v\f\r"
PAIR_ONLY = ("margin",)


def lm(fmt: str) -> str:
    return "messages" if fmt == "conversational" else "text"


def _rest(row: dict, consumed: tuple[str, ...], drop: tuple[str, ...] = ()) -> dict:
    return {k: v for k, v in row.items() if k not in consumed and k not in drop}


def mapped(row: dict, out: dict, remove: tuple[str, ...] = ()) -> dict:
    """`datasets.map(fn, remove_columns=remove)` on one row: `out` updates the kept columns
    in place and new columns follow them."""
    return {**_rest(row, remove), **out}


def renamed(row: dict, old: str, new: str) -> dict:
    """`rename_column(old, new)` on one row (the column keeps its place)."""
    return {(new if k == old else k): v for k, v in row.items()}


# ---------------------------------------------------------------- prompt extraction


def split_text(chosen: str, rejected: str, mode: str = "word") -> int:
    i = 0
    while i < len(chosen) and i < len(rejected) and chosen[i] == rejected[i]:
        i += 1
    if mode == "word" and i > 0 and chosen[i - 1] not in WS:
        ends_c = i == len(chosen) or chosen[i] in WS
        ends_r = i == len(rejected) or rejected[i] in WS
        if not (ends_c and ends_r):
            j = i - 1
            while j >= 0 and chosen[j] not in WS:
                j -= 1
            if j >= 0:
                i = j + 1
    if i > 0 and chosen[i - 1] == " ":
        i -= 1
    if i > 0 and (i == len(chosen) or i == len(rejected)):
        return _back_off(chosen if len(chosen) <= len(rejected) else rejected, mode)
    return i


def _back_off(shared: str, mode: str) -> int:
    """A cut before the end of `shared` (the whole shorter side), -1 when none fits."""
    if mode == "char":
        return len(shared) - 1
    mark = "\n\nAssistant:"
    for end in range(len(shared) - 1, 0, -1):
        if shared[:end].endswith(mark):
            return end
    for j in range(len(shared) - 2, -1, -1):
        if shared[j] in WS:
            cut = j if shared[j] == " " else j + 1
            return cut if cut > 0 else -1
    return -1


def split_messages(chosen: list, rejected: list) -> int:
    i = 0
    while i < len(chosen) and i < len(rejected) and chosen[i] == rejected[i]:
        i += 1
    if i > 0 and (i == len(chosen) or i == len(rejected)):
        turns = [j for j in range(1, i) if chosen[j].get("role") == "assistant"]
        return turns[-1] if turns else -1
    return i


def extract_prompt(row: dict, mode: str = "word") -> dict:
    c, r = row["chosen"], row["rejected"]
    k = split_text(c, r, mode) if isinstance(c, str) else split_messages(c, r)
    if k < 0:
        raise ValueError("no cut leaves both completions non-empty")
    return {"prompt": c[:k], "chosen": c[k:], "rejected": r[k:]}


# ---------------------------------------------------------------- the recipes


def _cat(a, b, opts):
    """Text joined by the separator (none by default, as the guide); message lists added."""
    return a + opts.separator + b if isinstance(a, str) else a + b


def _steps_sep(opts) -> str:
    return opts.separator if opts.step_separator is None else opts.step_separator


def pc_to_lm(rows, fmt, opts):
    return [
        mapped(r, {lm(fmt): _cat(r["prompt"], r["completion"], opts)}, ("prompt", "completion"))
        for r in rows
    ]


def pc_to_po(rows, fmt, opts):
    return [_rest(r, ("completion",)) for r in rows]


_PAIR = ("prompt", "chosen", "rejected")


def implicit_to_lm(rows, fmt, opts):
    return [renamed(_rest(r, ("rejected",), PAIR_ONLY), "chosen", lm(fmt)) for r in rows]


def implicit_to_pref(rows, fmt, opts):
    return [mapped(r, extract_prompt(r, opts.split_mode)) for r in rows]


def implicit_to_pc(rows, fmt, opts):
    out = []
    for r in rows:
        x = mapped(r, extract_prompt(r, opts.split_mode))
        out.append(renamed(_rest(x, ("rejected",), PAIR_ONLY), "chosen", "completion"))
    return out


def implicit_to_po(rows, fmt, opts):
    return [
        _rest(mapped(r, extract_prompt(r, opts.split_mode)), ("chosen", "rejected"), PAIR_ONLY)
        for r in rows
    ]


def implicit_to_unpaired(rows, fmt, opts):
    pairs = [mapped(r, extract_prompt(r, opts.split_mode)) for r in rows]
    return pref_to_unpaired(pairs, fmt, opts)


def pref_to_lm(rows, fmt, opts):
    return [
        mapped(r, {lm(fmt): _cat(r["prompt"], r["chosen"], opts)}, _PAIR + PAIR_ONLY) for r in rows
    ]


def pref_to_pc(rows, fmt, opts):
    return [renamed(_rest(r, ("rejected",), PAIR_ONLY), "chosen", "completion") for r in rows]


def pref_to_po(rows, fmt, opts):
    return [_rest(r, ("chosen", "rejected"), PAIR_ONLY) for r in rows]


def pref_to_implicit(rows, fmt, opts):
    return [
        mapped(
            r,
            {
                "chosen": _cat(r["prompt"], r["chosen"], opts),
                "rejected": _cat(r["prompt"], r["rejected"], opts),
            },
            ("prompt",),
        )
        for r in rows
    ]


def pref_to_unpaired(rows, fmt, opts):
    """TRL's `unpair_preference_dataset`: a map that removes chosen and rejected."""
    firsts, seconds = [], []
    for r in rows:
        drop = ("chosen", "rejected", *PAIR_ONLY)
        firsts.append(
            mapped(r, {"prompt": r["prompt"], "completion": r["chosen"], "label": True}, drop)
        )
        seconds.append(
            mapped(r, {"prompt": r["prompt"], "completion": r["rejected"], "label": False}, drop)
        )
    if opts.order == "blocks":
        size = opts.block_rows or max(len(rows), 1)
        out = []
        for s in range(0, len(rows), size):
            out += firsts[s : s + size] + seconds[s : s + size]
        return out
    return [row for pair in zip(firsts, seconds, strict=True) for row in pair]


_UNPAIRED = ("prompt", "completion", "label")


def unpaired_to_lm(rows, fmt, opts):
    good = [r for r in rows if r["label"]]
    return [
        _rest(mapped(r, {lm(fmt): _cat(r["prompt"], r["completion"], opts)}), _UNPAIRED)
        for r in good
    ]


def unpaired_to_pc(rows, fmt, opts):
    return [_rest(r, ("label",)) for r in rows if r["label"]]


def unpaired_to_po(rows, fmt, opts):
    return [_rest(r, ("completion", "label")) for r in rows]


def unpaired_to_pref(rows, fmt, opts):
    """Pair the k-th true with the k-th false row of the same prompt."""
    trues: dict[str, list[int]] = {}
    falses: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        key = repr(r["prompt"])
        (trues if r["label"] else falses).setdefault(key, []).append(i)
    pairs = []
    for key, t in trues.items():
        pairs += list(zip(t, falses.get(key, []), strict=False))
    pairs.sort()
    return [
        mapped(
            rows[i],
            {"chosen": rows[i]["completion"], "rejected": rows[j]["completion"]},
            ("completion", "label"),
        )
        for i, j in pairs
    ]


_STEPWISE = ("prompt", "completions", "labels")
_STEPS = ("completions", "labels")


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def _completion(text: str, fmt: str):
    return _assistant(text) if fmt == "conversational" else text


def stepwise_to_lm(rows, fmt, opts):
    out = []
    for r in rows:
        if not all(r["labels"]):
            continue
        text = _steps_sep(opts).join(r["completions"])
        seq = _cat(r["prompt"], _completion(text, fmt), opts)
        out.append(mapped(r, {lm(fmt): seq}, _STEPWISE))
    return out


def stepwise_to_pc(rows, fmt, opts):
    out = []
    for r in rows:
        if all(r["labels"]):
            text = _steps_sep(opts).join(r["completions"])
            out.append(mapped(r, {"completion": _completion(text, fmt)}, _STEPS))
    return out


def stepwise_to_po(rows, fmt, opts):
    return [_rest(r, _STEPS) for r in rows]


def stepwise_to_unpaired(rows, fmt, opts):
    out = []
    for r in rows:
        steps, labels = r["completions"], r["labels"]
        if opts.label_merge == "all":
            label = all(labels)
        elif opts.label_merge == "any":
            label = any(labels)
        elif opts.label_merge == "last":
            label = labels[-1]
        else:  # first-false-truncates
            k = labels.index(False) if False in labels else len(labels)
            if k == 0:
                continue
            steps, label = steps[:k], True
        text = _steps_sep(opts).join(steps)
        merged = {"prompt": r["prompt"], "completion": _completion(text, fmt), "label": label}
        out.append(mapped(r, merged, _STEPS))
    return out


def _ends_on(msgs: list, role: str) -> bool:
    return bool(msgs) and msgs[-1]["role"] == role


def lm_to_pc(rows, fmt, opts):
    if fmt != "conversational":
        raise ValueError("standard text has no turns")
    out = []
    for r in rows:
        msgs, rest = r["messages"], _rest(r, ("messages",))
        if opts.split_turns == "all":
            turns = [j for j in range(1, len(msgs)) if msgs[j]["role"] == "assistant"]
            if not turns:
                raise ValueError("no assistant turn after the first message")
            out += [{**rest, "prompt": msgs[:j], "completion": [msgs[j]]} for j in turns]
            continue
        if len(msgs) < 2 or not _ends_on(msgs, "assistant"):
            raise ValueError("no completion")
        out.append({**rest, "prompt": msgs[:-1], "completion": msgs[-1:]})
    return out


def lm_to_po(rows, fmt, opts):
    if fmt != "conversational":
        raise ValueError("standard text has no turns")
    out = []
    for r in rows:
        msgs = r["messages"]
        if _ends_on(msgs, "user"):
            prompt = msgs
        elif len(msgs) >= 2 and _ends_on(msgs, "assistant"):
            prompt = msgs[:-1]
        else:
            raise ValueError("no prompt")
        out.append(mapped(r, {"prompt": prompt}, ("messages",)))
    return out


RECIPES = {
    ("language-modeling", "prompt-completion"): lm_to_pc,
    ("language-modeling", "prompt-only"): lm_to_po,
    ("prompt-completion", "language-modeling"): pc_to_lm,
    ("prompt-completion", "prompt-only"): pc_to_po,
    ("preference-implicit", "language-modeling"): implicit_to_lm,
    ("preference-implicit", "prompt-completion"): implicit_to_pc,
    ("preference-implicit", "prompt-only"): implicit_to_po,
    ("preference-implicit", "preference"): implicit_to_pref,
    ("preference-implicit", "unpaired-preference"): implicit_to_unpaired,
    ("preference", "language-modeling"): pref_to_lm,
    ("preference", "prompt-completion"): pref_to_pc,
    ("preference", "prompt-only"): pref_to_po,
    ("preference", "preference-implicit"): pref_to_implicit,
    ("preference", "unpaired-preference"): pref_to_unpaired,
    ("unpaired-preference", "language-modeling"): unpaired_to_lm,
    ("unpaired-preference", "prompt-completion"): unpaired_to_pc,
    ("unpaired-preference", "prompt-only"): unpaired_to_po,
    ("unpaired-preference", "preference"): unpaired_to_pref,
    ("stepwise-supervision", "language-modeling"): stepwise_to_lm,
    ("stepwise-supervision", "prompt-completion"): stepwise_to_pc,
    ("stepwise-supervision", "prompt-only"): stepwise_to_po,
    ("stepwise-supervision", "unpaired-preference"): stepwise_to_unpaired,
}
