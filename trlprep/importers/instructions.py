"""Instruction sets without answers per row: MT-Bench questions and nested `instances`.

MT-Bench (FastChat `llm_judge/data/mt_bench/question.jsonl`: `question_id`, `category`,
`turns` = the user's messages; Arena-Hard-Auto's `question.jsonl` writes each turn as an
object `{"content": ...}`, read the same) -> prompt-only: the prompt is the first turn
(standard text, or `--conversational`: one user message). The second turn of an MT-Bench
question follows the model's own answer to the first, so it cannot be part of a prompt
written in advance; the `turns` column is kept as it is (an extra column), so nothing is
lost, and a note says how many rows have later turns.

Nested instances -> prompt-completion, one row per instance:
- self-instruct (`instruction`, `instances` [{input, output}]): prompt = instruction, plus
  a blank line and the input when the input is not empty (the alpaca layout's plain join);
  completion = output.
- Super-NaturalInstructions task objects (`Definition` [text], `Instances` [{id, input,
  output: [texts]}], `Positive Examples`, ...; one task per row, e.g. a task file written
  as one JSON line): prompt = the definition + blank line + the instance's input;
  completion = the instance's first reference output (a note counts instances with more
  than one; the instance `id` is kept as a column).
`--conversational` makes the prompt a user message and the completion an assistant message.
Instances without an output, or with an empty one, are reported (their task row is
rejected when none of its instances can be imported).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_json_field, is_list, is_string
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers.base import (
    Converted,
    Importer,
    ImportOptions,
    Rejections,
    assemble,
    require,
)
from trlprep.importers.jsonarrow import row_lengths
from trlprep.importers.messages import field_of, messages_from
from trlprep.registry import PROMPT_COMPLETION, PROMPT_ONLY, DatasetType, Format
from trlprep.wording import plural

JOIN = "\n\n"


def _wrap(col: pa.Array, role: str) -> pa.Array:
    n = len(col)
    rows = np.arange(n, dtype=np.int64)
    return messages_from({"role": pa.array([role] * n, pa.string()), "content": col}, rows, n)


def _join_nonempty(head: pa.Array, tail: pa.Array) -> pa.Array:
    """head + blank line + tail where tail is not empty, else head."""
    joined = pc.binary_join_element_wise(head, tail, pa.scalar(JOIN))
    return pc.if_else(pc.fill_null(pc.not_equal(tail, ""), False), joined, head)


def _strings(arr: pa.Array, name: str) -> pa.Array:
    if pa.types.is_null(arr.type):
        return arr.cast(pa.string())
    if not is_string(arr.type):
        raise DataError(f"must hold text, not {arr.type}", column=name)
    return arr.cast(pa.string())


# ---------------------------------------------------------------- MT-Bench


class MTBench(Importer):
    name = "mt-bench"
    aliases = ("mtbench",)
    description = (
        "MT-Bench / Arena-Hard questions (question_id, category, turns: texts or "
        "{content} objects) -> prompt-only: the first turn "
        "is the prompt (--conversational: a user message); later turns depend on the "
        "model's answer and stay in the kept `turns` column."
    )
    reads = "turns (the user's turns: texts or {content}) [+ question_id, category, reference]"
    columns = ("turns",)

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        if "turns" not in schema.names or "prompt" in schema.names:
            return False
        return _turn_kind(schema.field("turns").type) is not None

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return PROMPT_ONLY, Format.CONVERSATIONAL if opts.conversational else Format.STANDARD

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        return [
            "prompt: the first of `turns`" + (" as a user message" if opts.conversational else ""),
            "turns: kept as it is (later turns follow the model's answer to the first)",
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        require(table, "turns", layout="mt-bench")
        field = table.schema.field("turns")
        turns = as_array(table.column("turns"))
        kind = None if is_json_field(field) else _turn_kind(turns.type)
        if kind is None:
            raise DataError(
                "must hold lists of the user's turns: texts, or objects with the text in "
                f"`content`; not {turns.type}",
                column="turns",
            )
        if kind == "content":
            turns = _contents(turns)
        lengths = row_lengths(turns)
        bad.add(lengths == 0, "turns is null or empty")
        first = pc.list_element(
            pc.if_else(pa.array(lengths > 0), turns, pa.scalar(["x"], turns.type)), 0
        )
        first = _strings(first, "turns")
        bad.add(
            np.asarray(
                pc.fill_null(pc.equal(first, ""), True).to_numpy(zero_copy_only=False), bool
            ),
            "the first turn is empty",
        )
        prompt = _wrap(first, "user") if opts.conversational else first
        later = int((lengths > 1).sum())
        notes = (
            [
                f"{plural(later, 'row')} {'has' if later == 1 else 'have'} later turns; the prompt "
                "is the first turn "
                "(the rest stay in `turns`)"
            ]
            if later
            else []
        )
        return Converted(assemble(table, {"prompt": prompt}, ()), notes=notes)


def _turn_kind(t: pa.DataType) -> str | None:
    """'text' for lists of text, 'content' for lists of objects holding a text `content`
    (and no role); None for anything else."""
    if not is_list(t):
        return None
    item = t.value_type
    if is_string(item):
        return "text"
    # objects naming a role are messages of a conversation, not a list of user turns
    if pa.types.is_struct(item) and not {"role", "from"} & {f.name for f in item}:
        i = item.get_field_index("content")
        if i >= 0 and (is_string(item.field(i).type) or pa.types.is_null(item.field(i).type)):
            return "content"
    return None


def _contents(turns: pa.Array) -> pa.Array:
    """Lists of `{content}` objects -> lists of their texts (a null object: a null text)."""
    texts = pc.struct_field(turns.values, "content").cast(pa.string())
    return type(turns).from_arrays(turns.offsets, texts, mask=turns.is_null())


# ---------------------------------------------------------------- nested instances


class Instances(Importer):
    name = "instances"
    aliases = ("self-instruct", "super-natural-instructions", "natural-instructions", "sni")
    description = (
        "Tasks with nested instances -> prompt-completion, one row per instance: "
        "self-instruct (instruction, instances [{input, output}]) and "
        "Super-NaturalInstructions task objects (Definition, Instances [{id, input, "
        "output [...]}]); the prompt is the instruction or definition + blank line + input, "
        "the completion the (first) output."
    )
    reads = "instruction + instances [{input, output}], or Definition + Instances [{input, output}]"
    columns = ("instruction", "instances", "Definition", "Instances")

    def expansion(self, opts: ImportOptions) -> str | None:
        return "one row per instance"

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        return _shape(schema) is not None

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return PROMPT_COMPLETION, Format.CONVERSATIONAL if opts.conversational else Format.STANDARD

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        head, nested = _shape(schema) or ("instruction", "instances")
        return [
            f"one row per item of `{nested}`",
            f'prompt: {head} [+ "\\n\\n" + input when not empty]',
            "completion: output (the first, where outputs are lists)",
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        shape = _shape(table.schema)
        if shape is None:
            require(table, "instruction", "instances", layout="instances")
            raise DataError(
                "instances must hold a list of {input, output} objects", column="instances"
            )
        head_name, nested = shape
        n = table.num_rows
        head = as_array(table.column(head_name))
        if is_list(head.type):  # SNI: Definition is a list of texts
            head = pc.binary_join(head, JOIN)
        head = _strings(head, head_name)
        items_col = as_array(table.column(nested))
        items = pc.list_flatten(items_col)
        parent = np.asarray(
            pc.list_parent_indices(items_col).to_numpy(zero_copy_only=False), np.int64
        )
        inp = field_of(items, "input")
        inp = pa.nulls(len(items), pa.string()) if inp is None else _strings(inp, nested)
        out = field_of(items, "output")
        if out is None:
            raise DataError(f"items of `{nested}` have no `output`", column=nested)
        notes = []
        if is_list(out.type):
            many = int((row_lengths(out) > 1).sum())
            if many:
                notes.append(
                    f"{many:,} instances have several reference outputs; "
                    "the first is the completion"
                )
            out = pc.list_element(
                pc.if_else(pa.array(row_lengths(out) > 0), out, pa.scalar([None], out.type)), 0
            )
        out = _strings(out, nested)
        ok = np.asarray(
            pc.fill_null(pc.not_equal(out, ""), False).to_numpy(zero_copy_only=False), bool
        )
        heads = head.take(pa.array(parent, pa.int64()))
        prompt = _join_nonempty(heads, pc.fill_null(inp, ""))
        prompt = prompt.cast(pa.string())
        has_rows = np.zeros(n, dtype=bool)
        has_rows[parent[ok]] = True
        bad.add(
            np.asarray(head.is_null().to_numpy(zero_copy_only=False), bool), f"{head_name} is null"
        )
        bad.add(~has_rows, f"no item of `{nested}` has an output")
        skipped = int((~ok).sum())
        if skipped:
            notes.append(f"{skipped:,} instances without an output were left out")
        keep = pa.array(np.flatnonzero(ok), pa.int64())
        parent = parent[ok]
        prompt, out = prompt.take(keep), out.take(keep)
        if opts.conversational:
            prompt, out = _wrap(prompt, "user"), _wrap(out, "assistant")
        produced = {"prompt": prompt, "completion": out}
        ids = field_of(items, "id")
        if ids is not None:
            produced["instance_id"] = ids.take(keep)
        rest = table.drop_columns([head_name, nested]).take(pa.array(parent, pa.int64()))
        return Converted(assemble(rest, produced, ()), rows=parent, notes=notes)


def _shape(schema: pa.Schema) -> tuple[str, str] | None:
    """(head column, nested column) of a self-instruct or SNI row, or None."""
    for head, nested in (("instruction", "instances"), ("Definition", "Instances")):
        if head in schema.names and nested in schema.names:
            t = schema.field(nested).type
            if is_list(t) and pa.types.is_struct(t.value_type):
                if t.value_type.get_field_index("output") >= 0:
                    return head, nested
    return None
