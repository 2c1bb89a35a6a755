"""Beyond the guide: ranked multi-completion data -> preference pairs or unpaired rows.

A ranked row holds a `prompt`, a list of `completions` (strings, or message lists in
conversational format) and, aligned with them, either `scores` (higher is better) or
`ranks` (1 is best, lower is better). It is not one of TRL's types, so these functions are
not graph edges; they have the edge signature `(table, fmt, opts) -> table`.

To preference (`opts.pairing`):
- `best-vs-rest` (default): the best completion against each strictly worse one;
- `best-vs-worst`: the best against the worst, one pair per row;
- `all-pairs`: every two completions with different scores, the better one chosen.
The best (worst) is the first completion with the highest (lowest) score. Pairs of equal
scores are never made; their count is reported as ties, as is the count of rows with fewer
than two completions. `opts.margin` adds a `margin` column: the score difference (for ranks,
the rank difference), which TRL's RewardTrainer reads.

To unpaired preference: one row per completion, labelled true when its score is at least
`opts.threshold` (for ranks: when its rank is at most the threshold).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from trlprep.converters.base import ConvertOptions
from trlprep.converters.common import (
    check_format,
    choice,
    column,
    content,
    no_nulls,
    output,
    rows_text,
    warn,
)

from trlprep.columns.arrowtypes import is_list, is_messages, is_string
from trlprep.errors import DataError, UsageError
from trlprep.registry import PREFERENCE, UNPAIRED_PREFERENCE, Format
from trlprep.wording import noun

PAIRINGS = ("best-vs-rest", "best-vs-worst", "all-pairs")
SCORE_COLUMNS = ("scores", "ranks")
COMPLETIONS = "completions"


class _Ranked:
    """The flattened completions and scores of a ranked table."""

    def __init__(self, table: pa.Table, fmt: Format) -> None:
        fmt = check_format(fmt)
        self.prompt = content(table, "prompt", fmt)
        comps = column(table, COMPLETIONS)
        inner = comps.type.value_type if is_list(comps.type) else None
        want = is_messages if fmt is Format.CONVERSATIONAL else is_string
        if inner is None or not want(inner):
            kind = "message lists" if fmt is Format.CONVERSATIONAL else "strings"
            raise DataError(f"must hold lists of {kind}, not {comps.type}", column=COMPLETIONS)
        present = [c for c in SCORE_COLUMNS if c in table.column_names]
        if len(present) != 1:
            raise DataError(
                "ranked data needs exactly one of the columns `scores` and `ranks`",
                hint="`scores`: higher is better; `ranks`: 1 is best",
            )
        self.score_name = present[0]
        scores = column(table, self.score_name)
        if not (is_list(scores.type) and _numeric(scores.type.value_type)):
            raise DataError(f"must hold lists of numbers, not {scores.type}", column=present[0])
        no_nulls(comps, COMPLETIONS, items=True)
        no_nulls(scores, self.score_name, items=True)
        self.length = pc.list_value_length(comps).to_numpy(zero_copy_only=False).astype(np.int64)
        n_scores = pc.list_value_length(scores).to_numpy(zero_copy_only=False).astype(np.int64)
        bad = np.flatnonzero(self.length != n_scores)
        if len(bad):
            raise DataError(
                f"{rows_text(bad, len(bad))} {noun(len(bad), 'has')} a different number of "
                f"completions and "
                f"{self.score_name}",
                column=self.score_name,
            )
        self.flat = pc.list_flatten(comps)
        raw = pc.list_flatten(scores).to_numpy(zero_copy_only=False).astype(np.float64)
        nan = np.isnan(raw)
        if nan.any():
            rows = np.unique(np.repeat(np.arange(len(self.length)), self.length)[nan])
            raise DataError(
                f"{rows_text(rows, len(rows))} {noun(len(rows), 'holds', 'hold')} NaN",
                column=self.score_name,
            )
        self.raw = raw
        self.score = -raw if self.score_name == "ranks" else raw  # higher is better
        self.row = np.repeat(np.arange(len(self.length)), self.length)
        self.start = np.cumsum(self.length) - self.length


def _numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def _first_where(mask: np.ndarray, row: np.ndarray, n: int) -> np.ndarray:
    """Flat index of each row's first True in `mask` (-1 where none)."""
    out = np.full(n, -1, np.int64)
    pos = np.flatnonzero(mask)
    if len(pos):
        r = row[pos]
        lead = np.ones(len(pos), dtype=bool)
        lead[1:] = r[1:] != r[:-1]
        out[r[lead]] = pos[lead]
    return out


