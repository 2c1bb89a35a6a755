"""Binarized preference conversations with the prompt also given as text -> conversational
preference with implicit prompt.

HuggingFaceH4/ultrafeedback_binarized and the many sets made like it hold `chosen` and
`rejected` as whole conversations (the user's turn included) and, beside them, `prompt` as
plain text: the user's turn again. Read as columns, that is a text prompt in a
conversational preference set, which no TRL type allows. TRL's `maybe_extract_prompt`
(what DPOTrainer applies) ignores such a text prompt and extracts the prompt from the
conversations; this layout does the same: the data lands on preference with an implicit
prompt, and the text column goes. Where the text is not one of the conversation's user
turns in some row, nothing is thrown away: the column is kept as `prompt_text` and a note
counts those rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import ValueKind, is_string, value_kind
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers.base import Converted, Importer, ImportOptions, Rejections, require
from trlprep.importers.promptanswers import answers_only
from trlprep.registry import PREFERENCE_IMPLICIT, DatasetType, Format
from trlprep.wording import plural

COLUMNS = ("chosen", "rejected")
KEPT_AS = "prompt_text"


class Binarized(Importer):
    name = "binarized"
    aliases = ("ultrafeedback-binarized", "text-prompt")
    looks_like_trl = True
    trl_reads_as_is = True  # DPOTrainer's maybe_extract_prompt
    description = (
        "Preference conversations (chosen, rejected: message lists holding the user's turn) "
        "beside a text prompt that repeats it (HuggingFaceH4/ultrafeedback_binarized) -> "
        "conversational preference with implicit prompt, as TRL's maybe_extract_prompt reads "
        f"them: the text prompt is dropped; where it is not a user turn of the conversation "
        f"it is kept as {KEPT_AS!r}."
    )
    reads = "prompt (text), chosen, rejected (message lists)"
    columns = ("prompt", *COLUMNS, KEPT_AS)

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        names = schema.names
        if not all(c in names for c in ("prompt", *COLUMNS)):
            return False
        if not is_string(schema.field("prompt").type):
            return False
        if not all(value_kind(schema.field(c)) is ValueKind.MESSAGES for c in COLUMNS):
            return False
        # conversations of the answers alone do not hold the prompt: `prompt-answers`
        return not answers_only(sample, COLUMNS)

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return PREFERENCE_IMPLICIT, Format.CONVERSATIONAL

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        return [
            "chosen and rejected: kept as they are (each conversation holds the prompt)",
            "prompt (text): dropped, as TRL's maybe_extract_prompt ignores it; kept as "
            f"{KEPT_AS!r} where it is not one of the conversation's user turns",
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        require(table, "prompt", *COLUMNS, layout=self.name)
        unmatched = _unmatched(table)
        notes = []
        if unmatched:
            if KEPT_AS in table.column_names:
                raise DataError(
                    f"column 'prompt' must be kept as {KEPT_AS!r}, which the input already has",
                    column=KEPT_AS,
                    hint=f"rename it first (--map {KEPT_AS}_orig={KEPT_AS})",
                )
            i = table.column_names.index("prompt")
            table = table.set_column(i, KEPT_AS, table.column("prompt"))
            notes.append(
                f"column 'prompt': {plural(unmatched, 'row')} "
                f"{'holds' if unmatched == 1 else 'hold'} a text that is not a user "
                f"turn of chosen; kept as column {KEPT_AS!r} (the prompt is the conversation's)"
            )
        else:
            table = table.drop_columns(["prompt"])
            notes.append(
                "column 'prompt' (text) repeats a user turn of chosen and rejected in every "
                "row: dropped, the prompt is the conversations' own (TRL's maybe_extract_prompt)"
            )
        first = [*COLUMNS, *([KEPT_AS] if unmatched else [])]
        return Converted(
            table.select(first + [n for n in table.column_names if n not in first]), notes=notes
        )


def _unmatched(table: pa.Table) -> int:
    """Rows whose non-null text prompt is no user turn's text content in `chosen`."""
    prompt = as_array(table.column("prompt"))
    chosen = as_array(table.column("chosen"))
    if len(chosen) == 0:
        return 0
    parents = pc.list_parent_indices(chosen)
    turns = pc.list_flatten(chosen)
    content = turns.field("content")
    has_text = np.asarray(pc.fill_null(pc.is_valid(prompt), False), dtype=bool)
    if not is_string(content.type):  # content parts: not compared, so the text is kept
        return int(has_text.sum())
    hit = pc.and_(
        pc.equal(turns.field("role"), "user"), pc.equal(content, pc.take(prompt, parents))
    )
    hit = np.asarray(pc.fill_null(hit, False), dtype=bool)
    found = np.zeros(len(chosen), dtype=bool)
    np.logical_or.at(found, np.asarray(parents), hit)
    return int((has_text & ~found).sum())
