"""A text prompt beside a list of generated answers under a name no layout reads.

Evaluation outputs of reasoning models keep each problem with the model's samples as a list
of texts under the evaluation script's own names (Qwen2.5-Math's and SkyThought's `question`
beside `code`, a list holding the whole `<|begin_of_thought|>` trace and solution of each
sample, with `pred` and `score` per sample and the reference `answer` a number). No TRL type
reads those columns; `--from generations --map prompt=question,completions=code` makes one
prompt-completion row per sample. `answer_list_args` finds that advice from the types and
the first rows: the list of texts read as the answers is the one whose texts are longest
(`pred`'s extracted answers are short beside the traces).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list, is_string

# text columns read as the prompt, most specific first (as `ranked` and `generations` read)
PROMPT_NAMES = ("prompt", "question", "problem", "query", "instruction", "input")
# a list beside these is steps with labels or scored answers: stepwise or ranked, not this
_JUDGED = frozenset({"labels", "scores", "ranks"})


def answer_list_args(table: pa.Table) -> tuple[str, str, int] | None:
    """(`--from generations --map ...`, the answers column, its texts' mean length in
    characters) for a text prompt beside lists of texts, else None."""
    lower = {c.lower(): c for c in table.column_names}
    if _JUDGED & set(lower):
        return None
    named = [lower[p] for p in PROMPT_NAMES if p in lower]
    prompt = next((c for c in named if is_string(table.schema.field(c).type)), None)
    if prompt is None:
        return None
    best: tuple[int, int, str] | None = None  # (total length, mean length, column)
    for f in table.schema:
        if f.name == prompt or not (is_list(f.type) and is_string(f.type.value_type)):
            continue
        texts = pc.list_flatten(table.column(f.name))
        if len(texts) == 0 or texts.null_count == len(texts):
            continue
        total = pc.sum(pc.utf8_length(texts)).as_py() or 0
        if total and (best is None or total > best[0]):
            best = (total, total // (len(texts) - texts.null_count), f.name)
    if best is None:
        return None
    renames = ([f"prompt={prompt}"] if prompt != "prompt" else []) + [f"completions={best[2]}"]
    return f"--from generations --map {','.join(renames)}", best[2], best[1]


def verdict_column(table: pa.Table, answers: str) -> str | None:
    """The list column of booleans or numbers holding one value per answer of `answers` in
    every row (each sample's verdict or score: SkyThought's `score`), else None."""
    lengths = pc.list_value_length(table.column(answers))
    for f in table.schema:
        if f.name == answers or not is_list(f.type):
            continue
        if not _verdict_type(f.type.value_type):
            continue
        if pc.all(pc.equal(pc.list_value_length(table.column(f.name)), lengths)).as_py():
            return f.name
    return None


def _verdict_type(t: pa.DataType) -> bool:
    return pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t)


def answer_list_advice(table: pa.Table, other: str | None = None) -> str | None:
    """`answer_list_args` said as advice (`other`: a `--map` of a prompt and a text answer
    that the columns also fit, named as the reference answer's reading), else None."""
    found = answer_list_args(table)
    if found is None:
        return None
    args, column, mean = found
    said = (
        f"column {column!r} holds generated answers, a list of texts per row ({mean:,} "
        f"characters each on average): for prompt-completion (SFT), one row per answer, "
        f"pass `{args}` (trlprep convert DATA {args} -o OUT)"
    )
    verdicts = verdict_column(table, column)
    if verdicts is not None:  # judged samples: KTO's desirable and undesirable answers
        ranked = args.replace("generations", "ranked", 1) + f",scores={verdicts}"
        said += (
            f"; {verdicts!r} holds a verdict per answer: for unpaired preference (KTO) pass "
            f"`{ranked} --threshold 1` (trlprep convert DATA {ranked} --threshold 1 -o OUT; "
            "true reads as 1)"
        )
    if other:
        said += f"; `--map {other}` would train on that column's answer instead"
    return said
