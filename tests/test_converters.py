"""Every conversion edge in both formats: the guide's examples byte for byte, multi-turn
conversations with a system prompt, extra columns, empty tables, nulls, and options."""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass

import pyarrow as pa
import pytest
from conftest import needs_shared
from reference_recipes import RECIPES
from trlprep.converters import EDGES, ConversionWarning, ConvertOptions

from trlprep.columns.arrowtypes import JSON_FIELD_KEY
from trlprep.errors import DataError, UsageError
from trlprep.registry import Format, get_type

S, C = Format.STANDARD, Format.CONVERSATIONAL
OPTS = ConvertOptions()
MSG = pa.struct([("role", pa.string()), ("content", pa.string())])
MSGS = pa.list_(MSG)


def m(role: str, text: str) -> dict:
    return {"role": role, "content": text}


def convert(src: str, dst: str, data, fmt: Format, opts: ConvertOptions = OPTS) -> pa.Table:
    table = data if isinstance(data, pa.Table) else pa.Table.from_pydict(data)
    return EDGES[(src, dst)].fn(table, fmt, opts)


def printed(text: str) -> str:
    """The guide's multi-line dict printout as one `repr` line."""
    return text.replace("\n ", " ")


# ---------------------------------------------------------------- the guide's inputs

PC_STD = {"prompt": ["The sky is", "The sun is"], "completion": [" blue.", " in the sky."]}
IMPLICIT_STD = {
    "chosen": ["The sky is blue.", "The sun is in the sky."],
    "rejected": ["The sky is green.", "The sun is in the sea."],
}
IMPLICIT_CONV = {
    "chosen": [
        [m("user", "What color is the sky?"), m("assistant", "It is blue.")],
        [m("user", "Where is the sun?"), m("assistant", "In the sky.")],
    ],
    "rejected": [
        [m("user", "What color is the sky?"), m("assistant", "It is green.")],
        [m("user", "Where is the sun?"), m("assistant", "In the sea.")],
    ],
}
PREF_STD = {
    "prompt": ["The sky is", "The sun is"],
    "chosen": [" blue.", " in the sky."],
    "rejected": [" green.", " in the sea."],
}
PREF_CONV = {
    "prompt": [[m("user", "What color is the sky?")], [m("user", "Where is the sun?")]],
    "chosen": [[m("assistant", "It is blue.")], [m("assistant", "In the sky.")]],
    "rejected": [[m("assistant", "It is green.")], [m("assistant", "In the sea.")]],
}
UNPAIRED_STD = {
    "prompt": ["The sky is", "The sun is", "The sky is", "The sun is"],
    "completion": [" blue.", " in the sky.", " green.", " in the sea."],
    "label": [True, True, False, False],
}
STEPWISE_STD = {
    "prompt": ["Blue light", "Water"],
    "completions": [
        [" scatters more in the atmosphere,", " so the sky is green."],
        [" forms a less dense structure in ice,", " which causes it to expand when it freezes."],
    ],
    "labels": [[True, False], [True, True]],
}
# The same examples in the other format (the guide: "the conversions can be applied
# directly to the conversational format without modification").
PC_CONV = {
    "prompt": [[m("user", "What color is the sky?")], [m("user", "Where is the sun?")]],
    "completion": [[m("assistant", "It is blue.")], [m("assistant", "In the sky.")]],
}
UNPAIRED_CONV = {
    "prompt": PREF_CONV["prompt"] * 2,
    "completion": PREF_CONV["chosen"] + PREF_CONV["rejected"],
    "label": [True, True, False, False],
}
STEPWISE_CONV = {**STEPWISE_STD, "prompt": [[m("user", "Blue light")], [m("user", "Water")]]}


@dataclass
class Case:
    src: str
    dst: str
    fmt: Format
    data: dict
    first: str  # the first output row as printed
    rows: int
    source: str = "docs"  # where `first` is printed verbatim: docs | notebook | ours
    # the recipe's column order where the docs print the row's keys in another order (the
    # notebook, which runs the recipe, prints them in this one: NOTEBOOK_ORDER)
    order: tuple[str, ...] | None = None


