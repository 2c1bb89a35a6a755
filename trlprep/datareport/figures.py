"""Every figure of the data report, computed from the collected per-row numbers.

The result is a plain dict (the JSON report): the HTML and text renderings only lay it out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from trlprep.datareport.collected import Collected
from trlprep.datareport.reasoningneed import ENDS, NEED, WHOLE, answers_cut
from trlprep.templates.answercut import ends_of
from trlprep.wording import plural

COMMON_MAX_LENGTHS = (512, 1024, 2048, 4096, 8192)
QUANTILES = {"p50": 50, "p90": 90, "p99": 99}  # percent
BINS = 30
TOP = 10  # patterns, shared prompts ... listed


def _cat(parts: list[np.ndarray], dtype=np.int64) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def length_stats(values: np.ndarray) -> dict[str, Any]:
    """min / p50 / p90 / p99 / max / mean of per-row figures. Each quantile is the nearest
    rank: pN is the smallest value that N% of rows are at or below (the sorted value at
    rank ceil(N/100 * n)). `quantiles_at_max` names the quantiles whose rank is the last
    (too few rows for them to differ from the max: p99 under 100 rows, p90 under 10)."""
    n = len(values)
    if not n:
        return {"rows": 0}
    values = np.asarray(values)
    ranks = {name: (pct * n + 99) // 100 for name, pct in QUANTILES.items()}  # exact ceil
    picked = np.partition(values, sorted({r - 1 for r in ranks.values()} | {0, n - 1}))
    out: dict[str, Any] = {"rows": n, "min": int(picked[0]), "mean": float(values.mean())}
    for name, rank in ranks.items():
        out[name] = int(picked[rank - 1])
    out["max"] = int(picked[n - 1])
    out["total"] = int(values.sum())
    out["quantiles_at_max"] = [name for name, rank in ranks.items() if rank == n]
    return out


def at_max_note(stats: dict[str, Any]) -> str | None:
    """What `stats["quantiles_at_max"]` means, said once under a table (None: nothing)."""
    names = stats.get("quantiles_at_max") or []
    if not names:
        return None
    need = {name: 100 // (100 - QUANTILES[name]) for name in names}  # p99: 100 rows
    first, *rest = names
    more = "".join(f", {name} from {need[name]:,}" for name in rest)
    said = names[0] if not rest else f"{', '.join(names[:-1])} and {names[-1]}"
    verb = "is" if len(names) == 1 else "are"
    return (
        f"{said} {verb} the max with {plural(stats['rows'], 'row')}: a nearest-rank "
        f"{first} can be below the max only from {need[first]:,} rows{more}"
    )


def histogram(values: np.ndarray, bins: int = BINS) -> dict[str, list]:
    """Equal-width bins over [min, max]: `edges` (bins + 1) and `counts`."""
    if not len(values):
        return {"edges": [], "counts": []}
    lo, hi = int(values.min()), int(values.max())
    width = max(1, -(-(hi - lo + 1) // bins))
    edges = list(range(lo, lo + width * bins + 1, width))
    idx = np.minimum((values - lo) // width, bins - 1)
    counts = np.bincount(idx, minlength=bins)
    last = int(np.max(np.flatnonzero(counts))) + 1 if counts.any() else 0
    return {"edges": edges[: last + 1], "counts": counts[:last].tolist()}


def truncation(
    lengths: dict[str, np.ndarray],
    max_lengths: list[int],
    mode: str,
    need: np.ndarray | None = None,
    whole: np.ndarray | None = None,
    kinds: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Per max length: rows truncated, and what the trainer's truncation `mode` cuts.

    keep_start keeps the sequence's start: the completion's end is cut, and the prompt too
    when it alone is longer than the limit (the completion is then lost whole). keep_end
    keeps the last tokens: the prompt's start goes first, the completion's start only when
    it alone is too long.
    A pair counts its longer answer (prompt + answer must fit, as `tokenize_table` cuts).
    `need` (`reasoningneed`): with it, `reasoning_end_cut` counts the rows cut before the
    end of their reasoning, and `reasoning_end_need` is the most tokens one of them needs to
    keep its answer whole (prompt and answer: `whole`, tokenised as one text, else the sum).
    """
    answers = [lengths[r] for r in ("completion", "chosen", "rejected", "text") if r in lengths]
    prompt = lengths.get("prompt")
    if not answers and prompt is None:
        return []
    n = len(answers[0]) if answers else len(prompt)
    answer = np.maximum.reduce(answers) if answers else np.zeros(n, np.int64)
    p = prompt if prompt is not None else np.zeros(n, np.int64)
    total = p + answer
    out = []
    for limit in max_lengths:
        over = total > limit
        if mode == "keep_end":  # the prompt's start goes first, then the answer's start
            prompt_cut = over & (p > 0)
            answer_cut = over & (answer > limit)
            lost = np.zeros(n, bool)
        else:  # keep_start: the answer's end goes first, then the prompt's end
            prompt_cut = over & (p > limit)
            answer_cut = over & (answer > 0)
            lost = answer_cut & (p >= limit)
        k = int(over.sum())
        out.append(
            {
                "max_length": int(limit),
                "truncated": k,
                "truncated_share": k / n if n else 0.0,
                "prompt_cut": int(prompt_cut.sum()),
                "completion_cut": int(answer_cut.sum()),
                "completion_lost": int(lost.sum()),
                "tokens_cut": int(np.maximum(total - limit, 0).sum()),
            }
        )
        if need is not None:
            cut = answers_cut(need, limit, mode)
            out[-1]["reasoning_end_cut"] = int(cut.sum())
            kept = total[cut] if whole is None else np.where(whole[cut] > 0, whole[cut], total[cut])
            out[-1]["reasoning_end_need"] = int(kept.max()) if cut.any() else 0
            if kinds is not None and cut.any():  # the reasoning ends those rows hold
                out[-1]["reasoning_ends"] = ends_of(kinds[cut])
    return out


