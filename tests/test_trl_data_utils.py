"""`from trlprep import ...` as a drop-in for `from trl.data_utils import ...`: every public
helper of TRL's data_utils exists with TRL's signature; TRL 1.3+'s `processing_class`
keyword; IterableDataset inputs (lazily mapped); TRL's own test cases (same inputs and
expected outputs, written here), and parity with the installed TRL on examples."""

from __future__ import annotations

import inspect
from pathlib import Path

import datasets
import pytest

import trlprep
from trlprep import (
    apply_chat_template,
    common_prefix_length,
    extract_prompt,
    get_dataset_column_names,
    is_conversational,
    is_conversational_from_value,
    maybe_apply_chat_template,
    maybe_convert_to_chatml,
    maybe_extract_prompt,
    maybe_unpair_preference_dataset,
    pack_dataset,
    prepare_multimodal_messages,
    prepare_multimodal_messages_vllm,
    truncate_dataset,
    unpair_preference_dataset,
)

datasets.disable_progress_bars()
TINY_MODEL = Path(__file__).resolve().parents[1] / "examples" / "tiny-chat-model"
PAIRED = {
    "prompt": ["The sky is", "The sun is"],
    "chosen": [" blue.", " in the sky."],
    "rejected": [" green.", " in the sea."],
}
UNPAIRED_TRL_ORDER = {
    "prompt": ["The sky is", "The sun is", "The sky is", "The sun is"],
    "completion": [" blue.", " in the sky.", " green.", " in the sea."],
    "label": [True, True, False, False],
}


def m(role: str, content) -> dict:
    return {"role": role, "content": content}


def rows(columns: dict) -> list[dict]:
    return [dict(zip(columns, vals, strict=True)) for vals in zip(*columns.values(), strict=True)]


@pytest.fixture(scope="module")
def trl():
    return pytest.importorskip("trl.data_utils")


@pytest.fixture(scope="module")
def tok():
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("tokenizers")
    return transformers.AutoTokenizer.from_pretrained(TINY_MODEL)


# ---------------------------------------------------------------- the same public names


def _trl_functions(trl) -> dict:
    return {
        name: obj
        for name, obj in vars(trl).items()
        if not name.startswith("_") and inspect.isfunction(obj) and obj.__module__ == trl.__name__
    }


