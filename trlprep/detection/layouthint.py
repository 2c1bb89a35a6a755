"""The import that fits columns no TRL type reads: a public layout (`--from LAYOUT`) or a
column mapping (`--map prompt=question,completion=answer`).

`suggest_import` fills `Detection.layout` and adds the advice to `Detection.notes`, so
detect, validate, convert and check-template all name the fix. It works on the first rows
detection already read (no second read of the file). The importers are loaded only where
they can matter (start-up time): when no TRL type fits, when the rows disagree, or when
the columns carry a cheap sign of a layout: HH transcripts (read as implicit preference,
`--from hh` is offered), or a layout whose columns merely look like a TRL type
(`Importer.looks_like_trl`: OASST exports, LLaMA-Factory v1 content parts), which
`trlprep convert` reads as that layout. The advice about extra columns beside a type that
fits (an answer, a label, a prompt) is `besidehints`.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list
from trlprep.detection.answerlists import answer_list_advice
from trlprep.detection.aspectratings import aspect_advice
from trlprep.detection.besidehints import (
    answer_advice_of,
    label_advice,
    prompt_beside_answers,
    prompt_beside_text,
)
from trlprep.detection.mapnames import (
    alpaca_suggestion,
    map_suggestion,
    paired_suggestion,
    paired_why,
)
from trlprep.detection.textcolumn import text_column_suggestion
from trlprep.detection.tokenids import token_id_samples

if TYPE_CHECKING:
    from trlprep.detection.detect import Detection

AS_IS_ROWS = 4096  # the first rows checked as the type their columns look like
# how `hh_as_text` begins
HH_TEXT = 'the rows hold HH transcripts ("\\n\\nHuman: ... \\n\\nAssistant:")'


def hh_as_text(det: Detection, *, train: bool = False) -> str | None:
    """What to say of HH transcripts (`"\\n\\nHuman: ... \\n\\nAssistant:"`, whole or as
    Dahoas/rm-static cuts them: the transcript up to its last `Assistant:` in `prompt`) in
    TRL's own columns, used as the standard text they are rather than imported with `--from
    hh` (`train`: trained on, in train's flags; else converted); None for other data."""
    if det.layout != "hh" or det.layout_landing is not None:
        return None
    done, kept = ("trained on", "the model learns") if train else ("converted", "the output keeps")
    flag = "--data-from hh" if train else "--from hh"
    turns = "rendered with the chat template" if train else "a --chat-template renders"
    return (
        f"{HH_TEXT}, {done} as standard text: {kept} the raw `Human:` / `Assistant:` "
        f"markers; `{flag}` splits them into turns (messages {turns})"
    )


# list columns beside a `prompt` that hold several generated answers to it (vLLM's
# `outputs`, answers of several models): the `generations` layout when none is scored
GENERATION_COLUMNS = ("completions", "outputs", "responses", "generations", "samples")


def generations_advice(schema: pa.Schema) -> str | None:
    """The `--from generations` advice for prompt-only data whose extra list column holds
    several unscored answers per prompt, else None (the importers load only when a column of
    `GENERATION_COLUMNS` holds a list beside `prompt`)."""
    if "prompt" not in schema.names or not any(
        n in schema.names and is_list(schema.field(n).type) for n in GENERATION_COLUMNS
    ):
        return None
    from trlprep.importers.generations import answers_column

    found = answers_column(schema)
    if found is None:
        return None
    column, text = found
    what = f"objects with the text in {text!r}" if text else "texts"
    return (
        f"column {column!r} holds several answers per prompt ({what}), none scored: for "
        f"prompt-completion (SFT), one row per answer, pass `--from generations` (trlprep "
        f"convert DATA --from generations -o OUT); as it is, the data is prompt-only with "
        f"{column!r} carried as an extra column (answers with scores pair with --from ranked)"
    )


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
        renames = ([f"prompt={prompt}"] if prompt != "prompt" else []) + (
            [f"completions={f.name}"] if f.name != "completions" else []
        )
        args = "--from ranked" + (f" --map {','.join(renames)}" if renames else "")
        return args, f.name, score
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


def renamed_messages(schema: pa.Schema) -> str | None:
    """The one column holding `{role, content}` messages under another name than a TRL
    type's (MiniCPM-V's `conversations` of content parts, `dialog`, `chat`), else None."""
    from trlprep.columns.arrowtypes import is_messages
    from trlprep.detection.columnroles import trl_column_names

    found = [f.name for f in schema if f.name not in trl_column_names() and is_messages(f.type)]
    return found[0] if len(found) == 1 else None


def _may_look_like_trl(schema: pa.Schema) -> bool:
    """A cheap sign of a layout whose columns also read as a TRL type: an OASST message
    link (message_id + parent_id) or tree (a struct column), content parts holding
    `value` (LLaMA-Factory v1), OpenAI's legacy function calling (`function_call`,
    `functions`), messages with an `id` and no `tool_call_id` (Oumi), answers beside a
    prompt (PKU-SafeRLHF, Kaggle's Arena), a rejected answer beside messages (ms-swift)."""
    names = set(schema.names)
    if {"message_id", "parent_id"} <= names:
        return True
    if "messages" in names and "functions" in names:  # OpenAI's legacy function calling
        return True
    if {"messages", "rejected_response"} <= names:  # ms-swift's DPO rows
        return True
    if {"response_0", "response_1"} <= names:  # PKU-SafeRLHF pairs beside a prompt
        return True
    if {"response_a", "response_b", "winner_model_a"} <= names:  # Kaggle's Chatbot Arena
        return True
    if "text" in names and "prompt" not in names:  # generation outputs: `text` the prompt
        if any(n in names and is_list(schema.field(n).type) for n in GENERATION_COLUMNS):
            return True
    for f in schema:
        if pa.types.is_struct(f.type):
            return True
        if is_list(f.type) and pa.types.is_struct(f.type.value_type):
            m = f.type.value_type
            i = m.get_field_index("content")
            if m.get_field_index("function_call") >= 0:  # OpenAI's legacy function calling
                return True
            if m.get_field_index("id") >= 0 and m.get_field_index("tool_call_id") < 0:
                return True  # Oumi's tool messages naming their call in `id`
            if i >= 0:
                c = m.field(i).type
                if is_list(c) and pa.types.is_struct(c.value_type):
                    if c.value_type.get_field_index("value") >= 0:
                        return True
    return False


def _transcripts(head: pa.Table | pa.RecordBatch) -> bool:
    """A cheap sign of HH-style transcripts: a text `chosen` column holding `Human:`, or a
    text `prompt` holding them beside it (Dahoas/rm-static)."""
    if head.schema.get_field_index("chosen") < 0:
        return False
    for name in ("chosen", "prompt"):
        i = head.schema.get_field_index(name)
        if i >= 0 and pa.types.is_string(head.schema.field(i).type):
            if pc.any(pc.match_substring(head.column(i), "Human:")).as_py():
                return True
    return False


def suggest_import(det: Detection, head: pa.Table | pa.RecordBatch) -> None:
    """Name the layout (or --map) that imports `head`'s data, in `det` (see module doc)."""
    if det.type is not None and det.type.name == "preference-implicit":
        advice = prompt_beside_answers(head)
        if advice is not None:
            det.notes.append(advice)
    if det.type is not None and det.type.name == "prompt-only" and not det.problems:
        advice = (
            answer_advice_of(det, head.schema, head)
            or generations_advice(head.schema)
            or ranked_suggestion(head.schema)
        )
        if advice is not None:
            det.notes.append(advice)
    if (
        det.type is not None
        and det.type.name == "language-modeling"
        and det.format is not None
        and det.format.value == "standard"
        and not det.problems
    ):
        advice = prompt_beside_text(det, head)
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
    from trlprep.detection.answerfiles import answers_elsewhere
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
            if name == "ranked" and (aspects := aspect_advice(table.schema)) is not None:
                det.notes.append(aspects)
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
        elif (ids := token_id_samples(table.schema)) is not None:
            det.notes[:] = [n for n in det.notes if not n.startswith("no dataset type matches")]
            det.notes.append(ids)
        elif (elsewhere := answers_elsewhere(table.schema)) is not None:
            # which columns each type needs does not help: no renaming makes a prompt
            det.notes[:] = [n for n in det.notes if not n.startswith("no dataset type matches")]
            det.notes.append(elsewhere)
        elif (inner := inner_messages(table.schema)) is not None:
            head, _, field_name = inner.partition(".")
            det.notes.append(
                f"column {head!r} holds a list of messages in its field {field_name!r} (as "
                f"OpenAI Batch API requests do): pass `--map messages={inner}` (trlprep "
                f"convert DATA --map messages={inner} -o OUT)"
            )
        elif (renamed := renamed_messages(table.schema)) is not None:
            det.notes.append(
                f"column {renamed!r} holds {{role, content}} messages: pass `--map "
                f"messages={renamed}` (trlprep convert DATA --map messages={renamed} -o OUT)"
            )
        elif (paired := paired_suggestion(table.column_names)) is not None:
            det.notes.append(
                f"the columns look like a prompt and two answers, {paired_why(paired)}: "
                f"for preference pass `--map {paired}` "
                f"(trlprep convert DATA --map {paired} -o OUT)"
            )
        else:
            mapping = map_suggestion(table.column_names, table.schema)
            listed = answer_list_advice(table, mapping)  # a model's samples beside the prompt
            if listed is not None:
                det.notes.append(listed)
            elif mapping is not None:
                det.notes.append(
                    f"the columns look like a prompt and its answer: pass `--map {mapping}` "
                    "(trlprep convert DATA --map ... -o OUT), or rename them"
                )
            elif (text := text_column_suggestion(table)) is not None:
                det.notes.append(text)
        return
    if name is None:
        return
    trl_fails = any(p.code != "ambiguous-prompt" for p in det.problems)
    if not (get_importer(name).reads_over_trl(table.schema) or trl_fails):  # the layout is a choice
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
    read_as = f"read as the {name} layout, as `trlprep convert` reads it (lands on {dtype.name}, "
    fault = as_is_fault(det, table, name)
    if fault is not None:  # `--from TYPE` would not give that type's data: say why not
        det.notes.append(f"{read_as}{fmt.value}); its columns alone look like {looks}, but {fault}")
        return
    det.notes.append(
        f"{read_as}{fmt.value}); its columns alone would read as {looks}: pass "
        f"`--from {det.type.name}` to convert them as they are"
    )


