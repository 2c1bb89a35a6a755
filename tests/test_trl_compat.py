"""TRL-compatible helpers: one example and whole datasets, the documented fixes, and (when
`trl` is installed) agreement with TRL itself wherever TRL is right."""

from __future__ import annotations

import copy
import warnings

import datasets
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import example as hypothesis_example
from hypothesis import given, settings
from hypothesis import strategies as st
from trlprep.converters import ConversionWarning

from trlprep.compat.chatml import maybe_convert_to_chatml
from trlprep.compat.dataset import (
    extract_prompt,
    is_conversational,
    maybe_extract_prompt,
    maybe_unpair_preference_dataset,
    unpair_preference_dataset,
)
from trlprep.errors import DataError

datasets.disable_progress_bars()


def m(role: str, text: str) -> dict:
    return {"role": role, "content": text}


SKY, BLUE, GREEN = (
    m("user", "What color is the sky?"),
    m("assistant", "It is blue."),
    m("assistant", "It is green."),
)
IMPLICIT = {"chosen": [SKY, BLUE], "rejected": [SKY, GREEN]}
EXPLICIT = {"prompt": [SKY], "chosen": [BLUE], "rejected": [GREEN]}


# ---------------------------------------------------------------- is_conversational


def test_is_conversational_examples():
    assert is_conversational({"prompt": [SKY]})
    assert not is_conversational({"prompt": "The sky is"})
    assert not is_conversational({"messages": []})  # TRL: IndexError
    assert not is_conversational({"label": True})
    # fixed key order: the prompt decides (TRL picks a key from a set)
    assert not is_conversational({"prompt": "What color?", "chosen": [SKY, BLUE]})


@pytest.mark.parametrize("kind", ["dataset", "dict", "table", "polars", "rows"])
def test_is_conversational_datasets(kind):
    rows = [EXPLICIT, EXPLICIT]
    data = {
        "dataset": datasets.Dataset.from_list(rows),
        "dict": datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}),
        "table": pa.Table.from_pylist(rows),
        "polars": pl.from_arrow(pa.Table.from_pylist(rows)),
        "rows": rows,
    }[kind]
    assert is_conversational(data)
    assert not is_conversational(pa.table({"prompt": ["a"], "completion": ["b"]}))


# ---------------------------------------------------------------- extract_prompt


def test_extract_prompt_example_as_trl():
    assert extract_prompt(IMPLICIT) == EXPLICIT
    assert extract_prompt({"chosen": "The sky is blue.", "rejected": "The sky is green."}) == {
        "prompt": "The sky is",
        "chosen": " blue.",
        "rejected": " green.",
    }


def test_extract_prompt_example_fixes():
    assert extract_prompt({"chosen": "The sky is blue", "rejected": "The sky is black"}) == {
        "prompt": "The sky is",
        "chosen": " blue",
        "rejected": " black",
    }
    # one side a prefix of the other: char mode is TRL's cut; word mode needs a boundary
    assert extract_prompt({"chosen": "abc", "rejected": "abcd"}, split_mode="char") == {
        "prompt": "ab",
        "chosen": "c",
        "rejected": "cd",
    }
    assert extract_prompt({"chosen": "a bc", "rejected": "a bcd"})["prompt"] == "a"
    with pytest.raises(DataError, match="prefix of the other"):
        extract_prompt({"chosen": "abc", "rejected": "abcd"})
    with pytest.raises(DataError, match="share no prompt"):
        extract_prompt({"chosen": [BLUE], "rejected": [GREEN]})
    with pytest.warns(ConversionWarning):
        out = extract_prompt({"chosen": "x ", "rejected": "y"}, no_prompt="warn")
    assert out == {"prompt": "", "chosen": "x ", "rejected": "y"}
    with pytest.raises(DataError, match="both be strings or both be message lists"):
        extract_prompt({"chosen": "a", "rejected": [BLUE]})


def test_extract_prompt_inside_dataset_map():
    ds = datasets.Dataset.from_list([IMPLICIT, IMPLICIT])
    assert ds.map(extract_prompt)[0] == {"chosen": [BLUE], "rejected": [GREEN], "prompt": [SKY]}


@pytest.mark.parametrize("kind", ["dataset", "dict", "table", "polars", "rows"])
def test_extract_prompt_on_whole_datasets(kind):
    rows = [{**IMPLICIT, "id": 7}, {**IMPLICIT, "id": 8}]
    data = {
        "dataset": datasets.Dataset.from_list(rows),
        "dict": datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}),
        "table": pa.Table.from_pylist(rows),
        "polars": pl.from_arrow(pa.Table.from_pylist(rows)),
        "rows": rows,
    }[kind]
    out = extract_prompt(data)
    got = {
        "dataset": lambda o: o.to_list(),
        "dict": lambda o: o["train"].to_list(),
        "table": lambda o: o.to_pylist(),
        "polars": lambda o: o.to_dicts(),
        "rows": lambda o: o,
    }[kind](out)
    assert type(out) is type(data)
    assert got == [{**EXPLICIT, "id": 7}, {**EXPLICIT, "id": 8}]


