"""A pair's columns of one side (`chosen_generator` / `rejected_generator`, `score_chosen` /
`score_rejected`): the rows of one completion hold their own completion's value under the
plain name (unpairing: each row its own side's; prompt-completion and language modeling:
the chosen one's, the rejected one's left out with a warning), on both engines and in the
TRL-named helper. Before, every unpaired row carried both, so none said which model wrote
its completion."""

from __future__ import annotations

import json
import warnings

import pyarrow as pa
import pytest
from realdata.support import rows_of, run

import trlprep
from trlprep.compat.dataset import unpair_preference_dataset

PAIRS = [
    {"prompt": "Name a prime.", "chosen": "7", "rejected": "9", "chosen_generator": "gpt-4",
     "id": 0, "rejected_generator": "mine", "score_chosen": 9, "score_rejected": 2.5},
    {"prompt": "2 + 2?", "chosen": "4", "rejected": "5", "chosen_generator": "mine",
     "id": 1, "rejected_generator": "gpt-4", "score_chosen": 8, "score_rejected": 1.0},
]  # fmt: skip
UNPAIRED = [  # interleaved: each pair's chosen row, then its rejected row
    ("Name a prime.", "7", True, "gpt-4", 9.0),
    ("Name a prime.", "9", False, "mine", 2.5),
    ("2 + 2?", "4", True, "mine", 8.0),
    ("2 + 2?", "5", False, "gpt-4", 1.0),
]


def _said(fn):
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(w.message) for w in got if "unpairing labels" not in str(w.message)]


def _unpaired(rows: list[dict]) -> list[tuple]:
    return [(r["prompt"], r["completion"], r["label"], r["generator"], r["score"]) for r in rows]


def test_unpairing_gives_each_row_its_own_sides_value_in_the_chosen_columns_place():
    out, said = _said(lambda: trlprep.convert(pa.Table.from_pylist(PAIRS), "unpaired"))
    assert said == []
    assert out.column_names == ["prompt", "generator", "id", "score", "completion", "label"]
    assert out.schema.field("score").type == pa.float64()  # 9 and 2.5: one kind
    assert _unpaired(out.to_pylist()) == UNPAIRED
    assert out.column("id").to_pylist() == [0, 0, 1, 1]  # other extras: duplicated
    blocks = trlprep.convert(pa.Table.from_pylist(PAIRS), "unpaired", order="blocks")
    assert _unpaired(blocks.to_pylist()) == [UNPAIRED[i] for i in (0, 2, 1, 3)]


def test_implicit_pairs_and_the_trl_named_helper_unpair_the_same_way():
    implicit = [{k: v for k, v in r.items() if k != "prompt"} for r in PAIRS]
    for r, p in zip(implicit, PAIRS, strict=True):
        r["chosen"], r["rejected"] = (
            p["prompt"] + " " + p["chosen"],
            p["prompt"] + " " + p["rejected"],
        )
    out = trlprep.convert(pa.Table.from_pylist(implicit), "unpaired")
    assert [(r["completion"], r["generator"]) for r in out.to_pylist()] == [
        (" 7", "gpt-4"), (" 9", "mine"), (" 4", "mine"), (" 5", "gpt-4"),
    ]  # fmt: skip
    assert _unpaired(unpair_preference_dataset(pa.Table.from_pylist(PAIRS)).to_pylist()) == UNPAIRED
    one = unpair_preference_dataset(PAIRS[0])  # one example dict: its two rows
    assert [(r["generator"], r["score"], r["id"]) for r in one] == [
        ("gpt-4", 9, 0),
        ("mine", 2.5, 0),
    ]
    assert not any(k.startswith(("chosen_", "rejected_")) or k.endswith("_chosen") for k in one[0])


@pytest.mark.parametrize("to", ["prompt-completion", "language-modeling"])
def test_keeping_the_chosen_keeps_its_side_and_says_the_rejected_sides_are_left_out(to):
    out, said = _said(lambda: trlprep.convert(pa.Table.from_pylist(PAIRS), to))
    assert out.column("generator").to_pylist() == ["gpt-4", "mine"]
    assert out.column("score").to_pylist() == [9, 8]
    assert not {"chosen_generator", "rejected_generator", "score_rejected"} & set(out.column_names)
    assert sorted(said) == sorted(
        f"column {r!r} left out: it describes the rejected completion, which {to} rows do not "
        f"keep ({c!r} is kept as {x!r}, the chosen completion's)"
        for c, r, x in (("chosen_generator", "rejected_generator", "generator"),
                        ("score_chosen", "score_rejected", "score"))
    )  # fmt: skip


