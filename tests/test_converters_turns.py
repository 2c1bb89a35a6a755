"""Conversations split at assistant turns: language modeling -> prompt-completion / prompt-only,
and the readings of `messages` as unpaired preference or prompt-only."""

from __future__ import annotations

import pyarrow as pa
import pytest
from trlprep.converters import EDGES, ConversionWarning, ConvertOptions
from trlprep.converters.turns import read_prompt_only, read_unpaired

from trlprep.errors import RowFailures, UsageError
from trlprep.registry import Format

S, C = Format.STANDARD, Format.CONVERSATIONAL
TO_PC = EDGES[("language-modeling", "prompt-completion")].fn
TO_PO = EDGES[("language-modeling", "prompt-only")].fn


def m(role: str, text: str) -> dict:
    return {"role": role, "content": text}


SYS, U1, A1, U2, A2 = (
    m("system", "Be terse."),
    m("user", "Hi"),
    m("assistant", "Hello."),
    m("user", "Sky?"),
    m("assistant", "Blue."),
)
CALL = {"role": "assistant", "content": "", "tool_calls": [{"name": "weather"}]}
TOOL = {"role": "tool", "content": "sunny", "tool_calls": None}


def table(*convs, **extra) -> pa.Table:
    return pa.Table.from_pydict({"messages": list(convs), **extra})


def test_split_at_the_last_assistant_turn_keeps_extras():
    out = TO_PC(table([SYS, U1, A1, U2, A2], [U1, A1], id=[7, 8]), C, ConvertOptions())
    assert out.column_names == ["id", "prompt", "completion"]  # as map(..., remove messages)
    assert out.to_pylist() == [
        {"prompt": [SYS, U1, A1, U2], "completion": [A2], "id": 7},
        {"prompt": [U1], "completion": [A1], "id": 8},
    ]


def test_tool_turns_stay_in_the_prompt():
    final = {"role": "assistant", "content": "It is sunny.", "tool_calls": None}
    conv = [{**U1, "tool_calls": None}, CALL, TOOL, final]
    out = TO_PC(table(conv), C, ConvertOptions()).to_pylist()
    assert out[0]["prompt"] == conv[:3] and out[0]["completion"] == [final]


def test_rows_that_do_not_end_on_an_assistant_turn_are_row_failures():
    t = table([U1, A1], [U1, A1, U2], [], [A1], [SYS, U1, A1])
    with pytest.raises(RowFailures) as e:
        TO_PC(t, C, ConvertOptions())
    assert e.value.stage == "conversion" and e.value.rows == [1, 2, 3]
    assert "last turn is 'user'" in e.value.reasons[0]
    assert "no messages" in e.value.reasons[1]
    assert "no prompt" in e.value.reasons[2]


def test_split_every_assistant_turn():
    opts = ConvertOptions(split_turns="all")
    out = TO_PC(table([SYS, U1, A1, U2, A2], [U1, A1], id=[0, 1]), C, opts).to_pylist()
    assert out == [
        {"prompt": [SYS, U1], "completion": [A1], "id": 0},
        {"prompt": [SYS, U1, A1, U2], "completion": [A2], "id": 0},
        {"prompt": [U1], "completion": [A1], "id": 1},
    ]
    # a trailing user turn is fine here: every assistant turn has what came before it
    assert len(TO_PC(table([U1, A1, U2]), C, opts)) == 1
    with pytest.raises(RowFailures) as e:
        TO_PC(table([U1, A1], [A1, U1]), C, opts)
    assert e.value.rows == [1]


def test_to_prompt_only_drops_the_last_assistant_turn():
    with pytest.warns(ConversionWarning, match="row 1 already ends on a user turn"):
        out = TO_PO(table([SYS, U1, A1, U2, A2], [U1, A1, U2]), C, ConvertOptions())
    assert out.to_pylist() == [{"prompt": [SYS, U1, A1, U2]}, {"prompt": [U1, A1, U2]}]
    with pytest.raises(RowFailures) as e:
        TO_PO(table([U1, A1], [SYS], []), C, ConvertOptions())
    assert e.value.rows == [1, 2]


@pytest.mark.parametrize("fn", [TO_PC, TO_PO])
def test_standard_text_has_no_turns(fn):
    with pytest.raises(UsageError, match="standard text has no turns"):
        fn(pa.table({"text": ["Hi. Hello."]}), S, ConvertOptions())


