"""Rows whose cut to `--max-length` removes the end of their reasoning, and so their answer.

A reasoning trace is `<think> ... </think>` then the answer (Sky-T1 / OpenThoughts:
`<|begin_of_thought|> ... <|end_of_thought|>` then the solution; Qwen3's template renders
`reasoning_content` the same way; gpt-oss's renders `thinking` in its analysis channel,
then the answer after `<|channel|>final<|message|>`, which ends the reasoning there).
Cutting such a sequence's end (keep_start) past the
reasoning's close keeps reasoning with no answer: the model learns to think and never
answer. keep_end keeps the sequence's end, so the answer stays.

A row's need is the token count of its sequence up to and including the last reasoning end
of its answer (prompt + answer head, tokenised as the whole sequence is); the answer is cut
away where the need passes `max_length`. The heads are found with Arrow string kernels
(`reasoning_heads`); only rows holding an end are tokenised again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.templates.encoder import lengths_without_eos
from trlprep.wording import noun, plural

REASONING_ENDS = ("</think>", "<|end_of_thought|>", "<|channel|>final<|message|>")
# an end that closes reasoning only after this start (gpt-oss: a final channel with no
# analysis channel before it is an answer alone)
_STARTS = {"<|channel|>final<|message|>": "<|channel|>analysis<|message|>"}


def reasoning_heads(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each text up to the end of its last reasoning end (`REASONING_ENDS`); null where it
    holds none."""
    arr = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    arr = arr.cast(pa.large_string())
    best = pa.nulls(len(arr), pa.large_string())
    for end in REASONING_ENDS:
        parts = pc.split_pattern(arr, end, max_splits=1, reverse=True)
        found = pc.equal(pc.list_value_length(parts), 2)
        if end in _STARTS:
            opened = pc.match_substring(pc.list_element(parts, 0), _STARTS[end])
            found = pc.and_(found, pc.fill_null(opened, False))
        head = pc.binary_join_element_wise(
            pc.list_element(parts, 0),
            pa.scalar(end, pa.large_string()),
            pa.scalar("", pa.large_string()),
        )
        head = pc.if_else(pc.fill_null(found, False), head, pa.scalar(None, pa.large_string()))
        longer = pc.greater(
            pc.fill_null(pc.utf8_length(head), -1), pc.fill_null(pc.utf8_length(best), -1)
        )
        best = pc.if_else(longer, head, best)
    return best


def needs(
    heads: pa.Array,
    prompts: pa.Array | None,
    rows: np.ndarray,
    count: Callable[[list[str]], np.ndarray],
) -> np.ndarray:
    """The tokens each of `rows` needs to keep its answer's last reasoning end: `count` of
    prompt + head (0 where the row holds no end)."""
    out = np.zeros(len(rows), np.int64)
    if not len(rows):
        return out
    at = pa.array(rows, pa.int64())
    head = heads.take(at).cast(pa.large_string())
    has = np.asarray(head.is_valid().to_numpy(zero_copy_only=False), bool)
    if not has.any():
        return out
    head = head.filter(pa.array(has))
    if prompts is not None:
        p = prompts.take(at).filter(pa.array(has)).cast(pa.large_string())
        head = pc.binary_join_element_wise(p, head, pa.scalar("", pa.large_string()))
    out[has] = count(head.to_pylist())
    return out


def answers_cut(
    table: pa.Table,
    answers: list[str],
    prompt: str | None,
    ids: dict[str, pa.Array],
    encode: Callable[[list[str]], list[list[int]]],
    max_length: int,
    whole: dict[str, np.ndarray] | None = None,
) -> tuple[int, int, list[str]]:
    """(rows keep_start cut to `max_length` before their answer's last reasoning end, the
    most tokens one of them needs to keep its answer whole: prompt and answer, the
    reasoning ends those rows hold: `ends_held`) of a table
    tokenised into `ids` (`tokenize_table`'s columns: `input_ids`, else `prompt_ids` +
    `ANSWER_ids`); only rows cut to `max_length` that hold an end are tokenised again, with
    `encode`. `whole`: per answer column, each row's prompt + answer token count before the
    cut (-1 where unknown); rows without one are tokenised whole again."""
    lost = np.zeros(table.num_rows, bool)
    need = np.zeros(table.num_rows, np.int64)
    ends: list[str] = []
    prompts = None if prompt is None else table.column(prompt).combine_chunks()
    for c in answers:
        name = "input_ids" if "input_ids" in ids else f"{c}_ids"
        kept = _lengths(ids[name])
        if name != "input_ids" and "prompt_ids" in ids:
            kept = kept + _lengths(ids["prompt_ids"])
        count = lambda t: np.array([len(x) for x in encode(t)])  # noqa: E731
        heads = reasoning_heads(table.column(c))
        held = np.asarray(heads.is_valid().to_numpy(zero_copy_only=False), bool)
        rows = np.flatnonzero((kept >= max_length) & held)
        rows = rows[needs(heads, prompts, rows, count) > max_length]
        lost[rows] = True  # the answer's whole sequence is what keeps the answer
        ends = merge_ends(ends, ends_held(heads.take(pa.array(rows, pa.int64()))))
        given = None if whole is None else whole.get(c)
        known = np.full(len(rows), -1, np.int64) if given is None else given[rows].astype(np.int64)
        unknown = known < 0
        texts = table.column(c).combine_chunks()
        known[unknown] = needs(texts, prompts, rows[unknown], count)
        need[rows] = np.maximum(need[rows], known)
    return int(lost.sum()), int(need[lost].max()) if lost.any() else 0, ends


