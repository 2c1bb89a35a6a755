"""The `--map` (or `--from alpaca --map`) that columns no TRL type reads fit, told by their
names alone: a prompt and its answer, an instruction with a context passage, a prompt and
two ranked answers (`response_j` / `response_k`, `chosen_response` / `rejected_response`)."""

from __future__ import annotations

import re

import pyarrow as pa

from trlprep.columns.arrowtypes import is_messages, is_string

# (prompt, completion) column names that hold a prompt and its answer, most specific first
PAIRS: tuple[tuple[str, str], ...] = (
    ("question", "answer"),
    ("question", "response"),
    ("query", "response"),
    ("query", "answer"),
    ("instruction", "output"),
    ("instruction", "response"),
    ("input", "output"),
    ("input", "target"),
    ("source", "target"),
    ("problem", "solution"),
    ("prompt", "response"),
    ("prompt", "answer"),
    ("prompt", "output"),
    ("context", "response"),
    ("inputs", "targets"),  # T5 / FLAN mixtures
    ("input_text", "target_text"),
)

# answer columns under a model's or a field's name (evaluation outputs, generation
# pipelines, TruthfulQA's `best_answer`), paired with a prompt of `_PROMPTS`; suggested only
# when the data holds one of them and nothing that compares answers (`_COMPARES`)
_ANSWERS = (
    "model_answer", "model_output", "model_response", "answer_text", "response_text",
    "output_text", "generated_text", "best_answer", "target",
)  # fmt: skip
_PROMPTS = ("question", "query", "instruction", "problem", "prompt", "input", "input_text")
PROMPT_NAMES = _PROMPTS  # a column of these names alone is a prompt (`textcolumn`)
_COMPARES = re.compile(r"chosen|rejected|winner|prefer|rank|(^|_)[ab]$|_[12jk]$")


# an instruction with a passage beside it (Dolly's `context`) and its answer: the alpaca
# layout joins the passage into the prompt, where `--map prompt=instruction` would leave it out
CONTEXT_COLUMNS = ("context", "input")
ANSWERS_OF_INSTRUCTIONS = ("output", "response", "answer")


def alpaca_suggestion(columns: list[str]) -> str | None:
    """`input=context,output=response` (the `--map` of `--from alpaca`) for columns holding an
    instruction, a context passage and an answer under other names than Alpaca's (Databricks
    Dolly: `instruction`, `context`, `response`), else None."""
    lower = {c.lower(): c for c in columns}
    if "instruction" not in lower:
        return None
    context = next((lower[c] for c in CONTEXT_COLUMNS if c in lower), None)
    answer = next((lower[c] for c in ANSWERS_OF_INSTRUCTIONS if c in lower), None)
    if context is None or answer is None:
        return None
    parts = [f"instruction={lower['instruction']}"] if lower["instruction"] != "instruction" else []
    parts += [f"input={context}"] if context != "input" else []
    parts += [f"output={answer}"] if answer != "output" else []
    return ",".join(parts) or None


def map_suggestion(columns: list[str], schema: pa.Schema | None = None) -> str | None:
    """`prompt=X,completion=Y` for the first pair of `columns` that looks like a prompt and
    its answer (names compared case-insensitively), else None. Given the `schema`, only
    columns holding text or messages are read so (an evaluation output's `answer` is often
    the reference number, which no completion can be)."""
    if schema is not None:
        columns = [c for c in columns if c in schema.names and _text_like(schema.field(c).type)]
    lower = {c.lower(): c for c in columns}
    for p, c in PAIRS:
        if p in lower and c in lower:
            return f"prompt={lower[p]},completion={lower[c]}"
    answers = [lower[a] for a in _ANSWERS if a in lower]
    prompt = next((lower[p] for p in _PROMPTS if p in lower), None)
    if len(answers) != 1 or prompt is None or any(_COMPARES.search(c) for c in lower):
        return None  # several answers, or answers compared: preference data, not SFT pairs
    return f"prompt={prompt},completion={answers[0]}"


def _text_like(t: pa.DataType) -> bool:
    return is_string(t) or is_messages(t)


def chosen_rejected(columns: list[str]) -> tuple[str, str] | None:
    """(chosen, rejected): two columns named alike but for `chosen` / `rejected`
    (NeMo-Aligner's DPO data: `chosen_response`, `rejected_response`; case-insensitive),
    other than TRL's own `chosen` and `rejected`; else None."""
    lower = {c.lower(): c for c in columns}
    for name, column in lower.items():
        if "chosen" in name and name != "chosen":
            other = lower.get(name.replace("chosen", "rejected"))
            if other is not None:
                return column, other
    return None


def paired_suggestion(columns: list[str]) -> str | None:
    """`prompt=P,chosen=X_j,rejected=X_k` for a prompt beside two answers named as Stack
    Exchange Paired names them (`response_j`, the answer with the higher score, and
    `response_k`) or alike but for `chosen` / `rejected` (`chosen_rejected`), else None."""
    lower = {c.lower(): c for c in columns}
    prompt = next((lower[p] for p in _PROMPTS if p in lower), None)
    pair = chosen_rejected(columns) or next(
        (
            (lower[c], lower[c[:-1] + "k"])
            for c in lower
            if c.endswith("_j") and c[:-1] + "k" in lower
        ),
        None,
    )
    if prompt is None or pair is None:
        return None
    return f"prompt={prompt},chosen={pair[0]},rejected={pair[1]}"


def paired_why(paired: str) -> str:
    """How `paired_suggestion`'s two answers were told apart, said in its advice."""
    chosen = paired.split("chosen=", 1)[1].split(",", 1)[0]
    if "chosen" in chosen.lower():
        return f"named for the chosen and the rejected one ({chosen!r} preferred)"
    return "the `_j` one preferred (as Stack Exchange Paired ranks them)"