def test_split_is_lossless_back_to_language_modeling():
    t = table([SYS, U1, A1, U2, A2], [U1, A1])
    pc = TO_PC(t, C, ConvertOptions())
    back = EDGES[("prompt-completion", "language-modeling")].fn(pc, C, ConvertOptions())
    assert back.to_pylist() == t.to_pylist()


def test_read_unpaired_from_messages_and_label():
    t = table([U1, A1], [SYS, U1, A2], label=[True, False], id=[0, 1])
    out = read_unpaired(t, C, ConvertOptions())
    assert out.to_pylist() == [
        {"prompt": [U1], "completion": [A1], "label": True, "id": 0},
        {"prompt": [SYS, U1], "completion": [A2], "label": False, "id": 1},
    ]
    with pytest.raises(RowFailures) as e:
        read_unpaired(table([U1, A1], [U1], label=[True, True]), C, ConvertOptions())
    assert e.value.rows == [1]


def test_read_prompt_only_from_messages_ending_on_a_user_turn():
    t = table([SYS, U1], [U1, A1, U2], ground_truth=["1", "2"])
    out = read_prompt_only(t, C, ConvertOptions())
    assert out.to_pylist() == [
        {"prompt": [SYS, U1], "ground_truth": "1"},
        {"prompt": [U1, A1, U2], "ground_truth": "2"},
    ]
    with pytest.raises(RowFailures):
        read_prompt_only(table([U1, A1]), C, ConvertOptions())


def test_separator_joins_standard_text_only():
    opts = ConvertOptions(separator="\n")
    pc = pa.table({"prompt": ["Q: sky?"], "completion": ["Blue."]})
    out = EDGES[("prompt-completion", "language-modeling")].fn(pc, S, opts)
    assert out.column("text").to_pylist() == ["Q: sky?\nBlue."]
    pref = pa.table({"prompt": ["Q"], "chosen": ["a"], "rejected": ["b"]})
    out = EDGES[("preference", "preference-implicit")].fn(pref, S, opts)
    assert out.to_pylist() == [{"chosen": "Q\na", "rejected": "Q\nb"}]
    conv = pa.Table.from_pydict({"prompt": [[U1]], "completion": [[A1]]})
    out = EDGES[("prompt-completion", "language-modeling")].fn(conv, C, opts)
    assert out.column("messages").to_pylist() == [[U1, A1]]


def test_step_separator_defaults_to_the_separator():
    sw = pa.Table.from_pydict(
        {"prompt": ["Q"], "completions": [["a", "b"]], "labels": [[True, True]]}
    )
    lm = EDGES[("stepwise-supervision", "language-modeling")].fn
    assert lm(sw, S, ConvertOptions(separator="\n")).column("text").to_pylist() == ["Q\na\nb"]
    both = ConvertOptions(separator="\n", step_separator=" ")
    assert lm(sw, S, both).column("text").to_pylist() == ["Q\na b"]
    assert lm(sw, S, ConvertOptions()).column("text").to_pylist() == ["Qab"]


def _img_turn(text: str, n: int) -> dict:
    return {"role": "user", "content": [{"type": "image"}] * n + [{"type": "text", "text": text}]}


def test_split_every_turn_keeps_the_media_each_turn_shows():
    # images of a later turn belong to that turn's row only (TRL counts a row's parts
    # against its images); a conversation whose parts do not number its entries is kept
    said = {"role": "assistant", "content": [{"type": "text", "text": "x"}]}
    conv = [_img_turn("a", 2), said, _img_turn("b", 1), said]
    placed = [m("user", "<image>hi"), m("assistant", "x"), m("user", "<image>"), A2]
    unplaced = [U1, A1, U2, A2]
    t = pa.Table.from_pydict(
        {"messages": [conv], "images": [["i1", "i2", "i3"]], "videos": [["v"]]}
    )
    out = TO_PC(t, C, ConvertOptions(split_turns="all"))
    assert out.column("images").to_pylist() == [["i1", "i2"], ["i1", "i2", "i3"]]
    assert out.column("videos").to_pylist() == [["v"], ["v"]]  # no video part: as given
    strings = pa.Table.from_pydict({"messages": [placed, unplaced], "images": [["p", "q"], ["r"]]})
    out = TO_PC(strings, C, ConvertOptions(split_turns="all"))
    assert out.column("images").to_pylist() == [["p"], ["p", "q"], ["r"], ["r"]]
