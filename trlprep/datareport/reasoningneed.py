"""Per row, the tokens a cut must keep so that the answer's last reasoning end survives.

Kept beside the token lengths (role `NEED`, 0 where the answer holds no reasoning end:
`templates.answercut`), so that each max length of the report's truncation table counts the
rows keep_start cuts before the end of their reasoning, the answer cut away with it. Only
rows longer than the shortest limit the report looks at are tokenised again.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from trlprep.registry import DatasetType
from trlprep.templates.answercut import answer_cut_warning, end_codes, needs, reasoning_heads

NEED = "_reasoning_end"  # a role of `Collected.lengths` that is no text's length
# and another: prompt + answer tokenised whole, of the rows a limit may cut before their end
WHOLE = "_reasoning_whole"
ENDS = "_reasoning_end_kind"  # and which end (`answercut.end_codes`) the need is counted to
_ANSWERS = {
    "prompt-completion": ("completion",),
    "unpaired-preference": ("completion",),
    "preference": ("chosen", "rejected"),
    "preference-implicit": ("chosen", "rejected"),
    "language-modeling": ("text",),
}
_PROMPTED = ("prompt-completion", "unpaired-preference", "preference")


def reasoning_needs(
    dtype: DatasetType,
    part: pa.Table,
    lengths: dict[str, np.ndarray],
    floor: int,
    count: Callable[[list[str]], np.ndarray],
) -> dict[str, np.ndarray] | None:
    """Per row of `part` (the text the report tokenised, with the `lengths` it measured:
    rows no longer than `floor` are never cut), `NEED` and, where that passes `floor`,
    `WHOLE`: the tokens that keep its answer whole, counted as convert counts them (0
    elsewhere); None for a type with no answer."""
    answers = _ANSWERS.get(dtype.name)
    if not answers or any(c not in part.column_names for c in answers):
        return None
    seq = np.maximum.reduce([lengths[c] for c in answers if c in lengths])
    seq = seq + lengths.get("prompt", 0)
    need = np.zeros(part.num_rows, np.int64)
    whole = np.zeros(part.num_rows, np.int64)
    kinds = np.zeros(part.num_rows, np.int64)
    prompts = part.column("prompt").combine_chunks() if dtype.name in _PROMPTED else None
    for c in answers:
        heads = reasoning_heads(part.column(c))
        held = np.asarray(heads.is_valid().to_numpy(zero_copy_only=False), bool)
        rows = np.flatnonzero(held & (seq > floor))
        got = needs(heads, prompts, rows, count)
        more = got > need[rows]  # the answer that needs the most names the end
        kinds[rows[more]] = end_codes(heads.take(pa.array(rows[more], pa.int64())))
        need[rows] = np.maximum(need[rows], got)
        rows = rows[got > floor]  # cut before their end by some limit: few, tokenised again
        texts = part.column(c).combine_chunks()
        whole[rows] = np.maximum(whole[rows], needs(texts, prompts, rows, count))
    return {NEED: need, WHOLE: whole, ENDS: kinds}


def answers_cut(need: np.ndarray | None, limit: int, mode: str) -> np.ndarray:
    """Rows `mode` cuts to `limit` before their reasoning's end (keep_end keeps the end)."""
    if need is None or mode != "keep_start":
        return np.zeros(0 if need is None else len(need), bool)
    return need > limit


def reasoning_end_warning(truncation: dict) -> list[str]:
    """The report's warning (convert's and train's words) for the rows its `--max-length`
    cuts before their reasoning's end; none without one."""
    for lim in truncation.get("limits", []):
        if lim["max_length"] == truncation.get("max_length") and lim.get("reasoning_end_cut"):
            said = answer_cut_warning(
                lim["reasoning_end_cut"], lim["max_length"], lim["reasoning_end_need"],
                ends=lim.get("reasoning_ends"),
            )  # fmt: skip
            return [f"warning: {said}"]
    return []


__all__ = ["ENDS", "NEED", "WHOLE", "answers_cut", "reasoning_end_warning", "reasoning_needs"]