def as_is_fault(det: Detection, head: pa.Table, layout: str) -> str | None:
    """Why `--from TYPE` (`det`'s type) would not make `head`'s rows that type's data as
    they are: a text column of the type holds JSON text the layout decodes, or rows fail
    the type's checks (convert would refuse them); None when it would."""
    from trlprep.columns.arrowtypes import is_string
    from trlprep.io.jsontext import looks_like_json_container
    from trlprep.validation.validate import validate_table
    from trlprep.wording import plural

    given = f"`--from {det.type.name}`"
    for column in dict.fromkeys(det.columns.values()):
        if column in head.column_names and is_string(head.schema.field(column).type):
            if looks_like_json_container(head.column(column)):
                return (
                    f"{given} would keep column {column!r} as the JSON text it holds, which "
                    f"the {layout} layout decodes"
                )
    if _AS_IS.get():  # validation detecting the rows it checks: that detection's note is moot
        return None
    rows = head.slice(0, AS_IS_ROWS)
    token = _AS_IS.set(True)
    try:
        report = validate_table(rows, type=det.type, format=det.format, max_errors=1)
    finally:
        _AS_IS.reset(token)
    if not report.errors:
        return None
    first = report.errors[0]
    checked = f"{first.count:,} of {plural(rows.num_rows, 'row')}"
    if rows.num_rows < det.num_rows:
        checked = f"{first.count:,} of the first {plural(rows.num_rows, 'row')}"
    return f"{given} would refuse rows (in {checked}: {first.message}; rule {first.rule})"