def test_every_public_trl_data_utils_function_is_importable_from_trlprep(trl):
    names = _trl_functions(trl)
    assert len(names) >= 12
    missing = [n for n in names if n not in trlprep.__all__]
    assert not missing, missing
    ns: dict = {}
    exec(f"from trlprep import {', '.join(names)}", ns)  # the drop-in import
    for name, theirs in names.items():
        ours = ns[name]
        assert callable(ours) and not inspect.ismodule(ours), name
        # TRL's parameters, by name, are accepted (positional ones at the same place)
        mine = inspect.signature(ours).parameters
        var_kw = any(p.kind is p.VAR_KEYWORD for p in mine.values())
        ours_positional = [
            p.name for p in mine.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        for i, p in enumerate(inspect.signature(theirs).parameters.values()):
            if p.kind is p.VAR_KEYWORD:
                assert var_kw, name
            elif p.kind is p.POSITIONAL_OR_KEYWORD:
                assert ours_positional[i] == p.name, (name, p.name)
            else:
                assert p.name in mine or var_kw, (name, p.name)


# ---------------------------------------------------------------- processing_class


CONVERSATIONAL = [
    {"messages": [m("user", "What color is the sky?"), m("assistant", "It is blue.")]},
    {"prompt": [m("user", "What color is the sky?")]},
    {"prompt": [m("user", "What color is the sky?")], "completion": [m("assistant", "Blue.")]},
    {
        "prompt": [m("system", "Be brief."), m("user", "Sky?")],
        "chosen": [m("assistant", "Blue.")],
        "rejected": [m("assistant", "Green.")],
    },
    {
        "chosen": [m("user", "Sky?"), m("assistant", "Blue.")],
        "rejected": [m("user", "Sky?"), m("assistant", "Green.")],
    },
    {"prompt": [m("user", "Sky?")], "completion": [m("assistant", "Green.")], "label": False},
]


@pytest.mark.parametrize("example", CONVERSATIONAL)
def test_processing_class_and_tokenizer_keywords(tok, example):
    by_position = apply_chat_template(example, tok)
    assert apply_chat_template(example, processing_class=tok) == by_position
    assert apply_chat_template(example, tokenizer=tok) == by_position
    assert maybe_apply_chat_template(example, processing_class=tok) == by_position
    assert maybe_apply_chat_template(example, tokenizer=tok) == by_position
    with pytest.raises(TypeError, match="not both"):
        apply_chat_template(example, processing_class=tok, tokenizer=tok)
    plain = {"prompt": "The sky is", "completion": " blue."}
    assert maybe_apply_chat_template(plain, processing_class=tok) == plain


@pytest.mark.parametrize("example", CONVERSATIONAL)
def test_apply_chat_template_equals_trl(trl, tok, example):
    assert apply_chat_template(example, processing_class=tok) == trl.apply_chat_template(
        example, processing_class=tok
    )
    assert maybe_apply_chat_template(example, tok) == trl.maybe_apply_chat_template(example, tok)


# ---------------------------------------------------------------- IterableDataset


def _stream(columns: dict, reads: list | None = None) -> datasets.IterableDataset:
    """A generator-backed IterableDataset that records every row it yields."""
    records = rows(columns)

    def gen():
        for r in records:
            if reads is not None:
                reads.append(r)
            yield r

    return datasets.IterableDataset.from_generator(gen)


def test_iterable_inputs_give_lazy_iterable_datasets():
    reads: list = []
    implicit = {"chosen": ["The sky is blue."], "rejected": ["The sky is green."]}
    for fn, data in (
        (unpair_preference_dataset, PAIRED),
        (maybe_unpair_preference_dataset, PAIRED),
        (extract_prompt, implicit),
        (maybe_extract_prompt, implicit),
        (maybe_convert_to_chatml, PAIRED),
    ):
        out = fn(_stream(data, reads))
        assert isinstance(out, datasets.IterableDataset), fn.__name__
        assert reads == [], fn.__name__  # nothing read until iterated
        assert list(out), fn.__name__
        reads.clear()


def test_unpair_iterable_as_trl_tests_it():
    """TRL's test_unpair_preference_dataset_iterable(_extra_columns): TRL's row order is
    `order="blocks"`; trlprep's default keeps each pair's rows together."""
    paired = datasets.Dataset.from_dict({**PAIRED, "extra": [1, 2]}).to_iterable_dataset()
    expected = rows({**UNPAIRED_TRL_ORDER, "extra": [1, 2, 1, 2]})
    assert list(unpair_preference_dataset(paired, order="blocks")) == expected
    assert list(unpair_preference_dataset(paired)) == [expected[i] for i in (0, 2, 1, 3)]
    plain = datasets.Dataset.from_dict(PAIRED).to_iterable_dataset()
    assert list(maybe_unpair_preference_dataset(plain, order="blocks")) == rows(UNPAIRED_TRL_ORDER)
    already = datasets.Dataset.from_dict(UNPAIRED_TRL_ORDER).to_iterable_dataset()
    assert list(maybe_unpair_preference_dataset(already)) == rows(UNPAIRED_TRL_ORDER)
    splits = datasets.IterableDatasetDict({"train": plain, "test": plain})
    out = unpair_preference_dataset(splits, order="blocks")
    assert isinstance(out, datasets.IterableDatasetDict)
    assert list(out["test"]) == rows(UNPAIRED_TRL_ORDER)


def test_iterable_results_equal_trl(trl, tok):
    ds = datasets.Dataset.from_dict({**PAIRED, "extra": [1, 2]})
    ours = unpair_preference_dataset(ds.to_iterable_dataset(), order="blocks", batch_size=1)
    theirs = trl.unpair_preference_dataset(ds.to_iterable_dataset(), batch_size=1)
    assert list(ours) == list(theirs)
    conv = datasets.Dataset.from_list([r for r in CONVERSATIONAL if "prompt" in r][1:2] * 3)
    ours = maybe_apply_chat_template(conv.to_iterable_dataset(), processing_class=tok)
    theirs = conv.to_iterable_dataset().map(
        trl.maybe_apply_chat_template, fn_kwargs={"processing_class": tok}
    )
    assert list(ours) == [{k: r[k] for k in ("prompt", "completion")} for r in theirs]
    implicit = datasets.Dataset.from_list([CONVERSATIONAL[4]] * 2)
    assert list(extract_prompt(implicit.to_iterable_dataset())) == list(
        implicit.to_iterable_dataset().map(trl.extract_prompt)
    )


def test_is_conversational_of_a_stream():
    assert is_conversational(datasets.Dataset.from_list(CONVERSATIONAL[:1]).to_iterable_dataset())
    assert not is_conversational(_stream(PAIRED))


# ---------------------------------------------------------------- TRL's other helpers


def test_is_conversational_from_value_as_trl_tests_it():
    conv = [{"from": "user", "value": "What color is the sky?"}, {"from": "gpt", "value": "Blue"}]
    assert is_conversational_from_value({"conversations": conv})
    assert not is_conversational_from_value({"messages": [m("user", "What color?")]})
    assert not is_conversational_from_value({"text": "The sky is blue."})
    assert not is_conversational_from_value({"conversations": []})  # TRL: IndexError
    assert is_conversational_from_value(datasets.Dataset.from_list([{"conversations": conv}]))
    assert not is_conversational_from_value(datasets.Dataset.from_dict({"text": ["x"]}))


IMG = "<an image>"  # any object: the helpers only move it


def test_prepare_multimodal_messages_as_trl_tests_it():
    messages = [m("user", "What's in this image?"), m("assistant", "A cat.")]
    assert prepare_multimodal_messages(messages, images=[IMG]) == [
        m(
            "user",
            [{"type": "image", "image": IMG}, {"type": "text", "text": "What's in this image?"}],
        ),
        m("assistant", [{"type": "text", "text": "A cat."}]),
    ]
    assert messages[0]["content"] == "What's in this image?"  # not modified
    system = [m("system", "Be brief."), m("user", "Hi")]
    assert prepare_multimodal_messages(system) == [
        m("system", [{"type": "text", "text": "Be brief."}]),
        m("user", [{"type": "text", "text": "Hi"}]),
    ]
    tool_turns = [
        m("user", "Weather?"),
        {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "w"}}]},
        {"role": "tool", "name": "w", "content": "22.0"},
    ]
    out = prepare_multimodal_messages(tool_turns)
    assert out[1] == tool_turns[1] and out[2]["content"] == [{"type": "text", "text": "22.0"}]
    prepared = [m("user", [{"type": "image", "image": IMG}, {"type": "text", "text": "Hi"}])]
    assert prepare_multimodal_messages(prepared) == prepared  # filled parts kept
    with pytest.raises(ValueError, match="does not match"):  # one empty slot, two images
        prepare_multimodal_messages([m("user", [{"type": "image"}])], images=[IMG, IMG])
    with pytest.raises(ValueError, match="Invalid role"):
        prepare_multimodal_messages([m("robot", "x")])
    vllm = prepare_multimodal_messages_vllm(prepared)
    assert vllm[0]["content"][0] == {"type": "image_pil", "image_pil": IMG}
    assert prepared[0]["content"][0] == {"type": "image", "image": IMG}


