"""The Kaggle form of Chatbot Arena battles (lmsys `arena-human-preference-55k`, `-100k`,
`-140k`): `prompt`, `response_a`, `response_b` hold one string per turn, as JSON text
(`["Hi", "And then?"]`; CSV and Parquet files write them so) or as lists, and one-hot
`winner_model_a`, `winner_model_b`, `winner_tie` (0/1) say who won.

Read into the `arena` layout's two conversations (user turn k, then each model's answer k)
and whether model A won. Reported rows, never guessed: a tie, a one-hot that is not one 1
and two 0s, turn lists that are not JSON lists of strings, that hold different numbers of
turns, or a null turn (a model that gave no answer; the files write `null`).
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trlprep.columns.arrowtypes import is_list, is_string
from trlprep.columns.listcut import cut_lists
from trlprep.converters.arrowops import as_array
from trlprep.errors import DataError
from trlprep.importers.jsonarrow import lists_from, row_lengths
from trlprep.importers.messages import flatten_lists, message_struct
from trlprep.importers.rejects import Rejections
from trlprep.io.jsontext import decode_json_texts

TURNS = ("prompt", "response_a", "response_b")
WINNERS = ("winner_model_a", "winner_model_b", "winner_tie")
COLUMNS = (*TURNS, *WINNERS)
TURN_LISTS = pa.list_(pa.string())


def is_kaggle(schema: pa.Schema) -> bool:
    """Whether `schema` holds the Kaggle form's columns."""
    return set(COLUMNS) <= set(schema.names)


def battles(table: pa.Table, bad: Rejections) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(conversation_a, conversation_b, whether model A won) per row; rows that give no pair
    are added to `bad` with their reason."""
    prompt, resp_a, resp_b = (_turn_lists(table, name, bad) for name in TURNS)
    counts = [row_lengths(x) for x in (prompt, resp_a, resp_b)]
    bad.add(counts[0] == 0, "prompt holds no turn: no conversation")
    same = (counts[0] == counts[1]) & (counts[0] == counts[2])
    _per_row(
        bad,
        ~same,
        lambda i: (
            f"prompt, response_a and response_b hold {counts[0][i]}, {counts[1][i]} and "
            f"{counts[2][i]} turns (one string per turn each): no conversation"
        ),
    )
    for name, lists in zip(TURNS, (prompt, resp_a, resp_b), strict=True):
        _null_turns(name, lists, bad)
    turns = np.where(same, counts[0], 0)  # rows of unequal lists are refused: nothing built
    a_won = _a_won(table, bad)
    return _conversation(prompt, resp_a, turns), _conversation(prompt, resp_b, turns), a_won


def _turn_lists(table: pa.Table, name: str, bad: Rejections) -> pa.Array:
    """Column `name` as lists of strings (JSON text decoded); rows that are none are null,
    added to `bad`."""
    col = as_array(table.column(name))
    if pa.types.is_null(col.type):
        col = col.cast(TURN_LISTS)
    elif is_string(col.type):
        col = _decoded(name, col)
    if not (is_list(col.type) and (is_string(col.type.value_type) or _null_items(col.type))):
        raise DataError(
            f"must hold each turn's text as a JSON list of strings, not {col.type}", column=name
        )
    col = col.cast(TURN_LISTS)
    bad.add(_true(as_array(table.column(name)).is_null()), f"{name} is null: no conversation")
    bad.add(
        _true(col.is_null()) & ~_true(as_array(table.column(name)).is_null()),
        f"{name} is not a JSON list of strings (one per turn): no conversation",
    )
    return col


def _null_items(t: pa.DataType) -> bool:
    return pa.types.is_null(t.value_type)


def _decoded(name: str, col: pa.Array) -> pa.Array:
    """JSON texts as lists of strings, all at once; where some text is not one, each
    distinct text on its own (that row null)."""
    decoded = decode_json_texts(name, col, python_literals=False)
    if decoded is not None and is_list(decoded[1].type):
        values = decoded[1]
        if is_string(values.type.value_type) or _null_items(values.type):
            return values.cast(TURN_LISTS)
    distinct = pc.unique(col.drop_null())
    lists = []
    for text in distinct.to_pylist():
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        ok = isinstance(value, list) and all(v is None or isinstance(v, str) for v in value)
        lists.append(value if ok else None)
    return pa.array(lists, TURN_LISTS).take(pc.index_in(col, distinct))


def _null_turns(name: str, lists: pa.Array, bad: Rejections) -> None:
    """Rows of `lists` holding a null turn, added to `bad` naming the first."""
    items, parent, pos = flatten_lists(lists)
    null = _true(items.is_null())
    if not null.any():
        return
    rows, first = np.unique(parent[null], return_index=True)
    turn = dict(zip(rows.tolist(), (pos[null][first] + 1).tolist(), strict=True))
    mask = np.zeros(len(lists), bool)
    mask[rows] = True
    _per_row(
        bad,
        mask,
        lambda i: f"{name} turn {turn[i]} is null (no text for it): no conversation",
    )


def _conversation(prompt: pa.Array, response: pa.Array, turns: np.ndarray) -> pa.Array:
    """user prompt[k], assistant response[k] for the first `turns` turns of each row."""
    n = len(turns)
    zero = np.zeros(n, np.int64)
    asked = pc.list_flatten(cut_lists(prompt, zero, turns, TURN_LISTS))
    said = pc.list_flatten(cut_lists(response, zero, turns, TURN_LISTS))
    total = len(asked)
    order = np.empty(2 * total, np.int64)
    order[0::2], order[1::2] = np.arange(total), total + np.arange(total)
    content = pa.concat_arrays([asked, said]).take(pa.array(order))
    role = pa.array(["user", "assistant"]).take(pa.array(np.arange(2 * total) % 2))
    return lists_from(message_struct({"role": role, "content": content}), 2 * turns)


def _a_won(table: pa.Table, bad: Rejections) -> pa.Array:
    """Whether model A won, from the one-hot winner columns; a tie or a one-hot that is not
    one 1 and two 0s is added to `bad`."""
    values = []
    for name in WINNERS:
        col = as_array(table.column(name))
        if pa.types.is_boolean(col.type) or pa.types.is_null(col.type):
            col = col.cast(pa.int8())
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            raise DataError(f"must hold 0 or 1 (one-hot: who won), not {col.type}", column=name)
        values.append(np.asarray(pc.fill_null(col.cast(pa.float64()), np.nan).to_numpy(), float))
    ones = sum((v == 1).astype(int) for v in values)
    zeros = sum((v == 0).astype(int) for v in values)
    one_hot = (ones == 1) & (zeros == 2)

    def said(i: int) -> str:
        got = ", ".join("null" if np.isnan(v[i]) else f"{v[i]:g}" for v in values)
        return (
            f"winner_model_a, winner_model_b, winner_tie are {got}: one of them must be 1 "
            "and the others 0; no pair"
        )

    _per_row(bad, ~one_hot, said)
    bad.add(one_hot & (values[2] == 1), "winner_tie is 1 (a tie): no pair", tie=True)
    return pa.array(one_hot & (values[0] == 1))


def _per_row(bad: Rejections, mask: np.ndarray, reason) -> None:
    """`bad.add_per_row` with `reason(i)` for each row `mask` marks (refused rows only)."""
    if not mask.any():
        return
    reasons = np.full(len(mask), None, dtype=object)
    for i in np.flatnonzero(mask):
        reasons[i] = reason(int(i))
    bad.add_per_row(mask, reasons)


def _true(arr: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy, null as False."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), bool)
