"""Stanford Human Preferences (stanfordnlp/SHP, SHP-2): a Reddit or StackExchange post
(`history`), two top-level comments (`human_ref_A`, `human_ref_B`) and `labels` (1: A is
preferred, 0: B) -> preference.

chosen is the preferred comment, rejected the other, as DeepSpeed-Chat reads SHP (no row
filtered out). A label other than 0 or 1 (null, 2, 0.5) gives no pair and
refuses its row; so does an empty comment, the reason naming its side. Every other column
pair `NAME_A` / `NAME_B` follows its comment: `score_A` -> `chosen_score`, `c_root_id_A` ->
`chosen_c_root_id`, `created_at_utc_A` -> `chosen_created_at_utc` (SHP-2's `metadata_A`
too); `post_id`, `domain`, `upvote_ratio`, `seconds_difference` and `score_ratio` (both
already about the preferred comment) are carried as they are.

`--margin` adds `margin` (TRL's reward trainer reads it): ln(score_ratio), the preferred
comment's score over the other's, which is the reward difference a Bradley-Terry model
gives when each comment's share of the two scores is its chance to be preferred (0 for
equal scores, 0.69 at twice the score). A row whose `score_ratio` is null, below 1 or not
finite has no margin and is refused. SHP's authors train on pairs with score_ratio >= 2 and
at most 5 pairs per post; no row is left out here: filter `score_ratio` (carried) on the
output for that.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers.alpaca import _text
from trlprep.importers.alpacafarm import _empty_answer
from trlprep.importers.base import (
    Converted,
    Importer,
    ImportOptions,
    Rejections,
    assemble,
    require,
)
from trlprep.importers.sides import as_messages, by_side, numbers, side_stems, sides_said
from trlprep.registry import PREFERENCE, DatasetType, Format

REFS = ("human_ref_A", "human_ref_B")
SUFFIXES = ("_A", "_B")
CONSUMED = ("history", *REFS, "labels")


class SHP(Importer):
    name = "shp"
    aliases = ("shp-2", "shp2", "stanford-human-preferences", "stanfordnlp-shp")
    description = (
        "Stanford Human Preferences (SHP, SHP-2: history, human_ref_A, human_ref_B, labels "
        "1: A preferred, 0: B) -> preference: chosen = the preferred comment, rejected the "
        "other; NAME_A / NAME_B columns (score, c_root_id, created_at_utc) follow their "
        "comment as chosen_NAME / rejected_NAME; labels other than 0 or 1 and empty comments "
        "are reported. --margin keeps ln(score_ratio) as `margin`."
    )
    reads = "history, human_ref_A, human_ref_B, labels [+ score_ratio for --margin]"
    columns = (*CONSUMED, "score_ratio")
    options_read = ("margin",)

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        return set(CONSUMED) <= set(schema.names)

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return PREFERENCE, Format.CONVERSATIONAL if opts.conversational else Format.STANDARD

    def sources(self, schema: pa.Schema, opts: ImportOptions) -> dict[str, str]:
        return {"prompt": "history"}

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        steps = [
            "prompt: history" + (" (one user message)" if opts.conversational else ""),
            "chosen: human_ref_A where labels is 1, human_ref_B where it is 0; rejected: the "
            "other; a label other than 0 or 1, or an empty comment -> reported",
        ]
        steps += sides_said(schema.names, SUFFIXES, "human_ref")
        steps.append(
            "margin: ln(score_ratio); a null score_ratio, or one below 1 -> reported"
            if opts.margin
            else "score_ratio carried (SHP's authors keep pairs >= 2; --margin keeps "
            "ln(score_ratio) as margin)"
        )
        return steps

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        require(table, *CONSUMED, *(("score_ratio",) if opts.margin else ()), layout="shp")
        labels = opts.map.get("labels", "labels")
        value = numbers(as_array(table.column("labels")))
        if value is None:
            raise DataError(
                "must hold 1 (human_ref_A is preferred) or 0 (human_ref_B is preferred), not "
                f"{table.schema.field('labels').type}",
                column=labels,
            )
        bad.add(np.isnan(value), f"{labels} is null: no pair")
        bad.add(
            ~np.isnan(value) & ~np.isin(value, (0.0, 1.0)),
            f"{labels} is not 0 or 1 (1: human_ref_A is preferred, 0: human_ref_B): no pair",
        )
        a_won = value == 1.0
        for name, chosen_if in ((REFS[0], a_won), (REFS[1], ~a_won)):
            _empty_answer(table, name, chosen_if, bad)
        history = _text(table, "history", bad, required=True)
        ref_a = _text(table, REFS[0], bad, required=True)
        ref_b = _text(table, REFS[1], bad, required=True)
        first = pa.array(a_won)
        chosen, rejected = pc.if_else(first, ref_a, ref_b), pc.if_else(first, ref_b, ref_a)
        prompt = history
        if opts.conversational:
            prompt = as_messages(history, "user")
            chosen, rejected = as_messages(chosen, "assistant"), as_messages(rejected, "assistant")
        produced = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
        if opts.margin:
            produced["margin"] = _margin(table, bad, opts)
        stems = side_stems(table.column_names, SUFFIXES, "human_ref")
        sides, consumed, notes = by_side(table, stems, SUFFIXES, first)
        produced.update(sides)
        return Converted(assemble(table, produced, CONSUMED + consumed), notes=notes)


def _margin(table: pa.Table, bad: Rejections, opts: ImportOptions) -> pa.Array:
    """ln(score_ratio) per row; rows without a usable ratio are added to `bad`."""
    name = opts.map.get("score_ratio", "score_ratio")
    ratio = numbers(as_array(table.column("score_ratio")))
    if ratio is None:
        raise DataError(
            "must hold the preferred comment's score over the other's (a number >= 1), not "
            f"{table.schema.field('score_ratio').type}",
            column=name,
        )
    usable = np.isfinite(ratio) & (ratio >= 1.0)
    bad.add(
        ~usable,
        f"{name} is null, below 1 or not finite (the preferred comment's score over the "
        "other's): no margin for --margin",
    )
    return pa.array(np.log(np.where(usable, ratio, 1.0)), pa.float64())