def test_prepare_multimodal_messages_equals_trl(trl):
    messages = [m("system", "s"), m("user", "q"), m("assistant", "a"), m("user", "again")]
    for images in ([], [IMG], [IMG, IMG]):
        assert prepare_multimodal_messages(messages, images) == trl.prepare_multimodal_messages(
            messages, images
        )


@pytest.mark.parametrize(
    "strategy,seq_length,columns,expected",
    [  # TRL's TestPackDatasetBfd / TestPackDatasetWrapped cases
        (
            "bfd",
            4,
            {"input_ids": [[1, 2, 3], [4, 5, 6, 7], [8]]},
            {"input_ids": [[4, 5, 6, 7], [1, 2, 3, 8]], "seq_lengths": [[4], [3, 1]]},
        ),
        (
            "bfd",
            4,
            {"input_ids": [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10, 11], [12]]},
            {
                "input_ids": [[1, 2, 3, 4], [8, 9, 10, 11], [6, 7, 12]],
                "seq_lengths": [[4], [4], [2, 1]],
            },
        ),
        (
            "bfd_split",
            4,
            {"input_ids": [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10, 11], [12]]},
            {
                "input_ids": [[1, 2, 3, 4], [8, 9, 10, 11], [6, 7, 5, 12]],
                "seq_lengths": [[4], [4], [2, 1, 1]],
            },
        ),
        (
            "bfd_split",
            5,
            {"input_ids": [[1, 2, 3, 4, 5], [6], [7, 8, 9, 10], [11, 12, 13]]},
            {
                "input_ids": [[1, 2, 3, 4, 5], [7, 8, 9, 10, 6], [11, 12, 13]],
                "seq_lengths": [[5], [4, 1], [3]],
            },
        ),
        (
            "bfd_split",
            4,
            {"input_ids": [[1, 2], [], [3, 4, 5], [], [6]]},
            {"input_ids": [[3, 4, 5, 6], [1, 2]], "seq_lengths": [[3, 1], [2]]},
        ),
        (
            "wrapped",  # TRL's output has no seq_lengths; trlprep adds it (README: differences)
            3,
            {
                "input_ids": [[1, 2, 3], [4, 5, 6, 7], [8]],
                "attention_mask": [[0, 1, 1], [0, 0, 1, 1], [1]],
            },
            {
                "input_ids": [[1, 2, 3], [4, 5, 6], [7, 8]],
                "attention_mask": [[0, 1, 1], [0, 0, 1], [1, 1]],
                "seq_lengths": [[3], [3], [1, 1]],
            },
        ),
    ],
)
def test_pack_dataset_as_trl_tests_it(strategy, seq_length, columns, expected):
    ds = datasets.Dataset.from_dict(columns).with_format("numpy", dtype="float32")
    fmt = ds.format
    packed = pack_dataset(ds, seq_length, strategy=strategy)
    assert packed.to_dict() == expected
    assert packed.format["type"] == fmt["type"]
    assert packed.format["format_kwargs"] == fmt["format_kwargs"]
    stream = datasets.Dataset.from_dict(columns).to_iterable_dataset().with_format("numpy")
    out = pack_dataset(stream, seq_length, strategy=strategy)
    assert out._formatting == stream._formatting  # the stream keeps its format
    batch = next(iter(out.with_format(None).batch(batch_size=len(expected["input_ids"]) + 5)))
    assert batch == expected


