"""Advice about the extra columns beside a detected TRL type, added to `Detection.notes`:
an answer column beside prompt-only data (`--map completion=COLUMN`), a true/false label
column beside prompt-completion data (`--map label=COLUMN`, KTO/BCO), and the prompt column
beside text chosen/rejected answers that share no prompt (`--map prompt=COLUMN`).

`layouthint.suggest_import` calls these; the imports that fit columns no TRL type reads stay
there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.detection.mapnames import chosen_rejected

if TYPE_CHECKING:
    from trlprep.detection.detect import Detection

# extra columns beside a `prompt` (prompt-only data) that hold its answer: OpenAI HumanEval's
# `canonical_solution`, `answer`, `response` ... (most specific first; `ground_truth`, an RL
# reward's reference, is left alone on purpose: it is no answer to train on)
ANSWER_COLUMNS = ("completion", "response", "answer", "output", "solution", "target")


def answer_column(columns: list[str]) -> str | None:
    """The extra column of prompt-only data that looks like each prompt's answer (a name of
    `ANSWER_COLUMNS`, or one ending in `_solution`, `_answer`, `_response`, `_output`;
    case-insensitive), else None."""
    lower = {c.lower(): c for c in columns}
    for name in ANSWER_COLUMNS:
        if name in lower:
            return lower[name]
    for c in columns:
        if c.lower().rsplit("_", 1)[-1] in ANSWER_COLUMNS[1:5] and "_" in c:
            return c
    return None


def nested_answer_column(schema: pa.Schema, columns: list[str]) -> str | None:
    """`COLUMN.FIELD` of the first text field under an answer's name (`answer_column`)
    inside an object column of `columns` (verl's `extra_info.answer`), else None."""
    for name in columns:
        if name not in schema.names or not pa.types.is_struct(schema.field(name).type):
            continue
        t = schema.field(name).type
        texts = [
            f.name for f in t if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        ]
        field = answer_column(texts)
        if field is not None:
            return f"{name}.{field}"
    return None


def answer_advice(
    columns: list[str],
    prompt: str = "prompt",
    conversational: bool = False,
    column: str | None = None,
    label: str | None = None,
) -> str | None:
    """The `--map completion=COLUMN` advice for prompt-only data with an answer column
    (`prompt`: the column read as the prompt; a conversational one, `messages` above all,
    needs `prompt=` mapped too and `--conversational` to make a text answer a message;
    `label`: the new name for an extra `label` column holding no true/false values, which
    beside prompt and completion would be read as KTO's label)."""
    column = column or answer_column(columns)
    if column is None:
        return None
    args = f"--map {'' if prompt == 'prompt' else f'prompt={prompt},'}completion={column}"
    if label is not None:
        args += f",{label}={LABEL}"
    if conversational:
        args += " --conversational"
    head, _, field = column.partition(".")
    what = f"field {field!r} of column {head!r}" if field else f"column {column!r}"
    renamed = (
        ""
        if label is None
        else f" ({LABEL!r} renamed: it holds no true/false values, and beside a prompt and a "
        "completion it would be read as the label of unpaired preference)"
    )
    return (
        f"{what} may hold each prompt's answer: for prompt-completion (SFT) pass "
        f"`{args}` (trlprep convert DATA {args} -o OUT){renamed}; "
        f"as it is, the data is prompt-only with {head!r} carried as an extra column"
    )


LABEL = "label"  # unpaired preference's label column


def label_rename(det: Detection, head: pa.Table | pa.RecordBatch | None = None) -> str | None:
    """A free name for the extra `label` column of prompt-only `det` when it holds no
    true/false values (DAPO rollouts: the reference answer), else None: mapping a completion
    beside it would make the rows unpaired preference and refuse them all (`label-type`)."""
    if LABEL not in det.extra_columns:
        return None
    if head is not None and LABEL in head.schema.names:
        if _boolean_like(head.column(LABEL)) is not None:
            return None
    elif set(det.column_kinds.get(LABEL, {})) <= {"bool", "null"}:
        return None
    taken = set(det.extra_columns) | set(det.columns.values())
    name = "label_value"
    n = 2
    while name in taken:
        name, n = f"label_value{n}", n + 1
    return name


# names of a column beside prompt and completion that holds each completion's label (KTO's
# desirable/undesirable), compared lower-case with any `is_` taken off
LABEL_NAMES = (
    "label", "good", "desirable", "thumbs_up", "thumbsup", "upvote", "upvoted", "liked",
    "accepted", "approved", "preferred", "helpful", "correct", "kto_tag", "positive",
)  # fmt: skip


def _boolean_like(values: pa.ChunkedArray | pa.Array) -> str | None:
    """What a column of true/false values holds ("true/false values", "0/1 values",
    "the text true/false"), None when it holds anything else (or only nulls)."""
    if values.null_count == len(values):
        return None
    if pa.types.is_boolean(values.type):
        return "true/false values"
    if pa.types.is_integer(values.type):
        ok, kind = pc.is_in(values, pa.array([0, 1], values.type)), "0/1 values"
    elif pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        ok, kind = (
            pc.is_in(pc.utf8_lower(values), pa.array(["true", "false"])),
            "the text true/false",
        )
    else:
        return None
    return kind if pc.all(pc.fill_null(ok, True)).as_py() else None


def label_column(head: pa.Table | pa.RecordBatch, columns: list[str]) -> tuple[str, str] | None:
    """(column, what it holds) of the extra column of prompt-completion data that looks
    like each completion's label: true/false (or 0/1) values under a name of `LABEL_NAMES`,
    else the one column of booleans; None otherwise."""
    found = []
    for c in columns:
        if c in head.schema.names and (kind := _boolean_like(head.column(c))) is not None:
            found.append((c, kind))
    named = [f for f in found if f[0].lower().removeprefix("is_") in LABEL_NAMES]
    if named:
        return named[0]
    booleans = [f for f in found if f[1] == "true/false values"]
    return booleans[0] if len(booleans) == 1 else None


def label_advice(head: pa.Table | pa.RecordBatch, columns: list[str]) -> str | None:
    """The `--map label=COLUMN` advice for prompt-completion data with a label column."""
    found = label_column(head, columns)
    if found is None:
        return None
    column, kind = found
    # --coerce reads 0/1 and the text true/false as booleans (trlprep.io.labels)
    flags = f"--map label={column}" + ("" if kind == "true/false values" else " --coerce")
    return (
        f"column {column!r} holds {kind} that may be each completion's label: for unpaired "
        f"preference (KTO, BCO) pass `{flags}` (trlprep convert DATA {flags} -o OUT"
        + ("" if kind == "true/false values" else f"; --coerce reads {kind} as booleans")
        + f"); as it is, the data is prompt-completion with {column!r} carried as an extra "
        "column"
    )


def pair_advice(
    columns: list[str], prompt: str = "prompt", conversational: bool = False
) -> str | None:
    """The `--map chosen=X,rejected=Y` advice for prompt-only data with two answer columns
    named for the chosen and the rejected one (NeMo-Aligner's `chosen_response`,
    `rejected_response`), else None."""
    pair = chosen_rejected(columns)
    if pair is None:
        return None
    chosen, rejected = pair
    args = f"--map {'' if prompt == 'prompt' else f'prompt={prompt},'}chosen={chosen},"
    args += f"rejected={rejected}" + (" --conversational" if conversational else "")
    return (
        f"columns {chosen!r} and {rejected!r} may hold each prompt's preferred and rejected "
        f"answers: for preference (DPO, reward modeling) pass `{args}` (trlprep convert DATA "
        f"{args} -o OUT); as it is, the data is prompt-only with both carried as extra columns"
    )


def answer_advice_of(
    det: Detection, schema: pa.Schema | None = None, head: pa.Table | pa.RecordBatch | None = None
) -> str | None:
    """`pair_advice`, else `answer_advice`, for a prompt-only `Detection` (its prompt column
    and format); with the data's `schema`, an answer field inside an object column too
    (`extra_info.answer`); `head`: the first rows, to tell a true/false `label` column."""
    conversational = det.format is not None and det.format.value == "conversational"
    prompt = det.columns.get("prompt", "prompt")
    pair = pair_advice(list(det.extra_columns), prompt, conversational)
    if pair is not None:
        return pair
    label = label_rename(det, head)
    advice = answer_advice(list(det.extra_columns), prompt, conversational, label=label)
    if advice is None and schema is not None:
        nested = nested_answer_column(schema, list(det.extra_columns))
        if nested is not None:
            advice = answer_advice([], prompt, conversational, column=nested, label=label)
    return advice


# columns that hold the prompt beside text chosen/rejected answers (Intel/orca_dpo_pairs:
# `question`; argilla's distilabel pairs: `input`), most specific first
PROMPT_COLUMNS = ("question", "instruction", "query", "input", "problem", "context", "source")


def prompt_beside_answers(head: pa.Table | pa.RecordBatch) -> str | None:
    """Advice for text chosen/rejected answers without a `prompt` column that share not even
    a first character in any head row (so implicit preference would find no prompt): the
    extra column that looks like the prompt, and `--map prompt=COLUMN`; None otherwise."""
    names = head.schema.names
    if "prompt" in names or head.num_rows == 0:
        return None
    if not all(c in names and pa.types.is_string(head.schema.field(c).type) for c in COLS):
        return None
    first = [pc.utf8_slice_codeunits(head.column(names.index(c)), 0, 1) for c in COLS]
    same = pc.equal(*first).drop_null()
    if len(same) == 0 or pc.any(same).as_py():
        return None
    lower = {n.lower(): n for n in names if n not in COLS}
    column = next((lower[c] for c in PROMPT_COLUMNS if c in lower), None)
    lead = "chosen and rejected share no text in any of the first rows, so they hold no prompt"
    if column is None:
        return f"{lead}: if a column holds it, pass `--map prompt=COLUMN`"
    system = next((n for n in names if n.lower() == "system"), None)
    return (
        f"{lead}; column {column!r} looks like it: pass `--map prompt={column}` (trlprep "
        f"convert DATA --map prompt={column} -o OUT)"
        + (
            f"; add --conversational to make column {system!r} the prompt's system message"
            if system
            else ""
        )
    )


COLS = ("chosen", "rejected")

# text columns beside standard language-modeling `text` that hold the prompt `text` answers
# (a generation run saved as `prompt` + `text`, as vLLM's outputs are often written)
PROMPTS_BESIDE_TEXT = ("prompt", "instruction", "question", "query")


def prompt_beside_text(det: Detection, head: pa.Table | pa.RecordBatch) -> str | None:
    """The `--map completion=TEXT` advice for standard language-modeling data with a text
    column beside `text` that looks like its prompt, else None."""
    text = det.columns.get("text", "text")
    lower = {c.lower(): c for c in det.extra_columns}
    column = next((lower[c] for c in PROMPTS_BESIDE_TEXT if c in lower), None)
    if column is None or column not in head.schema.names:
        return None
    if not pa.types.is_string(head.schema.field(column).type):
        return None
    if text in head.schema.names and _holds_prompts(head.column(text), head.column(column)):
        return _rendered_advice(text, column, head.schema)
    args = f"--map {'' if column == 'prompt' else f'prompt={column},'}completion={text}"
    return (
        f"column {column!r} may hold the prompt that {text!r} answers (generation outputs "
        f"saved as {column} + {text}): for prompt-completion (SFT on the answer only) pass "
        f"`{args}` (trlprep convert DATA {args} -o OUT); as it is, the data is language "
        f"modeling on {text!r} alone with {column!r} carried as an extra column"
    )


def _holds_prompts(text: pa.ChunkedArray | pa.Array, prompt: pa.ChunkedArray | pa.Array) -> bool:
    """True when every row's `text` holds its non-empty `prompt` (first rows): the text is
    the prompt rendered with its answer, not the answer alone."""
    if not pa.types.is_string(text.type):
        return False
    both = pc.and_(pc.is_valid(text), pc.fill_null(pc.not_equal(prompt, ""), False))
    texts = pc.filter(text, both).to_numpy(zero_copy_only=False).astype(str)
    prompts = pc.filter(prompt, both).to_numpy(zero_copy_only=False).astype(str)
    return len(texts) > 0 and bool((np.char.find(texts, prompts) >= 0).all())


def _rendered_advice(text: str, column: str, schema: pa.Schema) -> str:
    """What to say of a `text` that holds `column`: a render of prompt and answer, where
    `--map completion=TEXT` would repeat the prompt in the completion."""
    said = (
        f"column {text!r} holds each row's {column!r} (the prompt rendered with its answer): "
        f"as it is, the data is language modeling on {text!r}"
    )
    alpaca = ("instruction", "output")  # the columns the alpaca layout needs
    if column == "instruction" and all(
        c in schema.names and pa.types.is_string(schema.field(c).type) for c in alpaca
    ):
        return (
            f"{said}; for prompt-completion (SFT on the answer only) pass `--from alpaca` "
            "(trlprep convert DATA --from alpaca -o OUT: the prompt built from instruction "
            "and input, the completion output)"
        )
    return f"{said}; `--map completion={text}` would repeat the prompt in the completion"


def route_advice(source: str, det: Detection) -> str | None:
    """What to say when no conversion leads from `source`: a column beside the data that may
    hold what the target needs (a prompt's answer, a text's prompt, a completion's label)."""
    if source == "prompt-only":
        return answer_advice_of(det) or next(
            (
                n
                for n in det.notes
                if "`--from " in n or "also fit the" in n or "may hold each prompt's" in n
            ),
            None,
        )
    if source == "language-modeling":
        return next(
            (n for n in det.notes if "may hold the prompt that" in n or "rendered with its" in n),
            None,
        )
    if source == "prompt-completion":
        return next((n for n in det.notes if "`--map label=" in n), None)
    return None
