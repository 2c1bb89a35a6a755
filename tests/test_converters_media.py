"""Media columns follow their parts through edges that drop messages: `--to prompt-only`
keeps the entries the prompt's parts stand for (TRL fills parts from `images` in order)."""

from __future__ import annotations

import pyarrow as pa
from trlprep.converters import EDGES, ConvertOptions

from trlprep.registry import Format

C = Format.CONVERSATIONAL
OPTS = ConvertOptions()


def _user(text: str, images: int = 0) -> list[dict]:
    parts = [{"type": "image", "text": None}] * images + [{"type": "text", "text": text}]
    return [{"role": "user", "content": parts}]


def _said(text: str, images: int = 0) -> list[dict]:
    parts = [{"type": "image", "text": None}] * images + [{"type": "text", "text": text}]
    return [{"role": "assistant", "content": parts}]


def _to(src: str, dst: str, table: pa.Table) -> pa.Table:
    return EDGES[(src, dst)].fn(table, C, OPTS)


def test_prompt_only_from_prompt_completion_drops_the_completions_images():
    t = pa.Table.from_pydict(
        {
            "prompt": [_user("a", 1), _user("b", 1), _user("c", 1)],
            "completion": [_said("x", 1), _said("y"), _said("z", 1)],
            "images": [["p", "q"], ["r"], ["s"]],  # last row: 2 parts, 1 entry -> left alone
            "videos": [["v"], [], None],
        }
    )
    out = _to("prompt-completion", "prompt-only", t)
    assert out.column("images").to_pylist() == [["p"], ["r"], ["s"]]
    nulls = t.set_column(2, "images", pa.array([["p", "q"], None, ["s"]]))
    out = _to("prompt-completion", "prompt-only", nulls)
    assert out.column("images").to_pylist() == [["p"], None, ["s"]]  # null stays null
    assert out.column("videos").to_pylist() == [["v"], [], None]  # no video parts: as given


def test_prompt_only_from_language_modeling_drops_the_last_turns_images():
    conv = _user("a", 1) + _said("x", 1) + _user("b", 1) + _said("y", 1)
    placed = [
        {"role": "user", "content": "<image>a"},
        {"role": "assistant", "content": "x <image>"},
    ]
    t = pa.Table.from_pydict({"messages": [conv], "images": [["1", "2", "3", "4"]]})
    assert _to("language-modeling", "prompt-only", t).column("images").to_pylist() == [
        ["1", "2", "3"]
    ]
    s = pa.Table.from_pydict({"messages": [placed], "images": [["1", "2"]]})
    assert _to("language-modeling", "prompt-only", s).column("images").to_pylist() == [["1"]]


def test_prompt_only_from_preference_keeps_the_prompts_images():
    # each of prompt+chosen, prompt+rejected shows every entry (validate's count)
    t = pa.Table.from_pydict(
        {
            "prompt": [_user("a", 1), _user("b", 1)],
            "chosen": [_said("x", 1), _said("y", 1)],
            "rejected": [_said("z", 1), _said("w")],  # 2nd: 2 vs 1 parts -> left alone
            "images": [["p", "c"], ["q", "d"]],
        }
    )
    out = _to("preference", "prompt-only", t)
    assert out.column("images").to_pylist() == [["p"], ["q", "d"]]


def test_prompt_only_from_implicit_and_unpaired_keep_the_prompts_images():
    prompt = _user("a", 1)
    t = pa.Table.from_pydict(
        {
            "chosen": [prompt + _said("x", 1)],
            "rejected": [prompt + _said("y", 1)],
            "images": [["p", "c"]],
        }
    )
    assert _to("preference-implicit", "prompt-only", t).column("images").to_pylist() == [["p"]]
    u = pa.Table.from_pydict(
        {
            "prompt": [prompt],
            "completion": [_said("x", 2)],
            "label": [True],
            "images": [["p", "1", "2"]],
        }
    )
    assert _to("unpaired-preference", "prompt-only", u).column("images").to_pylist() == [["p"]]


def test_edges_keeping_every_part_keep_every_entry():
    t = pa.Table.from_pydict(
        {
            "prompt": [_user("a", 1)],
            "chosen": [_said("x", 1)],
            "rejected": [_said("z", 1)],
            "images": [["p", "c"]],
        }
    )
    for dst in ("prompt-completion", "language-modeling", "preference-implicit"):
        assert _to("preference", dst, t).column("images").to_pylist() == [["p", "c"]], dst
    # each unpaired row: the prompt's entry and its own completion's (validate's count)
    two = [["p", "c"], ["p", "c"]]
    assert _to("preference", "unpaired-preference", t).column("images").to_pylist() == two


def test_pairing_tells_apart_the_same_question_of_other_images():
    ask = _user("What is this?", 1)
    t = pa.Table.from_pydict(
        {
            "prompt": [ask, ask, ask, ask],
            "completion": [_said("a cat"), _said("a dog"), _said("no cat"), _said("no dog")],
            "label": [True, True, False, False],
            "images": [["cat.jpg"], ["dog.jpg"], ["dog.jpg"], ["cat.jpg"]],
        }
    )
    out = _to("unpaired-preference", "preference", t)
    chosen = [r[0]["content"][0]["text"] for r in out.column("chosen").to_pylist()]
    rejected = [r[0]["content"][0]["text"] for r in out.column("rejected").to_pylist()]
    assert list(zip(chosen, rejected, out.column("images").to_pylist(), strict=True)) == [
        ("a cat", "no dog", ["cat.jpg"]),
        ("a dog", "no cat", ["dog.jpg"]),
    ]


def test_split_every_turn_keeps_a_null_media_list_null():
    conv = _user("a", 1) + _said("x") + _user("b", 1) + _said("y")
    t = pa.Table.from_pydict({"messages": [conv, conv], "images": [["1", "2"], None]})
    out = EDGES[("language-modeling", "prompt-completion")].fn(
        t, C, ConvertOptions(split_turns="all")
    )
    assert out.column("images").to_pylist() == [["1"], ["1", "2"], None, None]


def test_pairing_reads_a_null_media_list_as_an_empty_one():
    """Neither a null `images` nor an empty one shows an entry: the prompt without an image
    pairs its rows whichever they hold (a null list is kept null by the slice)."""
    ask, shown = _user("Hi?"), _user("What is this?", 1)
    t = pa.Table.from_pydict(
        {
            "prompt": [ask, ask, shown, shown],
            "completion": [_said("a"), _said("b"), _said("c"), _said("d")],
            "label": [True, False, True, False],
            "images": [None, [], ["x.jpg"], ["x.jpg"]],
        }
    )
    out = _to("unpaired-preference", "preference", t)
    chosen = [r[0]["content"][0]["text"] for r in out.column("chosen").to_pylist()]
    assert chosen == ["a", "c"]
    assert out.column("images").to_pylist() == [None, ["x.jpg"]]