SKY = "[{'role': 'user', 'content': 'What color is the sky?'}]"
BLUE = "[{'role': 'assistant', 'content': 'It is blue.'}]"
GREEN = "[{'role': 'assistant', 'content': 'It is green.'}]"
SKY_BLUE = f"[{SKY[1:-1]}, {BLUE[1:-1]}]"
SKY_GREEN = f"[{SKY[1:-1]}, {GREEN[1:-1]}]"
WATER = " forms a less dense structure in ice, which causes it to expand when it freezes."
SCATTERS = " scatters more in the atmosphere, so the sky is green."
U_WATER, U_BLUE = (
    "{'role': 'user', 'content': 'Water'}",
    "{'role': 'user', 'content': 'Blue light'}",
)
A_WATER = f"{{'role': 'assistant', 'content': '{WATER}'}}"
A_SCATTERS = f"{{'role': 'assistant', 'content': '{SCATTERS}'}}"

GUIDE = [
    # the guide's own examples, printed output verbatim
    Case("prompt-completion", "language-modeling", S, PC_STD, "{'text': 'The sky is blue.'}", 2),
    Case("prompt-completion", "prompt-only", S, PC_STD, "{'prompt': 'The sky is'}", 2),
    Case(
        "preference-implicit",
        "language-modeling",
        S,
        IMPLICIT_STD,
        "{'text': 'The sky is blue.'}",
        2,
    ),
    Case(
        "preference-implicit",
        "prompt-completion",
        C,
        IMPLICIT_CONV,
        f"{{'prompt': {SKY}, 'completion': {BLUE}}}",
        2,
        order=("completion", "prompt"),
    ),
    Case("preference-implicit", "prompt-only", C, IMPLICIT_CONV, f"{{'prompt': {SKY}}}", 2),
    Case(
        "preference-implicit",
        "preference",
        C,
        IMPLICIT_CONV,
        f"{{'prompt': {SKY},\n 'chosen': {BLUE},\n 'rejected': {GREEN}}}",
        2,
        order=("chosen", "rejected", "prompt"),
    ),
    Case(
        "preference-implicit",
        "unpaired-preference",
        C,
        IMPLICIT_CONV,
        f"{{'prompt': {SKY},\n 'completion': {BLUE},\n 'label': True}}",
        4,
    ),
    Case("preference", "language-modeling", S, PREF_STD, "{'text': 'The sky is blue.'}", 2),
    Case(
        "preference",
        "prompt-completion",
        S,
        PREF_STD,
        "{'prompt': 'The sky is', 'completion': ' blue.'}",
        2,
    ),
    Case("preference", "prompt-only", S, PREF_STD, "{'prompt': 'The sky is'}", 2),
    Case(
        "preference",
        "preference-implicit",
        C,
        PREF_CONV,
        f"{{'chosen': {SKY_BLUE},\n 'rejected': {SKY_GREEN}}}",
        2,
    ),
    Case(
        "preference",
        "unpaired-preference",
        C,
        PREF_CONV,
        f"{{'prompt': {SKY},\n 'completion': {BLUE},\n 'label': True}}",
        4,
    ),
    Case(
        "unpaired-preference",
        "language-modeling",
        S,
        UNPAIRED_STD,
        "{'text': 'The sky is blue.'}",
        2,
    ),
    Case(
        "unpaired-preference",
        "prompt-completion",
        S,
        UNPAIRED_STD,
        "{'prompt': 'The sky is', 'completion': ' blue.'}",
        2,
    ),
    Case("unpaired-preference", "prompt-only", S, UNPAIRED_STD, "{'prompt': 'The sky is'}", 4),
    # the docs print 'Blue light ...' here, a row their own filter removes; the notebook
    # runs the code and prints the row that survives
    Case(
        "stepwise-supervision",
        "language-modeling",
        S,
        STEPWISE_STD,
        f"{{'text': 'Water{WATER}'}}",
        1,
        "notebook",
    ),
    Case(
        "stepwise-supervision",
        "prompt-completion",
        S,
        STEPWISE_STD,
        f"{{'prompt': 'Water',\n 'completion': '{WATER}'}}",
        1,
        "notebook",
    ),
    Case("stepwise-supervision", "prompt-only", S, STEPWISE_STD, "{'prompt': 'Blue light'}", 2),
    Case(
        "stepwise-supervision",
        "unpaired-preference",
        S,
        STEPWISE_STD,
        f"{{'prompt': 'Blue light', 'completion': '{SCATTERS}', 'label': False}}",
        2,
    ),
    # the same conversions in the other format
    Case(
        "prompt-completion",
        "language-modeling",
        C,
        PC_CONV,
        f"{{'messages': {SKY_BLUE}}}",
        2,
        "ours",
    ),
    Case("prompt-completion", "prompt-only", C, PC_CONV, f"{{'prompt': {SKY}}}", 2, "ours"),
    Case(
        "preference-implicit",
        "language-modeling",
        C,
        IMPLICIT_CONV,
        f"{{'messages': {SKY_BLUE}}}",
        2,
        "ours",
    ),
    Case(
        "preference-implicit",
        "prompt-completion",
        S,
        IMPLICIT_STD,
        "{'completion': ' blue.', 'prompt': 'The sky is'}",
        2,
        "ours",
    ),
    Case(
        "preference-implicit", "prompt-only", S, IMPLICIT_STD, "{'prompt': 'The sky is'}", 2, "ours"
    ),
    Case(
        "preference-implicit",
        "preference",
        S,
        IMPLICIT_STD,
        "{'chosen': ' blue.', 'rejected': ' green.', 'prompt': 'The sky is'}",
        2,
        "ours",
    ),
    Case(
        "preference-implicit",
        "unpaired-preference",
        S,
        IMPLICIT_STD,
        "{'prompt': 'The sky is', 'completion': ' blue.', 'label': True}",
        4,
        "ours",
    ),
    Case("preference", "language-modeling", C, PREF_CONV, f"{{'messages': {SKY_BLUE}}}", 2, "ours"),
    Case(
        "preference",
        "prompt-completion",
        C,
        PREF_CONV,
        f"{{'prompt': {SKY}, 'completion': {BLUE}}}",
        2,
        "ours",
    ),
    Case("preference", "prompt-only", C, PREF_CONV, f"{{'prompt': {SKY}}}", 2, "ours"),
    Case(
        "preference",
        "preference-implicit",
        S,
        PREF_STD,
        "{'chosen': 'The sky is blue.', 'rejected': 'The sky is green.'}",
        2,
        "ours",
    ),
    Case(
        "preference",
        "unpaired-preference",
        S,
        PREF_STD,
        "{'prompt': 'The sky is', 'completion': ' blue.', 'label': True}",
        4,
        "ours",
    ),
    Case(
        "unpaired-preference",
        "language-modeling",
        C,
        UNPAIRED_CONV,
        f"{{'messages': {SKY_BLUE}}}",
        2,
        "ours",
    ),
    Case(
        "unpaired-preference",
        "prompt-completion",
        C,
        UNPAIRED_CONV,
        f"{{'prompt': {SKY}, 'completion': {BLUE}}}",
        2,
        "ours",
    ),
    Case("unpaired-preference", "prompt-only", C, UNPAIRED_CONV, f"{{'prompt': {SKY}}}", 4, "ours"),
    Case(
        "stepwise-supervision",
        "language-modeling",
        C,
        STEPWISE_CONV,
        f"{{'messages': [{U_WATER}, {A_WATER}]}}",
        1,
        "ours",
    ),
    Case(
        "stepwise-supervision",
        "prompt-completion",
        C,
        STEPWISE_CONV,
        f"{{'prompt': [{U_WATER}], 'completion': [{A_WATER}]}}",
        1,
        "ours",
    ),
    Case(
        "stepwise-supervision",
        "prompt-only",
        C,
        STEPWISE_CONV,
        "{'prompt': [{'role': 'user', 'content': 'Blue light'}]}",
        2,
        "ours",
    ),
    Case(
        "stepwise-supervision",
        "unpaired-preference",
        C,
        STEPWISE_CONV,
        f"{{'prompt': [{U_BLUE}], 'completion': [{A_SCATTERS}], 'label': False}}",
        2,
        "ours",
    ),
]


