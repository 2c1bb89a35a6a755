"""Written rows are grouped by rows and bytes (`trlprep.io.groupcut`): long rows make several
Parquet row groups and Arrow record batches, each within the byte bound, and the groups (so
the file's bytes) depend on the rows alone, never on how they came in batches."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trlprep.io import writers
from trlprep.io.groupcut import GroupCuts, array_bytes, cuts, row_bytes

IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def _rows(n: int, width: int = 3000) -> pa.Table:
    """Conversations of about `width` bytes a row (lengths vary) beside image structs."""
    rng = np.random.default_rng(0)
    lens = rng.integers(width // 2, width * 2, n)
    msgs = [[{"role": "user", "content": "x" * int(k)}] for k in lens]
    imgs = [[{"bytes": bytes(int(k) // 2), "path": None}] for k in lens]
    return pa.table({"messages": msgs, "images": pa.array(imgs, pa.list_(IMAGE))})


def _written(tmp_path, name: str, parts: list[pa.Table], schema: pa.Schema) -> bytes:
    out = tmp_path / name
    with writers.open_writer(out, schema) as w:
        for p in parts:
            w.write(p)
    return out.read_bytes()


def _pieces(table: pa.Table, bounds: list[int]) -> list[pa.Table]:
    edges = [0, *sorted(set(b for b in bounds if 0 < b < table.num_rows)), table.num_rows]
    return [table.slice(a, b - a) for a, b in zip(edges, edges[1:], strict=False)]


def test_row_bytes_follow_the_values_not_the_batch():
    table = _rows(50)
    whole = row_bytes(table)
    cut = np.concatenate([row_bytes(p) for p in _pieces(table, [1, 7, 30])])
    assert whole.tolist() == cut.tolist()
    rechunked = pa.concat_tables(_pieces(table, [3, 20]))
    assert row_bytes(rechunked).tolist() == whole.tolist()
    first = table.slice(0, 1).to_pylist()[0]
    want = len(first["messages"][0]["content"]) + len(first["images"][0]["bytes"])
    assert want < whole[0] < want + 64  # the values' bytes and a few offsets and widths


def test_a_null_value_counts_nothing():
    arr = pa.array(["abc", None, "de"])
    assert array_bytes(arr).tolist() == [7, 0, 6]
    nested = pa.array([[{"a": "xy"}], None, []], pa.list_(pa.struct([("a", pa.string())])))
    assert array_bytes(nested).tolist() == [4 + 6, 0, 4]


def test_long_rows_make_several_groups_each_within_the_bound(tmp_path, monkeypatch):
    bound = 64 << 10
    monkeypatch.setattr(writers, "ROW_GROUP_BYTES", bound)
    table = _rows(300)
    for name in ("o.parquet", "o.arrow"):
        writers.write(table, tmp_path / name)
    pf = pq.ParquetFile(tmp_path / "o.parquet")
    assert pf.metadata.num_row_groups > 10
    sizes = [int(row_bytes(pf.read_row_group(g)).sum()) for g in range(pf.num_row_groups)]
    assert max(sizes) <= bound and sum(sizes) == int(row_bytes(table).sum())
    with ipc.open_file(tmp_path / "o.arrow") as f:
        batches = [int(row_bytes(f.get_batch(i)).sum()) for i in range(f.num_record_batches)]
    assert batches == sizes
    assert pq.read_table(tmp_path / "o.parquet").equals(table)


def test_a_row_past_the_bound_is_a_group_of_its_own():
    assert cuts(np.array([5, 50, 5, 5, 5]), 100, 20) == [1, 2, 5]
    assert cuts(np.array([5] * 7), 3, 1000) == [3, 6, 7]


def test_jsonl_is_serialised_in_slices_bounded_by_bytes(tmp_path, monkeypatch):
    calls = []
    real = writers.to_jsonl

    def counted(data, *args, **kwargs):
        calls.append(int(row_bytes(data).sum()))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(writers, "to_jsonl", counted)
    monkeypatch.setattr(writers, "WRITE_BATCH_BYTES", 20_000)
    table = _rows(100).drop_columns(["images"])
    writers.write(table, tmp_path / "o.jsonl")
    assert len(calls) > 5 and max(calls) <= 20_000
    assert sum(calls) == int(row_bytes(table).sum())
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 100


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=80),
    cut_at=st.lists(st.integers(0, 80), max_size=10),
    max_rows=st.integers(1, 9),
    max_bytes=st.integers(0, 60),
)
def test_groups_do_not_depend_on_the_batches(sizes, cut_at, max_rows, max_bytes):
    sizes = np.array(sizes, dtype=np.int64)
    whole = cuts(sizes, max_rows, max_bytes)
    g, ends = GroupCuts(max_rows, max_bytes), []
    edges = [0, *sorted(set(c for c in cut_at if 0 < c < len(sizes))), len(sizes)]
    for a, b in zip(edges, edges[1:], strict=False):
        ends += [a + e for e in g.feed(sizes[a:b])]
    ends += [len(sizes)] if g.open_rows else []
    assert ends == whole
    groups = np.split(sizes, whole[:-1])
    assert all(0 < len(p) <= max_rows for p in groups)
    assert all(len(p) == 1 or p.sum() <= max_bytes for p in groups)
    # greedy: the next group's first row would not have fitted in the one before
    for p, q in zip(groups, groups[1:], strict=False):
        assert len(p) == max_rows or p.sum() + q[0] > max_bytes


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut_at=st.lists(st.integers(1, 119), max_size=6), fmt=st.sampled_from(["parquet", "arrow"]))
def test_files_do_not_depend_on_the_batches(tmp_path, monkeypatch, cut_at, fmt):
    monkeypatch.setattr(writers, "ROW_GROUP_BYTES", 40_000)
    monkeypatch.setattr(writers, "ROW_GROUP_ROWS", 25)
    table = _rows(120, width=800)
    whole = _written(tmp_path, f"whole.{fmt}", [table], table.schema)
    cut = _written(tmp_path, f"cut.{fmt}", _pieces(table, cut_at), table.schema)
    assert whole == cut
    (tmp_path / f"whole.{fmt}").unlink()
    (tmp_path / f"cut.{fmt}").unlink()


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_a_row_a_batch_writes_the_whole_tables_bytes(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(writers, "ROW_GROUP_BYTES", 30_000)
    table = _rows(60)
    whole = _written(tmp_path, f"whole.{fmt}", [table], table.schema)
    rows = _written(tmp_path, f"rows.{fmt}", _pieces(table, list(range(60))), table.schema)
    assert whole == rows
