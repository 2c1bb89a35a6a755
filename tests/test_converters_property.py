"""Property tests: the vectorised edges against the plain-Python guide recipes, and invariants."""

from __future__ import annotations

import dataclasses
import warnings

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_recipes import RECIPES
from trlprep.converters import EDGES, ConversionWarning, ConvertOptions

from trlprep.errors import DataError, UsageError
from trlprep.registry import Format

FORMATS = (Format.STANDARD, Format.CONVERSATIONAL)
MSG = pa.struct([("role", pa.string()), ("content", pa.string())])
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text with spaces, newlines, punctuation and multi-byte characters (UTF-8 boundaries).
TEXT = st.text(alphabet=st.sampled_from(list("ab c\n.é日")), max_size=10)
ROLE = st.sampled_from(["system", "user", "assistant"])
MESSAGE = st.builds(lambda r, c: {"role": r, "content": c}, ROLE, TEXT)
MESSAGES = st.lists(MESSAGE, max_size=3)


def content(fmt: Format) -> st.SearchStrategy:
    return MESSAGES if fmt is Format.CONVERSATIONAL else TEXT


def ctype(fmt: Format) -> pa.DataType:
    return pa.list_(MSG) if fmt is Format.CONVERSATIONAL else pa.string()


def schema(src: str, fmt: Format) -> pa.Schema:
    c = ctype(fmt)
    cols = {
        "language-modeling": [("messages" if fmt is Format.CONVERSATIONAL else "text", c)],
        "prompt-completion": [("prompt", c), ("completion", c)],
        "preference-implicit": [("chosen", c), ("rejected", c), ("margin", pa.float64())],
        "preference": [("prompt", c), ("chosen", c), ("rejected", c), ("margin", pa.float64())],
        "unpaired-preference": [("prompt", c), ("completion", c), ("label", pa.bool_())],
        "stepwise-supervision": [
            ("prompt", c),
            ("completions", pa.list_(pa.string())),
            ("labels", pa.list_(pa.bool_())),
        ],
    }[src]
    return pa.schema(cols + [("id", pa.int64())])


@st.composite
def rows_of(draw, src: str, fmt: Format) -> list[dict]:
    n = draw(st.integers(0, 6))
    c = content(fmt)
    prompts = draw(st.lists(c, min_size=1, max_size=3))  # few prompts: repeats for pairing
    rows = []
    for i in range(n):
        if src == "prompt-completion":
            row = {"prompt": draw(c), "completion": draw(c)}
        elif src == "language-modeling":
            row = {("messages" if fmt is Format.CONVERSATIONAL else "text"): draw(c)}
        elif src == "preference-implicit":
            shared, a, b = draw(c), draw(c), draw(c)
            row = {"chosen": shared + a, "rejected": shared + b, "margin": float(i)}
        elif src == "preference":
            row = {"prompt": draw(c), "chosen": draw(c), "rejected": draw(c), "margin": 0.5}
        elif src == "unpaired-preference":
            row = {
                "prompt": draw(st.sampled_from(prompts)),
                "completion": draw(c),
                "label": draw(st.booleans()),
            }
        else:
            steps = draw(st.lists(TEXT, max_size=3))
            labels = draw(st.lists(st.booleans(), min_size=len(steps), max_size=len(steps)))
            row = {"prompt": draw(c), "completions": steps, "labels": labels}
        row["id"] = i
        rows.append(row)
    return rows


OPTIONS = st.builds(
    ConvertOptions,
    separator=st.sampled_from(["", "\n"]),
    step_separator=st.sampled_from([None, "", " ", "\n"]),
    split_turns=st.sampled_from(["last", "all"]),
    label_merge=st.sampled_from(["all", "any", "last", "first-false-truncates"]),
    split_mode=st.sampled_from(["word", "char"]),
    order=st.sampled_from(["interleaved", "blocks"]),
    no_prompt=st.just("warn"),
    block_rows=st.sampled_from([None, 1, 2, 4]),
)


def run(key, rows, fmt, opts) -> list[dict]:
    table = pa.Table.from_pylist(rows, schema=schema(key[0], fmt))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)
        return EDGES[key].fn(table, fmt, opts).to_pylist()


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
@pytest.mark.parametrize("key", sorted(RECIPES), ids=lambda k: f"{k[0]}->{k[1]}")
def test_vectorised_equals_reference_recipe(key, fmt):
    @SETTINGS
    @given(data=st.data())
    def check(data):
        rows = data.draw(rows_of(key[0], fmt))
        opts = data.draw(OPTIONS)
        try:
            expected = RECIPES[key](rows, fmt.value, opts)
        except (IndexError, ValueError):  # the last label of no steps; a pair without a split
            with pytest.raises((DataError, UsageError)):
                run(key, rows, fmt, opts)
            return
        got = run(key, rows, fmt, opts)
        assert got == expected
        assert [list(r) for r in got] == [list(r) for r in expected]  # the recipe's order

    check()


def test_every_edge_has_a_reference_recipe():
    assert set(RECIPES) == set(EDGES)


# ---------------------------------------------------------------- invariants

WORD = st.text(alphabet=st.sampled_from(list("abé日.")), min_size=1, max_size=5)


