"""`tokenrecord.longest_sequence` / `nothing_cut` and `refit.steps_end_with`, which decide
whether a tokenised file's ids can be cut to a run's options, read the id columns as Arrow
columns: the same decisions as the per-row Python they replace (kept here as the
reference), on real samples tokenised by `convert --tokenize`, chunked, sliced and as
`large_list`, and on empty lists, nulls and empty tables."""

from __future__ import annotations

import pyarrow as pa
import pytest

pytest.importorskip("transformers")

from realdata.support import TINY_MODEL, tokenised_samples  # noqa: E402

from trlprep.templates.refit import given_id_columns, steps_end_with  # noqa: E402
from trlprep.templates.tokenrecord import (  # noqa: E402
    longest_sequence,
    nothing_cut,
    read_record,
    step_id_counts,
)

CUTS = [(None, "keep_start"), (200, "keep_end"), (120, "keep_start")]


# the per-row Python these functions were before (the reference)
def _ref_longest(ids: dict[str, list], dtype: str) -> int:
    if dtype == "stepwise-supervision":
        return max(
            (len(p) + sum(map(len, s)) for p, s in zip(ids["prompt_ids"], ids["completions_ids"],
                                                       strict=True)),
            default=0,
        )  # fmt: skip
    prompt = ids.get("prompt_ids")
    answers = [n for n in ids if n != "prompt_ids" and not n.endswith("_prompt_start")]
    longest = max(map(len, prompt or []), default=0)
    for name in answers:
        if prompt is None:
            longest = max(longest, max(map(len, ids[name]), default=0))
            continue
        starts = ids.get(name.removesuffix("_ids") + "_prompt_start") or [0] * len(ids[name])
        for p, start, answer in zip(prompt, starts, ids[name], strict=True):
            longest = max(longest, len(p) - start + len(answer))
    return longest


def _ref_nothing_cut(ids, dtype, made_at, steps) -> bool:
    if _ref_longest(ids, dtype) >= made_at:
        return False
    if dtype != "stepwise-supervision":
        return True
    rows = ids["completions_ids"]
    return steps is not None and all(
        len(r) == n and all(r) for r, n in zip(rows, steps, strict=True)
    )


def _ref_steps_end_with(table: pa.Table, separator_ids: list[int]) -> bool:
    n = len(separator_ids)
    for steps in table.column("completions_ids").to_pylist():
        for step in steps or ():
            if step and (len(step) < n or (n and step[-n:] != separator_ids)):
                return False
    return True


@pytest.fixture(scope="module")
def tokenised() -> list[tuple[str, pa.Table]]:
    return tokenised_samples(CUTS)


@pytest.fixture(scope="module")
def separators() -> dict[str, list[int]]:
    from transformers import AutoTokenizer

    from trlprep.templates.encoder import Encoder

    pieces = Encoder(AutoTokenizer.from_pretrained(TINY_MODEL)).pieces(["\n", " ки\n", "."])
    return dict(zip(["newline", "shepherd", "period"], pieces, strict=True))


