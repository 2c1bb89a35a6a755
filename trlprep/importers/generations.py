"""Several generated answers per prompt, none scored -> prompt-completion, one row per answer.

What a sampling run writes: vLLM's `RequestOutput` saved as JSON (`prompt`, `outputs`
[{index, text, token_ids, finish_reason, ...}]), answers of several models to one prompt
(open-instruct's human-evaluation instances: `prompt`, `completions` [{model, completion}]),
or plain lists of texts (`prompt`, `responses` [...]). The answers column is the first of
`GENERATION_COLUMNS` holding a list (`--map completions=COLUMN` names another); each item
is a text, or an object whose text is the first of `TEXT_FIELDS`. The object's other
fields of one plain value (text, number, boolean: `model`, `finish_reason`, `index`) become
columns of the answer's row; lists and objects (`token_ids`, `logprobs`) are left out, and a
note names them. Other list columns with one entry per answer (an evaluation's `pred`,
`score`) are split with the answers, each row given its own answer's entry
(`alignedlists`); other columns are copied onto every answer's row.

Without scores the answers cannot be paired: scored answers are the `ranked` layout. Rows
set aside, each with its reason: a null prompt, no answers column value or an empty list,
and rows none of whose answers holds text. Answers that are null or empty are left out of
a row that has others, and a note counts them. `--conversational` makes a text prompt one
user message and each answer one assistant message (a message-list prompt makes it so).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_json_field, is_list, is_messages, is_string
from trlprep.converters.arrowops import as_array
from trlprep.detection.layouthint import GENERATION_COLUMNS
from trlprep.errors import DataError
from trlprep.importers.alignedlists import (
    aligned_columns,
    aligned_notes,
    aligned_survey,
    split_entries,
    splittable,
)
from trlprep.importers.base import Converted, Importer, ImportOptions, Rejections, assemble
from trlprep.importers.jsonarrow import row_lengths
from trlprep.importers.messages import field_of, messages_from
from trlprep.importers.ranked import RANK_FIELDS, SCORE_FIELDS
from trlprep.registry import PROMPT_COMPLETION, DatasetType, Format
from trlprep.wording import plural

TEXT_FIELDS = ("text", "completion", "response", "output", "content")


def prompt_name(schema: pa.Schema) -> str | None:
    """The column holding the prompt: `prompt`, else `text` (vLLM's outputs written with the
    prompt as `text`, as open-instruct's batch inference does; read so beside answer objects
    only), else None."""
    return next((n for n in ("prompt", "text") if n in schema.names), None)


def answers_column(schema: pa.Schema) -> tuple[str, str | None] | None:
    """(column, text field or None for plain texts) of the unscored answers beside a
    prompt (`prompt_name`), else None (scored answers are `ranked`; `labels` beside is
    stepwise)."""
    names = set(schema.names)
    if prompt_name(schema) is None or names & {"labels", "scores", "ranks"}:
        return None
    for name in GENERATION_COLUMNS:
        if name not in names:
            continue
        t = schema.field(name).type
        if not is_list(t):
            continue
        item = t.value_type
        if is_string(item) or pa.types.is_null(item):  # null: no answer holds text (refused)
            # `text` beside a list of texts may be anything (a judge's prompt about them)
            return (name, None) if prompt_name(schema) == "prompt" else None
        if not pa.types.is_struct(item) or item.get_field_index("role") >= 0:
            return None
        fields = [f.name for f in item]
        if any(f in fields for f in SCORE_FIELDS + RANK_FIELDS):
            return None
        text = next((f for f in TEXT_FIELDS if f in fields), None)
        return (name, text) if text is not None else None
    return None


class Generations(Importer):
    name = "generations"
    aliases = ("vllm", "samples")
    description = (
        "A prompt with several generated answers, none scored (vLLM outputs, answers of "
        "several models) -> prompt-completion, one row per answer; the answers' other plain "
        "fields (model, finish_reason) kept as columns. Scored answers: --from ranked."
    )
    reads = "prompt + completions|outputs|responses|generations|samples ([text] or [{text, ...}])"
    columns = ("prompt", "text") + GENERATION_COLUMNS

    def reads_over_trl(self, schema: pa.Schema) -> bool:
        # `text` beside answer objects (vLLM's outputs) is their prompt, never a document to model
        return "prompt" not in schema.names and answers_column(schema) is not None

    def sources(self, schema: pa.Schema, opts: ImportOptions) -> dict[str, str]:
        return {"prompt": prompt_name(schema) or "prompt"}

    def expansion(self, opts: ImportOptions) -> str | None:
        return "one row per answer"

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        return answers_column(schema) is not None

    def survey(self, table: pa.Table, opts: ImportOptions) -> set[str]:
        """Which list columns hold one entry per answer (`alignedlists`)."""
        found = answers_column(table.schema)
        return aligned_survey(table, found[0], (prompt_name(table.schema),)) if found else set()

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        name = prompt_name(schema)
        conv = opts.conversational or (name is not None and is_messages(schema.field(name).type))
        return PROMPT_COMPLETION, Format.CONVERSATIONAL if conv else Format.STANDARD

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        found = answers_column(schema)
        column, text = found if found else ("completions", None)
        return [
            f"one row per item of `{column}`",
            "completion: " + (f"the item's `{text}`" if text else "the item"),
            f"prompt: `{prompt_name(schema) or 'prompt'}`, repeated for each answer",
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        found = answers_column(table.schema)
        if found is None:
            for name in ["prompt", "text", *GENERATION_COLUMNS]:
                if name in table.column_names and is_json_field(table.schema.field(name)):
                    raise DataError(
                        "rows hold values of different kinds (e.g. text in some, lists in others)",
                        column=name,
                        hint="make the column uniform (`trlprep detect` shows which rows differ)",
                    )
            raise DataError(
                "generations data needs a `prompt` (or `text`) and a list of unscored answers in "
                "one of "
                + ", ".join(GENERATION_COLUMNS)
                + f" (the data has {', '.join(table.column_names)})",
                hint="name the columns with --map prompt=NAME,completions=NAME; answers with "
                "scores or ranks are --from ranked",
            )
        column, text_field = found
        pname = prompt_name(table.schema)
        prompt = as_array(table.column(pname))
        if not (is_string(prompt.type) or is_messages(prompt.type)):
            raise DataError(
                f"must hold text or a list of messages, not {prompt.type}", column=pname
            )
        if pname != "prompt":
            table = table.rename_columns(
                ["prompt" if n == pname else n for n in table.column_names]
            )
        lists = as_array(table.column(column))
        items = pc.list_flatten(lists)
        parent = np.asarray(pc.list_parent_indices(lists).to_numpy(zero_copy_only=False), np.int64)
        texts = items if text_field is None else field_of(items, text_field)
        if not (is_string(texts.type) or pa.types.is_null(texts.type)):  # null: all refused
            raise DataError(
                f"answer field {text_field!r} holds {texts.type}, not text", column=column
            )
        texts = texts.cast(pa.string())
        ok = np.asarray(
            pc.fill_null(pc.not_equal(texts, ""), False).to_numpy(zero_copy_only=False), bool
        )
        bad.add(
            np.asarray(prompt.is_null().to_numpy(zero_copy_only=False), bool), f"{pname} is null"
        )
        bad.add(row_lengths(lists) == 0, f"{column} is null or empty: no answer")
        has = np.zeros(table.num_rows, dtype=bool)
        has[parent[ok]] = True
        bad.add(~has & (row_lengths(lists) > 0), f"no answer of `{column}` holds text")
        notes = []
        left = int((~ok & has[parent]).sum())
        if left:
            notes.append(f"{plural(left, 'answer')} null or empty left out (the row's others kept)")
        keep = pa.array(np.flatnonzero(ok), pa.int64())
        rows = parent[ok]
        completion = texts.take(keep)
        produced: dict[str, pa.Array] = {}
        dropped = []
        if text_field is not None:
            for f in items.type:
                if f.name == text_field:
                    continue
                if _plain(f.type) and f.name not in ("prompt", "completion"):
                    produced[f.name] = field_of(items, f.name).take(keep)
                else:
                    dropped.append(f.name)
        if dropped:
            notes.append(
                "fields of the answers left out (lists, objects, null in every row, or named "
                "prompt/completion): " + ", ".join(dropped)
            )
        found = aligned_columns(table, column, ("prompt",))
        notes += aligned_notes(found, column, opts.map)
        split = splittable(table, found[0])
        first = np.cumsum(row_lengths(lists)) - row_lengths(lists)
        rest = table.drop_columns([column]).take(pa.array(rows, pa.int64()))
        entries = split_entries(table, split, rows, np.flatnonzero(ok) - first[rows])
        for name, entry in entries.items():  # in the column's place
            rest = rest.set_column(rest.column_names.index(name), name, entry)
        prompt_col = as_array(rest.column("prompt"))
        conversational = opts.conversational or is_messages(prompt_col.type)
        if conversational:
            if is_string(prompt_col.type):
                prompt_col = _wrap(prompt_col.cast(pa.string()), "user")
            completion = _wrap(completion, "assistant")
        rest = rest.drop_columns(["prompt"])
        first = {"prompt": prompt_col, "completion": completion}
        return Converted(assemble(rest, {**first, **produced}, ()), rows=rows, notes=notes)


def _plain(t: pa.DataType) -> bool:
    return (
        is_string(t) or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
    )


def _wrap(col: pa.Array, role: str) -> pa.Array:
    n = len(col)
    rows = np.arange(n, dtype=np.int64)
    return messages_from({"role": pa.array([role] * n, pa.string()), "content": col}, rows, n)
