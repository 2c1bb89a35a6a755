"""Beyond the guide: unpaired -> preference by prompt, and ranked multi-completion data."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest
from trlprep.converters import (
    EDGES,
    RANKED_CONVERSIONS,
    ConversionWarning,
    ConvertOptions,
    pair_by_prompt,
    ranked_to_preference,
    ranked_to_unpaired,
)

from trlprep.errors import DataError, UsageError
from trlprep.registry import Format

S, C = Format.STANDARD, Format.CONVERSATIONAL


def m(role: str, text: str) -> dict:
    return {"role": role, "content": text}


# ---------------------------------------------------------------- unpaired -> preference

UNPAIRED = {
    "prompt": ["A", "B", "A", "A", "B", "C"],
    "completion": [" a1", " b1", " a2", " a3", " b2", " c1"],
    "label": [True, False, False, True, True, True],
    "id": [0, 1, 2, 3, 4, 5],
}


def test_pairing_by_prompt_pairs_kth_true_with_kth_false():
    result = pair_by_prompt(pa.table(UNPAIRED), S, ConvertOptions())
    assert result.table.to_pylist() == [
        {"prompt": "A", "chosen": " a1", "rejected": " a2", "id": 0},
        {"prompt": "B", "chosen": " b2", "rejected": " b1", "id": 4},
    ]
    assert result.leftover_rows.tolist() == [3, 5]
    assert result.leftovers.column("completion").to_pylist() == [" a3", " c1"]


def test_pairing_edge_reports_leftovers():
    edge = EDGES[("unpaired-preference", "preference")]
    assert not edge.guide and edge.rows == "pairs"
    with pytest.warns(ConversionWarning, match=r"2 rows found no partner .*2 true, 0 false"):
        out = edge.fn(pa.table(UNPAIRED), S, ConvertOptions())
    assert out.num_rows == 2


def test_pairing_conversational_prompts_compare_whole_message_lists():
    p1, p2 = [m("system", "s"), m("user", "q")], [m("user", "q")]
    table = pa.table(
        {
            "prompt": [p1, p2, p1],
            "completion": [
                [m("assistant", "good")],
                [m("assistant", "x")],
                [m("assistant", "bad")],
            ],
            "label": [True, False, False],
        }
    )
    result = pair_by_prompt(table, C, ConvertOptions())
    assert result.table.to_pylist() == [
        {"prompt": p1, "chosen": [m("assistant", "good")], "rejected": [m("assistant", "bad")]}
    ]
    assert result.leftover_rows.tolist() == [1]


def test_pairing_rejects_null_labels():
    data = {**UNPAIRED, "label": [True, None, False, True, True, True]}
    with pytest.raises(DataError, match="row 1 holds null"):
        pair_by_prompt(pa.table(data), S, ConvertOptions())


# ---------------------------------------------------------------- ranked

RANKED = {
    "prompt": ["Q1", "Q2", "Q3"],
    "completions": [[" a", " b", " c"], [" x", " y"], [" only"]],
    "scores": [[1.0, 3.0, 2.0], [5.0, 5.0], [1.0]],
    "id": [1, 2, 3],
}


def pairs(out: pa.Table) -> list[tuple]:
    return [(r["prompt"], r["chosen"], r["rejected"]) for r in out.to_pylist()]


def ranked(pairing: str, data=RANKED, fmt=S, **kw) -> pa.Table:
    opts = dataclasses.replace(ConvertOptions(), pairing=pairing, **kw)
    with pytest.warns(ConversionWarning):
        return ranked_to_preference(pa.table(data), fmt, opts)


def test_best_vs_rest():
    out = ranked("best-vs-rest")
    assert pairs(out) == [("Q1", " b", " a"), ("Q1", " b", " c")]
    assert out.column("id").to_pylist() == [1, 1]


def test_best_vs_worst():
    assert pairs(ranked("best-vs-worst")) == [("Q1", " b", " a")]


def test_all_pairs_orients_by_score_and_skips_ties():
    opts = ConvertOptions(pairing="all-pairs", margin=True)
    with pytest.warns(ConversionWarning) as record:
        out = ranked_to_preference(pa.table(RANKED), S, opts)
    assert pairs(out) == [("Q1", " b", " a"), ("Q1", " c", " a"), ("Q1", " b", " c")]
    assert out.column("margin").to_pylist() == [2.0, 1.0, 1.0]
    messages = " | ".join(str(w.message) for w in record)
    assert "1 pairs of completions with equal scores" in messages
    assert "row 2 has fewer than two completions" in messages


def test_ranks_lower_is_better_and_conversational():
    data = {
        "prompt": [[m("user", "Q")]],
        "completions": [
            [[m("assistant", "2nd")], [m("assistant", "1st")], [m("assistant", "3rd")]]
        ],
        "ranks": [[2, 1, 3]],
    }
    out = ranked_to_preference(
        pa.table(data), C, ConvertOptions(pairing="best-vs-worst", margin=True)
    )
    assert out.to_pylist() == [
        {
            "prompt": [m("user", "Q")],
            "chosen": [m("assistant", "1st")],
            "rejected": [m("assistant", "3rd")],
            "margin": 2.0,
        }
    ]


def test_ranked_to_unpaired_by_threshold():
    out = ranked_to_unpaired(pa.table(RANKED), S, ConvertOptions(threshold=2.0))
    assert [(r["prompt"], r["completion"], r["label"], r["id"]) for r in out.to_pylist()] == [
        ("Q1", " a", False, 1),
        ("Q1", " b", True, 1),
        ("Q1", " c", True, 1),
        ("Q2", " x", True, 2),
        ("Q2", " y", True, 2),
        ("Q3", " only", False, 3),
    ]
    with pytest.raises(UsageError, match="threshold"):
        ranked_to_unpaired(pa.table(RANKED), S, ConvertOptions())
    assert set(RANKED_CONVERSIONS) == {"preference", "unpaired-preference"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"scores": [[1.0, 2.0], [5.0, 5.0], [1.0]]}, "row 0 has a different number"),
        ({"scores": [[1.0, None, 2.0], [5.0, 5.0], [1.0]]}, "row 0 holds a null element"),
        ({"scores": [[1.0, float("nan"), 2.0], [5.0, 5.0], [1.0]]}, "row 0 holds NaN"),
        ({"ranks": [[1, 2, 3], [1, 2], [1]]}, "exactly one of the columns"),
        (
            {"completions": [["a"], ["b"], ["c"]], "scores": [["1"], ["2"], ["3"]]},
            "lists of numbers",
        ),
    ],
)
def test_ranked_input_errors(change, message):
    with pytest.raises(DataError, match=message):
        ranked_to_preference(pa.table({**RANKED, **change}), S, ConvertOptions())


def test_ranked_empty_table():
    table = pa.table(
        {
            "prompt": pa.array([], pa.string()),
            "completions": pa.array([], pa.list_(pa.string())),
            "scores": pa.array([], pa.list_(pa.float64())),
        }
    )
    for pairing in ("best-vs-rest", "best-vs-worst", "all-pairs"):
        out = ranked_to_preference(table, S, ConvertOptions(pairing=pairing))
        assert out.num_rows == 0 and out.column_names == ["prompt", "chosen", "rejected"]