def test_extract_prompt_replaces_an_existing_prompt_column():
    table = pa.Table.from_pylist([{"prompt": "What color is the sky?", **IMPLICIT}])
    assert extract_prompt(table).to_pylist() == [EXPLICIT]


def test_maybe_extract_prompt():
    assert maybe_extract_prompt({"prompt": [SKY]}) == {"prompt": [SKY]}
    assert maybe_extract_prompt(EXPLICIT) is EXPLICIT
    mixed = {"prompt": "What color is the sky?", **IMPLICIT}
    assert maybe_extract_prompt(mixed) == EXPLICIT
    table = pa.Table.from_pylist([EXPLICIT])
    assert maybe_extract_prompt(table) is table
    assert maybe_extract_prompt(pa.Table.from_pylist([mixed])).to_pylist() == [EXPLICIT]
    lm = pa.table({"text": ["a"]})
    assert maybe_extract_prompt(lm) is lm


# ---------------------------------------------------------------- unpairing

PREF_ROWS = [
    {"prompt": "The sky is", "chosen": " blue.", "rejected": " green.", "id": 0},
    {"prompt": "The sun is", "chosen": " in the sky.", "rejected": " in the sea.", "id": 1},
]


def test_unpair_dataset_interleaved_by_default_and_keeps_extras():
    out = unpair_preference_dataset(datasets.Dataset.from_list(PREF_ROWS))
    assert out.to_list() == [
        {"prompt": "The sky is", "completion": " blue.", "label": True, "id": 0},
        {"prompt": "The sky is", "completion": " green.", "label": False, "id": 0},
        {"prompt": "The sun is", "completion": " in the sky.", "label": True, "id": 1},
        {"prompt": "The sun is", "completion": " in the sea.", "label": False, "id": 1},
    ]


def test_unpair_blocks_per_map_batch_like_trl():
    rows = [{"prompt": "p", "chosen": f"c{i}", "rejected": f"r{i}"} for i in range(5)]
    out = unpair_preference_dataset(pa.Table.from_pylist(rows), order="blocks", batch_size=2)
    assert out.column("completion").to_pylist() == [
        "c0",
        "c1",
        "r0",
        "r1",
        "c2",
        "c3",
        "r2",
        "r3",
        "c4",
        "r4",
    ]


def test_unpair_implicit_extracts_the_prompt_first():
    out = unpair_preference_dataset(datasets.Dataset.from_list([IMPLICIT]))
    assert out.to_list() == [
        {"prompt": [SKY], "completion": [BLUE], "label": True},
        {"prompt": [SKY], "completion": [GREEN], "label": False},
    ]


def test_unpair_one_example_and_dataset_dict():
    assert unpair_preference_dataset(PREF_ROWS[0]) == [
        {"prompt": "The sky is", "completion": " blue.", "label": True, "id": 0},
        {"prompt": "The sky is", "completion": " green.", "label": False, "id": 0},
    ]
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(PREF_ROWS)})
    out = maybe_unpair_preference_dataset(dd)
    assert isinstance(out, datasets.DatasetDict) and out["train"].num_rows == 4


def test_maybe_unpair_leaves_other_datasets_alone():
    ds = datasets.Dataset.from_list([{"prompt": "a", "completion": "b", "label": True}])
    assert maybe_unpair_preference_dataset(ds) is ds
    columns = {"prompt": ["a"], "completion": ["b"]}
    assert maybe_unpair_preference_dataset(columns) is columns


# ---------------------------------------------------------------- ChatML

SHAREGPT = {
    "conversations": [
        {"from": "system", "value": "Be brief."},
        {"from": "human", "value": "What color is the sky?"},
        {"from": "gpt", "value": "It is blue."},
    ],
    "id": 3,
}
CHATML = {
    "messages": [m("system", "Be brief."), m("user", "What color is the sky?"), BLUE],
    "id": 3,
}


def test_chatml_example_maps_roles_and_does_not_mutate():
    before = copy.deepcopy(SHAREGPT)
    assert maybe_convert_to_chatml(SHAREGPT) == CHATML
    assert before == SHAREGPT
    assert maybe_convert_to_chatml({"prompt": [{"role": "Human", "content": "x"}]}) == {
        "prompt": [m("user", "x")]
    }
    with pytest.raises(DataError, match="both `conversations` and `messages`"):
        maybe_convert_to_chatml({**SHAREGPT, "messages": []})


@pytest.mark.parametrize("kind", ["dataset", "table", "polars", "rows"])
def test_chatml_on_whole_datasets(kind):
    rows = [SHAREGPT, SHAREGPT]
    data = {
        "dataset": datasets.Dataset.from_list(rows),
        "table": pa.Table.from_pylist(rows),
        "polars": pl.from_arrow(pa.Table.from_pylist(rows)),
        "rows": rows,
    }[kind]
    out = maybe_convert_to_chatml(data)
    got = {
        "dataset": lambda o: o.to_list(),
        "table": lambda o: o.to_pylist(),
        "polars": lambda o: o.to_dicts(),
        "rows": lambda o: o,
    }[kind](out)
    assert got == [CHATML, CHATML]


