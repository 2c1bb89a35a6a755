"""Implicit-prompt extraction: the vectorised common prefix, its rules, and TRL's defects fixed."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_recipes import split_messages, split_text
from trlprep.converters import EDGES, ConversionWarning, ConvertOptions
from trlprep.converters import prefix as prefix_mod
from trlprep.converters.prefix import (
    byte_lcp,
    message_lcp,
    split_point_messages,
    split_point_str,
    split_points,
)

from trlprep.errors import DataError, RowFailures
from trlprep.registry import Format

S, C = Format.STANDARD, Format.CONVERSATIONAL
EXTRACT = EDGES[("preference-implicit", "preference")].fn


def m(role: str, text: str) -> dict:
    return {"role": role, "content": text}


def extract(chosen, rejected, fmt=S, **opts) -> list[dict]:
    table = pa.table({"chosen": chosen, "rejected": rejected})
    return EXTRACT(table, fmt, dataclasses.replace(ConvertOptions(), **opts)).to_pylist()


def one(chosen: str, rejected: str, **opts) -> tuple[str, str, str]:
    r = extract([chosen], [rejected], **opts)[0]
    return r["prompt"], r["chosen"], r["rejected"]


# ---------------------------------------------------------------- TRL's defects, fixed


def test_prefix_pair_backs_off_so_both_completions_hold_text():
    # word mode: to the last word boundary (TRL: "The sky is blu" + "e" / "e and wide")
    with pytest.warns(ConversionWarning, match="prefix of the other.*both completions are non"):
        assert one("The sky is blue", "The sky is blue and wide") == (
            "The sky is",
            " blue",
            " blue and wide",
        )
    # char mode is TRL's cut: the shared text less its last character
    with pytest.warns(ConversionWarning, match="TRL's cut"):
        assert one("The sky is blue", "The sky is blue and wide", split_mode="char") == (
            "The sky is blu",
            "e",
            "e and wide",
        )
    with pytest.warns(ConversionWarning):
        assert one("a é", "a éé", split_mode="char") == ("a ", "é", "éé")


HH_WELCOME = "\n\nHuman: Thanks.\n\nAssistant: You're welcome."


def test_transcript_prefix_pair_backs_off_to_the_last_assistant_turn():
    # HH-RLHF harmless-base test row 1609: one answer is a prefix of the other
    chosen = "\n\nHuman: Can I steal?\n\nAssistant: No." + HH_WELCOME + "  I'd be happy to help."
    rejected = "\n\nHuman: Can I steal?\n\nAssistant: No." + HH_WELCOME
    with pytest.warns(ConversionWarning, match=r"row 0: .*turn boundary"):
        prompt, c, r = one(chosen, rejected)
    assert prompt == "\n\nHuman: Can I steal?\n\nAssistant: No.\n\nHuman: Thanks.\n\nAssistant:"
    assert (c, r) == (" You're welcome.  I'd be happy to help.", " You're welcome.")
    assert split_point_str(chosen, rejected) == len(prompt)
    assert split_point_str(rejected, chosen) == len(prompt)


def test_no_cut_leaves_both_completions_non_empty_is_a_row_failure():
    table = pa.table(
        {
            "chosen": ["The sky is blue.", "Yes", "Same.", "x"],
            "rejected": ["The sky is red.", "Yes!", "Same.", "y"],
        }
    )
    with pytest.raises(RowFailures) as e:
        EXTRACT(table, S, ConvertOptions())
    assert e.value.stage == "conversion"
    assert e.value.rows == [1, 2, 3]
    assert "prefix of the other" in e.value.reasons[0] == e.value.reasons[1]
    assert "share no text" in e.value.reasons[2]
    with pytest.raises(DataError, match="prefix of the other"):
        split_point_str("Yes", "Yes!")
    # --no-prompt warn keeps row 3; rows 1 and 2 still have no split
    with pytest.raises(RowFailures) as e:
        EXTRACT(table, S, ConvertOptions(no_prompt="warn"))
    assert e.value.rows == [1, 2]


def test_equal_pair_splits_before_the_last_assistant_turn():
    conv = [m("user", "a"), m("assistant", "b")]
    with pytest.warns(ConversionWarning, match="before the last shared assistant turn"):
        out = extract([conv, conv + [m("user", "c"), m("assistant", "d")]], [conv, conv], C)
    assert out[0] == {"prompt": [m("user", "a")], "chosen": [conv[1]], "rejected": [conv[1]]}
    assert out[1]["prompt"] == [m("user", "a")]
    assert out[1]["chosen"] == conv[1:] + [m("user", "c"), m("assistant", "d")]
    assert split_point_messages(conv, conv) == 1
    with pytest.raises(RowFailures, match="no shared assistant turn"):
        extract([[m("user", "a")]], [[m("user", "a"), m("assistant", "b")]], C)
    with pytest.raises(DataError, match="no shared assistant turn"):
        split_point_messages([m("user", "a")], [m("user", "a"), m("assistant", "b")])


def test_first_character_differs_does_not_read_the_last_character():
    # TRL: idx 0 -> chosen[-1] == " " -> prompt "x", chosen " ", rejected "y"
    with pytest.warns(ConversionWarning, match="share no text"):
        assert one("x ", "y", no_prompt="warn") == ("", "x ", "y")


def test_empty_strings_give_an_empty_prompt_not_an_exception():
    with pytest.warns(ConversionWarning):
        assert one("", "", no_prompt="warn") == ("", "", "")
    with pytest.warns(ConversionWarning):
        assert one("", "abc", no_prompt="warn") == ("", "", "abc")


def test_no_shared_first_message_is_a_row_failure_naming_rows():
    chosen = [[m("user", "a"), m("assistant", "b")]] * 3
    rejected = [[m("user", "a"), m("assistant", "c")], [m("user", "z")], [m("system", "s")]]
    with pytest.raises(RowFailures, match=r"row 1: chosen and rejected share no first message"):
        extract(chosen, rejected, C)
    try:
        extract(chosen, rejected, C)
    except RowFailures as e:
        assert e.rows == [1, 2] and e.stage == "conversion"


def test_no_prompt_warn_and_drop():
    chosen, rejected = ["The sky is blue.", "abc", "Hi there"], ["The sky is red.", "xyz", "Hi you"]
    with pytest.warns(ConversionWarning, match="row 1: .* kept with an empty prompt"):
        kept = extract(chosen, rejected, no_prompt="warn")
    assert [r["prompt"] for r in kept] == ["The sky is", "", "Hi"]
    table = pa.table({"chosen": chosen, "rejected": rejected, "id": [0, 1, 2]})
    opts = ConvertOptions(no_prompt="drop")
    with pytest.warns(ConversionWarning, match="row 1: .*; dropped"):
        out = EDGES[("preference-implicit", "unpaired-preference")].fn(table, S, opts)
    assert out.column("id").to_pylist() == [0, 0, 2, 2]


def test_mid_word_split_backs_off_to_a_word_boundary():
    # TRL (char mode): "The sky is bl" + "ue" / "ack"
    assert one("The sky is blue", "The sky is black") == ("The sky is", " blue", " black")
    assert one("The sky is blue", "The sky is black", split_mode="char") == (
        "The sky is bl",
        "ue",
        "ack",
    )


def test_word_mode_keeps_splits_already_on_a_boundary():
    assert one("Q: x\nA: yes", "Q: x\nA: no") == ("Q: x\nA:", " yes", " no")
    assert one("Q:\nyes", "Q:\nno") == ("Q:\n", "yes", "no")  # only a space moves
    assert one("A. b", "A. c") == ("A.", " b", " c")


def test_text_without_whitespace_keeps_the_character_split():
    assert one("日本語です", "日本語でした") == ("日本語で", "す", "した")


def test_multibyte_characters_are_never_cut():
    # é (C3 A9) and è (C3 A8) share their first byte
    assert one("a é", "a è", split_mode="char") == ("a", " é", " è")
    assert byte_lcp(pa.array(["é"]), pa.array(["è"])).tolist() == [0]


# ---------------------------------------------------------------- the vectorised prefix

TEXT = st.text(alphabet=st.sampled_from(list("ab \n.é日")), max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    pairs=st.lists(st.tuples(TEXT, TEXT, TEXT), max_size=8), mode=st.sampled_from(["word", "char"])
)
def test_split_points_equal_plain_python(pairs, mode):
    chosen = [p + a for p, a, _ in pairs]
    rejected = [p + b for p, _, b in pairs]
    cut = split_points(pa.array(chosen, pa.string()), pa.array(rejected, pa.string()), mode)
    expected = [split_text(c, r, mode) for c, r in zip(chosen, rejected, strict=True)]
    chars = [k if k < 0 else len(c.encode()[:k].decode()) for c, k in zip(chosen, cut, strict=True)]
    assert chars == expected

    def plain(c: str, r: str) -> int:
        try:
            return split_point_str(c, r, mode)
        except DataError:
            return -1

    assert [plain(c, r) for c, r in zip(chosen, rejected, strict=True)] == expected


def test_long_texts_across_many_chunks(monkeypatch):
    monkeypatch.setattr(prefix_mod, "_CHUNK_WORDS", 7)
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("abcdé"), size=rng.integers(1, 40))) for _ in range(300)]
    shared = [" ".join(words[i : i + 9]) for i in range(0, 270, 9)]
    chosen = [s + "xq tail" for s in shared]
    rejected = [s + "xz other" for s in shared]
    cut = split_points(pa.array(chosen, pa.large_string()), pa.array(rejected), "word")
    expected = [len(c[: split_text(c, r)].encode()) for c, r in zip(chosen, rejected, strict=True)]
    assert cut.tolist() == expected


def test_sliced_arrays_use_their_own_rows():
    a = pa.array(["zzz", "The sky is blue.", "abc"]).slice(1, 2)
    b = pa.array(["The sky is green.", "abd", "q"]).slice(0, 2)
    assert split_points(a, b).tolist() == [10, 2]


def test_message_lcp_compares_every_field():
    call = {"role": "assistant", "content": None, "tool_calls": [{"name": "f"}]}
    other = {"role": "assistant", "content": None, "tool_calls": [{"name": "g"}]}
    a = pa.array([[m("user", "x"), call], [m("user", "x")], []])
    b = pa.array([[m("user", "x"), other], [m("user", "y")], [m("user", "x")]])
    assert message_lcp(a, b).tolist() == [1, 0, 0]
    rows = list(zip(a.to_pylist(), b.to_pylist(), strict=True))
    assert [split_messages(x, y) for x, y in rows] == [1, 0, 0]
    assert [split_point_messages(x, y) for x, y in rows] == [1, 0, 0]


def test_extraction_over_many_record_batches():
    batch = pa.table({"chosen": ["The sky is blue."] * 3, "rejected": ["The sky is red."] * 3})
    table = pa.concat_tables([batch] * 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = EXTRACT(table, S, ConvertOptions())
    assert out.num_rows == 12 and set(out.column("prompt").to_pylist()) == {"The sky is"}


def test_whitespace_only_completions_kept_are_reported():
    table = pa.table(
        {
            "chosen": ["\n\nHuman: Hi\n\nAssistant: ", "Q: a\nA: yes"],
            "rejected": ["\n\nHuman: Hi\n\nAssistant: Hello.", "Q: a\nA: no"],
        }
    )
    pc_edge = EDGES[("preference-implicit", "prompt-completion")].fn
    with pytest.warns(ConversionWarning, match="row 0: the chosen completion is only whitespace"):
        out = pc_edge(table, S, ConvertOptions())
    assert out.column("completion").to_pylist() == [" ", " yes"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # prompt-only keeps no completion: nothing to say
        EDGES[("preference-implicit", "prompt-only")].fn(table, S, ConvertOptions())


@settings(max_examples=60, deadline=None)
@given(
    shared=st.text(alphabet=st.sampled_from(list("ab .é")), min_size=2, max_size=12),
    tail=st.text(alphabet=st.sampled_from(list("ab .")), max_size=6),
)
def test_char_mode_prefix_pairs_are_trl_cut(shared, tail):
    """One side a prefix of the other (or both equal): char mode gives TRL's exact output."""
    trl = pytest.importorskip("trl.data_utils")
    example = {"chosen": shared, "rejected": shared + tail}
    expected = trl.extract_prompt(dict(example))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)
        got = one(example["chosen"], example["rejected"], split_mode="char")
    assert got == (expected["prompt"], expected["chosen"], expected["rejected"])
