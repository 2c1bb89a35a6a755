"""Invariants of the importers, on generated data."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trlprep.api as api
from trlprep.importers import ImportOptions, import_table
from trlprep.importers.hh import parse_transcripts
from trlprep.importers.jsonarrow import to_json_text

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text that may hold newlines, spaces, marker words and the first sentinel character
_pieces = st.sampled_from(
    ["a", "é", " ", "\n", "\n\n", "Human:", "Assistant:", ": ", "\x00", "x y"]
)
_content = (
    st.lists(_pieces, max_size=8)
    .map("".join)
    .filter(lambda s: "\n\nHuman:" not in s and "\n\nAssistant:" not in s)
)
_MARK = {"user": "\n\nHuman: ", "assistant": "\n\nAssistant: "}


@SETTINGS
@given(
    st.lists(st.tuples(st.sampled_from(["user", "assistant"]), _content), min_size=1, max_size=6),
    st.booleans(),
)
def test_hh_parse_gives_back_every_turn_exactly(turns, drop_leading_blank):
    """Joining the parsed turns with their markers gives the transcript back byte for byte."""
    text = "".join(_MARK[role] + content for role, content in turns)
    if drop_leading_blank:
        text = text[2:]  # "Human: ..." / "Assistant: ..." at the very start
    messages, problems = parse_transcripts(pa.array([text, None]))
    parsed = messages.to_pylist()[0]
    assert [(m["role"], m["content"]) for m in parsed] == turns
    assert problems[1] == "null"
    ends_ok = turns[-1][0] == "assistant" and turns[-1][1] != ""
    assert (problems[0] is None) == ends_ok
    if turns[-1] == ("assistant", ""):
        assert problems[0] == "empty-last"


_json_rows = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "a": st.integers(-5, 5),
            "b": st.text(max_size=5),
            "c": st.lists(st.one_of(st.none(), st.integers(0, 3)), max_size=3),
            "d": st.fixed_dictionaries({}, optional={"x": st.text(max_size=3), "y": st.booleans()}),
            "e": st.lists(st.fixed_dictionaries({}, optional={"k": st.text(max_size=2)})),
        },
    ),
    min_size=1,
    max_size=6,
)


@SETTINGS
@given(_json_rows)
def test_json_text_of_structs_restores_each_row(rows):
    """Arrow merges the keys of all rows; the JSON text holds each row's own keys only."""
    arr = pa.array(rows)
    texts = to_json_text(arr).to_pylist()
    assert [json.loads(t) for t in texts] == rows


_roles = st.sampled_from(["human", "gpt", "system", "observation", "narrator", "HUMAN"])
_turn = st.fixed_dictionaries({"from": _roles, "value": st.sampled_from(["", "hi", "a\nb"])})
_sharegpt_rows = st.lists(
    st.one_of(st.none(), st.lists(_turn, max_size=4)), min_size=1, max_size=12
)


@SETTINGS
@given(_sharegpt_rows)
def test_sharegpt_every_row_is_imported_or_rejected(conversations):
    table = pa.table(
        {
            "conversations": pa.array(
                conversations, pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))
            )
        }
    )
    lines = np.arange(len(conversations)) + 1
    r = import_table(table, "sharegpt", lines=lines, on_error="skip")
    rejected = r.rejects.column("row").to_pylist()
    assert r.table.num_rows + len(rejected) == len(conversations)
    assert sorted(r.rows.tolist() + rejected) == list(range(len(conversations)))
    assert r.rejects.column("line").to_pylist() == [x + 1 for x in rejected]
    assert r.lines.tolist() == (r.rows + 1).tolist()
    if r.table.num_rows:
        assert api.validate(r.table, type="lm", format="conversational").valid
    for i, row in zip(r.rows, r.table.column("messages").to_pylist(), strict=True):
        assert [m["content"] for m in row] == [t["value"] for t in conversations[i]]


@SETTINGS
@given(
    st.lists(
        st.lists(st.integers(0, 3), max_size=4),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(["best-vs-rest", "best-vs-worst", "all-pairs"]),
)
def test_ranked_pairs_always_prefer_the_higher_score(scores, pairing):
    n = len(scores)
    table = pa.table(
        {
            "prompt": [f"p{i}" for i in range(n)],
            "completions": [[f"c{i}-{j}" for j in range(len(s))] for i, s in enumerate(scores)],
            "scores": pa.array(scores, pa.list_(pa.int64())),
        }
    )
    opts = ImportOptions(pairing=pairing)
    r = import_table(table, "ranked", opts, lines=np.arange(n) + 1, on_error="skip")
    rejected = set(r.rejects.column("row").to_pylist())
    assert set(r.rows.tolist()) | rejected == set(range(n))
    assert not set(r.rows.tolist()) & rejected
    for i, row in zip(r.rows, r.table.to_pylist(), strict=True):
        ci, cj = (int(row[k].split("-")[1]) for k in ("chosen", "rejected"))
        assert scores[i][ci] > scores[i][cj]
    for i in rejected:  # fewer than two completions, or all tied
        assert len(set(scores[i])) <= 1
