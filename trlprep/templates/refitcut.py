"""A tokenised table's own ids cut as `fit` cuts ids it makes, as whole columns (`refit`):
each record batch's list offsets worked out with numpy, the ids kept by `cut_lists`.

Each function takes one record batch of the id columns and returns the new id columns by
name, counting into the `TokenizeReport` as `truncate`, `fit` and `fit_steps` count. A null
list counts as empty and stays null; a null `<side>_prompt_start` counts as 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.listcut import cut_lists, py_start, spans

if TYPE_CHECKING:
    from trlprep.templates.tokenize import TokenizeReport

IDS = pa.list_(pa.int32())
STEP_IDS = pa.list_(IDS)
START = "_prompt_start"
MASKS = "assistant_masks"  # TRL's column, beside prompt-completion ids
MASK_BITS = pa.list_(pa.int8())


def _kept(length: np.ndarray, max_length: int | None, mode: str) -> tuple[np.ndarray, ...]:
    """(begin, end, cut) of whole sequences of `length` ids cut as `truncate` cuts them."""
    zero = np.zeros_like(length)
    if max_length is None:
        return zero, length, zero.astype(bool)
    cut = length > max_length
    if mode == "keep_start":
        return zero, np.minimum(length, max_length), cut
    return np.maximum(length - max_length, 0), length, cut


def cut_whole(
    batch: pa.RecordBatch,
    names: list[str],
    max_length: int | None,
    mode: str,
    report: TokenizeReport,
) -> dict[str, pa.Array]:
    """Whole sequences (each of `names`) cut on their own; a row counts once however many
    of its sequences are cut (`truncate_rows`)."""
    out, cut = {}, np.zeros(batch.num_rows, bool)
    for name in names:
        column = batch.column(name)
        begin, end, was_cut = _kept(spans(column)[2], max_length, mode)
        out[name] = cut_lists(column, begin, end, IDS)
        cut |= was_cut
    report.truncated += int(cut.sum())
    return out


def cut_masked(
    batch: pa.RecordBatch, max_length: int | None, mode: str, report: TokenizeReport
) -> dict[str, pa.Array]:
    """Prompt-completion `input_ids` cut as a whole sequence, and `completion_mask` (and
    TRL's `assistant_masks` where the batch has them) by as many entries, from the same end."""
    ids = batch.column("input_ids")
    begin, end, cut = _kept(spans(ids)[2], max_length, mode)
    report.truncated += int(cut.sum())
    kept = end - begin
    out = {"input_ids": cut_lists(ids, begin, end, IDS)}
    for name in ("completion_mask", MASKS):
        if name not in batch.schema.names:
            continue
        mask = batch.column(name)
        size = spans(mask)[2]
        if mode == "keep_start":
            mask_range = (np.zeros_like(size), np.minimum(kept, size))
        else:
            mask_range = (np.maximum(size - kept, 0), size)
        out[name] = cut_lists(mask, *mask_range, IDS if name != MASKS else MASK_BITS)
    return out


def cut_sides(
    batch: pa.RecordBatch,
    sides: list[str],
    max_length: int | None,
    mode: str,
    report: TokenizeReport,
) -> dict[str, pa.Array]:
    """A prompt and its answers (`sides`): each side's sequence (the prompt from the side's
    `<side>_prompt_start`, then the answer) cut on its own as `fit` cuts it; the prompt
    kept is the longest any side keeps, each side's start in it given (pairs only)."""
    prompt = batch.column("prompt_ids")
    n = spans(prompt)[2]
    names = batch.schema.names
    begins, lengths, tails = [], [], {}
    truncated = prompt_cut = answer_cut = np.zeros(len(n), bool)
    for side in sides:
        start_name = side.removesuffix("_ids") + START
        start = np.zeros_like(n)
        if start_name in names:
            given = batch.column(start_name).fill_null(0).to_numpy(zero_copy_only=False)
            start = py_start(np.asarray(given, np.int64), n)
        own, t = n - start, spans(batch.column(side))[2]  # the side's prompt and answer
        if max_length is None:
            kept, begin, tail = own, start, (np.zeros_like(t), t)
            cut = prompt_short = answer_short = np.zeros(len(n), bool)
        elif mode == "keep_start":
            cut = own + t > max_length
            kept = np.minimum(own, max_length)  # all of it where the side fits
            tail = (np.zeros_like(t), np.where(cut, np.minimum(t, max_length - kept), t))
            begin, prompt_short = start, cut & (own > kept)
            answer_short = cut & (t > max_length - kept)
        else:
            cut = own + t > max_length
            kept = np.where(cut, np.minimum(own, np.maximum(0, max_length - t)), own)
            tail = (np.where(cut, np.maximum(t - max_length, 0), 0), t)
            begin, prompt_short = np.where(cut, n - kept, start), cut & (kept < own)
            answer_short = cut & (t > max_length)
        truncated, prompt_cut = truncated | cut, prompt_cut | prompt_short
        answer_cut = answer_cut | answer_short
        begins.append(begin)
        lengths.append(kept)
        tails[side] = cut_lists(batch.column(side), *tail, IDS)
    report.truncated += int(truncated.sum())
    report.prompt_cut += int(prompt_cut.sum())
    report.completion_cut += int(answer_cut.sum())
    lengths_by_side = np.stack(lengths)
    widest = np.argmax(lengths_by_side, axis=0)  # the first of the longest, as max() picks
    rows = np.arange(len(n))
    longest = lengths_by_side[widest, rows]
    begin = np.stack(begins)[widest, rows]
    out = {"prompt_ids": cut_lists(prompt, begin, begin + longest, IDS), **tails}
    if len(sides) > 1:
        for side, kept in zip(sides, lengths, strict=True):
            out[side.removesuffix("_ids") + START] = pa.array(longest - kept, pa.int32())
    return out


def cut_steps(
    batch: pa.RecordBatch, max_length: int | None, mode: str, report: TokenizeReport
) -> dict[str, pa.Array]:
    """Stepwise rows: a prompt and whole steps cut as `fit_steps` cuts them (keep_start
    leaves off the steps after the last that fits, keep_end empties those before the first
    that fits); `report.max_tokens` counts the longest row kept."""
    prompt, steps = batch.column("prompt_ids"), batch.column("completions_ids")
    n = spans(prompt)[2]
    inner, offsets, count, _ = spans(steps)
    rows = len(n)
    parent = np.repeat(np.arange(rows), np.diff(offsets))  # each step's row
    own = spans(inner)[2] * (count[parent] > 0)  # ids per step; a null row's count for none
    total = np.bincount(parent, weights=own, minlength=rows).astype(np.int64)
    fits = n + total <= max_length if max_length is not None else np.ones(rows, bool)
    cut = ~fits
    ids_to = np.cumsum(own)  # ids up to each step's end, over every row
    upto = ids_to - np.concatenate([[0], ids_to])[offsets[:-1]][parent]  # within its row
    p_begin, p_end = np.zeros_like(n), n.copy()
    if max_length is None:
        new_steps = steps.cast(STEP_IDS)
        step_total = total
    elif mode == "keep_start":
        p_end = np.where(cut, np.minimum(n, max_length), n)
        room = max_length - p_end
        fitting = (upto <= room[parent]) | fits[parent]
        kept = np.bincount(parent, weights=fitting, minlength=rows).astype(np.int64)
        report.prompt_cut += int((cut & (n > max_length)).sum())
        report.completion_cut += int((cut & (kept < count)).sum())
        new_steps = cut_lists(steps, np.zeros_like(kept), kept, STEP_IDS)
        step_total = np.bincount(parent, weights=own * fitting, minlength=rows).astype(np.int64)
    else:
        after = total[parent] - upto + own  # ids from each step to the row's end
        dropped = (after > max_length) & cut[parent]
        first = np.bincount(parent, weights=dropped, minlength=rows).astype(np.int64)
        step_total = np.bincount(parent, weights=own * ~dropped, minlength=rows).astype(np.int64)
        room = np.maximum(max_length - step_total, 0)
        p_begin = np.where(cut, np.where(first == 0, n - np.minimum(n, room), n), 0)
        report.prompt_cut += int((cut & (p_begin > 0)).sum())
        report.completion_cut += int((cut & (first > 0)).sum())
        step_ids = cut_lists(inner, np.zeros_like(own), np.where(dropped, 0, spans(inner)[2]), IDS)
        valid = steps.is_valid() if steps.null_count else None
        new_steps = pa.ListArray.from_arrays(
            pa.array(offsets, pa.int32()),
            step_ids,
            mask=None if valid is None else pc.invert(valid),
        ).cast(STEP_IDS)
    report.truncated += int(cut.sum())
    kept_prompt = p_end - p_begin
    if rows:
        report.max_tokens = max(report.max_tokens, int((kept_prompt + step_total).max()))
    return {"prompt_ids": cut_lists(prompt, p_begin, p_end, IDS), "completions_ids": new_steps}


__all__ = ["cut_masked", "cut_sides", "cut_steps", "cut_whole"]