def _id(c: Case) -> str:
    return f"{c.src}->{c.dst}-{c.fmt}"


@pytest.mark.parametrize("case", GUIDE, ids=_id)
def test_guide_example(case: Case):
    out = convert(case.src, case.dst, case.data, case.fmt)
    assert out.num_rows == case.rows
    first = out.to_pylist()[0]
    if case.order is None:
        assert repr(first) == printed(case.first)
    else:  # the docs print these keys in another order than their recipe gives
        assert first == ast.literal_eval(case.first)
        assert tuple(first) == case.order


# The notebook's printouts (the recipe run by `datasets`) where the docs print the keys in
# another order: implicit prompt -> prompt-completion, and -> explicit prompt.
NOTEBOOK_ORDER = {
    ("preference-implicit", "prompt-completion"): (
        "{'completion': [{'content': 'It is blue.', 'role': 'assistant'}],\n"
        " 'prompt': [{'content': 'What color is the sky?', 'role': 'user'}]}"
    ),
    ("preference-implicit", "preference"): (
        "{'chosen': [{'content': 'It is blue.', 'role': 'assistant'}],\n"
        " 'rejected': [{'content': 'It is green.', 'role': 'assistant'}],\n"
        " 'prompt': [{'content': 'What color is the sky?', 'role': 'user'}]}"
    ),
}


