"""HelpSteer3 preference (`nvidia/HelpSteer3`, config `preference`): `domain`, `language`,
`context` (the conversation so far, {role, content} messages ending on a user turn),
`response1`, `response2`, `overall_preference` (-3: response1 is much better .. 3: response2
is much better, 0: about the same), `individual_preference` -> conversational preference.

prompt = the `context` messages (a `context` given as one text: one user message, as
NeMo-RL's HelpSteer3 reader takes it), chosen / rejected = one assistant message each: the
better response where `overall_preference` is negative (response1) or positive (response2),
as NVIDIA's readers pair it. A tie (0) gives no pair: the row is left out as `not paired`
(no error; NeMo-RL pairs response1 with itself instead). A null, non-integer or out-of-range
preference, a null or empty response (its reason naming the side), and a context that is
empty or ends on another turn than the user's are refused.

`--margin` keeps the strength as `margin` (TRL's reward trainer reads it): |overall_
preference|, 1 (slightly better) to 3 (much better), unscaled, as HelpSteer2-Preference's
Bradley-Terry-with-margin reward models use the magnitude. `domain` and `language` are
carried along; `individual_preference` (each annotator's score and reasoning, naming the
responses by position, which chosen / rejected replace) is left out: `--map
annotators=individual_preference` keeps it, under another name, as it is.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list, is_string
from trlprep.columns.listcut import spans
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers.alpaca import _text
from trlprep.importers.base import (
    Converted,
    Importer,
    ImportOptions,
    Rejections,
    assemble,
    require,
)
from trlprep.importers.messages import messages_from
from trlprep.importers.tldr import mask
from trlprep.registry import PREFERENCE, DatasetType, Format

RESPONSES = ("response1", "response2")
CONSUMED = ("context", *RESPONSES, "overall_preference", "individual_preference")


class HelpSteer3(Importer):
    name = "helpsteer3"
    aliases = ("helpsteer-3", "helpsteer3-preference", "nvidia-helpsteer3")
    description = (
        "HelpSteer3 preference (context messages, response1, response2, overall_preference "
        "-3..3) -> conversational preference: prompt = context, chosen = response1 where the "
        "preference is negative, response2 where positive; ties (0) are left out as not "
        "paired. --margin keeps |overall_preference| (1..3) as `margin`."
    )
    reads = "context, response1, response2, overall_preference [+ domain, language]"
    columns = CONSUMED
    options_read = ("margin",)

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        return {"context", *RESPONSES, "overall_preference"} <= set(schema.names)

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return PREFERENCE, Format.CONVERSATIONAL

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        strength = (
            "margin: |overall_preference| (1 slightly better .. 3 much better)"
            if opts.margin
            else "the preference's strength is not kept (--margin keeps |overall_preference|)"
        )
        return [
            "prompt: the context messages (a text context: one user message); a context "
            "that is empty or does not end on a user turn -> reported",
            "chosen: assistant(response1) where overall_preference < 0, assistant(response2) "
            "where > 0, rejected: the other; a tie (0) -> not paired; null, non-integer or "
            "outside -3..3 -> reported",
            strength,
            "individual_preference left out (--map annotators=individual_preference keeps "
            "it); domain, language carried",
        ]

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        require(table, "context", *RESPONSES, "overall_preference", layout="helpsteer3")
        n = table.num_rows
        prompt = _context(table, bad)
        pref = _preference(as_array(table.column("overall_preference")), bad)
        first = pref < 0
        one, two = (_text(table, name, bad, required=False) for name in RESPONSES)
        for name, col, chosen_if in (("response1", one, first), ("response2", two, ~first)):
            null, empty = ~mask(col.is_valid()), mask(pc.equal(col, ""))
            for side, rows in (("chosen", chosen_if), ("rejected", ~chosen_if)):
                bad.add(null & rows, f"{name} is null, the {side} answer: no pair")
                bad.add(
                    empty & rows,
                    f"{name} is empty, the {side} answer (an empty answer gives no pair to "
                    "learn from): fill it, or set the row aside with --on-error skip",
                )
        rows = np.arange(n, dtype=np.int64)
        role = pa.array(["assistant"] * n, pa.string())
        picked = pa.array(first)
        chosen = pc.if_else(picked, one, two)
        rejected = pc.if_else(picked, two, one)
        produced = {
            "prompt": prompt,
            "chosen": messages_from({"role": role, "content": chosen}, rows, n),
            "rejected": messages_from({"role": role, "content": rejected}, rows, n),
        }
        if opts.margin:
            produced["margin"] = pa.array(np.abs(pref), pa.float64())
        return Converted(assemble(table, produced, CONSUMED))


def _context(table: pa.Table, bad: Rejections) -> pa.Array:
    """The prompt messages: `context` as it is, or a text context as one user message;
    rows whose context is null, empty or ends on another turn than the user's go to `bad`."""
    n = table.num_rows
    col = as_array(table.column("context"))
    if pa.types.is_null(col.type) or is_string(col.type):
        text = col.cast(pa.string())
        bad.add(~mask(text.is_valid()), "context is null: no prompt")
        bad.add(mask(pc.equal(text, "")), "context is empty: no prompt")
        rows = np.arange(n, dtype=np.int64)
        role = pa.array(["user"] * n, pa.string())
        return messages_from({"role": role, "content": text}, rows, n)
    ok = is_list(col.type) and pa.types.is_struct(col.type.value_type)
    if not ok or "role" not in {f.name for f in col.type.value_type}:
        raise DataError(
            f"must hold the conversation so far ({{role, content}} messages), not {col.type}",
            column="context",
        )
    values, offsets, lengths, valid = spans(col)
    bad.add(~valid, "context is null: no prompt")
    bad.add(valid & (lengths == 0), "context holds no message: no prompt")
    last = np.maximum(offsets[1:] - 1, 0)
    roles = pc.struct_field(values, "role").cast(pa.string())
    has = lengths > 0
    last_role = (
        np.asarray(roles.take(pa.array(last[has])).to_numpy(zero_copy_only=False), object)
        if has.any()
        else np.zeros(0, object)
    )
    ends = np.full(n, None, object)
    ends[has] = last_role
    wrong = has & (ends != "user")
    if wrong.any():
        reasons = np.full(n, None, object)
        reasons[wrong] = [
            f"context's last turn is {r!r}, not the user's: no answer to pair" for r in ends[wrong]
        ]
        bad.add_per_row(wrong, reasons)
    return col


def _preference(col: pa.Array, bad: Rejections) -> np.ndarray:
    """overall_preference per row (0 where there is no pair); ties and wrong values go to
    `bad` (ties as not paired)."""
    numeric = pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
    if not (numeric or pa.types.is_null(col.type)):
        raise DataError(
            "must hold a number from -3 (response1 is much better) to 3 (response2 is much "
            f"better), not {col.type}",
            column="overall_preference",
        )
    value = np.asarray(
        pc.fill_null(col.cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False), float
    )
    missing = np.isnan(value)
    bad.add(missing, "overall_preference is null: no pair")
    bad.add(
        ~missing & ((np.abs(value) > 3) | (value != np.round(value))),
        "overall_preference is not a whole number from -3 to 3: no pair",
    )
    bad.add(value == 0, "overall_preference is 0, a tie (about the same): no pair", tie=True)
    return np.where(missing, 0.0, value)
