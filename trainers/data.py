"""From a dataset to token ids: detect it, convert it to the type the algorithm expects and
render conversational rows through the project's conversion graph and chat templating
(`trlprep.convert`, `trlprep.templates`), then tokenise the standard text as TRL does.

Tokenisation follows TRL 1.x: the prompt and prompt+completion are tokenised and the
completion starts where the two diverge (their common prefix); standard text gets the
tokenizer's special tokens and an EOS after each completion, rendered chat text neither
(the template wrote them). Sequences longer than `max_length` keep their start; rows whose
prompt alone fills `max_length` are dropped (nothing would be trained on).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from trlprep.errors import DataError, UsageError
from trlprep.registry import Format, get_type

# what each layout's tokenised rows hold (lists of token ids unless named otherwise)
LAYOUTS = {
    "lm": ("ids", "mask"),  # one sequence and which tokens are trained on
    "pairs": ("prompt", "chosen", "rejected"),
    "unpaired": ("prompt", "completion", "label"),
    "scored-pairs": ("chosen", "rejected", "margin"),  # whole sequences (reward models)
    "stepwise": ("ids", "labels"),  # token labels: -100, or the step label on its last token
}


@dataclass
class Prepared:
    """Tokenised rows (columns as in `LAYOUTS`) and how the data got there."""

    rows: dict[str, list]
    source_type: str
    route: list[str]
    templated: bool
    dropped: int = 0
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(next(iter(self.rows.values())))


def to_training_table(
    data: Any,
    accepts: Sequence[str],
    tokenizer: Any,
    *,
    chat_template: Any = None,
    algo: str = "",
) -> tuple[pa.Table, str, list[str], bool]:
    """Detect `data`, convert it to the first of `accepts` unless it already is one of them,
    and render conversational rows with the chat template (the tokenizer's by default).

    Returns the standard-text table, the detected type, the route taken and whether a chat
    template was applied.
    """
    from trlprep.adapters import as_input
    from trlprep.api import convert
    from trlprep.detect import detect_table
    from trlprep.graph import route

    table = as_input(data).table
    det = detect_table(table)
    if det.type is None:
        raise DataError(
            "cannot tell the dataset type: " + "; ".join(det.notes),
            hint=f"{algo} trains on {accepts[0]} data; run `trlprep detect` on it",
        )
    problems = [p for p in det.problems if p.code != "ambiguous-prompt"]
    if problems:
        p = problems[0]
        raise DataError(
            f"the data is not uniform: {p.message}"
            + (f" (e.g. rows {', '.join(map(str, p.rows))})" if p.rows else ""),
            hint="run `trlprep validate` on it for every problem",
        )
    if det.format is Format.TOKENIZED:
        if det.type.name not in accepts:
            raise DataError(f"{algo} cannot train on tokenized {det.type.name} data")
        return table, det.type.name, [det.type.name], False
    dst = det.type if det.type.name in accepts else get_type(accepts[0])
    templated = det.format is Format.CONVERSATIONAL
    if dst is det.type and not templated:
        return table, det.type.name, [det.type.name], False
    try:
        names = route(det.type, dst).names()
    except UsageError as e:
        raise DataError(
            f"{algo} trains on {' or '.join(accepts)} data; this data is {det.type.name} "
            f"and cannot be converted: {e.message}",
            hint=e.hint or "convert it with `trlprep convert` first",
        ) from e
    template = chat_template if chat_template is not None else tokenizer
    table = convert(
        table,
        to=dst.name if dst is not det.type else None,
        chat_template=template if templated else None,
        tokenizer=tokenizer if templated else None,
    )
    return table, det.type.name, names, templated


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


class Tokenise:
    """Tokenise standard text columns for one layout; see the module docstring for the rules."""

    def __init__(self, tokenizer: Any, *, templated: bool, max_length: int | None) -> None:
        self.tok = tokenizer
        self.special = not templated
        self.eos = "" if templated else (tokenizer.eos_token or "")
        self.max_length = max_length

    def ids(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        return self.tok(texts, add_special_tokens=self.special)["input_ids"]

    def with_eos(self, texts: list[str]) -> list[str]:
        e = self.eos
        return [t if not e or t.endswith(e) else t + e for t in texts]

    def split(self, prompts: list[str], completions: list[list[str]]) -> tuple[list, list[list]]:
        """Token ids of the prompts and of each completion column after its prompt."""
        prompt_ids = self.ids(prompts)
        fulls = [
            self.ids([p + c for p, c in zip(prompts, col, strict=True)]) for col in completions
        ]
        prompts_out, comps_out = [], [[] for _ in completions]
        for i, p in enumerate(prompt_ids):
            k = min(common_prefix_length(p, full[i]) for full in fulls)
            prompts_out.append(fulls[0][i][:k] if fulls else p)
            for j, full in enumerate(fulls):
                comps_out[j].append(full[i][k:])
        return prompts_out, comps_out

    def fits(self, prompt: Sequence[int]) -> bool:
        return self.max_length is None or len(prompt) < self.max_length

    def cut(self, ids: list[int]) -> list[int]:
        return ids if self.max_length is None else ids[: self.max_length]


def _col(table: pa.Table, name: str) -> list:
    return table.column(name).to_pylist()


def tokenise_lm(t: Tokenise, table: pa.Table, completion_only_loss: bool | None) -> dict:
    if "input_ids" in table.column_names:
        ids = [t.cut(list(x)) for x in _col(table, "input_ids")]
        return {"ids": ids, "mask": [[1] * len(x) for x in ids]}
    if "text" in table.column_names:
        ids = [t.cut(x) for x in t.ids(t.with_eos(_col(table, "text")))]
        return {"ids": ids, "mask": [[1] * len(x) for x in ids]}
    prompts, (comps,) = t.split(_col(table, "prompt"), [t.with_eos(_col(table, "completion"))])
    only = completion_only_loss is not False
    out: dict[str, list] = {"ids": [], "mask": []}
    for p, c in zip(prompts, comps, strict=True):
        if not t.fits(p):
            continue
        out["ids"].append(t.cut(p + c))
        out["mask"].append(t.cut([0 if only else 1] * len(p) + [1] * len(c)))
    return out


def tokenise_pairs(t: Tokenise, table: pa.Table) -> dict:
    prompts, (chosen, rejected) = t.split(
        _col(table, "prompt"),
        [t.with_eos(_col(table, "chosen")), t.with_eos(_col(table, "rejected"))],
    )
    out: dict[str, list] = {"prompt": [], "chosen": [], "rejected": []}
    for p, c, r in zip(prompts, chosen, rejected, strict=True):
        if t.fits(p):
            out["prompt"].append(p)
            out["chosen"].append(t.cut(p + c)[len(p) :])
            out["rejected"].append(t.cut(p + r)[len(p) :])
    return out


def tokenise_unpaired(t: Tokenise, table: pa.Table) -> dict:
    prompts, (comps,) = t.split(_col(table, "prompt"), [t.with_eos(_col(table, "completion"))])
    out: dict[str, list] = {"prompt": [], "completion": [], "label": []}
    for p, c, label in zip(prompts, comps, _col(table, "label"), strict=True):
        if t.fits(p):
            out["prompt"].append(p)
            out["completion"].append(t.cut(p + c)[len(p) :])
            out["label"].append(bool(label))
    return out


def tokenise_scored_pairs(t: Tokenise, table: pa.Table) -> dict:
    chosen = [t.cut(x) for x in t.ids(t.with_eos(_col(table, "chosen")))]
    rejected = [t.cut(x) for x in t.ids(t.with_eos(_col(table, "rejected")))]
    margin = _col(table, "margin") if "margin" in table.column_names else [None] * len(chosen)
    return {"chosen": chosen, "rejected": rejected, "margin": margin}


def tokenise_stepwise(
    t: Tokenise, table: pa.Table, step_separator: str, train_on_last_step_only: bool
) -> dict:
    """TRL's PRM layout: prompt, then each step followed by the separator; the step's label
    sits on its last token (the separator's), -100 elsewhere."""
    sep = t.tok.encode(step_separator, add_special_tokens=False)
    bos = [t.tok.bos_token_id] if t.special and t.tok.bos_token_id is not None else []
    prompts = t.tok(_col(table, "prompt"), add_special_tokens=False)["input_ids"]
    out: dict[str, list] = {"ids": [], "labels": []}
    for prompt, steps, labels in zip(
        prompts, _col(table, "completions"), _col(table, "labels"), strict=True
    ):
        if train_on_last_step_only:
            labels = [None] * (len(labels) - 1) + labels[-1:]
        ids, token_labels = bos + prompt, [-100] * (len(bos) + len(prompt))
        steps_ids = t.tok(steps, add_special_tokens=False)["input_ids"] if steps else []
        for step_ids, label in zip(steps_ids, labels, strict=True):
            step_ids = step_ids + sep
            ids += step_ids
            token_labels += [-100] * (len(step_ids) - 1) + [-100 if label is None else int(label)]
        out["ids"].append(t.cut(ids))
        out["labels"].append(t.cut(token_labels))
    return out


def prepare(
    data: Any,
    layout: str,
    accepts: Sequence[str],
    tokenizer: Any,
    *,
    max_length: int | None,
    chat_template: Any = None,
    algo: str = "",
    options: Any = None,
    log: Callable[[str], None] = lambda _: None,
) -> Prepared:
    """Detect, convert, template and tokenise `data` for an algorithm's `layout`."""
    table, source, route, templated = to_training_table(
        data, accepts, tokenizer, chat_template=chat_template, algo=algo
    )
    if len(route) > 1 or templated:
        log(
            f"data: {' -> '.join(route)}"
            + (" (chat template applied)" if templated else "")
            + f", {table.num_rows} rows"
        )
    t = Tokenise(tokenizer, templated=templated, max_length=max_length)
    if layout == "lm":
        rows = tokenise_lm(t, table, getattr(options, "completion_only_loss", None))
    elif layout == "pairs":
        rows = tokenise_pairs(t, table)
    elif layout == "unpaired":
        rows = tokenise_unpaired(t, table)
    elif layout == "scored-pairs":
        rows = tokenise_scored_pairs(t, table)
    elif layout == "stepwise":
        rows = tokenise_stepwise(t, table, options.step_separator, options.train_on_last_step_only)
    else:
        raise ValueError(f"unknown layout {layout!r}")
    n = len(next(iter(rows.values())))
    if n == 0:
        raise DataError(
            "no training rows left after tokenisation",
            hint="every prompt fills --max-length; raise it",
        )
    prepared = Prepared(rows, source, route, templated, dropped=table.num_rows - n)
    if prepared.dropped:
        log(f"data: dropped {prepared.dropped} rows whose prompt fills max_length={max_length}")
    return prepared
