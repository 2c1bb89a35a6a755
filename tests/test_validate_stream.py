"""The fast paths of streamed validation change no verdict.

Parquet's few-valued strings (message roles, extra columns) are read as Arrow dictionaries
(`trlprep.io.parquet_dict`), row hashes are folded from column leaves
(`trlprep.validation.dupes`) and message checks skip work on clean data
(`trlprep.validation.checks.messages`); each must give exactly what the plain reading of the
same rows gives.
"""

from __future__ import annotations

import importlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trlprep.io.parquet_dict as parquet_dict
from trlprep.detection.detect import detect_batches
from trlprep.errors import UsageError
from trlprep.io.readers import Batch, iter_batches
from trlprep.validation.dupes import column_hashes, row_hash, value_hashes
from trlprep.validation.validate import validate_path, validate_table

V = importlib.import_module(
    "trlprep.validation.validate"
)  # the module (trlprep.validate is the API)
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ROLES = st.sampled_from(["system", "user", "assistant", "tool", "developer", "human", "", None])
CONTENT = st.sampled_from(["Hi there.", "x", "", " ", "\u3000", None, "The sky is blue."])


@st.composite
def message(draw):
    if draw(st.integers(0, 30)) == 0:
        return None
    return {"role": draw(ROLES), "content": draw(CONTENT)}


@st.composite
def messages(draw, max_size=3):
    if draw(st.integers(0, 30)) == 0:
        return None
    return draw(st.lists(message(), max_size=max_size))


@st.composite
def preference_rows(draw):
    rows = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "prompt": messages(),
                    "chosen": messages(2),
                    "rejected": messages(2),
                    "source": st.sampled_from(["a", "b"]),
                }
            ),
            min_size=1,
            max_size=25,
        )
    )
    repeats = draw(st.lists(st.integers(0, len(rows) - 1), max_size=3))
    return rows + [rows[i] for i in repeats]  # some exact duplicates


def _without_path(report) -> dict:
    d = report.to_dict()
    d.pop("path")
    return d


@SETTINGS
@given(preference_rows(), st.sampled_from([None, "human=user"]))
def test_parquet_with_dictionaries_matches_the_table(tmp_path_factory, rows, role_map):
    table = pa.Table.from_pylist(rows)
    path = tmp_path_factory.mktemp("pq") / "d.parquet"
    pq.write_table(table, path)
    streamed = _outcome(lambda: validate_path(path, role_map=role_map))
    whole = _outcome(lambda: validate_table(table, role_map=role_map))
    assert streamed == whole


def _outcome(run) -> dict | str:
    """The report, or the usage error (a role-map key no message has) both ways alike."""
    try:
        return _without_path(run())
    except UsageError as e:
        return str(e)


def test_parquet_roles_are_read_as_dictionaries(tmp_path):
    rows = [{"prompt": [{"role": "user", "content": "Hi"}], "completion": None}] * 3
    rows[1] = {"prompt": [{"role": "gpt", "content": " "}], "completion": [{"role": "x"}]}
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    (batch,) = iter_batches(path, dictionaries=True)
    role = batch.data.schema.field("prompt").type.value_type.field("role")
    assert pa.types.is_dictionary(role.type)
    r = validate_path(path, type="pc", format="conversational")
    assert r.issue("unknown-role").rows == [1]
    assert "'gpt'" in r.issue("unknown-role").message
    assert r.issue("whitespace-only").rows == [1]
    # the message names the type as written, not as read
    wrong = validate_path(path, type="pc", format="standard").issue("wrong-type")
    assert "role: string" in wrong.message


def test_few_valued_extra_columns_are_read_as_dictionaries(tmp_path):
    n = 50
    table = pa.table(
        {
            "prompt": [f"Question {i % 20}?" for i in range(n)],
            "chosen": [f"Yes {i % 20}." for i in range(n)],
            "rejected": ["No." if i % 9 else f"Yes {i % 20}." for i in range(n)],
            "lang": ["en", "fr"] * (n // 2),
            "tools": ['[{"name": "f"}]'] * n,  # a side column keeps its type
        }
    )
    path = tmp_path / "d.parquet"
    pq.write_table(table, path)
    (batch,) = iter_batches(path, dictionaries=True)
    read_as_dictionary = [f.name for f in batch.data.schema if pa.types.is_dictionary(f.type)]
    assert read_as_dictionary == ["lang"]
    assert _without_path(validate_path(path)) == _without_path(validate_table(table))
    assert validate_path(path).issue("duplicate-row") is not None


def _plain_batches(path, batch_rows):
    """Plain reading, cut at the same places as the dictionary reading (row groups)."""
    pf = pq.ParquetFile(path)
    offset = 0
    for group in range(pf.num_row_groups):
        for rb in pf.iter_batches(batch_size=batch_rows, row_groups=[group]):
            yield Batch(rb, offset)
            offset += rb.num_rows


@SETTINGS
@given(preference_rows(), st.integers(1, 4))
def test_row_groups_read_one_by_one_give_the_plain_verdict(tmp_path_factory, rows, group_rows):
    path = tmp_path_factory.mktemp("pq") / "groups.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=group_rows)
    batch_rows = group_rows  # every group is a batch of its own or more
    plan, notes = V.make_plan(detect_batches(iter_batches(path)))
    fast = iter_batches(path, batch_rows=batch_rows, dictionaries=True)
    plain = _plain_batches(path, batch_rows)
    assert V.validate_batches(fast, plan, notes=notes).to_dict() == (
        V.validate_batches(plain, plan, notes=notes).to_dict()
    )


def test_a_row_group_arrow_cannot_read_as_dictionaries_is_read_plainly(tmp_path, monkeypatch):
    rows = [{"messages": [{"role": "user", "content": f"m{i}"}]} for i in range(10)]
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=5)
    real = parquet_dict._pull
    pulled = []

    def flaky(it):  # the second batch of every group fails, as a nested dictionary might
        pulled.append(1)
        return parquet_dict._UNSUPPORTED if len(pulled) % 2 == 0 else real(it)

    monkeypatch.setattr(parquet_dict, "_pull", flaky)
    batches = list(iter_batches(path, batch_rows=3, dictionaries=True))
    got = [m[0]["content"] for b in batches for m in b.data.column("messages").to_pylist()]
    assert got == [f"m{i}" for i in range(10)]
    assert [b.offset for b in batches] == [0, 3, 5, 8]