def _extreme(rk: _Ranked, n: int, best: bool) -> np.ndarray:
    nonempty = np.flatnonzero(rk.length > 0)
    value = np.full(n, np.nan)
    if len(nonempty):
        ufunc = np.maximum if best else np.minimum
        value[nonempty] = ufunc.reduceat(rk.score, rk.start[nonempty])
    return _first_where(rk.score == value[rk.row], rk.row, n)


def _all_pairs(rk: _Ranked) -> tuple[np.ndarray, np.ndarray]:
    firsts, seconds = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for size in np.unique(rk.length[rk.length >= 2]):
        rows = np.flatnonzero(rk.length == size)
        a, b = np.triu_indices(int(size), 1)
        base = rk.start[rows][:, None]
        firsts.append((base + a[None, :]).ravel())
        seconds.append((base + b[None, :]).ravel())
    i, j = np.concatenate(firsts), np.concatenate(seconds)
    order = np.lexsort((j, i))  # flat positions grow with the row, so this is row order
    return i[order], j[order]


def _pairs(rk: _Ranked, n: int, how: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(chosen flat index, rejected flat index, ties) for every pair, in row order."""
    best = _extreme(rk, n, best=True)
    if how == "best-vs-worst":
        worst = _extreme(rk, n, best=False)
        has = (rk.length >= 2) & (best >= 0)
        tie = has & (rk.score[np.maximum(best, 0)] == rk.score[np.maximum(worst, 0)])
        keep = has & ~tie
        return best[keep], worst[keep], int(tie.sum())
    if how == "best-vs-rest":
        pos = np.arange(len(rk.score))
        b = best[rk.row]
        other = pos != b
        worse = other & (rk.score < rk.score[b])
        ties = int((other & (rk.score == rk.score[b])).sum())
        return b[worse], pos[worse], ties
    i, j = _all_pairs(rk)
    si, sj = rk.score[i], rk.score[j]
    ties = int((si == sj).sum())
    keep = si != sj
    i, j, better = i[keep], j[keep], si[keep] > sj[keep]
    return np.where(better, i, j), np.where(better, j, i), ties


def ranked_to_preference(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    """Pair the completions of each row by score (see module doc)."""
    return ranked_pairs(table, fmt, opts)[0]


def ranked_pairs(
    table: pa.Table, fmt: Format, opts: ConvertOptions
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """(`ranked_to_preference`'s table, each pair's chosen completion's index in its row,
    its rejected one's)."""
    how = choice(opts.pairing, PAIRINGS, "pairing")
    rk = _Ranked(table, fmt)
    n = table.num_rows
    chosen, rejected, ties = _pairs(rk, n, how)
    few = np.flatnonzero(rk.length < 2)
    if ties:
        warn(f"{ties} pairs of completions with equal {rk.score_name} were not made (ties)")
    if len(few):
        have = noun(len(few), "has")
        warn(f"{rows_text(few, len(few))} {have} fewer than two completions: no pair made")
    row = rk.row[chosen]
    produced = {
        "prompt": rk.prompt.take(pa.array(row, pa.int64())),
        "chosen": rk.flat.take(pa.array(chosen, pa.int64())),
        "rejected": rk.flat.take(pa.array(rejected, pa.int64())),
    }
    if opts.margin:
        margin = rk.score[chosen] - rk.score[rejected]
        produced["margin"] = pa.array(margin, pa.float64())
    consumed = {"prompt", COMPLETIONS, rk.score_name}
    out = output(table, PREFERENCE, fmt, produced, consumed, rows=row, types_first=True)
    return out, chosen - rk.start[row], rejected - rk.start[row]


def ranked_to_unpaired(table: pa.Table, fmt: Format, opts: ConvertOptions) -> pa.Table:
    """One row per completion, labelled by `opts.threshold` (see module doc)."""
    if opts.threshold is None:
        raise UsageError(
            "ranked -> unpaired needs a threshold",
            hint="pass --threshold: scores at or above it (ranks at or below it) are good",
        )
    rk = _Ranked(table, fmt)
    if rk.score_name == "ranks":
        label = rk.raw <= opts.threshold
    else:
        label = rk.raw >= opts.threshold
    produced = {
        "prompt": rk.prompt.take(pa.array(rk.row, pa.int64())),
        "completion": rk.flat,
        "label": pa.array(label, pa.bool_()),
    }
    consumed = {"prompt", COMPLETIONS, rk.score_name}
    return output(
        table, UNPAIRED_PREFERENCE, fmt, produced, consumed, rows=rk.row, types_first=True
    )


# The lead's graph wires these by target type name (source: ranked data).
RANKED_CONVERSIONS = {
    "preference": ranked_to_preference,
    "unpaired-preference": ranked_to_unpaired,
}
