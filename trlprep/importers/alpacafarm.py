"""AlpacaFarm / AlpacaEval pairs: `instruction`, `input`, `output_1`, `output_2`,
`preference` (which output is better) -> preference; PandaLM's pairs alike (`response1`,
`response2` and the votes of its annotators).

The prompt is built exactly as the `alpaca` layout builds it (Stanford Alpaca's template,
`--prompt-style plain`, or `--conversational`: user turn -> one assistant message each);
chosen is the preferred output, rejected the other. The default style (`auto`) follows the
rows' origin: AlpacaFarm's and PandaLM's rows (with `input`) were prompted with Stanford
Alpaca's template, so they get it; AlpacaEval's (no `input` column) hold plain user
prompts that chat models answered under their own templates, so the prompt is the
instruction as it is (said in a note; `--prompt-style alpaca` wraps it).

`preference` is read as AlpacaEval reads it: a number from 1 (output_1 is better) to 2
(output_2 is better). Its weighted annotators write a float in between (1 + the judge's
chance that output_2 is better), so below 1.5 output_1 is chosen and above 1.5 output_2.
Exactly 1.5 is a tie (and so is 0, which older AlpacaEval files write for identical
outputs): no pair, the row left out as `not paired` (no error: `NOT_PAIRED`). A null
preference and a number outside 1..2 are refused.

PandaLM's test set names the outputs `response1` / `response2` and has no `preference`: each
of `annotator1`, `annotator2`, ... votes 1 (response1 is better), 2 (response2) or 0 (a
tie). The output with more votes is chosen; equal votes (all ties, or one each) give no
pair: left out as `not paired`, as ties above. A vote other than 0, 1 or 2 refuses its
row. The votes are read into the choice (not carried: they name the outputs by position,
which chosen / rejected replace). An empty output is refused, the reason naming its side.

AlpacaEval's `generator_1` / `generator_2` (the model behind each output) become
`chosen_generator` / `rejected_generator`, following the outputs they name.

The strength of a preference is kept with `--margin`: a `margin` column (TRL's reward
trainer reads it) from 0 to 1, the judge's chance that chosen is better less its chance
that rejected is (|2 x preference - 3|: 1 for an integer 1 or 2), or for PandaLM the votes
for chosen less those for rejected, over the number of annotators. Without it, a note
counts the rows whose fractional preference (a weighted annotator's) is left out.
"""

from __future__ import annotations

import re
from dataclasses import replace

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
from trlprep.wording import plural

CONSUMED = ("instruction", "input", "preference", "system")
PAIRS = (("output_1", "output_2"), ("response1", "response2"))  # AlpacaFarm's, PandaLM's
VOTE = re.compile(r"annotator(\d+)")  # PandaLM: one column per annotator
PLAIN_AUTO = (
    "the instruction as it is (AlpacaEval's rows, no `input` column: plain user prompts, "
    "answered by chat models under their own templates); --prompt-style alpaca wraps it in "
    "Stanford Alpaca's template"
)


def _pair(names: list[str]) -> tuple[str, str] | None:
    """The two output columns (AlpacaFarm's or PandaLM's names), else None."""
    return next((p for p in PAIRS if set(p) <= set(names)), None)


def _votes(names: list[str]) -> list[str]:
    """PandaLM's annotator columns, in their order."""
    found = [(int(m.group(1)), n) for n in names if (m := VOTE.fullmatch(n))]
    return [n for _, n in sorted(found)]