def ends_held(heads: pa.Array) -> list[str]:
    """The reasoning ends (`REASONING_ENDS`, in that order) that `heads` (`reasoning_heads`
    of some rows) end with: the markers a warning about those rows names."""
    codes = set(end_codes(heads).tolist())
    return [e for i, e in enumerate(REASONING_ENDS, 1) if i in codes]


def end_codes(heads: pa.Array) -> np.ndarray:
    """Per head, which reasoning end it ends with: its 1-based place in `REASONING_ENDS`
    (0 for a null head)."""
    out = np.zeros(len(heads), np.int64)
    for i, e in enumerate(REASONING_ENDS, 1):
        ends = pc.fill_null(pc.ends_with(heads, e), False)
        out[np.asarray(ends.to_numpy(zero_copy_only=False), bool) & (out == 0)] = i
    return out


def ends_of(codes: np.ndarray) -> list[str]:
    """The reasoning ends `codes` (`end_codes`) name, in `REASONING_ENDS` order."""
    held = set(np.unique(codes).tolist())
    return [e for i, e in enumerate(REASONING_ENDS, 1) if i in held]


def merge_ends(*said: list[str]) -> list[str]:
    """The ends any of `said` names, in `REASONING_ENDS` order."""
    return [e for e in REASONING_ENDS if any(e in s for s in said)]


def whole_lengths(
    fulls: dict[str, list[list[int]]], table: pa.Table, eos: str | None, tok: Any
) -> dict[str, np.ndarray]:
    """Per answer column of `table`, prompt + answer's ids before any cut (`fulls`, the EOS
    `add_eos` appended left out: `lengths_without_eos`) counted: the lengths that keep the
    answers whole, for `answers_cut`, which would otherwise tokenise them again."""
    return {c: lengths_without_eos(ids, table.column(c), eos, tok) for c, ids in fulls.items()}


def _lengths(arr: pa.Array) -> np.ndarray:
    return np.asarray(
        pc.list_value_length(arr).fill_null(0).to_numpy(zero_copy_only=False), np.int64
    )


def flag_words(n: int) -> str:
    """A limit said as the CLI flag (`--max-length 512`)."""
    return f"--max-length {n}"


def answer_cut_warning(
    rows: int,
    max_length: int,
    need: int,
    said: Callable[[int], str] = flag_words,
    ends: list[str] | None = None,
) -> str:
    """The warning for `rows` cut to `max_length` before their reasoning's end (`need`: the
    most tokens one of them needs to keep its answer whole; `said`: a limit in the caller's
    words; `ends`: the reasoning ends they hold, every one where not given)."""
    shown = [f"`{e}`" for e in (ends or REASONING_ENDS)]
    ends_said = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" or {shown[-1]}"
    return (
        f"{plural(rows, 'row')} cut to {said(max_length)} before the end of "
        f"{noun(rows, 'its', 'their')} reasoning ({ends_said}): the answer after it is cut away, "
        f"so the model trains on reasoning with no answer; {said(need)} keeps these answers "
        "(or leave such rows out: no option drops them)"
    )


__all__ = [
    "REASONING_ENDS",
    "answer_cut_warning",
    "answers_cut",
    "end_codes",
    "ends_held",
    "ends_of",
    "merge_ends",
    "flag_words",
    "needs",
    "reasoning_heads",
    "whole_lengths",
]