# True while the rows imported from a layout are being detected (this thread or task)
_VIEWING: ContextVar[bool] = ContextVar("trlprep_layout_viewing", default=False)
# True while rows are validated as the type their columns look like (`as_is_fault`)
_AS_IS: ContextVar[bool] = ContextVar("trlprep_as_is_checking", default=False)


def _view_imported(det: Detection, name: str, head: pa.Table) -> None:
    """`det.layout_view`: the detection of `head` imported from layout `name` (the columns,
    roles and modality convert writes); `det.layout_rows` too when `head` is every row."""
    from trlprep.detection.detect import detect_table
    from trlprep.errors import TrlprepError
    from trlprep.importers import ImportOptions, get_importer

    if _VIEWING.get():  # the imported rows are read as they are, never imported again
        return
    importer = get_importer(name)
    try:
        result = importer.apply(head, ImportOptions())
    except TrlprepError:  # the import itself says why, where convert runs it
        return
    det.notes += importer.reading_notes(head.schema, ImportOptions())
    if result.table.num_rows == 0:
        return
    token = _VIEWING.set(True)
    try:
        det.layout_view = detect_table(result.table)
    finally:
        _VIEWING.reset(token)
    if head.num_rows == det.num_rows:
        det.layout_rows = result.table.num_rows