class AlpacaFarm(Importer):
    name = "alpacafarm"
    aliases = ("alpaca-farm", "alpaca-eval", "alpacaeval", "pandalm")
    description = (
        "AlpacaFarm / AlpacaEval pairs (instruction, input, output_1, output_2, preference "
        "1..2) -> preference: the prompt as the alpaca layout builds it (--prompt-style, "
        "--conversational), chosen = output_1 below 1.5, output_2 above (weighted "
        "annotators' floats too); ties (1.5, 0) and missing preferences are reported. "
        "PandaLM's response1, response2 and annotator1.. votes (0 tie, 1, 2): the output "
        "with more votes chosen. --margin keeps the strength as `margin`."
    )
    reads = (
        "instruction, output_1, output_2, preference [+ input] (PandaLM: response1, "
        "response2, annotator1..)"
    )
    columns = (*CONSUMED, *PAIRS[0], *PAIRS[1], "annotator1")
    options_read = ("prompt_style", "margin")

    def options_used(self, opts: ImportOptions) -> set[str]:
        return {"margin"} if opts.conversational else {"prompt_style", "margin"}  # no template

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        names = schema.names
        if "instruction" not in names or _pair(names) is None:
            return False
        return "preference" in names or bool(_votes(names))

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return PREFERENCE, Format.CONVERSATIONAL if opts.conversational else Format.STANDARD

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        style = _style(schema.names, opts)
        how = (
            "conversational: user(instruction + blank line + input)"
            if opts.conversational
            else f"prompt style {style} (as the alpaca layout)"
            + (f": {PLAIN_AUTO}" if _style_notes(schema.names, opts) else "")
        )
        one, two = _pair(schema.names) or PAIRS[0]
        if "preference" not in schema.names and (votes := _votes(schema.names)):
            choice = (
                f"chosen: the output with more votes in {', '.join(votes)} (1: {one}, 2: "
                f"{two}, 0: a tie), rejected: the other; equal votes -> reported"
            )
        else:
            choice = (
                f"chosen: {one} where preference < 1.5, {two} where > 1.5, rejected: the "
                "other output; a tie (1.5, 0), null or a preference outside 1..2 -> reported"
            )
        strength = (
            "margin: the strength of the preference, 0 (a tie) to 1 (certain)"
            if opts.margin
            else "the strength of a fractional preference is not kept (--margin keeps it)"
        )
        return [
            f"prompt: {how}",
            choice,
            strength,
            "generator_1 / generator_2 (where both are present) -> chosen_generator / "
            "rejected_generator",
        ]

    def reading_notes(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        return [] if opts.conversational else _style_notes(schema.names, opts)

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        one, two = _pair(table.column_names) or PAIRS[0]
        votes = [] if "preference" in table.column_names else _votes(table.column_names)
        chooser = votes[:1] or ["preference"]
        require(table, "instruction", one, two, *chooser, layout="alpacafarm")
        n = table.num_rows
        notes: list[str] = []
        if votes:
            first, margin = _more_votes_for_1(table, votes, (one, two), bad)
        else:
            first, margin = _output_1_better(as_array(table.column("preference")), bad)
            if not opts.margin and (k := _fractional(margin)):
                notes.append(
                    f"{plural(k, 'row')} {'has' if k == 1 else 'have'} a fractional preference "
                    "(a weighted annotator's: 1 + the judge's chance that output_2 is better), "
                    "whose strength is not kept: --margin keeps it as column `margin`"
                )
        instruction = _text(table, "instruction", bad, required=True)
        for name, chosen_if in ((one, first), (two, pc.invert(first))):
            _empty_answer(table, name, np.asarray(chosen_if.to_numpy(zero_copy_only=False)), bad)
        out1 = _text(table, one, bad, required=True)
        out2 = _text(table, two, bad, required=True)
        inp = _text(table, "input", bad)
        system = _text(table, "system", bad)
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
            notes += _style_notes(table.column_names, opts)
            styled = replace(opts, prompt_style=_style(table.column_names, opts))
            prompt = _standard_prompt(instruction, inp, has_input, system, has_system, styled)
        produced = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
        if opts.margin:
            produced["margin"] = pa.array(margin, pa.float64())
        consumed = (*CONSUMED, one, two, *votes)
        if {"generator_1", "generator_2"} <= set(table.schema.names):
            gen1 = as_array(table.column("generator_1"))
            gen2 = as_array(table.column("generator_2"))
            if gen1.type == gen2.type:
                produced["chosen_generator"] = pc.if_else(first, gen1, gen2)
                produced["rejected_generator"] = pc.if_else(first, gen2, gen1)
                consumed += ("generator_1", "generator_2")
        return Converted(assemble(table, produced, consumed), notes=notes)


def _style(names: list[str], opts: ImportOptions) -> str:
    """The prompt style the rows get: as given, else (`auto`) Stanford Alpaca's template for
    rows with an `input` column (AlpacaFarm, PandaLM) and plain for AlpacaEval's (none)."""
    if opts.prompt_style != "auto":
        return opts.prompt_style
    return "alpaca" if "input" in names else "plain"


def _style_notes(names: list[str], opts: ImportOptions) -> list[str]:
    """The note said when the default style makes AlpacaEval's prompts plain."""
    plain = opts.prompt_style == "auto" and _style(names, opts) == "plain"
    return [f"the prompt is {PLAIN_AUTO}"] if plain else []


def _empty_answer(table: pa.Table, name: str, chosen: np.ndarray, bad: Rejections) -> None:
    """Refuse the rows whose output `name` is "" (an `empty-string` error as chosen or
    rejected, as TRL's data would hold it), saying which side it is and what to do."""
    col = as_array(table.column(name))
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        return  # other kinds are refused by `_text`
    empty = np.asarray(pc.fill_null(pc.equal(col, ""), False).to_numpy(zero_copy_only=False))
    for side, rows in (("chosen", chosen), ("rejected", ~chosen)):
        bad.add(
            empty & rows,
            f"{name} is empty, the {side} answer (an empty answer gives no pair to learn "
            "from): fill it, or set the row aside with --on-error skip",
        )


def _fractional(margin: np.ndarray) -> int:
    """How many rows hold a preference strictly between 1 and 2 other than the tie 1.5."""
    return int(np.count_nonzero((margin > 0.0) & (margin < 1.0)))


def _output_1_better(pref: pa.Array, bad: Rejections) -> tuple[pa.Array, np.ndarray]:
    """Whether output_1 is the chosen one, per row, and the preference's strength (0 to 1,
    NaN where null); rows with no winner are added to `bad`."""
    if not (pa.types.is_integer(pref.type) or pa.types.is_floating(pref.type)):
        if not pa.types.is_null(pref.type):
            raise DataError(
                f"must hold a number from 1 (output_1 is better) to 2 (output_2 is better), "
                f"not {pref.type}",
                column="preference",
            )
    value = np.asarray(pc.fill_null(pref.cast(pa.float64()), np.nan).to_numpy(), float)
    missing = np.isnan(value)
    bad.add(missing, "preference is null: no pair")
    bad.add(
        (value == 1.5) | (value == 0.0),
        "preference is a tie (1.5, or 0 as older AlpacaEval files write it): no pair",
        tie=True,
    )
    bad.add(
        ~missing & ((value < 1.0) | (value > 2.0)),
        "preference is outside 1..2 (1: output_1 is better, 2: output_2): no pair",
    )
    return pa.array(value < 1.5), np.abs(2.0 * value - 3.0)


def _more_votes_for_1(
    table: pa.Table, votes: list[str], outputs: tuple[str, str], bad: Rejections
) -> tuple[pa.Array, np.ndarray]:
    """Whether the first output has more of the annotators' votes (1: the first output, 2:
    the second, 0: a tie, null: none), per row, and the votes' margin (the difference over
    the number of annotators); equal votes and other values go to `bad`."""
    n = table.num_rows
    ones, twos = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for name in votes:
        col = as_array(table.column(name))
        if not (pa.types.is_integer(col.type) or pa.types.is_null(col.type)):
            raise DataError(
                f"must hold an annotator's vote: 1 ({outputs[0]} is better), 2 ({outputs[1]}) "
                f"or 0 (a tie), not {col.type}",
                column=name,
            )
        value = np.asarray(pc.fill_null(col.cast(pa.int64()), 0).to_numpy(), np.int64)
        bad.add(~np.isin(value, (0, 1, 2)), f"{name} is not 0, 1 or 2 (a vote)")
        ones += value == 1
        twos += value == 2
    said = np.char.add(f"the annotators' votes tie ({outputs[0]}: ", ones.astype(str))
    said = np.char.add(np.char.add(said, f", {outputs[1]}: "), twos.astype(str))
    bad.add_per_row(ones == twos, np.char.add(said, "): no pair").astype(object), tie=True)
    return pa.array(ones > twos), np.abs(ones - twos) / len(votes)