@pytest.mark.parametrize("case", [c for c in GUIDE if c.order], ids=_id)
def test_column_order_is_the_notebooks(case: Case):
    """Where the docs print a row's keys in another order, the notebook (which runs the
    recipe) prints them in the order trlprep writes the columns."""
    text = NOTEBOOK_ORDER[(case.src, case.dst)]
    notebook = needs_shared() / "spec" / "dataset-formats-notebook.txt"
    assert text in notebook.read_text(encoding="utf-8")
    assert tuple(ast.literal_eval(text)) == case.order


def test_every_edge_and_format_has_a_guide_case():
    covered = {(c.src, c.dst, c.fmt) for c in GUIDE}
    guide_edges = {k for k, e in EDGES.items() if e.guide}
    assert covered == {(s, d, f) for s, d in guide_edges for f in (S, C)}
    assert len(guide_edges) == 19


@pytest.mark.parametrize("case", [c for c in GUIDE if c.source != "ours"], ids=_id)
def test_guide_printout_is_quoted_verbatim(case: Case):
    """The expected strings above are the guide's own printouts, character for character."""
    spec = needs_shared() / "spec"
    name = "trl-docs-v0.17.txt" if case.source == "docs" else "dataset-formats-notebook.txt"
    assert case.first in (spec / name).read_text(encoding="utf-8")


def test_docs_printout_for_stepwise_to_lm_contradicts_its_filter():
    docs_says = "{'text': 'Blue light scatters more in the atmosphere, so the sky is green.'}"
    out = convert("stepwise-supervision", "language-modeling", STEPWISE_STD, S).to_pylist()
    assert all(repr(r) != docs_says for r in out)
    assert out == [{"text": "Water" + WATER}]


# ---------------------------------------------------------------- multi-turn with a system prompt

SYS = m("system", "You are terse.")
TURNS = [SYS, m("user", "Hi"), m("assistant", "Hello."), m("user", "Sky colour?")]
GOOD, BAD = m("assistant", "Blue."), m("assistant", "Green.")

MULTI_TURN = {
    "prompt-completion": {"prompt": [TURNS], "completion": [[GOOD]]},
    "preference-implicit": {"chosen": [TURNS + [GOOD]], "rejected": [TURNS + [BAD]]},
    "preference": {"prompt": [TURNS], "chosen": [[GOOD]], "rejected": [[BAD]]},
    "unpaired-preference": {
        "prompt": [TURNS, TURNS],
        "completion": [[GOOD], [BAD]],
        "label": [True, False],
    },
    "stepwise-supervision": {
        "prompt": [TURNS],
        "completions": [["Blue", " (Rayleigh)."]],
        "labels": [[True, True]],
    },
    "language-modeling": {"messages": [TURNS + [GOOD]]},
}


