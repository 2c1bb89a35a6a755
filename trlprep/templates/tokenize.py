"""Tokenise a templated (standard) table into the id columns trainers consume.

- language modeling: `input_ids`;
- prompt-completion: `input_ids` (prompt + completion) and `completion_mask`;
- prompt-only: `prompt_ids`; implicit preference: `chosen_ids`, `rejected_ids`;
- preference: `prompt_ids`, `chosen_ids`, `rejected_ids`; unpaired: `prompt_ids`, `completion_ids`.

Prompt and prompt+completion are tokenised whole and split, so the prompt ids are always a
prefix of the full sequence; rows where the tokenizer merges tokens across the boundary (the
prompt tokenised alone is not a prefix) are counted and split at the common prefix. Rendered
text already carries the template's special tokens, so text is tokenised without adding
special tokens; a BOS the tokenizer normally adds is prepended only when the text lacks it.
Every distinct prompt is tokenised once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from trlprep.errors import UsageError
from trlprep.registry import DatasetType, get_type
from trlprep.templates.rules import plan_for

TRUNCATION = ("keep_start", "keep_end")
_IDS = pa.list_(pa.int32())


@dataclass
class TokenizeReport:
    """Rows tokenised, boundary merges, truncations and the longest sequence."""

    rows: int = 0
    boundary_merges: int = 0
    boundary_examples: list[int] = field(default_factory=list)
    truncated: int = 0
    max_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def tokenize_table(
    table: pa.Table,
    dtype: DatasetType | str,
    tokenizer: Any,
    *,
    max_length: int | None = None,
    truncation: str = "keep_start",
    row_offset: int = 0,
) -> tuple[pa.Table, TokenizeReport]:
    """Add the token-id columns of `dtype` to a standard (templated) table."""
    dtype = get_type(dtype)
    if truncation not in TRUNCATION:
        raise UsageError(f"unknown truncation {truncation!r}", hint="use keep_start or keep_end")
    plan = plan_for(dtype)
    if dtype.name == "stepwise-supervision":
        raise UsageError("tokenising stepwise-supervision data is not supported")
    columns = [plan.out_names[c] for c in plan.content]
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise UsageError("cannot tokenise: missing text column(s) " + ", ".join(missing))
    if table.schema.field(columns[0]).type not in (pa.string(), pa.large_string()):
        raise UsageError("tokenise text: apply a chat template first (--chat-template)")
    enc = _Encoder(tokenizer)
    report = TokenizeReport(rows=table.num_rows)
    text = {c: table.column(c).to_pylist() for c in columns}
    new: dict[str, list] = {}
    prompt = plan.out_names.get(plan.prompt) if plan.prompt else None
    if prompt is None:  # language modeling, implicit preference: whole sequences
        for c in columns:
            ids = [_truncate(x, max_length, truncation, report) for x in enc.many(text[c])]
            new["input_ids" if c == "text" else f"{c}_ids"] = ids
    else:
        rest = [c for c in columns if c != prompt]
        p_ids = enc.distinct(text[prompt])
        fulls = {
            c: enc.many([p + x for p, x in zip(text[prompt], text[c], strict=True)]) for c in rest
        }
        prompts, parts = [], {c: [] for c in rest}
        for i, p in enumerate(p_ids):
            full = [fulls[c][i] for c in rest]
            k = min([_common(p, f) for f in full], default=len(p))
            if k < len(p):
                report.boundary_merges += 1
                if len(report.boundary_examples) < 5:
                    report.boundary_examples.append(i + row_offset)
            head, tails = _fit(
                full[0][:k] if full else p, [f[k:] for f in full], max_length, truncation, report
            )
            prompts.append(head)
            for c, tail in zip(rest, tails, strict=True):
                parts[c].append(tail)
        if dtype.name == "prompt-completion":
            c = rest[0]
            new["input_ids"] = [h + t for h, t in zip(prompts, parts[c], strict=True)]
            new["completion_mask"] = [
                [0] * len(h) + [1] * len(t) for h, t in zip(prompts, parts[c], strict=True)
            ]
        else:
            new["prompt_ids"] = prompts
            for c in rest:
                new[f"{c}_ids"] = parts[c]
    for ids in new.values():
        report.max_tokens = max(report.max_tokens, max((len(x) for x in ids), default=0))
    for name, values in new.items():
        arr = pa.array(values, _IDS)
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, arr)
        else:
            table = table.append_column(name, arr)
    return table, report


class _Encoder:
    """Batch tokenisation without added special tokens, BOS prepended where it belongs."""

    def __init__(self, tokenizer: Any) -> None:
        from trlprep.templates.sources import load_tokenizer

        self.tok = load_tokenizer(tokenizer)
        bos = getattr(self.tok, "bos_token", None)
        self.bos_token = bos
        self.bos_id = self.tok.convert_tokens_to_ids(bos) if bos else None
        probe = self.tok("x", add_special_tokens=True)["input_ids"]
        self.adds_bos = bool(bos) and bool(probe) and probe[0] == self.bos_id

    def many(self, texts: list[str]) -> list[list[int]]:
        ids = self.tok(texts, add_special_tokens=False)["input_ids"] if texts else []
        if self.adds_bos:
            ids = [
                x if t.startswith(self.bos_token) else [self.bos_id, *x]
                for t, x in zip(texts, ids, strict=True)
            ]
        return ids

    def distinct(self, texts: list[str]) -> list[list[int]]:
        unique = list(dict.fromkeys(texts))
        ids = dict(zip(unique, self.many(unique), strict=True))
        return [ids[t] for t in texts]


def _common(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    k = 0
    while k < n and a[k] == b[k]:
        k += 1
    return k


def _truncate(
    ids: list[int], max_length: int | None, mode: str, report: TokenizeReport
) -> list[int]:
    if max_length is None or len(ids) <= max_length:
        return ids
    report.truncated += 1
    return ids[:max_length] if mode == "keep_start" else ids[-max_length:]


def _fit(
    prompt: list[int],
    tails: list[list[int]],
    max_length: int | None,
    mode: str,
    report: TokenizeReport,
) -> tuple[list[int], list[list[int]]]:
    """Truncate prompt + each tail to `max_length`, keeping one shared prompt."""
    longest = max((len(t) for t in tails), default=0)
    if max_length is None or len(prompt) + longest <= max_length:
        return prompt, tails
    report.truncated += 1
    if mode == "keep_end":  # drop the prompt's start first, then the tails' ends
        prompt = prompt[max(0, len(prompt) + longest - max_length) :]
    else:  # keep_start: keep the prompt's start, then the tails' starts
        prompt = prompt[:max_length]
    room = max_length - len(prompt)
    return prompt, [t[:room] for t in tails]


__all__ = ["TRUNCATION", "TokenizeReport", "tokenize_table"]
