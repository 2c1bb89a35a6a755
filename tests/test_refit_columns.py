"""`refit.refit_table` cuts a tokenised table's own ids as whole columns (`refitcut`,
`columns.listcut`): the same output table and report as the per-row Python it replaces
(kept here as the reference) on real samples tokenised by `convert --tokenize` (chunked,
sliced, `large_list`, int64 ids) cut to other lengths both ways, and on generated id lists;
nulls count as empty and stay null, empty tables stay empty."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from realdata.support import TOKENISED, tokenised_samples

from trlprep.registry import get_type
from trlprep.templates.fit import Fitted, fit, fit_steps, truncate
from trlprep.templates.refit import given_id_columns, refit_table
from trlprep.templates.tokenize import TokenizeReport, token_columns, truncate_rows

SAMPLES = {k: v for k, v in TOKENISED.items() if not k.startswith("prm800k")}
_IDS, _STEP_IDS, _START = pa.list_(pa.int32()), pa.list_(pa.list_(pa.int32())), "_prompt_start"


# the per-row Python `refit_table` was before (the reference)
def _ref_refit(table, dtype, *, max_length, truncation="keep_start"):
    dtype = get_type(dtype)
    report = TokenizeReport(rows=table.num_rows, max_length=max_length, truncation=truncation)
    ids = {c: table.column(c).to_pylist() for c in token_columns(dtype)}
    if dtype.name == "stepwise-supervision":
        new = {"prompt_ids": [], "completions_ids": []}
        for prompt, steps in zip(ids["prompt_ids"], ids["completions_ids"], strict=True):
            prompt, steps = fit_steps(prompt, steps, max_length, truncation, report)
            new["prompt_ids"].append(prompt)
            new["completions_ids"].append(steps)
            report.max_tokens = max(report.max_tokens, len(prompt) + sum(map(len, steps)))
    elif dtype.name == "prompt-completion":
        new = {"input_ids": [], "completion_mask": []}
        for x, m in zip(ids["input_ids"], ids["completion_mask"], strict=True):
            cut = truncate(x, max_length, truncation, report)
            new["input_ids"].append(cut)
            new["completion_mask"].append(
                m[: len(cut)] if truncation == "keep_start" else m[len(m) - len(cut) :]
            )
    elif "prompt_ids" in ids and len(ids) > 1:
        sides = [c for c in ids if c != "prompt_ids"]
        n = table.num_rows
        starts = {
            c: table.column(c.removesuffix("_ids") + _START).to_pylist()
            if c.removesuffix("_ids") + _START in table.column_names
            else [0] * n
            for c in sides
        }
        new = {"prompt_ids": [], **{c: [] for c in sides}}
        new.update({c.removesuffix("_ids") + _START: [] for c in sides if len(sides) > 1})
        for i, prompt in enumerate(ids["prompt_ids"]):
            row = _ref_row(prompt, [ids[c][i] for c in sides], [starts[c][i] for c in sides],
                           max_length, truncation, report)  # fmt: skip
            new["prompt_ids"].append(row.prompt)
            for c, tail, start in zip(sides, row.tails, row.starts, strict=True):
                new[c].append(tail)
                if len(sides) > 1:
                    new[c.removesuffix("_ids") + _START].append(start)
        if len(sides) > 1 and not any(any(v) for k, v in new.items() if k.endswith(_START)):
            for c in sides:
                new.pop(c.removesuffix("_ids") + _START)
    else:
        new = truncate_rows(ids, max_length, truncation, report)
    types = {
        k: pa.int32() if k.endswith(_START) else _STEP_IDS if k == "completions_ids" else _IDS
        for k in new
    }
    for name, values in new.items():
        arr = pa.array(values, types[name])
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, arr)
        else:
            table = table.append_column(name, arr)
    for name in table.column_names:
        if name.endswith(_START) and name not in new:
            table = table.drop_columns([name])
    if dtype.name != "stepwise-supervision":
        report.max_tokens = _ref_longest(new, types)
    return table, report


def _ref_row(prompt, tails, starts, max_length, mode, report):
    side = TokenizeReport()
    fitted = [
        fit(prompt[s:], [t], max_length, mode, side) for s, t in zip(starts, tails, strict=True)
    ]
    if side.truncated:
        report.truncated += 1
        report.prompt_cut += side.prompt_cut > 0
        report.completion_cut += side.completion_cut > 0
    kept = [f.prompt for f in fitted]
    longest = max(kept, key=len, default=prompt)
    return Fitted(longest, [f.tails[0] for f in fitted], [len(longest) - len(k) for k in kept])


def _ref_longest(new, types):
    prompt = new.get("prompt_ids")
    answers = [n for n in new if types[n] == _IDS and n != "prompt_ids"]
    if not answers:
        return max(map(len, prompt or []), default=0)
    longest = 0
    for name, ids in new.items():
        if types[name] != _IDS or name == "prompt_ids":
            continue
        if prompt is None:
            longest = max(longest, max(map(len, ids), default=0))
            continue
        starts = new.get(name.removesuffix("_ids") + _START) or [0] * len(ids)
        for p, start, answer in zip(prompt, starts, ids, strict=True):
            longest = max(longest, len(p) - start + len(answer))
    return longest


def _same(table: pa.Table, dtype: str, max_length: int | None, truncation: str, what=""):
    """refit_table's table and report are the reference's."""
    got, report = refit_table(table, dtype, max_length=max_length, truncation=truncation)
    want, ref = _ref_refit(table, dtype, max_length=max_length, truncation=truncation)
    assert got.schema == want.schema, what
    assert got.equals(want), what
    assert report.to_dict() == ref.to_dict(), what
    return report


@pytest.fixture(scope="module")
def tokenised() -> list[tuple[str, pa.Table]]:
    pytest.importorskip("transformers")
    return tokenised_samples(((None, "keep_start"), (200, "keep_end")), SAMPLES)


def _large(typ: pa.DataType) -> pa.DataType:
    if pa.types.is_list(typ):
        return pa.large_list(_large(typ.value_type))
    return pa.int64() if typ == pa.int32() else typ


def _variants(table: pa.Table) -> dict[str, pa.Table]:
    """The table whole, in uneven chunks (columns chunked apart), sliced, and with its id
    lists as large_list of int64."""
    n = table.num_rows
    chunked = pa.concat_tables([table.slice(0, n // 3), table.slice(n // 3, 1),
                                table.slice(n // 3 + 1)])  # fmt: skip
    apart = pa.table({
        name: pa.chunked_array([*col.slice(0, n // 2).chunks, *col.slice(n // 2).chunks],
                               col.type) if i % 2 else col
        for i, (name, col) in enumerate(zip(chunked.column_names, chunked.columns, strict=True))
    })  # fmt: skip
    large = pa.table({
        name: col.cast(_large(col.type))
        for name, col in zip(table.column_names, table.columns, strict=True)
    })  # fmt: skip
    return {"whole": table, "chunked": chunked, "apart": apart,
            "sliced": table.slice(1, max(n - 2, 0)), "large": large}  # fmt: skip


def test_refit_is_the_per_row_cut_on_real_tokenised_samples(tokenised):
    from trlprep.templates.tokenrecord import read_record

    seen, cut_some, parted = set(), False, False
    for name, table in tokenised:
        dtype = read_record(table.schema)["type"]
        assert given_id_columns(table, dtype), name
        seen.add(dtype)
        for how, t in _variants(table).items():
            for max_length in (None, 12, 40, 150):
                for truncation in ("keep_start", "keep_end"):
                    what = (name, how, max_length, truncation)
                    report = _same(t, dtype, max_length, truncation, what)
                    cut_some = cut_some or report.truncated > 0
        got, _ = refit_table(table, dtype, max_length=40, truncation="keep_end")
        parted = parted or "chosen_prompt_start" in got.column_names
    assert seen == {
        "preference", "unpaired-preference", "stepwise-supervision", "prompt-completion",
        "preference-implicit", "language-modeling",
    }  # fmt: skip
    assert cut_some and parted


_ids = st.lists(st.integers(0, 50), max_size=12)
_CUT = dict(max_length=st.one_of(st.none(), st.integers(1, 30)),
            truncation=st.sampled_from(["keep_start", "keep_end"]))  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(_ids, _ids, _ids, st.integers(-4, 14), st.integers(-4, 14)),
                     max_size=8), **_CUT)  # fmt: skip
def test_refit_pairs_is_the_per_row_cut_on_generated_ids(rows, max_length, truncation):
    prompt, chosen, rejected, c_start, r_start = ([r[i] for r in rows] for i in range(5))
    pair = pa.table({"prompt_ids": pa.array(prompt, _IDS), "chosen_ids": pa.array(chosen, _IDS),
                     "rejected_ids": pa.array(rejected, _IDS)})  # fmt: skip
    _same(pair, "preference", max_length, truncation)
    starts = pair.append_column("chosen_prompt_start", pa.array(c_start, pa.int32()))
    starts = starts.append_column("rejected_prompt_start", pa.array(r_start, pa.int32()))
    _same(starts, "preference", max_length, truncation)
    _same(
        pair.drop_columns(["rejected_ids"]).rename_columns(["prompt_ids", "completion_ids"]),
        "unpaired-preference",
        max_length,
        truncation,
    )
    _same(pair.select(["chosen_ids", "rejected_ids"]), "preference-implicit", max_length,
          truncation)  # fmt: skip
    _same(pair.select(["prompt_ids"]), "prompt-only", max_length, truncation)
    lm = pa.table({"input_ids": pair.column("chosen_ids")})
    _same(lm, "language-modeling", max_length, truncation)
    masks = [[i % 2 for i in range(len(x))] for x in chosen]
    pc_table = lm.append_column("completion_mask", pa.array(masks, _IDS))
    _same(pc_table, "prompt-completion", max_length, truncation)
    if len(rows) > 2:
        _same(pa.concat_tables([starts.slice(0, 2), starts.slice(2)]).slice(1), "preference",
              max_length, truncation)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(_ids, st.lists(_ids, max_size=5)), max_size=8), **_CUT)
def test_refit_steps_is_the_per_row_cut_on_generated_ids(rows, max_length, truncation):
    steps = pa.table({
        "prompt_ids": pa.array([p for p, _ in rows], _IDS),
        "completions_ids": pa.array([s for _, s in rows], _STEP_IDS),
    })  # fmt: skip
    _same(steps, "stepwise-supervision", max_length, truncation)
    if len(rows) > 2:
        _same(pa.concat_tables([steps.slice(0, 1), steps.slice(1)]).slice(1),
              "stepwise-supervision", max_length, truncation)  # fmt: skip


@pytest.mark.parametrize("truncation", ["keep_start", "keep_end"])
def test_nulls_count_as_empty_and_stay_null(truncation):
    pair = pa.table({
        "prompt_ids": pa.array([[1, 2, 3], None, [4, 5]], _IDS),
        "chosen_ids": pa.array([None, [6, 7, 8, 9], [1]], _IDS),
        "rejected_ids": pa.array([[1, 2, 3, 4], [5], None], _IDS),
    })  # fmt: skip
    got, report = refit_table(pair, "preference", max_length=3, truncation=truncation)
    assert got.column("prompt_ids").null_count == 1 and got.column("prompt_ids")[1].as_py() is None
    assert got.column("chosen_ids")[0].as_py() is None
    assert got.column("rejected_ids")[2].as_py() is None
    assert report.truncated == 2  # row 0's rejected side, row 1's chosen side
    steps = pa.table({
        "prompt_ids": pa.array([[1], None, [2, 3]], _IDS),
        "completions_ids": pa.array([[[5, 0], None, [6, 0]], [[7, 0]], None], _STEP_IDS),
    })  # fmt: skip
    got, report = refit_table(steps, "stepwise-supervision", max_length=4, truncation=truncation)
    assert got.column("prompt_ids")[1].as_py() is None
    assert got.column("completions_ids")[2].as_py() is None
    assert report.truncated == 1 and report.max_tokens <= 4
    assert refit_table(pair.slice(0, 0), "preference", max_length=3)[0].num_rows == 0
    empty, report = refit_table(steps.slice(0, 0), "stepwise-supervision", max_length=3)
    assert empty.schema.field("completions_ids").type == _STEP_IDS and report.max_tokens == 0
