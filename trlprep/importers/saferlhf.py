"""PKU-SafeRLHF pairs: `prompt`, `response_0`, `response_1` and the id (0 or 1) of the
preferred response -> preference.

The id is `better_response_id` (helpfulness, the reward model's pairs in safe-rlhf) unless
`--map chosen_id=COLUMN` names another, e.g. `--map chosen_id=safer_response_id` (the cost
model's harmlessness pairs). chosen is `response_<id>`, rejected the other. Rows whose id is
not 0 or 1 (null, a tie) give no pair and are reported. The dataset's other columns
(`safer_response_id`, `is_response_0_safe`, severity levels, harm categories, sources) are
carried along. `--conversational` makes the prompt one user message and each response one
assistant message.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_string
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
from trlprep.importers.messages import messages_from
from trlprep.registry import PREFERENCE, DatasetType, Format

RESPONSES = ("response_0", "response_1")
CHOOSERS = ("chosen_id", "better_response_id")


def _chooser(names: list[str]) -> str | None:
    return next((c for c in CHOOSERS if c in names), None)


class SafeRLHF(Importer):
    name = "saferlhf"
    aliases = ("pku-saferlhf", "pku-safe-rlhf", "safe-rlhf", "beavertails")
    description = (
        "PKU-SafeRLHF pairs (prompt, response_0, response_1, better_response_id) -> "
        "preference: chosen = response_<better_response_id>, rejected the other; "
        "`--map chosen_id=safer_response_id` pairs by safety instead. Ids other than 0 or 1 "
        "are reported."
    )
    reads = "prompt, response_0, response_1, better_response_id (or --map chosen_id=COLUMN)"
    columns = ("prompt", *RESPONSES, *CHOOSERS)

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        names = set(schema.names)
        return {"prompt", *RESPONSES} <= names and _chooser(schema.names) is not None

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return PREFERENCE, Format.CONVERSATIONAL if opts.conversational else Format.STANDARD

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        chooser = _chooser(schema.names) or "better_response_id"
        return [
            f"chosen: response_<{opts.map.get(chooser, chooser)}>, rejected: the other response",
            "an id other than 0 or 1 -> reported",
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        chooser = _chooser(table.column_names) or "better_response_id"
        require(table, "prompt", *RESPONSES, chooser, layout="saferlhf")
        n = table.num_rows
        texts = {}
        for name in ("prompt", *RESPONSES):
            col = as_array(table.column(name))
            if pa.types.is_null(col.type):
                col = col.cast(pa.string())
            if not is_string(col.type):
                raise DataError(f"must hold text, not {col.type}", column=name)
            texts[name] = col.cast(pa.string())
            null = np.asarray(col.is_null().to_numpy(zero_copy_only=False), bool)
            bad.add(null, f"{name} is null")
        ids = as_array(table.column(chooser))
        numeric = pa.types.is_integer(ids.type) or pa.types.is_floating(ids.type)
        if not (numeric or pa.types.is_null(ids.type) or pa.types.is_boolean(ids.type)):
            raise DataError(
                f"must hold 0 or 1 (which response is preferred), not {ids.type}",
                column=opts.map.get(chooser, chooser),
            )
        value = np.asarray(
            pc.fill_null(ids.cast(pa.float64()), -1.0).to_numpy(zero_copy_only=False), float
        )
        name = opts.map.get(chooser, chooser)
        bad.add(~np.isin(value, (0.0, 1.0)), f"{name} is not 0 or 1: no pair")
        first = pa.array(value == 0.0)
        chosen = pc.if_else(first, texts["response_0"], texts["response_1"])
        rejected = pc.if_else(first, texts["response_1"], texts["response_0"])
        prompt = texts["prompt"]
        if opts.conversational:
            rows = np.arange(n, dtype=np.int64)

            def wrap(col: pa.Array, role: str) -> pa.Array:
                roles = pa.array([role] * n, pa.string())
                return messages_from({"role": roles, "content": col}, rows, n)

            prompt = wrap(prompt, "user")
            chosen, rejected = wrap(chosen, "assistant"), wrap(rejected, "assistant")
        produced = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
        # the id a mapped chooser renamed goes; `better_response_id` beside it stays carried
        consumed = ("prompt", *RESPONSES, chooser) if chooser == "chosen_id" else (
            "prompt", *RESPONSES,
        )  # fmt: skip
        return Converted(assemble(table, produced, consumed))