@pytest.mark.parametrize("key", sorted(EDGES), ids=lambda k: f"{k[0]}->{k[1]}")
def test_multi_turn_with_system_prompt(key):
    data = MULTI_TURN[key[0]]
    out = convert(*key, data, C).to_pylist()
    rows = [dict(zip(data, r, strict=True)) for r in zip(*data.values(), strict=True)]
    want = RECIPES[key](rows, "conversational", OPTS)
    assert out == want and [list(r) for r in out] == [list(r) for r in want]
    first = out[0]
    seq = first.get("prompt") or first.get("messages") or first.get("chosen")
    assert seq[0] == SYS and seq[: len(TURNS)] == TURNS
    if key[1] == "preference":
        assert first["prompt"] == TURNS and first["chosen"] == [GOOD]
        assert first["rejected"] == [BAD]
    if key[1] == "language-modeling" and key[0] == "stepwise-supervision":
        assert first["messages"] == TURNS + [m("assistant", "Blue (Rayleigh).")]


# ---------------------------------------------------------------- extra and side columns

GUIDE_INPUT = {(c.src, c.fmt): c.data for c in GUIDE}
GUIDE_INPUT[("language-modeling", C)] = {
    "messages": [
        [m("user", "What color is the sky?"), m("assistant", "It is blue.")],
        [m("system", "Be brief."), m("user", "Hi"), m("assistant", "Hello."), m("user", "Bye")]
        + [m("assistant", "Bye.")],
    ]
}
GUIDE_INPUT[("language-modeling", S)] = {"text": ["The sky is blue.", "Hello. Bye."]}


def _supported(key, fmt) -> None:
    """Skip an edge in a format it does not convert (tested by the turn-split tests)."""
    if fmt not in EDGES[key].formats:
        pytest.skip(f"{key[0]} -> {key[1]} converts {EDGES[key].formats} only")


@pytest.mark.parametrize("fmt", (S, C), ids=str)
@pytest.mark.parametrize("key", sorted(EDGES), ids=lambda k: f"{k[0]}->{k[1]}")
def test_extra_columns_are_carried(key, fmt):
    _supported(key, fmt)
    data = dict(GUIDE_INPUT[(key[0], fmt)])
    n = len(next(iter(data.values())))
    data["id"] = list(range(n))
    data["tools"] = ['[{"name": "search"}]'] * n
    if key[0] in ("preference", "preference-implicit"):
        data["margin"] = [0.5] * n
    table = pa.Table.from_pydict(data)
    out = convert(*key, table, fmt)
    dst = get_type(key[1])
    names = out.column_names
    assert set(dst.column_names(fmt)) <= set(names)
    keeps_margin = key[1] in ("preference", "preference-implicit")
    assert ("margin" in names) == (keeps_margin and "margin" in data)
    ids = out.column("id").to_pylist()
    rows = RECIPES[key](
        [dict(zip(data, r, strict=True)) for r in zip(*data.values(), strict=True)], fmt.value, OPTS
    )
    assert names == list(rows[0])  # where the recipe's `datasets` calls put each column
    assert ids == [r["id"] for r in rows]
    if EDGES[key].rows == "doubles":
        assert ids == [i for i in range(n) for _ in (0, 1)]  # interleaved, duplicated


def test_unpair_blocks_order_and_block_rows():
    data = {**PREF_STD, "id": [0, 1]}
    blocks = convert("preference", "unpaired-preference", data, S, ConvertOptions(order="blocks"))
    assert blocks.column("id").to_pylist() == [0, 1, 0, 1]
    assert blocks.column("label").to_pylist() == [True, True, False, False]
    data = {k: v * 3 for k, v in data.items()}  # 6 pairs, blocks of 4 input rows
    opts = ConvertOptions(order="blocks", block_rows=4)
    out = convert("preference", "unpaired-preference", data, S, opts)
    assert out.column("label").to_pylist() == [True] * 4 + [False] * 4 + [True] * 2 + [False] * 2