def test_small_row_groups_are_read_plainly_across_groups(tmp_path):
    rows = [{"messages": [{"role": "user", "content": f"m{i}"}]} for i in range(10)]
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=2)
    batches = list(iter_batches(path, batch_rows=8, dictionaries=True))
    assert [b.data.num_rows for b in batches] == [8, 2]
    role = batches[0].data.schema.field("messages").type.value_type.field("role")
    assert pa.types.is_string(role.type)


# ---------------------------------------------------------------- row hashes

NESTED = st.recursive(
    st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(["", "a", "b", "ab"])),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=8,
)


@SETTINGS
@given(st.lists(st.lists(message(), max_size=3), min_size=1, max_size=30), st.data())
def test_hashes_do_not_depend_on_batching_or_dictionaries(rows, data):
    arr = pa.array(rows, pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())])))
    whole = value_hashes(arr)
    cut = data.draw(st.integers(0, len(rows)))
    parts = np.concatenate([value_hashes(arr.slice(0, cut)), value_hashes(arr.slice(cut))])
    assert whole.tolist() == parts.tolist()
    roles = pc_dictionaries(arr)
    assert value_hashes(roles).tolist() == whole.tolist()
    as_py = [repr(r) for r in arr.to_pylist()]
    for i in range(len(rows)):
        for j in range(i):
            assert (whole[i] == whole[j]) == (as_py[i] == as_py[j])


def pc_dictionaries(arr: pa.ListArray) -> pa.ListArray:
    """The same messages with the role field dictionary-encoded."""
    msgs = arr.values
    roles = msgs.field("role").dictionary_encode()
    structs = pa.StructArray.from_arrays(
        [roles, msgs.field("content")], ["role", "content"], mask=msgs.is_null()
    )
    return pa.ListArray.from_arrays(arr.offsets, structs, mask=arr.is_null())


@SETTINGS
@given(st.lists(NESTED, min_size=1, max_size=20))
def test_equal_values_hash_alike_and_different_ones_apart(values):
    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return  # mixed kinds: no single Arrow type
    h = value_hashes(arr)
    seen = [repr(v) for v in arr.to_pylist()]
    for i in range(len(values)):
        for j in range(i):
            assert (h[i] == h[j]) == (seen[i] == seen[j])


def test_dictionaries_hash_as_their_values():
    for values in (["x", None, "x"], ["x", "x"], [None, None], ["x", "y", None], []):
        plain = pa.array(values, pa.string())
        assert value_hashes(plain.dictionary_encode()).tolist() == value_hashes(plain).tolist()


def test_row_hash_separates_rows_that_differ_in_one_column():
    t = pa.table({"a": ["x", "x", "y"], "b": [[1], [2], [1]]})
    h = row_hash(column_hashes(t))
    assert len(set(h.tolist())) == 3
    assert value_hashes(pa.array([[], None])).tolist()[0] != value_hashes(pa.array([None]))[0]


def test_duplicate_lines_are_exact_across_chunks_and_blank_lines(tmp_path, monkeypatch):
    import json

    import trlprep
    from trlprep.io import jsonl

    rows = [{"prompt": f"p{i}", "completion": f" c{i}"} for i in range(30)]
    rows[25] = dict(rows[3])  # a duplicate far from its original
    text = ""
    for i, r in enumerate(rows):
        text += json.dumps(r) + "\n" + ("\n" if i % 7 == 0 else "")  # blank lines here and there
    path = tmp_path / "d.jsonl"
    path.write_text(text)
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 200)  # many chunks
    report = trlprep.validate(path)
    issue = report.issue("duplicate-row")
    lines = text.splitlines()
    first_line, expected_line = [i + 1 for i, x in enumerate(lines) if x == json.dumps(rows[3])]
    assert issue.rows == [25] and issue.lines == [expected_line]
    assert f"line {expected_line} repeats line {first_line}" in issue.message
