"""Llama-Nemotron post-training rows (nvidia/Llama-Nemotron-Post-Training-Dataset, v1.1)
-> conversational prompt-completion (prompt-only without an answer).

A row holds `input` (the conversation so far: `{role, content}` messages, a user turn and
zero or more turns after it), `output` (the assistant's answer, a `<think>...</think>`
trace first where `reasoning` is "on"), `system_prompt` ("detailed thinking on" / "off":
how NVIDIA's models switch reasoning) and metadata (`reasoning`, `category`, `license`,
`generator`, `used_in_training`, `version`). It becomes:

- `prompt`: the system prompt as a system message first (where it is not empty), then the
  `input` messages, as NVIDIA's models were trained (NeMo Curator's recipe for this
  dataset renders `[system(system_prompt), *input, assistant(output)]`);
- `completion`: `[{"role": "assistant", "content": output}]`, the `<think>` block kept in
  the content as the models were trained on it;
- the metadata columns carried along as they are.

Rows without an `output` column (the RL split's prompts) land on prompt-only. The later
Nemotron-Post-Training-Dataset v1 / v2 rows (`messages` with `tool_calls`, `reasoning`,
`metadata`) are conversational language modeling already and read as they are.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from trlprep.columns.arrowtypes import is_json_field, is_messages, is_string
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
from trlprep.importers.jsonarrow import lists_from
from trlprep.importers.messages import (
    field_of,
    flatten_lists,
    interleave,
    messages_from,
    string_arguments,
    typed_messages,
)
from trlprep.importers.sharegptturns import system_messages
from trlprep.registry import MESSAGE_FIELDS, PROMPT_COMPLETION, PROMPT_ONLY, DatasetType, Format

SYSTEM = "system_prompt"
CONSUMED = ("input", "output", SYSTEM)
# the columns beside input/output that only this layout has
SIGNS = (SYSTEM, "used_in_training")


class Nemotron(Importer):
    name = "nemotron"
    aliases = ("llama-nemotron",)
    description = (
        "Llama-Nemotron post-training rows (input messages, output text, system_prompt "
        "'detailed thinking on/off', reasoning, category, license, generator, "
        "used_in_training, version) -> conversational prompt-completion: prompt = "
        "system(system_prompt) + input, completion = assistant(output), <think> kept in "
        "the content; metadata carried. Without output: prompt-only."
    )
    reads = "input (messages), output [+ system_prompt, reasoning, category, ...]"
    columns = CONSUMED

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        names = schema.names
        if "input" not in names or not any(s in names for s in SIGNS):
            return False
        return is_messages(schema.field("input").type) or is_json_field(schema.field("input"))

    def reads_over_trl(self, schema: pa.Schema) -> bool:
        return True  # `input` and `output` are no TRL columns

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        answered = "output" in schema.names
        return (PROMPT_COMPLETION if answered else PROMPT_ONLY), Format.CONVERSATIONAL

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        lines = ["system_prompt -> the first message of the prompt (role system), where not empty"]
        lines.append("input -> the prompt's messages after it")
        if "output" in schema.names:
            lines.append('output -> completion: [{"role": "assistant", "content": output}]')
        return lines

    def sources(self, schema: pa.Schema, opts: ImportOptions) -> dict[str, str]:
        return {"prompt": "input", "completion": "output"}

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        require(table, "input", layout=self.name)
        n = table.num_rows
        msgs, problems = typed_messages(table, "input", string_arguments)
        if problems is not None:  # JSON text of rows whose kinds differ, parsed
            bad.add_per_row(problems != None, problems)  # noqa: E711
        if is_string(msgs.type):
            raise DataError(
                "holds text, not a list of {role, content} messages (Llama-Nemotron v1 "
                "wrote the rendered Llama 3 prompt here; v1.1 writes the messages)",
                column="input",
                hint="use the dataset's v1.1 files, whose input is a list of messages",
            )
        if not (is_messages(msgs.type) or pa.types.is_null(msgs.type)):
            raise DataError(
                f"must hold lists of {{role, content}} messages, not {msgs.type}", column="input"
            )
        valid = np.asarray(msgs.is_valid().to_numpy(zero_copy_only=False), bool)
        bad.add(~valid, "input is null")
        if is_messages(msgs.type):
            items, parent, pos = flatten_lists(msgs)
            fields = {f: field_of(items, f) for f in MESSAGE_FIELDS}
        else:  # every row null (refused above)
            none = pa.nulls(0, pa.string())
            fields, parent = {"role": none, "content": none}, np.zeros(0, np.int64)
            pos = parent
        parts = [(fields, parent, pos)]
        if SYSTEM in table.column_names:
            kind = table.schema.field(SYSTEM).type
            if not (is_string(kind) or pa.types.is_null(kind)):
                raise DataError(f"must hold text (a system prompt), not {kind}", column=SYSTEM)
            system = system_messages(pa.table({"system": table.column(SYSTEM)}), bad)
            if system is not None:
                parts.append(system)
        fields, parent = interleave(parts)
        produced = {"prompt": messages_from(fields, parent, n, valid)}
        if "output" in table.column_names:
            produced["completion"] = _answers(table, bad)
        return Converted(assemble(table, produced, CONSUMED))


def _answers(table: pa.Table, bad: Rejections) -> pa.Array:
    """`output` as one assistant message per row (a null output refuses its row)."""
    out = as_array(table.column("output"))
    if not (is_string(out.type) or pa.types.is_null(out.type)):
        raise DataError(f"must hold the answer's text, not {out.type}", column="output")
    n = len(out)
    valid = np.asarray(out.is_valid().to_numpy(zero_copy_only=False), bool)
    bad.add(~valid, "output is null")
    message = pa.StructArray.from_arrays(
        [pa.array(["assistant"] * n, pa.string()), out.cast(pa.string())],
        names=["role", "content"],
    )
    return lists_from(message, np.ones(n, np.int64), valid)
