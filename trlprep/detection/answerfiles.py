"""Advice for benchmark answer files whose rows hold no prompt: FastChat llm_judge and
Arena-Hard-Auto `model_answer/*.jsonl` (`question_id`, `model_id`, `choices`
[{index, turns}]), the answers to questions kept in another file under the same id.
"""

from __future__ import annotations

import pyarrow as pa

from trlprep.columns.arrowtypes import is_list

# what the rows are; detection's note starts with it, followed by JOIN
WHAT = (
    "these rows are a model's answers (`choices[].turns`, as FastChat's MT-Bench and "
    "Arena-Hard-Auto write them) to questions kept in another file under the same "
    "`question_id` (their `question.jsonl`): no row holds its prompt"
)
# what to do with them: neither renaming columns nor a layout helps, only a join
JOIN = (
    "join the two files on `question_id` into one row per answer with its question as "
    "`prompt` and the answer as `completion`, then convert that"
)


def answers_elsewhere(schema: pa.Schema) -> str | None:
    """What a model-answer file is and what to do with it, else None."""
    if "question_id" not in schema.names or "choices" not in schema.names:
        return None
    t = schema.field("choices").type
    if not (is_list(t) and pa.types.is_struct(t.value_type)):
        return None
    if t.value_type.get_field_index("turns") < 0:
        return None
    return f"{WHAT}. {JOIN[0].upper()}{JOIN[1:]}"


def answer_file_note(notes: list[str]) -> str | None:
    """Detection's answer-file note among `notes`, else None."""
    return next((n for n in notes if n.startswith(WHAT)), None)