def test_chatml_table_coalesces_from_and_role():
    t = pa.table(
        {
            "prompt": pa.array(
                [
                    [
                        {"from": "human", "role": None, "value": "q"},
                        {"from": None, "role": "gpt", "value": "a"},
                    ]
                ]
            )
        }
    )
    assert maybe_convert_to_chatml(t).to_pylist() == [
        {"prompt": [m("user", "q"), m("assistant", "a")]}
    ]


# ---------------------------------------------------------------- against TRL itself


@pytest.fixture(scope="module")
def trl():
    return pytest.importorskip("trl.data_utils")


WORD = st.text(alphabet=st.sampled_from(list("abé日.")), min_size=1, max_size=4)
WORDS = st.lists(WORD, min_size=1, max_size=4).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(prompt=WORDS, a=WORDS, b=WORDS, mode=st.sampled_from(["word", "char"]))
def test_extract_prompt_agrees_with_trl_where_trl_is_right(trl, prompt, a, b, mode):
    """Texts that differ right after a shared space: TRL's cut is correct there."""
    if a[0] == b[0]:
        return
    example = {"chosen": prompt + " " + a, "rejected": prompt + " " + b}
    assert extract_prompt(example, split_mode=mode) == trl.extract_prompt(example)


@settings(max_examples=60, deadline=None)
@given(
    prompt=st.text(max_size=8), a=st.text(min_size=1, max_size=8), b=st.text(min_size=1, max_size=8)
)
@hypothesis_example(prompt=" ", a="0", b="1")  # TRL's prompt is empty: no shared prompt
def test_char_mode_is_trl_when_the_texts_differ_after_the_first_character(trl, prompt, a, b):
    if a[0] == b[0] or not prompt:
        return
    example = {"chosen": prompt + a, "rejected": prompt + b}
    theirs = trl.extract_prompt(example)
    if theirs["prompt"] == "":  # " " + "0" / " " + "1": TRL's empty prompt is an error here
        with pytest.raises(DataError, match="share no prompt"):
            extract_prompt(example, split_mode="char")
        return
    assert extract_prompt(example, split_mode="char") == theirs


def test_extract_prompt_conversational_agrees_with_trl(trl):
    sys = m("system", "s")
    example = {"chosen": [sys, SKY, BLUE], "rejected": [sys, SKY, GREEN]}
    assert extract_prompt(example) == trl.extract_prompt(example)
    ds = datasets.Dataset.from_list([example] * 3)
    assert (
        extract_prompt(ds).to_list()
        == ds.map(trl.extract_prompt).select_columns(["prompt", "chosen", "rejected"]).to_list()
    )
    for ex in (EXPLICIT, {"prompt": [SKY]}, {"prompt": "What color?", **IMPLICIT}):
        assert maybe_extract_prompt(ex) == trl.maybe_extract_prompt(copy.deepcopy(ex))


def test_trl_defects_that_we_fix(trl):
    """The cases where we differ on purpose: TRL's outputs, asserted so a fix upstream shows."""
    assert trl.extract_prompt({"chosen": "abc", "rejected": "abcd"})["prompt"] == "ab"
    assert trl.extract_prompt({"chosen": "x ", "rejected": "y"})["prompt"] == "x"
    with pytest.raises(UnboundLocalError):
        trl.extract_prompt({"chosen": "", "rejected": "y"})
    assert (
        trl.extract_prompt({"chosen": "The sky is blue", "rejected": "The sky is black"})["prompt"]
        == "The sky is bl"
    )
    ex = copy.deepcopy(SHAREGPT)
    assert trl.maybe_convert_to_chatml(ex)["messages"][1]["role"] == "human"
    assert "conversations" not in ex  # mutated in place


def test_unpair_blocks_equals_trl(trl):
    rows = [
        {"prompt": f"p{i}", "chosen": f"c{i}", "rejected": f"r{i}", "id": i} for i in range(1300)
    ]
    ds = datasets.Dataset.from_list(rows)
    ours = unpair_preference_dataset(ds, order="blocks").to_list()
    theirs = trl.unpair_preference_dataset(ds)
    assert ours == theirs.select_columns(["prompt", "completion", "label", "id"]).to_list()


def test_chatml_and_is_conversational_agree_with_trl(trl):
    ex = {"conversations": [{"from": "user", "value": "hi"}, {"from": "assistant", "value": "yo"}]}
    assert maybe_convert_to_chatml(ex) == trl.maybe_convert_to_chatml(copy.deepcopy(ex))
    for example in (EXPLICIT, IMPLICIT, {"prompt": "x"}, {"messages": [BLUE]}, {"text": "x"}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert is_conversational(example) == trl.is_conversational(example)