@st.composite
def well_formed_preference(draw, fmt: Format) -> list[dict]:
    """Explicit preference rows whose chosen and rejected differ from their first word/message."""
    rows = []
    for i in range(draw(st.integers(0, 5))):
        if fmt is Format.CONVERSATIONAL:
            prompt = draw(st.lists(MESSAGE, min_size=1, max_size=3))
            first = draw(MESSAGE)
            other = draw(MESSAGE.filter(lambda m, first=first: m != first))
            chosen = [first] + draw(MESSAGES)
            rejected = [other] + draw(MESSAGES)
        else:
            prompt = " ".join(draw(st.lists(WORD, min_size=1, max_size=4)))
            w1 = draw(WORD)
            w2 = draw(WORD.filter(lambda w, w1=w1: w != w1))
            tail = st.lists(WORD, max_size=3).map(lambda ws: "".join(" " + w for w in ws))
            chosen, rejected = " " + w1 + draw(tail), " " + w2 + draw(tail)
        rows.append({"prompt": prompt, "chosen": chosen, "rejected": rejected, "id": i})
    return rows


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_explicit_to_implicit_to_explicit_is_identity(fmt):
    to_implicit = EDGES[("preference", "preference-implicit")].fn
    to_explicit = EDGES[("preference-implicit", "preference")].fn
    sch = pa.schema([f for f in schema("preference", fmt) if f.name != "margin"])

    @SETTINGS
    @given(rows=well_formed_preference(fmt))
    def check(rows):
        table = pa.Table.from_pylist(rows, schema=sch)
        back = to_explicit(to_implicit(table, fmt, ConvertOptions()), fmt, ConvertOptions())
        # the recipe's order: `map(extract_prompt)` updates chosen and rejected in place and
        # adds the prompt last
        assert back.select(table.schema.names).to_pylist() == rows
        assert back.schema.names == ["chosen", "rejected", "id", "prompt"]

    check()


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_unpairing_doubles_rows_half_true(fmt):
    key = ("preference", "unpaired-preference")

    @SETTINGS
    @given(rows=rows_of("preference", fmt), order=st.sampled_from(["interleaved", "blocks"]))
    def check(rows, order):
        out = run(key, rows, fmt, dataclasses.replace(ConvertOptions(), order=order))
        assert len(out) == 2 * len(rows)
        assert sum(r["label"] for r in out) == len(rows)
        chosen = [(r["id"], r["completion"]) for r in out if r["label"]]
        rejected = [(r["id"], r["completion"]) for r in out if not r["label"]]
        assert chosen == [(r["id"], r["chosen"]) for r in rows]
        assert rejected == [(r["id"], r["rejected"]) for r in rows]
        assert all("margin" not in r for r in out)

    check()


# ---------------------------------------------------------------- outputs validate

SENTENCE = st.lists(WORD, min_size=1, max_size=4).map(" ".join)


TAIL = st.lists(WORD, max_size=3).map(lambda ws: "".join(" " + w for w in ws))


@st.composite
def valid_rows(draw, src: str, fmt: Format) -> list[dict]:
    """Rows a user could feed in: non-empty text, conversations ending with the user."""
    conv = fmt is Format.CONVERSATIONAL

    def prompt():
        if not conv:
            return draw(SENTENCE)
        roles = ["system"] * draw(st.integers(0, 1)) + ["user", "assistant"] * draw(
            st.integers(0, 1)
        )
        return [{"role": r, "content": draw(SENTENCE)} for r in roles + ["user"]]

    def answer(word):
        text = " " + word + draw(TAIL)
        return [{"role": "assistant", "content": text.strip()}] if conv else text

    rows = []
    for i in range(draw(st.integers(1, 4))):
        p = prompt()
        w1 = draw(WORD)
        w2 = draw(WORD.filter(lambda w, w1=w1: w != w1))
        a, b = answer(w1), answer(w2)
        row = {
            "prompt-completion": {"prompt": p, "completion": a},
            "language-modeling": {("messages" if conv else "text"): p + a},
            "preference-implicit": {"chosen": p + a, "rejected": p + b},
            "preference": {"prompt": p, "chosen": a, "rejected": b},
            "unpaired-preference": {"prompt": p, "completion": a, "label": draw(st.booleans())},
            "stepwise-supervision": {
                "prompt": p,
                "completions": [" " + w1, " " + w2],
                "labels": [draw(st.booleans()), draw(st.booleans())],
            },
        }[src]
        rows.append({**row, "id": i})
    return rows


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_converted_outputs_validate_against_the_target_type(data):
    from trlprep.api import validate

    key = data.draw(st.sampled_from(sorted(EDGES)))
    fmt = data.draw(st.sampled_from(EDGES[key].formats))
    rows = data.draw(valid_rows(key[0], fmt))
    sch = schema(key[0], fmt)
    sch = pa.schema([f for f in sch if f.name != "margin"])
    table = pa.Table.from_pylist(rows, schema=sch)
    assert validate(table, type=key[0], format=fmt.value).valid
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)
        out = EDGES[key].fn(table, fmt, ConvertOptions())
    report = validate(out, type=key[1], format=fmt.value, allow_empty=True)  # all filtered
    assert report.valid, [(i.rule, i.message) for i in report.issues]


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_unpairing_in_pieces_equals_reference_recipe(fmt, monkeypatch):
    # Pieces of 3 rows and input chunks of 2 rows: pieces, chunks and blocks all cross.
    from trlprep.converters import unpairing

    monkeypatch.setattr(unpairing, "PIECE_ROWS", 3)
    key = ("preference", "unpaired-preference")

    @SETTINGS
    @given(
        rows=rows_of("preference", fmt),
        order=st.sampled_from(["interleaved", "blocks"]),
        block_rows=st.sampled_from([None, 1, 2, 3, 4]),
    )
    def check(rows, order, block_rows):
        opts = ConvertOptions(order=order, block_rows=block_rows)
        table = pa.Table.from_pylist(rows, schema=schema(key[0], fmt))
        chunked = pa.Table.from_batches(table.to_batches(max_chunksize=2), table.schema)
        out = EDGES[key].fn(chunked, fmt, opts)
        assert out.to_pylist() == RECIPES[key](rows, fmt.value, opts)

    check()