def test_pack_dataset_two_columns_and_parity(trl):
    cols = {
        "col1": [[1, -2, 3, -4, 5, -6], [7, -8, 9], [-10, 11, -12], [13, -14, 15, -16]],
        "col2": [[-1, 2, -3, 4, -5, 6], [-7, 8, -9], [10, -11, 12], [-13, 14, -15, 16]],
    }
    ds = datasets.Dataset.from_dict(cols)
    for strategy in ("bfd", "bfd_split"):
        assert (
            pack_dataset(ds, 4, strategy).to_dict() == trl.pack_dataset(ds, 4, strategy).to_dict()
        )
    theirs = trl.pack_dataset(ds, 4, "wrapped").to_dict()
    ours = pack_dataset(ds, 4, "wrapped").to_dict()
    assert ours.pop("seq_lengths") and ours == theirs


def test_truncate_dataset_and_small_helpers():
    ds = datasets.Dataset.from_dict({"input_ids": [[1, 2, 3], [4]], "text": ["a", "b"]})
    assert truncate_dataset(ds, 2).to_dict() == {"input_ids": [[1, 2], [4]], "text": ["a", "b"]}
    stream = truncate_dataset(ds.to_iterable_dataset(), 1)
    assert list(stream) == [{"input_ids": [1], "text": "a"}, {"input_ids": [4], "text": "b"}]
    assert common_prefix_length([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix_length([], [1]) == 0
    assert get_dataset_column_names(ds) == ["input_ids", "text"]
    assert get_dataset_column_names(_stream(PAIRED)) == ["prompt", "chosen", "rejected"]
    assert get_dataset_column_names(datasets.DatasetDict({"train": ds})) == ["input_ids", "text"]
