"""Alpaca: `instruction`, optional `input`, `output`, optional `system`/`history`
-> prompt-completion.

How instruction and input join (an `input` that is null or "" counts as absent, as in
Stanford Alpaca's `example.get("input", "") != ""`):

- standard format, `prompt_style="alpaca"` (and the default, `"auto"`): Stanford Alpaca's
  prompt template, byte for byte (`PROMPT_DICT` in tatsu-lab/stanford_alpaca `train.py`), one
  string::

      {preamble}\\n\\n### Instruction:\\n{instruction}
      \\n\\n### Input:\\n{input}\\n\\n### Response:

  without the `### Input:` block when there is no input. Like Stanford's `train.py`,
  which trains on `prompt + output`, nothing separates `### Response:` from the output
  (the README shows the response on its own line, and many copies of the template end in
  `"### Response:\\n"`; for another framing use `prompt_style="plain"`, or import
  conversationally and render with a chat template). The preamble is Alpaca's ("Below
  is an instruction that describes a task[, paired with an input that provides further
  context]. Write a response that appropriately completes the request."), or the row's
  `system` text when it has one. The completion is `output`.
- standard format, `prompt_style="plain"`: `instruction + "\\n\\n" + input` (no input: the
  instruction alone), preceded by `system + "\\n\\n"` when there is a system text.
- conversational (`conversational=True`): prompt = [system message] + the `history`
  turns ([instruction, response] pairs -> user, assistant) + a user message
  `instruction + "\\n\\n" + input` (the plain join: a chat template supplies the framing);
  completion = one assistant message `output`.

Standard format has no place for earlier turns: rows with a non-empty `history` are
reported, with a hint to import them with `conversational=True`.
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
from trlprep.importers.messages import interleave, messages_from
from trlprep.registry import PROMPT_COMPLETION, DatasetType, Format

PREAMBLE_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides "
    "further context. Write a response that appropriately completes the request."
)
PREAMBLE_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request."
)
PLAIN_JOIN = "\n\n"
CONSUMED = ("instruction", "input", "output", "system", "history")


class Alpaca(Importer):
    name = "alpaca"
    aliases = ("stanford-alpaca",)
    description = (
        "Alpaca rows (instruction, optional input, output, optional system/history) -> "
        "prompt-completion. Standard: Stanford Alpaca's prompt template (--prompt-style "
        "alpaca, default) or instruction + blank line + input (--prompt-style plain); "
        "--conversational: [system] + history turns + user(instruction + blank line + input) "
        "-> assistant(output)."
    )
    reads = "instruction, output [+ input, system, history]"
    columns = CONSUMED
    options_read = ("prompt_style",)

    def options_used(self, opts: ImportOptions) -> set[str]:
        return set() if opts.conversational else {"prompt_style"}  # messages: no template

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        return all(
            c in schema.names and is_string(schema.field(c).type) for c in ("instruction", "output")
        )

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return PROMPT_COMPLETION, Format.CONVERSATIONAL if opts.conversational else Format.STANDARD

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        if opts.conversational:
            return [
                "prompt: [system] + history ([instruction, response] -> user, assistant) + "
                'user(instruction + "\\n\\n" + input)',
                "completion: assistant(output)",
            ]
        if opts.prompt_style == "plain":
            return [
                'prompt: [system + "\\n\\n"] + instruction [+ "\\n\\n" + input]',
                "completion: output",
            ]
        return [
            "prompt: Stanford Alpaca template (preamble or system, ### Instruction:, "
            "### Input: when there is an input, ### Response:)",
            "completion: output",
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        require(table, "instruction", "output", layout="alpaca")
        n = table.num_rows
        instruction = _text(table, "instruction", bad, required=True)
        output = _text(table, "output", bad, required=True)
        inp = _text(table, "input", bad)
        system = _text(table, "system", bad)
        has_input = _nonempty(inp)
        has_system = _nonempty(system)
        history = _history(table, bad)
        hist_len = row_lengths(history) if history is not None else np.zeros(n, np.int64)
        if opts.conversational:
            prompt, completion = _conversational(
                instruction, inp, has_input, system, has_system, history, output, n
            )
        else:
            bad.add(
                hist_len > 0,
                "has a `history` of earlier turns, which standard format cannot hold "
                "(import with --conversational to keep them)",
            )
            prompt = _standard_prompt(instruction, inp, has_input, system, has_system, opts)
            completion = output
        produced = {"prompt": prompt, "completion": completion}
        return Converted(assemble(table, produced, CONSUMED))


def _text(table: pa.Table, name: str, bad: Rejections, *, required: bool = False) -> pa.Array:
    n = table.num_rows
    if name not in table.column_names:
        return pa.nulls(n, pa.string())
    field = table.schema.field(name)
    col = as_array(table.column(name))
    if pa.types.is_null(col.type):
        col = col.cast(pa.string())
    if is_json_field(field) or not is_string(col.type):
        numbers = pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
        raise DataError(
            f"must hold text, not {'values of mixed kinds' if is_json_field(field) else col.type}",
            column=name,
            hint="write its values as text"
            + (
                " (pandas.read_csv reads a column of digits or empty cells as numbers, "
                "dropping leading zeros: read the file with dtype=str)"
                if numbers
                else ""
            ),
        )
    col = col.cast(pa.string())
    if required:
        bad.add(np.asarray(col.is_null().to_numpy(zero_copy_only=False), bool), f"{name} is null")
        empty = pc.fill_null(pc.equal(col, ""), False)
        bad.add(np.asarray(empty.to_numpy(zero_copy_only=False), bool), f"{name} is empty")
    return col


def _nonempty(col: pa.Array) -> pa.Array:
    return pc.fill_null(pc.not_equal(col, ""), False)


def _join(*parts, sep: str = "") -> pa.Array:
    args = [pa.scalar(p) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, pa.scalar(sep))


def _standard_prompt(instruction, inp, has_input, system, has_system, opts) -> pa.Array:
    if opts.prompt_style == "plain":
        body = pc.if_else(has_input, _join(instruction, inp, sep=PLAIN_JOIN), instruction)
        return pc.if_else(has_system, _join(system, body, sep=PLAIN_JOIN), body)
    preamble = pc.if_else(
        has_system,
        system,
        pc.if_else(has_input, pa.scalar(PREAMBLE_INPUT), pa.scalar(PREAMBLE_NO_INPUT)),
    )
    with_input = _join(
        preamble,
        "\n\n### Instruction:\n",
        instruction,
        "\n\n### Input:\n",
        inp,
        "\n\n### Response:",
    )
    without = _join(preamble, "\n\n### Instruction:\n", instruction, "\n\n### Response:")
    return pc.if_else(has_input, with_input, without)


def _history(
    table: pa.Table, bad: Rejections, pair: str = "[instruction, response]"
) -> pa.Array | None:
    """`history`: a list of `pair`s (two texts: the user's, the answer) per row (None when
    absent)."""
    if "history" not in table.column_names:
        return None
    field = table.schema.field("history")
    col = as_array(table.column("history"))
    if pa.types.is_null(col.type):
        return None
    ok = (
        not is_json_field(field)
        and is_list(col.type)
        and is_list(col.type.value_type)
        and is_string(col.type.value_type.value_type)
    )
    if not ok:
        raise DataError(
            f"must hold lists of {pair} pairs, not {col.type}",
            column="history",
        )
    pairs = pc.list_flatten(col)
    parent = np.asarray(pc.list_parent_indices(col).to_numpy(zero_copy_only=False), np.int64)
    wrong = row_lengths(pairs) != 2
    wrong |= np.asarray(pairs.is_null().to_numpy(zero_copy_only=False), bool)
    mask = np.zeros(len(col), dtype=bool)
    mask[parent[wrong]] = True
    bad.add(mask, f"history: an item is not a pair {pair}")
    return col


def _conversational(instruction, inp, has_input, system, has_system, history, output, n):
    rows = np.arange(n, dtype=np.int64)
    user = pc.if_else(has_input, _join(instruction, inp, sep=PLAIN_JOIN), instruction)
    parts = [({"role": _const("user", n), "content": user}, rows, np.full(n, 1 << 40))]
    parts += system_turns(system, has_system)
    if history is not None:
        pairs = pc.list_flatten(history)
        parent = np.asarray(
            pc.list_parent_indices(history).to_numpy(zero_copy_only=False), np.int64
        )
        good = row_lengths(pairs) == 2
        # two messages per pair, in order: instruction (user), response (assistant)
        pair_idx = np.flatnonzero(good)
        texts = pc.list_flatten(pairs.filter(pa.array(good)))
        m = len(texts)
        parts.append(
            (
                {
                    "role": pa.array(np.tile(np.array(["user", "assistant"]), len(pair_idx))),
                    "content": texts,
                },
                np.repeat(parent[pair_idx], 2),
                np.arange(m, dtype=np.int64),
            )
        )
    fields, parent = interleave(parts)
    prompt = messages_from(fields, parent, n)
    completion_struct = {"role": _const("assistant", n), "content": output}
    completion = messages_from(completion_struct, rows, n)
    return prompt, completion


def system_turns(system: pa.Array, has_system: pa.Array) -> list[tuple]:
    """The system messages of the rows `has_system` marks, as an `interleave` part placed
    before every other message of its row ([] when no row has one)."""
    rows = np.flatnonzero(np.asarray(has_system.to_numpy(zero_copy_only=False), bool))
    if not len(rows):
        return []
    content = system.take(pa.array(rows, pa.int64()))
    fields = {"role": _const("system", len(rows)), "content": content}
    return [(fields, rows, np.full(len(rows), -1, np.int64))]


def _const(value: str, n: int) -> pa.Array:
    return pa.array([value], pa.string()).take(pa.array(np.zeros(n, np.int64)))
