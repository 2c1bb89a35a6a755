"""Packing: same bins as TRL's pack_dataset on one batch, every token accounted for."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.columns.pack import best_fit_decreasing, pack_table
from trlprep.errors import UsageError

LENGTHS = st.lists(st.integers(0, 25), min_size=1, max_size=40)


def table_of(lengths):
    ids = [list(range(100 * i, 100 * i + n)) for i, n in enumerate(lengths)]
    return pa.table(
        {"input_ids": ids, "completion_mask": [[i % 2] * n for i, n in enumerate(lengths)]}
    )


def test_trl_docstring_example():
    t = pa.table(
        {
            "input_ids": [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10], [11]],
            "attention_mask": [[1, 1, 1, 0, 0], [1, 0], [1, 1, 0], [1]],
        }
    )
    assert pack_table(t, 4, "bfd")[0].to_pydict() == {
        "input_ids": [[1, 2, 3, 4], [8, 9, 10, 11], [6, 7]],
        "attention_mask": [[1, 1, 1, 0], [1, 1, 0, 1], [1, 0]],
        "seq_lengths": [[4], [3, 1], [2]],
    }
    assert pack_table(t, 4, "bfd_split")[0].to_pydict() == {
        "input_ids": [[1, 2, 3, 4], [8, 9, 10, 5], [6, 7, 11]],
        "attention_mask": [[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 1]],
        "seq_lengths": [[4], [3, 1], [2, 1]],
    }


@settings(max_examples=60, deadline=None)
@given(lengths=LENGTHS, seq_length=st.integers(1, 20))
def test_same_as_trl_on_one_batch(lengths, seq_length):
    trl_utils = pytest.importorskip("trl.data_utils")
    if not any(lengths):
        return  # TRL fails on all-empty input
    t = table_of(lengths)
    for strategy, want in (
        ("bfd", trl_utils._pack_bfd(t, seq_length, "truncate")),
        ("bfd_split", trl_utils._pack_bfd(t, seq_length, "split")),
        ("wrapped", trl_utils._pack_wrapped(t, seq_length)),
    ):
        got, _ = pack_table(t, seq_length, strategy)
        if strategy == "wrapped":
            got = got.drop_columns("seq_lengths")
        assert got.to_pylist() == want.to_pylist(), strategy


@settings(max_examples=80, deadline=None)
@given(
    lengths=LENGTHS,
    seq_length=st.integers(1, 20),
    strategy=st.sampled_from(["bfd", "bfd_split", "wrapped"]),
)
def test_invariants(lengths, seq_length, strategy):
    t = table_of(lengths)
    packed, report = pack_table(t, seq_length, strategy)
    rows = packed.column("input_ids").to_pylist()
    seq = packed.column("seq_lengths").to_pylist()
    assert all(0 < len(r) <= seq_length for r in rows)
    assert [sum(s) for s in seq] == [len(r) for r in rows]
    kept = sorted(x for r in rows for x in r)
    original = sorted(x for r in t.column("input_ids").to_pylist() for x in r)
    if strategy == "bfd":
        assert report.tokens_dropped == len(original) - len(kept)
        assert set(kept) <= set(original)
    else:
        assert kept == original
    masks = packed.column("completion_mask").to_pylist()
    assert [len(m) for m in masks] == [len(r) for r in rows]
    assert report.rows_out == len(rows) and report.tokens == len(kept)


def test_best_fit_picks_the_tightest_bin():
    # 6 then 5 open two bins (space 4 and 5); 4 goes into the tighter one (the 6's)
    bins = best_fit_decreasing(np.array([6, 5, 4, 1]), 10)
    assert bins == [[0, 2], [1, 3]]


def test_whole_dataset_packs_tighter_than_per_batch():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 64, 3000).tolist()
    t = table_of(lengths)
    whole, _ = pack_table(t, 128, "bfd")
    per_batch = sum(
        pack_table(t.slice(s, 1000), 128, "bfd")[0].num_rows for s in range(0, 3000, 1000)
    )
    assert whole.num_rows <= per_batch


def test_unaligned_columns_are_left_out_and_errors():
    t = pa.table({"input_ids": [[1, 2], [3]], "text": ["a", "b"], "other": [[1], [2]]})
    packed, report = pack_table(t, 4)
    assert packed.column_names == ["input_ids", "seq_lengths"]
    assert report.dropped_columns == ["text", "other"]
    with pytest.raises(UsageError, match="input_ids"):
        pack_table(pa.table({"text": ["a"]}), 4)
    with pytest.raises(UsageError, match="strategy"):
        pack_table(t, 4, "greedy")


def test_pack_cli(tmp_path):
    src = tmp_path / "tok.parquet"
    pq.write_table(table_of([3, 5, 2, 7, 1]), src)
    dst = tmp_path / "packed.parquet"
    args = ["pack", str(src), "-o", str(dst), "--seq-length", "8", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows_in"] == 5 and report["tokens"] == 18
    packed = pq.read_table(dst)
    assert sum(len(r) for r in packed.column("input_ids").to_pylist()) == 18
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2  # refuses to overwrite