def test_a_pair_whose_plain_name_is_taken_or_whose_kinds_differ_is_carried_and_said():
    rows = [r | {"generator": "judge", "score_rejected": [1]} for r in PAIRS]
    out, said = _said(lambda: trlprep.convert(pa.Table.from_pylist(rows), "unpaired"))
    assert {"chosen_generator", "rejected_generator", "score_chosen", "score_rejected"} <= set(
        out.column_names
    )
    assert out.column("generator").to_pylist() == ["judge"] * 4
    assert said == [
        "columns 'chosen_generator' and 'rejected_generator' are carried as they are onto every "
        "row (not made one column 'generator', each row's own side: the input has a column "
        "'generator' already)",
        "columns 'score_chosen' and 'score_rejected' are carried as they are onto every row "
        "(not made one column 'score', each row's own side: their kinds differ (int64, "
        "list<item: int64>))",
    ]
    tokens = [r | {"chosen_ids": [1], "rejected_ids": [2]} for r in PAIRS]  # a side's token ids
    out, said = _said(lambda: trlprep.convert(pa.Table.from_pylist(tokens), "unpaired"))
    assert said == [] and {"chosen_ids", "rejected_ids"} <= set(out.column_names)


def _alpacaeval(tmp_path) -> str:
    """AlpacaEval annotations (its data is CC BY-NC: rows written in its layout)."""
    rows = [
        {"instruction": p["prompt"], "output_1": p["chosen"], "generator_1": p["chosen_generator"],
         "output_2": p["rejected"], "generator_2": p["rejected_generator"], "preference": 1.0}
        for p in PAIRS
    ]  # fmt: skip
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(rows, indent=2))
    return str(path)


def test_alpacaeval_pairs_unpaired_say_each_rows_generator_on_both_engines(tmp_path):
    src = _alpacaeval(tmp_path)
    engines = ["local"] + (["ray"] if _has_ray() else [])
    for engine in engines:
        out = tmp_path / f"{engine}.jsonl"
        res = run("convert", src, "--from", "alpacafarm", "--to", "unpaired", "--engine", engine,
                  "-o", out)  # fmt: skip
        assert res.exit_code == 0, res.output
        written = sorted(out.glob("*.jsonl")) if out.is_dir() else [out]  # Ray: shards
        rows = [r for f in written for r in rows_of(f)]
        got = [(r["completion"], r["label"], r["generator"]) for r in rows]
        assert got == [("7", True, "gpt-4"), ("9", False, "mine"), ("4", True, "mine"),
                       ("5", False, "gpt-4")], engine  # fmt: skip
        assert not any("chosen_generator" in r for r in rows)
    out = tmp_path / "pc.jsonl"
    res = run("convert", src, "--from", "alpacafarm", "--to", "prompt-completion", "-o", out)
    assert res.exit_code == 0, res.output
    assert [r["generator"] for r in rows_of(out)] == ["gpt-4", "mine"]
    assert "warning: column 'rejected_generator' left out" in res.output


def test_ultrafeedback_pairs_unpaired_name_the_model_of_each_rows_completion(tmp_path):
    """UltraFeedback rows (tests/realdata/ultrafeedback_readme, MIT): ranked -> pairs carry
    `chosen_models` / `rejected_models` (the `models` entry of each answer); unpaired, each
    row names the model that wrote its own completion, as `models`."""
    from pathlib import Path

    src = Path(__file__).parent / "realdata" / "ultrafeedback_readme" / "ultrafeedback.jsonl"
    wrote = {
        c["response"]: c["model"]
        for line in src.read_text(encoding="utf-8").splitlines()
        for c in json.loads(line)["completions"]
    }
    out = tmp_path / "kto.jsonl"
    res = run("convert", src, "--to", "unpaired", "-o", out)
    assert res.exit_code == 0, res.output
    rows = rows_of(out)
    assert len(rows) == 16 and not any("chosen_models" in r for r in rows)
    assert [r["models"] for r in rows] == [wrote[r["completion"]] for r in rows]
    assert len({r["models"] for r in rows}) > 2  # not one model copied onto every row


def _has_ray() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True