def preference(lengths: dict[str, np.ndarray], data: Collected) -> dict[str, Any] | None:
    if "chosen" not in lengths or "rejected" not in lengths:
        return None
    c, r = lengths["chosen"], lengths["rejected"]
    n = len(c)
    out: dict[str, Any] = {
        "pairs": n,
        "chosen_mean": float(c.mean()) if n else 0.0,
        "rejected_mean": float(r.mean()) if n else 0.0,
        "chosen_longer": int((c > r).sum()),
        "rejected_longer": int((r > c).sum()),
        "same_length": int((c == r).sum()),
        "chosen_longer_share": float((c > r).mean()) if n else 0.0,
        "identical_pairs": data.identical_pairs,
        "length_difference": length_stats(c - r) if n else {"rows": 0},
    }
    margins = _cat(data.margins, np.float64)
    if len(margins):
        m = pl.Series(margins).drop_nans()
        out["margin"] = {
            "rows": int(m.len()),
            "min": float(m.min()) if m.len() else None,
            "mean": float(m.mean()) if m.len() else None,
            "max": float(m.max()) if m.len() else None,
        }
    return out


def labels(data: Collected) -> dict[str, Any] | None:
    if data.labels:
        lab = pl.Series(_cat(data.labels, bool))
        t = int(lab.sum())
        return {"rows": lab.len(), "true": t, "false": lab.len() - t,
                "true_share": t / lab.len() if lab.len() else 0.0}  # fmt: skip
    if data.step_labels:
        s = pl.concat(data.step_labels)
        frame = pl.DataFrame({"labels": s}).with_row_index("r")
        steps = frame.select(pl.col("labels").list.len()).to_series().fill_null(0)
        per = (
            frame.explode("labels")
            .drop_nulls("labels")
            .with_columns(pl.int_range(pl.len()).over("r").alias("position"))
            .group_by("position")
            .agg(pl.len().alias("steps"), pl.col("labels").cast(pl.Int64).sum().alias("true"))
            .sort("position")
        )
        return {
            "rows": s.len(),
            "steps": length_stats(steps.to_numpy().astype(np.int64)),
            "by_position": [
                {
                    "position": int(p) + 1,
                    "steps": int(k),
                    "true": int(t),
                    "true_share": t / k if k else 0.0,
                }  # fmt: skip
                for p, k, t in per.iter_rows()
            ][: TOP * 2],
        }
    return None


def _weights(data: Collected) -> dict[str, Any]:
    """What SFT's loss trains on where messages carry weights (rows_with_weights 0: every
    token); zeros without weights, so that `--fail-if` can name them on any conversation."""
    return {
        "weights": {
            "rows_with_weights": data.weighted_rows,
            "assistant_messages": data.assistant_messages,
            "assistant_messages_trained": data.assistant_messages - data.weight_0_messages,
            "assistant_messages_weight_0": data.weight_0_messages,
            "rows_with_weight_0": data.weight_0_rows,
            "fractional_weights": data.fractional_weights,
        }
    }


def conversation(data: Collected) -> dict[str, Any] | None:
    if not data.turns:
        return None
    turns = _cat(data.turns)
    patterns = sorted(data.patterns.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "rows": len(turns),
        "turns": length_stats(turns),
        "turns_histogram": dict(
            zip(*(x.tolist() for x in np.unique(turns, return_counts=True)), strict=True)
        ),
        "patterns": [{"pattern": compress(p), "rows": k} for p, k in patterns[:TOP]],
        "distinct_patterns": len(patterns),
        "same_role_in_a_row": data.same_role_rows,
        "tool_calls": data.tool_calls,
        "rows_with_tools": data.tool_rows,
        **_weights(data),
        "images": data.images,
        "rows_with_images": data.image_rows,
        "inline_images": data.inline_images,  # of `images`: held in their message parts
        "rows_with_inline_images": data.inline_image_rows,
        "videos": data.videos,
        "rows_with_videos": data.video_rows,
        "inline_videos": data.inline_videos,
        "rows_with_inline_videos": data.inline_video_rows,
        "audios": data.audios,
        "rows_with_audios": data.audio_rows,
        "inline_audios": data.inline_audios,
        "rows_with_inline_audios": data.inline_audio_rows,
        **{  # placeholders in rows whose medium has no column: nothing they stand for
            f"{m}_placeholders_without_column": getattr(data, f"{m}_placeholders")
            for m in ("image", "video", "audio")
        },
        **{
            f"rows_with_{m}_placeholders_without_column": getattr(data, f"{m}_placeholder_rows")
            for m in ("image", "video", "audio")
        },
    }