def test_output_column_collision_is_an_error():
    with pytest.raises(DataError, match="'label'"):
        convert("preference", "unpaired-preference", {**PREF_STD, "label": [1, 2]}, S)


# ---------------------------------------------------------------- empty tables

CONTENT_TYPE = {S: pa.string(), C: MSGS}


def _source_schema(src: str, fmt: Format) -> pa.Schema:
    t = get_type(src)
    kinds = {"steps": pa.list_(pa.string()), "label": pa.bool_(), "labels": pa.list_(pa.bool_())}
    return pa.schema(
        [(c.name_in(fmt), kinds.get(c.kind.value, CONTENT_TYPE[fmt])) for c in t.columns]
        + [("id", pa.int64())]
    )


@pytest.mark.parametrize("fmt", (S, C), ids=str)
@pytest.mark.parametrize("key", sorted(EDGES), ids=lambda k: f"{k[0]}->{k[1]}")
def test_empty_table_gives_empty_output_with_target_schema(key, fmt):
    _supported(key, fmt)
    table = _source_schema(key[0], fmt).empty_table()
    out = convert(*key, table, fmt)
    dst = get_type(key[1])
    assert out.num_rows == 0
    assert sorted(out.column_names) == sorted([*dst.column_names(fmt), "id"])
    data = {**GUIDE_INPUT[(key[0], fmt)]}
    data["id"] = list(range(len(next(iter(data.values())))))
    assert out.column_names == convert(*key, data, fmt).column_names
    for c in dst.columns:
        t = out.schema.field(c.name_in(fmt)).type
        if c.kind.value == "content":
            assert t == CONTENT_TYPE[fmt]
        elif c.kind.value == "label":
            assert t == pa.bool_()


def test_null_typed_empty_columns_are_read_as_the_format():
    table = pa.table({"prompt": pa.array([], pa.null()), "completion": pa.array([], pa.null())})
    out = convert("prompt-completion", "language-modeling", table, C)
    assert out.schema.field("messages").type == MSGS


# ---------------------------------------------------------------- nulls

# (edge, column): a null there is an error naming the row; elsewhere nulls pass through.
COMPUTED = {
    ("prompt-completion", "language-modeling"): ("prompt", "completion"),
    ("preference-implicit", "prompt-completion"): ("chosen", "rejected"),
    ("preference-implicit", "prompt-only"): ("chosen", "rejected"),
    ("preference-implicit", "preference"): ("chosen", "rejected"),
    ("preference-implicit", "unpaired-preference"): ("chosen", "rejected"),
    ("preference", "language-modeling"): ("prompt", "chosen"),
    ("preference", "preference-implicit"): ("prompt", "chosen", "rejected"),
    ("unpaired-preference", "language-modeling"): ("prompt", "completion", "label"),
    ("unpaired-preference", "prompt-completion"): ("label",),
    ("unpaired-preference", "preference"): ("prompt", "label"),
    ("stepwise-supervision", "language-modeling"): ("prompt", "completions", "labels"),
    ("stepwise-supervision", "prompt-completion"): ("completions", "labels"),
    ("stepwise-supervision", "unpaired-preference"): ("completions", "labels"),
    ("language-modeling", "prompt-completion"): ("messages",),
    ("language-modeling", "prompt-only"): ("messages",),
}
RENAMED = {
    (("preference-implicit", "language-modeling"), "chosen"): "text",
    (("preference", "prompt-completion"), "chosen"): "completion",
    (("preference", "unpaired-preference"), "chosen"): "completion",
    (("preference", "unpaired-preference"), "rejected"): "completion",
}
NULL_CASES = [
    (key, col, fmt)
    for key in sorted(EDGES)
    for fmt in (S, C)
    for col in get_type(key[0]).column_names(fmt)
]


def _with_null(key, col, fmt) -> pa.Table:
    table = pa.Table.from_pydict(GUIDE_INPUT[(key[0], fmt)])
    values = table.column(col).to_pylist()
    values[1] = None
    return table.set_column(
        table.schema.get_field_index(col), col, pa.array(values, table.column(col).type)
    )


