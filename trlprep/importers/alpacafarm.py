"""AlpacaFarm / AlpacaEval pairs: `instruction`, `input`, `output_1`, `output_2`,
`preference` (1 or 2: which output is better) -> preference.

The prompt is built exactly as the `alpaca` layout builds it (Stanford Alpaca's template by
default, `--prompt-style plain`, or `--conversational`: user turn -> one assistant message
each); chosen is the preferred output, rejected the other. Rows whose `preference` is not
1 or 2 (a tie such as AlpacaEval's 1.5, 0, or null) give no pair and are reported.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers.alpaca import _conversational, _nonempty, _standard_prompt, _text
from trlprep.importers.base import (
    Converted,
    Importer,
    ImportOptions,
    Rejections,
    assemble,
    require,
)
from trlprep.importers.messages import messages_from
from trlprep.registry import PREFERENCE, DatasetType, Format

CONSUMED = ("instruction", "input", "output_1", "output_2", "preference", "system")


class AlpacaFarm(Importer):
    name = "alpacafarm"
    aliases = ("alpaca-farm", "alpaca-eval", "alpacaeval")
    description = (
        "AlpacaFarm / AlpacaEval pairs (instruction, input, output_1, output_2, preference "
        "1|2) -> preference: the prompt as the alpaca layout builds it (--prompt-style, "
        "--conversational), chosen = the preferred output; ties and missing preferences "
        "are reported."
    )
    reads = "instruction, output_1, output_2, preference [+ input]"
    columns = CONSUMED

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        return {"instruction", "output_1", "output_2", "preference"} <= set(schema.names)

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return PREFERENCE, Format.CONVERSATIONAL if opts.conversational else Format.STANDARD

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        how = (
            "conversational: user(instruction + blank line + input)"
            if opts.conversational
            else (f"prompt style {opts.prompt_style} (as the alpaca layout)")
        )
        return [
            f"prompt: {how}",
            "chosen: output_<preference>, rejected: the other output; preference not 1 or 2 "
            "-> reported",
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        require(table, "instruction", "output_1", "output_2", "preference", layout="alpacafarm")
        n = table.num_rows
        instruction = _text(table, "instruction", bad, required=True)
        out1 = _text(table, "output_1", bad, required=True)
        out2 = _text(table, "output_2", bad, required=True)
        inp = _text(table, "input", bad)
        system = _text(table, "system", bad)
        pref = as_array(table.column("preference"))
        if not (pa.types.is_integer(pref.type) or pa.types.is_floating(pref.type)):
            if not pa.types.is_null(pref.type):
                raise DataError(f"must hold 1 or 2, not {pref.type}", column="preference")
            pref = pref.cast(pa.float64())
        value = np.asarray(pc.fill_null(pref.cast(pa.float64()), 0.0).to_numpy(), float)
        bad.add(
            ~np.isin(value, (1.0, 2.0)),
            "preference is not 1 or 2 (a tie or no preference): no pair",
        )
        first = pa.array(value == 1.0)
        chosen = pc.if_else(first, out1, out2)
        rejected = pc.if_else(first, out2, out1)
        has_input, has_system = _nonempty(inp), _nonempty(system)
        if opts.conversational:
            prompt, _ = _conversational(
                instruction, inp, has_input, system, has_system, None, chosen, n
            )
            rows = np.arange(n, dtype=np.int64)
            role = pa.array(["assistant"] * n, pa.string())
            chosen = messages_from({"role": role, "content": chosen}, rows, n)
            rejected = messages_from({"role": role, "content": rejected}, rows, n)
        else:
            prompt = _standard_prompt(instruction, inp, has_input, system, has_system, opts)
        produced = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
        return Converted(assemble(table, produced, CONSUMED))
