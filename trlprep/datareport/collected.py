"""The data report's per-row numbers (`Collected`) and how one batch's are put after the
previous batches' (`merge`): one process or many, the same figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

REMARKS = 10  # the conversion's warnings kept (e.g. extracting an implicit prompt)


@dataclass
class Collected:
    """Per-row numbers of every batch, concatenated by `finish`."""

    rows_in: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # stage -> rows
    rejected_examples: list[dict[str, Any]] = field(default_factory=list)
    # the rows an import left out, by reason: {stage, reason, count, examples (row, line)}
    rejected_reasons: list[dict[str, Any]] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    lengths: dict[str, list[np.ndarray]] = field(default_factory=dict)
    row_ids: list[np.ndarray] = field(default_factory=list)
    lines: list[np.ndarray] = field(default_factory=list)
    row_hashes: list[np.ndarray] = field(default_factory=list)
    prompt_hashes: list[np.ndarray] = field(default_factory=list)
    pairs: int = 0  # rows holding both a chosen and a rejected answer
    identical_pairs: int = 0
    labels: list[np.ndarray] = field(default_factory=list)
    step_labels: list[pl.Series] = field(default_factory=list)
    margins: list[np.ndarray] = field(default_factory=list)
    patterns: dict[str, int] = field(default_factory=dict)
    turns: list[np.ndarray] = field(default_factory=list)
    same_role_rows: int = 0
    tool_calls: int = 0
    tool_rows: int = 0
    # per-message `weight` (or xtuner's `loss`): rows setting one, assistant messages, and
    # those weighted 0 (left out of SFT's loss) or fractionally (refused by SFT)
    weighted_rows: int = 0
    assistant_messages: int = 0
    weight_0_messages: int = 0
    weight_0_rows: int = 0
    fractional_weights: int = 0
    images: int = 0  # entries of `images` and image parts holding their image inline
    image_rows: int = 0
    inline_images: int = 0  # of `images`: image parts holding their image inline
    inline_image_rows: int = 0
    videos: int = 0
    video_rows: int = 0
    inline_videos: int = 0  # of `videos`: video parts holding their video inline
    inline_video_rows: int = 0
    audios: int = 0
    audio_rows: int = 0
    inline_audios: int = 0
    inline_audio_rows: int = 0
    # `<image>` / `<video>` / `<audio>` in string content where the medium has no column
    image_placeholders: int = 0
    image_placeholder_rows: int = 0
    video_placeholders: int = 0
    video_placeholder_rows: int = 0
    audio_placeholders: int = 0
    audio_placeholder_rows: int = 0
    text: dict[str, dict[str, int]] = field(default_factory=dict)  # role -> counter
    special_tokens: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)


INDEX = "_index"  # an example candidate's position among its batch's measured rows


def merge(into: Collected, part: Collected, want: int, flagged: set[int]) -> None:
    """Add one batch's numbers (`Collector.part`) after those of the batches before it."""
    into.rows_in += part.rows_in
    for stage, n in part.rejected.items():
        into.rejected[stage] = into.rejected.get(stage, 0) + n
    room = max(0, 5 - len(into.rejected_examples))
    into.rejected_examples.extend(part.rejected_examples[:room])
    for remark in part.remarks:
        _add_remark(into.remarks, remark)
    into.row_ids.extend(part.row_ids)
    into.lines.extend(part.lines)
    add_figures(into, part)
    shown = sum(not e.get("flagged") for e in into.examples)
    room = max(0, want - shown)
    for ex in part.examples:
        i = ex.pop(INDEX)
        if i < room:
            ex.pop("flagged", None)
        elif ex["row"] in flagged:
            ex["flagged"] = True
        else:
            continue
        into.examples.append(ex)


def add_figures(into: Collected, part: Collected) -> None:
    """`part`'s per-row figures (lengths, hashes, labels, conversation and text counts) after
    those of `into`; rows, rejections, remarks and examples are the caller's."""
    for role, arrays in part.lengths.items():
        into.lengths.setdefault(role, []).extend(arrays)
    for name in _FIGURE_LISTS:
        getattr(into, name).extend(getattr(part, name))
    for name in _SUMS:
        setattr(into, name, getattr(into, name) + getattr(part, name))
    for counts, more in (
        (into.patterns, part.patterns),
        (into.special_tokens, part.special_tokens),
    ):
        for key, n in more.items():
            counts[key] = counts.get(key, 0) + n
    for role, counter in part.text.items():
        mine = into.text.setdefault(role, dict.fromkeys(counter, 0))
        for key, n in counter.items():
            mine[key] = mine.get(key, 0) + n


def _add_remark(remarks: list[str], remark: str) -> None:
    """Keep `remark`; one naming rows joins the remark of the same words from earlier
    batches, as if their rows had been one batch (`merge_row_warnings`); remarks naming rows
    stand in the order of their first row (of a folder, by shard, then row), before those
    naming none, however the input was cut into batches."""
    from trlprep.converters.common import first_place_named, merge_row_warnings

    if remark in remarks:
        return
    merged = merge_row_warnings([*remarks, remark])
    if len(merged) > len(remarks) and len(remarks) >= REMARKS:
        return  # a new kind of remark, and no room left for it

    def first(text: str) -> tuple[bool, str, int]:
        at = first_place_named(text)  # of a folder: its shard, then its row there
        return (True, "", 0) if at is None else (False, *at)

    remarks[:] = sorted(merged, key=first)


_FIGURE_LISTS = ("row_hashes", "prompt_hashes", "labels", "step_labels", "margins", "turns")
_SUMS = (
    "pairs", "identical_pairs", "same_role_rows", "tool_calls", "tool_rows",
    "weighted_rows", "assistant_messages", "weight_0_messages", "weight_0_rows",
    "fractional_weights",
    "images", "image_rows", "inline_images", "inline_image_rows",
    "videos", "video_rows", "audios", "audio_rows", "inline_videos", "inline_video_rows",
    "inline_audios", "inline_audio_rows",
    "image_placeholders", "image_placeholder_rows", "video_placeholders",
    "video_placeholder_rows", "audio_placeholders", "audio_placeholder_rows",
)  # fmt: skip


__all__ = ["INDEX", "REMARKS", "Collected", "add_figures", "merge"]