@pytest.mark.parametrize(("key", "col", "fmt"), NULL_CASES, ids=lambda v: str(v))
def test_nulls_error_naming_the_row_or_pass_through(key, col, fmt):
    _supported(key, fmt)
    table = _with_null(key, col, fmt)
    if col in COMPUTED.get(key, ()):
        with pytest.raises(DataError) as err:
            convert(*key, table, fmt)
        assert "row 1 " in str(err.value) and repr(col) in str(err.value)
        return
    out = convert(*key, table, fmt)
    assert (
        out.num_rows
        == EDGES[key].fn(pa.Table.from_pydict(GUIDE_INPUT[(key[0], fmt)]), fmt, OPTS).num_rows
    )
    lands = RENAMED.get((key, col), col)
    lands = "messages" if lands == "text" and fmt is C else lands
    if lands in out.column_names:  # carried (or renamed): the null is still there
        assert None in out.column(lands).to_pylist()
    else:  # dropped by the conversion
        assert col not in get_type(key[1]).column_names(fmt)


def test_null_inside_steps_is_an_error():
    data = {**STEPWISE_STD, "completions": [["a", None], ["b"]], "labels": [[True, True], [True]]}
    with pytest.raises(DataError, match="row 0 holds a null element"):
        convert("stepwise-supervision", "prompt-completion", data, S)


# ---------------------------------------------------------------- input checks


def test_format_mismatch_is_an_error():
    with pytest.raises(DataError, match="holds strings, but conversational data needs"):
        convert("prompt-completion", "language-modeling", PC_STD, C)


def test_missing_column_is_an_error():
    with pytest.raises(DataError, match="missing column 'completion'"):
        convert("prompt-completion", "language-modeling", {"prompt": ["a"]}, S)


def test_mixed_json_column_is_an_error():
    field = pa.field("completion", pa.string(), metadata={JSON_FIELD_KEY: b"1"})
    table = pa.table({"prompt": ["a"]}).append_column(field, pa.array(['"x"']))
    with pytest.raises(DataError, match="different kinds"):
        convert("prompt-completion", "language-modeling", table, S)


def test_tokenized_format_is_refused():
    with pytest.raises(UsageError):
        convert("prompt-completion", "language-modeling", PC_STD, Format.TOKENIZED)


@pytest.mark.parametrize(
    ("key", "field"),
    [
        (("stepwise-supervision", "unpaired-preference"), "label_merge"),
        (("preference-implicit", "preference"), "split_mode"),
        (("preference-implicit", "preference"), "no_prompt"),
        (("preference", "unpaired-preference"), "order"),
    ],
)
def test_unknown_option_is_a_usage_error(key, field):
    data = {"stepwise-supervision": STEPWISE_STD, "preference-implicit": IMPLICIT_STD}
    opts = dataclasses.replace(OPTS, **{field: "nope"})
    with pytest.raises(UsageError, match="unknown"):
        convert(*key, data.get(key[0], PREF_STD), S, opts)


def test_chunked_large_and_view_strings():
    a = pa.Table.from_pydict(PREF_STD)
    table = pa.concat_tables([a, a]).cast(
        pa.schema(
            [("prompt", pa.large_string()), ("chosen", pa.string_view()), ("rejected", pa.string())]
        )
    )
    assert table.column("prompt").num_chunks == 2
    out = convert("preference", "preference-implicit", table, S)
    assert out.column("chosen").to_pylist() == ["The sky is blue.", "The sun is in the sky."] * 2
    back = convert("preference-implicit", "preference", out, S)
    # the longest common prefix: the second pair also shares " in the"
    assert back.column("prompt").to_pylist() == ["The sky is", "The sun is in the"] * 2
    assert back.column("rejected").to_pylist() == [" green.", " sea."] * 2


def test_messages_with_different_fields_are_unified():
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"name": "sky", "arguments": "{}"}],
    }
    data = {
        "prompt": [[m("user", "Sky?")]],
        "chosen": [[call]],
        "rejected": [[m("assistant", "No.")]],
    }
    out = convert("preference", "preference-implicit", data, C).to_pylist()[0]
    assert out["chosen"] == [{**m("user", "Sky?"), "tool_calls": None}, call]
    back = convert("preference-implicit", "preference", pa.Table.from_pylist([out]), C)
    assert back.to_pylist()[0]["chosen"] == [call]


