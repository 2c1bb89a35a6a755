"""One dict given to the Python API: a dict of equal-length lists is columns (as
`datasets.Dataset.from_dict` takes), a dict holding text, a label or a message list is one
example (as TRL's `maybe_apply_chat_template(example)` takes), and comes back as one."""

from __future__ import annotations

import pytest

import trlprep
from trlprep.errors import UsageError
from trlprep.io.dictinput import COLUMNS, EXAMPLE, dict_kind

CHAT = {
    "prompt": [{"role": "user", "content": "Hi"}],
    "completion": [{"role": "assistant", "content": "Hello"}],
}


def test_one_standard_example_converts_to_one_example():
    out = trlprep.convert({"prompt": "Hi ", "completion": "there"}, to="language-modeling")
    assert out == {"text": "Hi there"}


def test_one_conversational_example_converts_to_one_example():
    out = trlprep.convert(CHAT, to="language-modeling")
    assert out == {"messages": CHAT["prompt"] + CHAT["completion"]}


def test_one_example_made_several_rows_comes_back_as_rows():
    out = trlprep.convert({"prompt": "q", "chosen": "a", "rejected": "b"}, to="unpaired-preference")
    assert out == [
        {"prompt": "q", "completion": "a", "label": True},
        {"prompt": "q", "completion": "b", "label": False},
    ]


def test_one_example_is_detected_and_validated():
    step = {"prompt": "q", "completions": ["a", "b"], "labels": [True, False]}
    assert trlprep.detect(step).type.name == "stepwise-supervision"
    report = trlprep.validate(CHAT)
    assert report.type == "prompt-completion" and report.format == "conversational"
    assert report.num_rows == 1 and not report.issues


def test_equal_lists_stay_columns():
    out = trlprep.convert({"prompt": ["a", "b"], "completion": ["c", "d"]}, to="lm")
    assert out == {"text": ["ac", "bd"]}
    assert dict_kind({"messages": [CHAT["prompt"], CHAT["completion"]]}) == COLUMNS
    assert dict_kind({}) == COLUMNS


def test_message_lists_or_scalars_make_an_example():
    assert dict_kind(CHAT) == EXAMPLE
    assert dict_kind({"prompt": "q", "completions": [], "labels": []}) == EXAMPLE
    assert dict_kind({"messages": CHAT["prompt"], "tools": [{"type": "function"}]}) == EXAMPLE


def test_lists_of_different_lengths_are_said_ambiguous():
    with pytest.raises(UsageError) as e:
        trlprep.convert({"prompt": ["a"], "completion": ["b", "c"]}, to="lm")
    said = str(e.value)
    assert "ambiguous" in said and "'prompt': 1, 'completion': 2" in said
    assert "[example]" in said
