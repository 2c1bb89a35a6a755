"""The import that fits columns no TRL type reads: a public layout (`--from LAYOUT`) or a
column mapping (`--map prompt=question,completion=answer`).

`suggest_import` fills `Detection.layout` and adds the advice to `Detection.notes`, so
detect, validate, convert and check-template all name the fix. It works on the first rows
detection already read (no second read of the file). The importers are loaded only where
they can matter (start-up time): when no TRL type fits, when the rows disagree, or when
the columns carry a cheap sign of a layout: HH transcripts (read as implicit preference,
`--from hh` is offered), or a layout whose columns merely look like a TRL type
(`Importer.looks_like_trl`: OASST exports, LLaMA-Factory v1 content parts), which
`trlprep convert` reads as that layout.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list

if TYPE_CHECKING:
    from trlprep.detection.detect import Detection

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
)


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


def map_suggestion(columns: list[str]) -> str | None:
    """`prompt=X,completion=Y` for the first pair of `columns` that looks like a prompt and
    its answer (names compared case-insensitively), else None."""
    lower = {c.lower(): c for c in columns}
    for p, c in PAIRS:
        if p in lower and c in lower:
            return f"prompt={lower[p]},completion={lower[c]}"
    return None


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


# text columns that hold the prompt of ranked completions kept under other names
RANKED_PROMPTS = ("prompt", "instruction", "question", "query", "problem", "input")


def ranked_args(schema: pa.Schema) -> tuple[str, str, str] | None:
    """(`--from ranked --map prompt=P,completions=C`, C, its score field) for a text prompt
    beside a list of scored completion objects under other names (AceCode: `question` +
    `inferences` of {completion, pass_rate}), else None."""
    from trlprep.importers.ranked import RANK_FIELDS, SCORE_FIELDS, TEXT_FIELDS

    lower = {c.lower(): c for c in schema.names}
    texts = [lower[p] for p in RANKED_PROMPTS if p in lower]
    prompt = next((c for c in texts if pa.types.is_string(schema.field(c).type)), None)
    if prompt is None:
        return None
    for f in schema:
        if not (is_list(f.type) and pa.types.is_struct(f.type.value_type)):
            continue
        names = [x.name for x in f.type.value_type]
        score = next((x for x in SCORE_FIELDS + RANK_FIELDS if x in names), None)
        if score is None or not any(x in names for x in TEXT_FIELDS):
            continue
        return f"--from ranked --map prompt={prompt},completions={f.name}", f.name, score
    return None


def ranked_suggestion(schema: pa.Schema) -> str | None:
    """The `--from ranked --map ...` advice of `ranked_args`, else None."""
    found = ranked_args(schema)
    if found is None:
        return None
    args, column, score = found
    return (
        f"column {column!r} holds completions scored by {score!r}: pass `{args}` "
        f"(trlprep convert DATA {args} -o OUT: preference pairs, --pairing; unpaired "
        "with --threshold N)"
    )


def inner_messages(schema: pa.Schema) -> str | None:
    """`body.messages`: the first object column's field that holds messages, else None."""
    from trlprep.columns.arrowtypes import is_messages

    for f in schema:
        if pa.types.is_struct(f.type):
            for inner in f.type:
                if inner.name in ("messages", "prompt") and is_messages(inner.type):
                    return f"{f.name}.{inner.name}"
    return None


def answer_advice(
    columns: list[str], prompt: str = "prompt", conversational: bool = False
) -> str | None:
    """The `--map completion=COLUMN` advice for prompt-only data with an answer column
    (`prompt`: the column read as the prompt; a conversational one, `messages` above all,
    needs `prompt=` mapped too and `--conversational` to make a text answer a message)."""
    column = answer_column(columns)
    if column is None:
        return None
    args = f"--map {'' if prompt == 'prompt' else f'prompt={prompt},'}completion={column}"
    if conversational:
        args += " --conversational"
    return (
        f"column {column!r} may hold each prompt's answer: for prompt-completion (SFT) pass "
        f"`{args}` (trlprep convert DATA {args} -o OUT); "
        f"as it is, the data is prompt-only with {column!r} carried as an extra column"
    )


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


def answer_advice_of(det: Detection) -> str | None:
    """`answer_advice` for a prompt-only `Detection` (its prompt column and format)."""
    conversational = det.format is not None and det.format.value == "conversational"
    prompt = det.columns.get("prompt", "prompt")
    return answer_advice(list(det.extra_columns), prompt, conversational)


def _may_look_like_trl(schema: pa.Schema) -> bool:
    """A cheap sign of a layout whose columns also read as a TRL type: an OASST message
    link (message_id + parent_id) or tree (a struct column), or content parts holding
    `value` (LLaMA-Factory v1)."""
    names = set(schema.names)
    if {"message_id", "parent_id"} <= names:
        return True
    for f in schema:
        if pa.types.is_struct(f.type):
            return True
        if is_list(f.type) and pa.types.is_struct(f.type.value_type):
            m = f.type.value_type
            i = m.get_field_index("content")
            if i >= 0:
                c = m.field(i).type
                if is_list(c) and pa.types.is_struct(c.value_type):
                    if c.value_type.get_field_index("value") >= 0:
                        return True
    return False


