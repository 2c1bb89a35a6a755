"""Helpers of the Ray engine that run without a Ray cluster: the output format of a
converted dataset, and the pairing warnings merged over blocks."""

from __future__ import annotations

import pytest
from trlprep.converters.base import ConversionWarning

from trlprep.errors import UsageError
from trlprep.io.shardout import ShardedOutput
from trlprep.ray.notes import Notes
from trlprep.ray.output import output_format_of, output_kind


@pytest.mark.parametrize(
    "output, fmt, want",
    [
        ("out/", None, "parquet"),
        ("out.jsonl", None, "jsonl"),
        ("out", "ndjson", "jsonl"),
        ("out/", "ndjson", "jsonl"),
        ("out", "pq", "parquet"),
        ("out", "JSONL", "jsonl"),
    ],
)
def test_output_format_takes_every_outputs_aliases(output, fmt, want):
    assert output_format_of(output, fmt) == want


@pytest.mark.parametrize(
    "output, fmt, want",
    [
        ("out.parquet", None, ("file", "parquet")),
        ("out.jsonl.gz", None, ("file", "jsonl")),
        ("out.arrow", None, ("file", "arrow")),
        ("out", "arrow", ("file", "arrow")),
        ("out", None, ("disk", "disk")),
        ("out.parquet", "disk", ("disk", "disk")),
        ("out/", None, ("shards", "parquet")),
        ("out/", "arrow", ("shards", "arrow")),
    ],
)
def test_output_kind_is_the_local_engines_rule(output, fmt, want):
    """One file for a suffix, a save_to_disk folder for none, shards for `out/`: the local
    engine's rule for -o, Arrow included."""
    assert output_kind(output, fmt) == want


def test_output_kind_refuses_what_the_local_engine_refuses():
    with pytest.raises(UsageError, match="input format only"):
        output_kind("out.csv", None)
    with pytest.raises(UsageError, match="--num-shards/--max-shard-size write a folder"):
        output_kind(ShardedOutput("out.jsonl", num_shards=2), None)


def test_a_pairing_step_that_made_pairs_drops_the_nothing_paired_head():
    """Some block paired: the merged warning does not say nothing could be paired. The
    step is known as pairing by its edge's row effect, not its name."""
    from trlprep.converters.pairing import _NOTHING_PAIRED, _no_partner

    said = [_NOTHING_PAIRED + _no_partner(2, 1, 1, "rows 0, 1", 1, 1)]
    notes = Notes(
        warnings=[(ConversionWarning, m) for m in said],
        steps={"unpaired-preference -> preference": [6, 2]},
    )
    assert not notes.conversion_warnings()[0].startswith(_NOTHING_PAIRED)
    notes.steps = {"unpaired-preference -> preference": [2, 0]}
    assert notes.conversion_warnings()[0].startswith(_NOTHING_PAIRED)


def test_only_the_refused_rows_counts_by_reason_leave_the_workers():
    """`validate --from` on Ray fetches, per block, each reason's count and first rows (row,
    line), in order of their first row: not the blocks, nor every refused row."""
    import pyarrow as pa

    from trlprep.errors import ROW_ID
    from trlprep.ray.base import LINE, REJECT, REJECT_TYPE
    from trlprep.ray.imported import _refused

    why = [None, "bad", "worse", "bad", "bad", "bad"]
    reject = pa.array(
        [None if w is None else {"stage": "import", "reason": w, "turn": None} for w in why],
        REJECT_TYPE,
    )
    block = pa.table(
        {"messages": list("abcdef"), ROW_ID: [0, 5, 2, 3, 4, 1], LINE: [1, 6, 3, 4, 5, 2],
         REJECT: reject}
    )  # fmt: skip
    got = _refused(block, 2)
    assert got.to_pylist() == [
        {"reason": "bad", "count": 4, "rows": [1, 3], "lines": [2, 4], "first": 1, "tie": False},
        {"reason": "worse", "count": 1, "rows": [2], "lines": [3], "first": 2, "tie": False},
    ]
    assert _refused(block.drop_columns([REJECT]), 2).num_rows == 0


@pytest.mark.parametrize(
    "sizes, pieces, want",
    [
        ([10] * 7, 4, [[0, 1], [2, 3], [4, 5], [6]]),
        ([100, 1, 1, 1, 100], 2, [[0, 1, 2], [3, 4]]),  # by bytes, not by count
        ([5, 5, 3], 4, [[0], [1], [2]]),  # at most one run per row group
        ([0, 0, 0, 0], 2, [[0, 1], [2, 3]]),  # no sizes recorded: by count
        ([7], 4, [[0]]),
    ],
)
def test_row_groups_are_cut_into_runs_of_about_equal_bytes(sizes, pieces, want):
    from trlprep.ray.rowgroups import runs

    assert runs(sizes, pieces) == want


def test_a_parquet_file_whose_columns_change_at_entry_is_read_whole(tmp_path):
    """A `datasets` `Json` column (typed over all its rows) or a `tools` struct column: the
    file is read in one task; plain columns: in runs of row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trlprep.ray.rowgroups import parquet_runs

    plain = pa.table({"prompt": [f"p{i}" for i in range(8)], "completion": ["c"] * 8})
    tools = plain.append_column("tools", pa.array([[{"name": "f"}]] * 8))
    as_json = plain.append_column("meta", pa.array(['{"a": 1}'] * 8, pa.json_()))
    got = {}
    for name, table in (("plain", plain), ("tools", tools), ("json", as_json)):
        pq.write_table(table, tmp_path / f"{name}.parquet", row_group_size=2)
        got[name] = parquet_runs(str(tmp_path / f"{name}.parquet"), cpus=2)
    assert got == {"plain": [[0], [1], [2], [3]], "tools": None, "json": None}
    pq.write_table(plain, tmp_path / "one.parquet")  # one row group
    assert parquet_runs(str(tmp_path / "one.parquet"), cpus=2) is None