def _variants(table: pa.Table) -> dict[str, pa.Table]:
    """The table as it is, in uneven chunks (each column chunked otherwise), sliced, and
    with its id lists as large_list."""
    n = table.num_rows
    chunked = pa.concat_tables([table.slice(0, n // 3), table.slice(n // 3, 1),
                                table.slice(n // 3 + 1)])  # fmt: skip
    other = pa.table({
        name: pa.chunked_array([*col.slice(0, n // 2).chunks, *col.slice(n // 2).chunks],
                               col.type)
        if i % 2 else col for i, (name, col) in enumerate(zip(chunked.column_names,
                                                              chunked.columns, strict=True))
    })  # fmt: skip
    large = pa.table({
        name: col.cast(_large(col.type)) for name, col in zip(table.column_names, table.columns,
                                                              strict=True)
    })  # fmt: skip
    return {"whole": table, "chunked": chunked, "misaligned": other,
            "sliced": table.slice(1, max(n - 2, 0)), "large": large}  # fmt: skip


def _large(typ: pa.DataType) -> pa.DataType:
    if pa.types.is_list(typ):
        return pa.large_list(_large(typ.value_type))
    return typ


def _steps(table: pa.Table):
    import pyarrow.compute as pc

    return pc.list_value_length(table.column("completions")).fill_null(0)


def test_the_decisions_are_the_per_row_ones_on_real_tokenised_samples(tokenised, separators):
    seen_types, cut_or_not = set(), set()
    for name, table in tokenised:
        dtype = read_record(table.schema)["type"]
        given = given_id_columns(table, dtype)
        assert given, name
        seen_types.add(dtype)
        for how, t in _variants(table).items():
            ids = t.select(list(given))
            py = {c: ids.column(c).to_pylist() for c in given}
            longest = _ref_longest(py, dtype)
            assert longest_sequence(ids, dtype) == longest, (name, how)
            assert longest_sequence(py, dtype) == longest, (name, how)  # Python lists too
            steps = _steps(t) if dtype == "stepwise-supervision" else None
            ref_steps = None if steps is None else steps.to_pylist()
            for made_at in (1, longest, longest + 1, 10_000):
                got = nothing_cut(ids, dtype, made_at, steps)
                assert got == _ref_nothing_cut(py, dtype, made_at, ref_steps), (name, how, made_at)
                cut_or_not.add(got)
            if dtype == "stepwise-supervision":
                for sep in (*separators.values(), []):
                    assert steps_end_with(t, sep) == _ref_steps_end_with(t, sep), (name, how)
    assert seen_types == {
        "preference", "unpaired-preference", "stepwise-supervision", "prompt-completion",
        "preference-implicit", "language-modeling",
    }  # fmt: skip
    assert cut_or_not == {True, False}


def test_real_stepwise_ids_end_with_the_separator_they_were_made_with(tokenised, separators):
    """Both answers occur: the test above compares decisions that differ."""
    name, table = next((n, t) for n, t in tokenised if n.startswith("math_shepherd") and
                       "None" in n)  # fmt: skip
    assert steps_end_with(table, separators["newline"]), name
    assert not steps_end_with(table, separators["period"]), name
    assert not steps_end_with(table.slice(0, 2), separators["shepherd"])


IDS = pa.list_(pa.int32())


@pytest.mark.parametrize("typ", [IDS, pa.large_list(pa.int32())])
def test_empty_lists_nulls_and_empty_tables(typ):
    pair = pa.table({
        "prompt_ids": pa.array([[1, 2, 3], None, []], typ),
        "chosen_ids": pa.array([[4], [5, 6], None], typ),
        "rejected_ids": pa.array([[], [7, 8, 9, 9], [1]], typ),
        "chosen_prompt_start": pa.array([2, None, 0], pa.int32()),
        "rejected_prompt_start": pa.array([0, 0, None], pa.int32()),
    })  # fmt: skip
    # row 0: chosen 3 - 2 + 1 = 2, rejected 3 + 0 = 3; row 1: a null prompt counts as
    # empty: 2 and 4; row 2: 0 and 1
    assert longest_sequence(pair, "preference") == 4
    assert not nothing_cut(pair, "preference", 4, None)
    assert nothing_cut(pair, "preference", 5, None)
    assert longest_sequence(pair.slice(0, 1), "preference") == 3
    assert longest_sequence(pair.slice(0, 0), "preference") == 0
    assert nothing_cut(pair.slice(0, 0), "preference", 1, None)
    whole = pa.table({"input_ids": pa.array([None, [], None], typ)})
    assert longest_sequence(whole, "language-modeling") == 0
    assert longest_sequence({"prompt_ids": [None, None]}, "prompt-only") == 0  # no type

    steps = pa.large_list(typ) if pa.types.is_large_list(typ) else pa.list_(typ)
    stepwise = pa.table({
        "prompt_ids": pa.array([[1], [2, 2], None, [3]], typ),
        "completions_ids": pa.array([[[5, 0], [6, 7, 0]], [], [[0], None], None], steps),
    })  # fmt: skip
    assert longest_sequence(stepwise, "stepwise-supervision") == 6
    assert steps_end_with(stepwise, [0])  # empty and null steps and rows have no end
    assert steps_end_with(stepwise, [7, 0]) is False
    assert steps_end_with(stepwise, [])
    assert steps_end_with(stepwise.slice(2, 1), [7, 0]) is False  # [0] is shorter
    assert steps_end_with(stepwise.slice(1, 1), [7, 0])  # no steps at all
    counts = pa.array([2, 0, 2, 0])
    assert not nothing_cut(stepwise, "stepwise-supervision", 100, counts)  # a null row
    whole_rows = stepwise.slice(0, 2)
    assert nothing_cut(whole_rows, "stepwise-supervision", 100, counts.slice(0, 2))
    assert not nothing_cut(whole_rows, "stepwise-supervision", 100, pa.array([2, 1]))
    assert not nothing_cut(whole_rows, "stepwise-supervision", 100, None)
    emptied = pa.table({
        "prompt_ids": pa.array([[1]], typ), "completions_ids": pa.array([[[5, 0], []]], steps),
    })  # fmt: skip
    assert not nothing_cut(emptied, "stepwise-supervision", 100, [2])
    nulled = pa.table({
        "prompt_ids": pa.array([[1]], typ), "completions_ids": pa.array([[[5, 0], None]], steps),
    })  # fmt: skip
    assert not nothing_cut(nulled, "stepwise-supervision", 100, [2])
    assert nothing_cut(nulled.slice(0, 0), "stepwise-supervision", 100, [])
    assert steps_end_with(pa.table({"completions_ids": pa.array([None, None])}), [0])
    for rows in ([[[], []], []], [[[None]]], [[[1, None], [1, 0]]], [[[0], [1, 0]], None]):
        given = pa.table({"completions_ids": pa.array(rows)})  # types as Python gives them
        assert steps_end_with(given, [0]) == _ref_steps_end_with(given, [0]), rows


@pytest.mark.parametrize("ids", [pa.uint32(), pa.uint64(), pa.int64()])
def test_steps_end_with_reads_unsigned_ids_with_null_ids(ids):
    steps = pa.list_(pa.list_(ids))
    table = pa.table({"completions_ids": pa.array([[[1, 2, 9], [3, 9]], [[None, 9]]], steps)})
    assert steps_end_with(table, [9])
    assert steps_end_with(table, [2, 9]) is False
    ended_by_null = pa.table({"completions_ids": pa.array([[[1, None]]], steps)})
    assert steps_end_with(ended_by_null, [9]) is False


def test_step_id_counts_under_a_null_row_whose_slot_spans_steps():
    steps = pa.array([[1, 2], [3], [4, 5, 6], [7]], pa.list_(pa.int32()))
    offsets = pa.array([0, 2, 4], pa.int32())
    column = pa.ListArray.from_arrays(offsets, steps, mask=pa.array([True, False]))
    assert step_id_counts(column).tolist() == [0, 4]  # the null row spans [1, 2], [3]
    assert step_id_counts(column.slice(1)).tolist() == [4]


def test_ids_given_as_python_values_with_null_typed_columns():
    # `[[]]` and `[None]` make null-typed Arrow columns
    no_steps = {"prompt_ids": [[1]], "completions_ids": [[]]}
    assert nothing_cut(no_steps, "stepwise-supervision", 10, [0])
    assert not nothing_cut(no_steps, "stepwise-supervision", 10, [1])
    assert nothing_cut({"prompt_ids": [], "completions_ids": []}, "stepwise-supervision", 1, [])
    stepwise = "stepwise-supervision"
    assert not nothing_cut({"prompt_ids": [[1]], "completions_ids": [None]}, stepwise, 10, [0])
    assert not nothing_cut({"prompt_ids": [[1]], "completions_ids": [[None]]}, stepwise, 10, [1])
    assert not nothing_cut({"prompt_ids": [[1]], "completions_ids": [[[1]]]}, stepwise, 10, [None])
    pair = {
        "prompt_ids": [[1, 2]], "chosen_ids": [[3]], "rejected_ids": [[4, 5]],
        "chosen_prompt_start": [None], "rejected_prompt_start": [None],
    }  # fmt: skip
    assert longest_sequence(pair, "preference") == 4  # a null start counts as 0
    assert nothing_cut(pair, "preference", 5, None)
    assert not nothing_cut(pair, "preference", 4, None)