def _counts(values: np.ndarray) -> dict[int, int]:
    keys, counts = np.unique(values, return_counts=True)
    return dict(zip(keys.tolist(), counts.tolist(), strict=True))


def compress(pattern: str) -> str:
    """`system,user,assistant,user,assistant` as `system, (user,assistant)×2`."""
    roles = pattern.split(",")
    out: list[str] = []
    i = 0
    while i < len(roles):
        best = (1, 1)  # (unit length, repeats)
        for size in (2, 1, 3, 4):
            unit = roles[i : i + size]
            if len(unit) < size:
                continue
            k = 1
            while roles[i + k * size : i + (k + 1) * size] == unit:
                k += 1
            if k > 1 and k * size > best[0] * best[1]:
                best = (size, k)
        size, k = best
        unit = ",".join(roles[i : i + size])
        out.append(f"({unit})×{k}" if k > 1 and size > 1 else f"{unit}×{k}" if k > 1 else unit)
        i += size * k
    return ", ".join(out)


def duplicates(data: Collected, where) -> dict[str, Any]:
    out: dict[str, Any] = {}
    rows = _cat(data.row_hashes, np.uint64)
    if len(rows):
        _, first, counts = np.unique(rows, return_index=True, return_counts=True)
        out["exact_rows"] = int(len(rows) - len(first))
        out["exact_groups"] = int((counts > 1).sum())
    prompts = _cat(data.prompt_hashes, np.uint64)
    if len(prompts):
        uniq, first, counts = np.unique(prompts, return_index=True, return_counts=True)
        shared = counts > 1
        order = np.argsort(-counts[shared], kind="stable")[:TOP]
        out["distinct_prompts"] = int(len(uniq))
        out["rows_with_shared_prompt"] = int(counts[shared].sum())
        out["top_shared_prompts"] = [
            {"rows": int(counts[shared][i]), **where(int(first[shared][i]))} for i in order
        ]
    if data.pairs:  # chosen equal to rejected: the pair teaches nothing (text, no tokens)
        out["identical_pairs"] = data.identical_pairs
    return out


def build(data: Collected, max_length: int | None, mode: str, where) -> dict[str, Any]:
    """The figures of the report (every key the JSON carries besides the header)."""
    lengths = {role: _cat(parts) for role, parts in data.lengths.items()}
    need = lengths.pop(NEED, None)
    whole = lengths.pop(WHOLE, None)
    kinds = lengths.pop(ENDS, None)
    figures: dict[str, Any] = {
        "rows": {
            "in": data.rows_in,
            "reported": int(sum(len(x) for x in data.row_ids)),
            "rejected": int(sum(data.rejected.values())),
            "rejected_by_stage": dict(data.rejected),
            "rejected_examples": list(data.rejected_examples),
            "rejected_reasons": list(data.rejected_reasons),
            "remarks": list(data.remarks),
        },
    }
    if lengths:
        seq = _sequence(lengths)
        figures["lengths"] = {
            role: {**length_stats(v), "histogram": histogram(v)}
            for role, v in {**lengths, "sequence": seq}.items()
        }
        limits = sorted({*COMMON_MAX_LENGTHS, *([max_length] if max_length else [])})
        limits = truncation(lengths, limits, mode, need, whole, kinds)
        figures["truncation"] = {"mode": mode, "max_length": max_length, "limits": limits}
    figures["preference"] = preference(lengths, data)
    figures["labels"] = labels(data)
    figures["conversation"] = conversation(data)
    figures["duplicates"] = duplicates(data, where)
    figures["text"] = {
        "by_role": data.text,
        "special_tokens_in_text": dict(sorted(data.special_tokens.items())),
    }
    figures["examples"] = data.examples
    return {k: v for k, v in figures.items() if v is not None}


def _sequence(lengths: dict[str, np.ndarray]) -> np.ndarray:
    """The trained sequence: prompt + the longest answer (the whole text for LM)."""
    answers = [lengths[r] for r in ("completion", "chosen", "rejected", "text") if r in lengths]
    p = lengths.get("prompt")
    a = np.maximum.reduce(answers) if answers else np.zeros(len(p), np.int64)
    return a + (p if p is not None else 0)


__all__ = [
    "COMMON_MAX_LENGTHS",
    "QUANTILES",
    "at_max_note",
    "build",
    "compress",
    "histogram",
    "length_stats",
    "truncation",
]
