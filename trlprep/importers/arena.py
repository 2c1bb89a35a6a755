"""Pairwise battles and judgments (Chatbot Arena conversations, MT-Bench human and GPT-4
judgments): `conversation_a`, `conversation_b` (message lists) and `winner` (`model_a`,
`model_b`, `tie`, `tie (bothbad)`) -> implicit preference, conversational.

chosen is the winner's conversation, rejected the other's (the prompt is their shared start,
as TRL reads implicit preference). A tie gives no pair and is left out as `not paired` (no
error); a null winner or any other value is refused. Where a `turn` column says which turn
was judged (MT-Bench judgments hold the whole two-turn conversation in rows judging turn 1),
both conversations are cut after the answer to that user turn, so later, unjudged answers
never count. `model_a` / `model_b` become `chosen_model` / `rejected_model`, following the
conversations; other columns are carried along.

The Kaggle form of the same battles (`prompt`, `response_a`, `response_b` as lists of turn
texts, one-hot `winner_model_a` / `winner_model_b` / `winner_tie`) is read too, into the
same two conversations (`arena_kaggle`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list, is_string
from trlprep.columns.listcut import cut_lists, spans
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers import arena_kaggle as kaggle
from trlprep.importers.base import (
    Converted,
    Importer,
    ImportOptions,
    Rejections,
    assemble,
    require,
)
from trlprep.registry import PREFERENCE_IMPLICIT, DatasetType, Format

SIDES = ("conversation_a", "conversation_b")
TIES = ("tie", "tie (bothbad)")
CONSUMED = (*SIDES, "winner")


class Arena(Importer):
    name = "arena"
    aliases = (
        "chatbot-arena",
        "lmsys-arena",
        "mt-bench-judgments",
        "battles",
        "arena-human-preference",
    )
    description = (
        "Pairwise battles / judgments (conversation_a, conversation_b, winner model_a|"
        "model_b|tie, as Chatbot Arena and MT-Bench judgments write them; or Kaggle's "
        "arena-human-preference form: prompt, response_a, response_b turn lists and one-hot "
        "winner_model_a|winner_model_b|winner_tie) -> implicit preference, conversational: "
        "chosen = the winner's conversation (cut after the judged `turn` where given); ties, "
        "other winners and turn lists that do not line up are reported."
    )
    reads = (
        "conversation_a, conversation_b, winner [+ turn, model_a, model_b]; or prompt, "
        "response_a, response_b, winner_model_a, winner_model_b, winner_tie [+ model_a, model_b]"
    )
    columns = (*CONSUMED, "turn", "model_a", "model_b", *kaggle.COLUMNS)

    def sniff(self, schema: pa.Schema, sample: pa.Table | None = None) -> bool:
        if _kaggle_form(schema):
            return True
        if not {*SIDES, "winner"} <= set(schema.names):
            return False
        return all(is_list(schema.field(s).type) for s in SIDES)

    def reads_over_trl(self, schema: pa.Schema) -> bool:
        return _kaggle_form(schema)  # its `prompt` column alone reads as prompt-only

    def landing(self, schema: pa.Schema, opts: ImportOptions) -> tuple[DatasetType, Format]:
        return PREFERENCE_IMPLICIT, Format.CONVERSATIONAL

    def explain(self, schema: pa.Schema, opts: ImportOptions) -> list[str]:
        if _kaggle_form(schema):
            return [
                "conversation_a / _b: user prompt[k], assistant response_a[k] / response_b[k] "
                "for each turn k (JSON text decoded)",
                "chosen: model A's conversation where winner_model_a is 1, model B's where "
                "winner_model_b is 1; rejected: the other",
                "winner_tie 1, a one-hot that is not one 1 and two 0s, turn lists of "
                "different lengths or a null turn -> reported",
                "model_a / model_b -> chosen_model / rejected_model",
            ]
        steps = [
            "chosen: conversation_<winner> (model_a -> a, model_b -> b), rejected: the other",
            "winner tie, tie (bothbad), null or another value -> reported",
        ]
        if "turn" in schema.names:
            steps.append("both conversations cut after the answer to user turn `turn`")
        if {"model_a", "model_b"} <= set(schema.names):
            steps.append("model_a / model_b -> chosen_model / rejected_model")
        return steps

    def convert(self, table: pa.Table, opts: ImportOptions, bad: Rejections) -> Converted:
        if _kaggle_form(table.schema):
            a, b, first = kaggle.battles(table, bad)
            return Converted(_pairs(table, a, b, first, kaggle.COLUMNS))
        require(table, *SIDES, "winner", layout="arena")
        sides = {}
        for name in SIDES:
            col = as_array(table.column(name))
            if not is_list(col.type) or not pa.types.is_struct(col.type.value_type):
                raise DataError(f"must hold lists of messages, not {col.type}", column=name)
            bad.add(_mask(col.is_null()), f"{name} is null")
            sides[name] = col
        a, b = sides["conversation_a"], sides["conversation_b"]
        if a.type != b.type:
            try:
                b = b.cast(a.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataError(
                    f"holds messages of another shape than conversation_a ({b.type} vs {a.type})",
                    column="conversation_b",
                ) from exc
        if "turn" in table.column_names:
            turn = _turns(as_array(table.column("turn")))
            a, b = _cut_after_turn(a, turn), _cut_after_turn(b, turn)
        first = _a_won(as_array(table.column("winner")), bad)
        return Converted(_pairs(table, a, b, first, CONSUMED))


def _kaggle_form(schema: pa.Schema) -> bool:
    """The Kaggle form, and not the conversations form (which wins where both are)."""
    return kaggle.is_kaggle(schema) and not set(SIDES) & set(schema.names)


def _pairs(
    table: pa.Table, a: pa.Array, b: pa.Array, first: pa.Array, consumed: tuple[str, ...]
) -> pa.Table:
    """chosen / rejected (and their models) from conversations `a`, `b` and whether `a` won."""
    produced = {"chosen": pc.if_else(first, a, b), "rejected": pc.if_else(first, b, a)}
    if {"model_a", "model_b"} <= set(table.column_names):
        ma, mb = as_array(table.column("model_a")), as_array(table.column("model_b"))
        if ma.type == mb.type:
            produced["chosen_model"] = pc.if_else(first, ma, mb)
            produced["rejected_model"] = pc.if_else(first, mb, ma)
            consumed += ("model_a", "model_b")
    return assemble(table, produced, consumed)


def _a_won(winner: pa.Array, bad: Rejections) -> pa.Array:
    """Whether conversation_a won, per row; rows without a winner are added to `bad`."""
    if pa.types.is_null(winner.type):
        winner = winner.cast(pa.string())
    if not is_string(winner.type):
        raise DataError(
            f"must hold model_a, model_b or a tie (tie, tie (bothbad)), not {winner.type}",
            column="winner",
        )
    w = winner.cast(pa.string())
    null = _mask(w.is_null())
    tie = _mask(pc.is_in(w, pa.array(TIES)))
    known = _mask(pc.is_in(w, pa.array(["model_a", "model_b"])))
    bad.add(null, "winner is null: no pair")
    bad.add(tie, "winner is a tie: no pair", tie=True)
    bad.add(~(null | tie | known), "winner is not model_a, model_b or a tie: no pair")
    return pa.array(_mask(pc.equal(w, "model_a")))


def _mask(arr: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy, null as False."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), bool)


def _turns(col: pa.Array) -> np.ndarray:
    """The judged turn per row (0: none given, the whole conversation counts)."""
    if pa.types.is_null(col.type):
        return np.zeros(len(col), np.int64)
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise DataError(f"must hold the judged turn (1, 2, ...), not {col.type}", column="turn")
    return np.asarray(pc.fill_null(col.cast(pa.int64()), 0).to_numpy(), np.int64)


def _cut_after_turn(conv: pa.Array, turn: np.ndarray) -> pa.Array:
    """Each conversation up to the reply to its `turn`-th user message (whole where turn <
    1 or the conversation has no more user messages)."""
    values, offsets, lengths, _valid = spans(conv)
    n = len(conv)
    if not len(values) or "role" not in {f.name for f in conv.type.value_type}:
        return conv
    roles = pc.struct_field(values, "role")
    user = _mask(pc.equal(roles, "user"))
    seen = np.cumsum(user)
    before = np.concatenate([[0], seen])[offsets[:-1]]  # user messages before each row
    row = np.repeat(np.arange(n), np.diff(offsets))  # a null row may still span items
    limit = np.where(turn > 0, turn, np.iinfo(np.int64).max)
    keep = (seen - before[row]) <= limit[row]
    end = np.minimum(np.bincount(row, weights=keep, minlength=n).astype(np.int64), lengths)
    return cut_lists(conv, np.zeros(n, np.int64), end, conv.type)
