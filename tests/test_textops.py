"""Vectorised string helpers (longest common prefix, byte slices) and duplicate finding."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from trlprep.columns.textops import (
    common_prefix_bytes,
    join_lists,
    prefix_on_word_boundary,
    slice_bytes,
)
from trlprep.validation.dupes import DuplicateFinder, row_hash

chars = st.text(st.sampled_from("ab é€😀\n"), max_size=30)


def reference_lcp(a: str | None, b: str | None) -> int:
    a, b = a or "", b or ""
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    return len(a[:k].encode())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), chars), chars), max_size=20), st.integers(0, 3))
def test_common_prefix_matches_python(pairs, cut):
    a = pa.array([x for x, _ in pairs], pa.string())
    # share prefixes often: b starts with a piece of a
    b = pa.array([((x or "")[: len(y) % 7] + y) for x, y in pairs], pa.string())
    got = common_prefix_bytes(a, b)
    want = [reference_lcp(x, y) for x, y in zip(a.to_pylist(), b.to_pylist(), strict=True)]
    assert got.tolist() == want
    # slicing at the prefix never splits a character and rebuilds the strings
    head = slice_bytes(a, 0, got).to_pylist()
    tail = slice_bytes(a, got).to_pylist()
    for x, h, t in zip(a.to_pylist(), head, tail, strict=True):
        if x is not None:
            assert h + t == x


def test_common_prefix_of_long_strings_and_sliced_arrays():
    long_a = "word " * 5000 + "alpha"
    long_b = "word " * 5000 + "beta"
    arr_a = pa.array(["x", long_a, "same"]).slice(1)
    arr_b = pa.array(["y", long_b, "same"]).slice(1)
    assert common_prefix_bytes(arr_a, arr_b).tolist() == [25000, 4]
    chunked = pa.chunked_array([["ab", "cd"], ["ef"]])
    assert common_prefix_bytes(chunked, pa.array(["ax", "cd", "e"])).tolist() == [1, 2, 1]


def test_word_boundary():
    a = pa.array(["The sky is blue.", "I like cats", "Hello", "Hello world", "ab"])
    b = pa.array(["The sky is green.", "I like cars", "Hello there", "Hello", "ab"])
    lcp = common_prefix_bytes(a, b)
    assert prefix_on_word_boundary(a, b, lcp).tolist() == [True, False, True, True, True]


def test_duplicate_finder_across_batches():
    finder = DuplicateFinder()
    finder.add(np.array([5, 7, 5], dtype=np.uint64), np.array([1, 2, 4]))
    finder.add(np.array([9, 7, 5], dtype=np.uint64), np.array([5, 6, 7]))
    count, dup, first, lines = finder.finish()
    assert count == 3
    assert dup.tolist() == [2, 4, 5]
    assert first.tolist() == [0, 1, 0]
    assert lines[dup].tolist() == [4, 6, 7]
    finder = DuplicateFinder()
    finder.add(np.array([5, 7, 5, 9, 7, 5], dtype=np.uint64))
    count, dup, first, lines = finder.finish(limit=2)
    assert (count, dup.tolist(), first.tolist(), lines) == (3, [2, 4], [0, 1], None)


def test_row_hash_depends_on_every_column():
    h = {"a": np.array([1, 1, 2], dtype=np.uint64), "b": np.array([3, 4, 3], dtype=np.uint64)}
    out = row_hash(h)
    assert len(set(out.tolist())) == 3
    assert h["a"].tolist() == [1, 1, 2]  # inputs untouched


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.lists(chars, max_size=4)), max_size=12),
    st.integers(0, 3),
    st.sampled_from(["", ",", "\n\n"]),
)
def test_join_lists_joins_each_lists_texts(rows, cut, sep):
    lists = pa.array(rows, pa.list_(pa.string())).slice(min(cut, len(rows)))
    got = join_lists(lists, lists.flatten(), sep)
    assert got.type == pa.large_string()
    assert got.to_pylist() == [sep.join(r or []) for r in rows[min(cut, len(rows)) :]]
