"""WebGPT comparisons (openai/webgpt_comparisons): a `question` ({full_text, id, dataset}),
two answers (`answer_0`, `answer_1`) and their scores (`score_0`, `score_1`: from -1 to 1,
summing to 0, the preferred answer's positive) -> preference.

The prompt is the question's `full_text` (a plain-text `question` as it is); chosen is the
answer with the higher score, rejected the other, as open-instruct's `webgpt.py` and
superhf read it. Equal scores are a tie (the dataset's 0: no preference): no pair, the row
left out as `not paired` (no error), as `alpacafarm` ties. A null score refuses its
row; so does an empty answer, the reason naming its side. The question's other fields
become `question_id` and `question_dataset`. The answers are kept as written, with their
citation marks ([1], [2]) to the quotes the model browsed; every other column pair
`NAME_0` / `NAME_1` follows its answer as `chosen_NAME` / `rejected_NAME`: the quotes
(`chosen_quotes`: {title, extract}), the scores and the GPT-2 token ids (`chosen_tokens`).

`--margin` adds `margin` (TRL's reward trainer reads it): |score_0 - score_1|, from 0 to 2,
as open-instruct's webgpt-binarized writes it (WebGPT's own reward model read only which
score is higher).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_string
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

ANSWERS = ("answer_0", "answer_1")
SCORES = ("score_0", "score_1")
SUFFIXES = ("_0", "_1")
TEXT = "full_text"  # the question's text, in its object


class WebGPT(Importer):
    name = "webgpt"
    aliases = ("webgpt-comparisons", "openai-webgpt")
    description = (
        "WebGPT comparisons (question {full_text, id, dataset}, answer_0, answer_1, score_0, "
        "score_1) -> preference: the prompt is question.full_text, chosen = the answer "
        "with the higher score, rejected the other; equal scores (ties) are left out as not "
        "paired, null scores and empty answers reported. NAME_0 / NAME_1 columns (quotes, "
        "score, tokens) follow their answer as chosen_NAME / rejected_NAME. --margin keeps "
        "|score_0 - score_1| as `margin`."
    )
    reads = "question ({full_text, ...} or text), answer_0, answer_1, score_0, score_1"
    columns = ("question", *ANSWERS, *SCORES)
    options_read = ("margin",)

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        return {"question", *ANSWERS, *SCORES} <= set(schema.names)

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return PREFERENCE, Format.CONVERSATIONAL if opts.conversational else Format.STANDARD

    def sources(self, schema: pa.Schema, opts: ImportOptions) -> dict[str, str]:
        return {"prompt": "question"}

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        steps = [
            "prompt: question.full_text" + (" (one user message)" if opts.conversational else ""),
            "chosen: the answer with the higher score (score_0 vs score_1), rejected: the "
            "other; equal scores (a tie) -> not paired; a null score or an empty answer -> "
            "reported",
            "question.id / question.dataset -> question_id / question_dataset",
        ]
        steps += sides_said(schema.names, SUFFIXES, "answer")
        if opts.margin:
            steps.append("margin: |score_0 - score_1| (0 to 2)")
        return steps

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        require(table, "question", *ANSWERS, *SCORES, layout="webgpt")
        said = [opts.map.get(s, s) for s in SCORES]
        score = []
        for name, shown in zip(SCORES, said, strict=True):
            value = numbers(as_array(table.column(name)))
            if value is None:
                raise DataError(
                    f"must hold a number from -1 to 1 (the answer's preference score), not "
                    f"{table.schema.field(name).type}",
                    column=shown,
                )
            bad.add(np.isnan(value), f"{shown} is null: no pair")
            score.append(value)
        bad.add(
            score[0] == score[1],
            f"{said[0]} equals {said[1]} (a tie: no preference): no pair",
            tie=True,
        )
        first_won = score[0] > score[1]
        for name, chosen_if in ((ANSWERS[0], first_won), (ANSWERS[1], ~first_won)):
            _empty_answer(table, name, chosen_if, bad)
        question, asked = _question(table, bad, opts)
        one = _text(table, ANSWERS[0], bad, required=True)
        two = _text(table, ANSWERS[1], bad, required=True)
        first = pa.array(first_won)
        chosen, rejected = pc.if_else(first, one, two), pc.if_else(first, two, one)
        prompt = question
        if opts.conversational:
            prompt = as_messages(question, "user")
            chosen, rejected = as_messages(chosen, "assistant"), as_messages(rejected, "assistant")
        produced = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
        if opts.margin:
            gap = np.abs(score[0] - score[1])
            produced["margin"] = pa.array(np.where(np.isnan(gap), 0.0, gap), pa.float64())
        produced.update(asked)
        sides, consumed, notes = by_side(
            table, side_stems(table.column_names, SUFFIXES, "answer"), SUFFIXES, first
        )
        produced.update(sides)
        used = ("question", *ANSWERS)
        return Converted(assemble(table, produced, used + consumed), notes=notes)


def _question(
    table: pa.Table, bad: Rejections, opts: ImportOptions
) -> tuple[pa.Array, dict[str, pa.Array]]:
    """The question's text, and its other fields as `question_NAME` columns (none for a
    plain-text question); rows without a text are added to `bad`."""
    shown = opts.map.get("question", "question")
    col = as_array(table.column("question"))
    if not pa.types.is_struct(col.type):
        return _text(table, "question", bad, required=True), {}
    if col.type.get_field_index(TEXT) < 0:
        raise DataError(
            f"holds objects without a {TEXT!r} field (the question's text), of "
            f"{', '.join(f.name for f in col.type) or 'no fields'}",
            column=shown,
            hint="name the text column with --map question=NAME",
        )
    text = pc.struct_field(col, TEXT)
    if pa.types.is_null(text.type):
        text = text.cast(pa.string())
    if not is_string(text.type):
        raise DataError(f"{TEXT} must hold text, not {text.type}", column=shown)
    text = text.cast(pa.string())
    null = np.asarray(text.is_null().to_numpy(zero_copy_only=False), bool)
    bad.add(null, f"{shown}.{TEXT} is null")
    others = {
        f"question_{f.name}": pc.struct_field(col, f.name) for f in col.type if f.name != TEXT
    }
    return text, others
