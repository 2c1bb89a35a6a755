"""The rows tokenising refuses, each with its reason: text missing (null), text the
tokenizer fails on (tried row by row once the batch failed), and pairs whose completion a
`--max-length` cut leaves without a token (`cut_reason`)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from trlprep.errors import RowFailures
from trlprep.templates.encoder import Encoder
from trlprep.wording import plural


def cut_reason(
    completions: list[str],
    gone: list[str],
    prompt_tokens: int,
    max_length: int | None,
    empty: list[str],
) -> str:
    prompt = f"prompt is {plural(prompt_tokens, 'token')}"
    cut = [c for c in gone if c not in empty]
    if not cut:  # the other side fits: this one had no tokens before any cut
        return (
            f"the {' and '.join(empty)} completion has no tokens: the pair has nothing to "
            f"compare ({prompt})"
        )
    if completions in (["completion"], []):
        what = "the completion is"
    elif len(cut) == 1:
        what = f"the {cut[0]} completion is"
    else:
        what = f"the {' and '.join(cut)} completions are"
    none = f"; the {' and '.join(empty)} had no tokens to begin with" if empty else ""
    return f"{what} cut away by --max-length {max_length} ({prompt}{none})"


def check_rows(table: pa.Table, columns: list[str]) -> None:
    """Raise one RowFailures for every row whose text is missing."""
    reasons: dict[int, str] = {}
    for c in columns:
        for r in np.flatnonzero(table.column(c).is_null().to_numpy(zero_copy_only=False)):
            reasons.setdefault(int(r), f"{c}: the text is missing (null)")
    raise_failures(reasons)


def failing_rows(table: pa.Table, columns: list[str], enc: Encoder) -> None:
    """After the tokenizer failed on the table: its rows tried one by one, one RowFailures
    for all those it refuses (nothing raised when no row fails alone)."""
    reasons: dict[int, str] = {}
    for c in columns:
        for r, v in enumerate(table.column(c).to_pylist()):
            if r in reasons:
                continue
            try:
                enc.many([v])
            except Exception as e:  # noqa: BLE001 - the tokenizer's own error, per row
                reasons[r] = f"{c}: the tokenizer failed: {type(e).__name__}: {e}"
    raise_failures(reasons)


def raise_failures(reasons: dict[int, str]) -> None:
    if reasons:
        rows = sorted(reasons)
        raise RowFailures(
            rows,
            [reasons[r] for r in rows],
            stage="tokenize",
            hint="fix or drop these rows (--on-error skip sets them aside)",
        )