def _transcripts(head: pa.Table | pa.RecordBatch) -> bool:
    """A cheap sign of HH-style transcripts: a text `chosen` column holding `Human:`."""
    i = head.schema.get_field_index("chosen")
    if i < 0 or not pa.types.is_string(head.schema.field(i).type):
        return False
    return bool(pc.any(pc.match_substring(head.column(i), "Human:")).as_py())


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


def suggest_import(det: Detection, head: pa.Table | pa.RecordBatch) -> None:
    """Name the layout (or --map) that imports `head`'s data, in `det` (see module doc)."""
    if det.type is not None and det.type.name == "preference-implicit":
        advice = prompt_beside_answers(head)
        if advice is not None:
            det.notes.append(advice)
    if det.type is not None and det.type.name == "prompt-only" and not det.problems:
        advice = answer_advice_of(det)
        if advice is not None:
            det.notes.append(advice)
    if det.type is not None and det.type.name == "prompt-completion" and not det.problems:
        advice = label_advice(head, det.extra_columns)
        if advice is not None:
            det.notes.append(advice)
    if det.type is not None and not (
        det.problems or _may_look_like_trl(head.schema) or _transcripts(head)
    ):
        return
    from trlprep.importers import ImportOptions, detect_layout, get_importer

    table = head if isinstance(head, pa.Table) else pa.Table.from_batches([head])
    name = detect_layout(table.schema, table)
    if det.type is None:
        if name is not None:  # read as convert reads it (`importers.layout_read_as`)
            dtype, fmt = get_importer(name).landing(table.schema, ImportOptions())
            det.layout, det.layout_landing = name, (dtype, fmt)
            _view_imported(det, name, table)
            det.notes[:] = [n for n in det.notes if not n.startswith("no dataset type matches")]
            det.notes.append(
                f"read as the {name} layout, as `trlprep convert` reads it (lands on "
                f"{dtype.name}, {fmt.value}); no TRL type reads its columns as they are"
            )
        elif (alpaca := alpaca_suggestion(table.column_names)) is not None:
            plain = map_suggestion(table.column_names)
            det.notes.append(
                f"the columns look like an instruction, a context passage and its answer: pass "
                f"`--from alpaca --map {alpaca}` (trlprep convert DATA --from alpaca --map "
                f"{alpaca} -o OUT; --prompt-style plain or --conversational for other prompts)"
                + (f"; `--map {plain}` alone would leave the context out of the prompt"
                   if plain else "")
            )  # fmt: skip
        elif (ranked := ranked_suggestion(table.schema)) is not None:
            det.notes.append(ranked)
        elif (inner := inner_messages(table.schema)) is not None:
            head, _, field_name = inner.partition(".")
            det.notes.append(
                f"column {head!r} holds a list of messages in its field {field_name!r} (as "
                f"OpenAI Batch API requests do): pass `--map messages={inner}` (trlprep "
                f"convert DATA --map messages={inner} -o OUT)"
            )
        else:
            mapping = map_suggestion(table.column_names)
            if mapping is not None:
                det.notes.append(
                    f"the columns look like a prompt and its answer: pass `--map {mapping}` "
                    "(trlprep convert DATA --map ... -o OUT), or rename them"
                )
        return
    if name is None:
        return
    trl_fails = any(p.code != "ambiguous-prompt" for p in det.problems)
    if not (get_importer(name).looks_like_trl or trl_fails):  # the layout is a choice
        det.layout = name
        det.notes.append(
            f"the columns also fit the {name} layout: `--from {name}` imports them that way"
        )
        return
    dtype, fmt = get_importer(name).landing(table.schema, ImportOptions())
    det.layout, det.layout_landing = name, (dtype, fmt)
    _view_imported(det, name, table)
    looks = f"{det.type.name} ({det.format.value if det.format else 'mixed format'})"
    det.notes[:] = [n for n in det.notes if not n.endswith(looks)]
    if det.problems:  # problems of a reading that is not the one used: say so once
        first = det.problems[0].message
        det.problems.clear()
        det.notes.append(
            f"read as the {name} layout, as `trlprep convert` reads it (lands on {dtype.name}, "
            f"{fmt.value}); its columns alone do not read as one TRL type ({first})"
        )
        return
    det.notes.append(
        f"read as the {name} layout, as `trlprep convert` reads it (lands on {dtype.name}, "
        f"{fmt.value}); its columns alone would read as {looks}: pass "
        f"`--from {det.type.name}` to convert them as they are"
    )


# True while the rows imported from a layout are being detected (this thread or task)
_VIEWING: ContextVar[bool] = ContextVar("trlprep_layout_viewing", default=False)


def _view_imported(det: Detection, name: str, head: pa.Table) -> None:
    """`det.layout_view`: the detection of `head` imported from layout `name` (the columns,
    roles and modality convert writes); `det.layout_rows` too when `head` is every row."""
    from trlprep.detection.detect import detect_table
    from trlprep.errors import TrlprepError
    from trlprep.importers import ImportOptions, get_importer

    if _VIEWING.get():  # the imported rows are read as they are, never imported again
        return
    try:
        result = get_importer(name).apply(head, ImportOptions())
    except TrlprepError:  # the import itself says why, where convert runs it
        return
    if result.table.num_rows == 0:
        return
    token = _VIEWING.set(True)
    try:
        det.layout_view = detect_table(result.table)
    finally:
        _VIEWING.reset(token)
    if head.num_rows == det.num_rows:
        det.layout_rows = result.table.num_rows
