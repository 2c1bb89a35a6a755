"""A text prompt beside answers given as assistant messages -> conversational data with an
explicit prompt, the text made the user's message.

Oumi's vision DPO examples (`vision_language_dpo_format.jsonl`) and sets made like them give
`prompt` as plain text and `chosen` / `rejected` (or `completion`) as lists of assistant
messages that do not repeat the user's turn. Read as columns, that mixes standard and
conversational, which no TRL type allows; read as binarized preference (whose
conversations hold the prompt), the prompt would be lost. Here `prompt` becomes
`[{"role": "user", "content": prompt}]` and the answers stay as they are: preference with
explicit prompt (`chosen` + `rejected`), unpaired preference (`completion` + `label`) or
prompt-completion (`completion`). Media given beside (`images`) with no placeholder are then
placed at the start of that user message, as TRL's `prepare_multimodal_messages` places them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import ValueKind, is_string, value_kind
from trlprep.converters.arrowops import as_array
from trlprep.importers.base import Converted, Importer, ImportOptions, Rejections, require
from trlprep.registry import (
    PREFERENCE,
    PROMPT_COMPLETION,
    UNPAIRED_PREFERENCE,
    DatasetType,
    Format,
)

PAIRS = ("chosen", "rejected")
ANSWER_ROLES = ("assistant", "tool")


def answer_columns(schema: pa.Schema) -> tuple[str, ...] | None:
    """The answer columns (`chosen` + `rejected`, else `completion`) of message lists beside a
    text `prompt`; None where `schema` is not of that shape."""
    names = schema.names
    if "prompt" not in names or not is_string(schema.field("prompt").type):
        return None
    for cols in (PAIRS, ("completion",)):
        if all(c in names for c in cols) and all(
            value_kind(schema.field(c)) is ValueKind.MESSAGES for c in cols
        ):
            return cols
    return None


def answers_only(sample: pa.Table | None, cols: tuple[str, ...]) -> bool:
    """True when `sample` has rows and no message of its answer `cols` is another role than
    an assistant's (or a tool's): the prompt is nowhere in the conversations."""
    if sample is None or sample.num_rows == 0:
        return False
    seen = False
    for c in cols:
        roles = pc.list_flatten(as_array(sample.column(c))).field("role")
        if len(roles) == 0:
            continue
        seen = True
        if not pc.all(pc.fill_null(pc.is_in(roles, pa.array(ANSWER_ROLES)), False)).as_py():
            return False
    return seen


class PromptAnswers(Importer):
    name = "prompt-answers"
    aliases = ("text-prompt-answers",)
    description = (
        "A text prompt beside answers as assistant messages that do not repeat it (Oumi's "
        "vision DPO examples) -> conversational data with an explicit prompt: prompt made "
        "the user's message; chosen + rejected: preference, completion (+ label): "
        "prompt-completion (unpaired preference)."
    )
    reads = "prompt (text), chosen + rejected or completion (assistant message lists)"
    columns = ("prompt", *PAIRS, "completion", "label")

    def reads_over_trl(self, schema: pa.Schema) -> bool:
        return True  # standard beside conversational: no TRL type reads it as it is

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        cols = answer_columns(schema)
        return cols is not None and answers_only(sample, cols)

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        if answer_columns(schema) == PAIRS:
            return PREFERENCE, Format.CONVERSATIONAL
        if "label" in schema.names:
            return UNPAIRED_PREFERENCE, Format.CONVERSATIONAL
        return PROMPT_COMPLETION, Format.CONVERSATIONAL

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        cols = answer_columns(schema) or PAIRS
        return [
            'prompt (text): made one user message, [{"role": "user", "content": prompt}]',
            f"{' and '.join(cols)}: kept as they are (the answers alone)",
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        require(table, "prompt", layout=self.name)
        cols = answer_columns(table.schema)
        require(table, *(cols or PAIRS), layout=self.name)
        i = table.column_names.index("prompt")
        table = table.set_column(i, "prompt", user_messages(as_array(table.column("prompt"))))
        notes = ["column 'prompt' (text): made the user's message of each conversation"]
        return Converted(table, notes=notes)


def user_messages(text: pa.Array) -> pa.Array:
    """Each text as a list of one user message (null stays null)."""
    text = text.cast(pa.string())
    valid = np.asarray(text.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    offsets = np.concatenate([[0], np.cumsum(valid)]).astype(np.int32)
    kept = text.filter(pa.array(valid))
    role = pa.repeat(pa.scalar("user"), len(kept))
    messages = pa.StructArray.from_arrays([role, kept], names=["role", "content"])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), messages, mask=pa.array(~valid))