# ---------------------------------------------------------------- stepwise options


def test_step_separator():
    opts = ConvertOptions(step_separator="\n")
    out = convert("stepwise-supervision", "prompt-completion", STEPWISE_STD, S, opts)
    assert out.column("completion").to_pylist() == [WATER.replace(",", ",\n", 1)]


@pytest.mark.parametrize(
    ("how", "labels", "rows"),
    [
        ("all", [False, True], [(SCATTERS, False), (WATER, True)]),
        ("any", [True, True], [(SCATTERS, True), (WATER, True)]),
        ("last", [False, True], [(SCATTERS, False), (WATER, True)]),
        (
            "first-false-truncates",
            [True, True],
            [(" scatters more in the atmosphere,", True), (WATER, True)],
        ),
    ],
)
def test_label_merge(how, labels, rows):
    out = convert(
        "stepwise-supervision",
        "unpaired-preference",
        STEPWISE_STD,
        S,
        ConvertOptions(label_merge=how),
    )
    assert [(r["completion"], r["label"]) for r in out.to_pylist()] == rows


def test_first_false_truncates_drops_rows_without_a_correct_first_step():
    data = {
        "prompt": ["p", "q", "r"],
        "completions": [["a", "b"], ["c"], []],
        "labels": [[False, True], [True], []],
    }
    opts = ConvertOptions(label_merge="first-false-truncates")
    with pytest.warns(ConversionWarning, match=r"rows 0, 2 have no correct first step"):
        out = convert("stepwise-supervision", "unpaired-preference", data, S, opts)
    assert out.to_pylist() == [{"prompt": "q", "completion": "c", "label": True}]


def test_last_label_of_a_row_without_steps_is_an_error():
    data = {"prompt": ["p", "q"], "completions": [["a"], []], "labels": [[True], []]}
    with pytest.raises(DataError, match="row 1 has no steps"):
        convert(
            "stepwise-supervision",
            "unpaired-preference",
            data,
            S,
            ConvertOptions(label_merge="last"),
        )


def test_steps_and_labels_of_different_lengths_are_an_error():
    data = {"prompt": ["p"], "completions": [["a", "b"]], "labels": [[True]]}
    with pytest.raises(DataError, match="different number of steps and labels"):
        convert("stepwise-supervision", "language-modeling", data, S)


def test_stepwise_with_vision_prompt_makes_a_text_part():
    parts = pa.list_(pa.struct([("type", pa.string()), ("text", pa.string())]))
    msg = pa.list_(pa.struct([("role", pa.string()), ("content", parts)]))
    prompt = [
        [
            {
                "role": "user",
                "content": [{"type": "image", "text": None}, {"type": "text", "text": "Sky?"}],
            }
        ]
    ]
    table = pa.table(
        {
            "prompt": pa.array(prompt, msg),
            "completions": [["Blue", "."]],
            "labels": [[True, True]],
            "images": [["img.png"]],
        }
    )
    out = convert("stepwise-supervision", "language-modeling", table, C).to_pylist()[0]
    assert out["messages"][-1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Blue."}],
    }
    assert out["images"] == ["img.png"]


def test_row_numbers_count_from_the_batch_offset():
    from trlprep.converters import row_offset

    data = {"prompt": ["a", None, "c"], "completion": ["x", "y", None]}
    with row_offset(1000), pytest.raises(DataError, match="row 1001 holds null"):
        convert("prompt-completion", "language-modeling", data, S)
    with pytest.raises(DataError, match="row 1 holds null"):
        convert("prompt-completion", "language-modeling", data, S)


def test_many_bad_rows_are_summarised():
    data = {"prompt": [None] * 8, "completion": ["x"] * 8}
    with pytest.raises(DataError, match=r"rows 0, 1, 2, 3, 4 \(and 3 more\) hold null"):
        convert("prompt-completion", "language-modeling", data, S)
