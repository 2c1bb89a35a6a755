"""`--from generations` / `--from ranked`: list columns with one entry per answer are split
with the answers (each row its own entry), others copied whole; the whole input decides,
however it is cut into chunks (`importers.alignedlists`)."""

from __future__ import annotations

import json
import warnings

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trlprep.importers import ImportOptions, get_importer, import_table
from trlprep.importers.run import import_batches
from trlprep.io.sources import Batch

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_answer = st.one_of(st.none(), st.just(""), st.sampled_from(["a", "b", "c d"]))
_row = st.lists(_answer, min_size=0, max_size=4)


def _imported(table: pa.Table, layout: str = "generations", cut: int = 0, **opts) -> pa.Table:
    """`table` imported whole, or in batches of `cut` rows (the whole input's survey)."""
    o = ImportOptions(**opts)
    if not cut:
        return import_table(table, layout, o, on_error="skip").table
    batches = [Batch(table.slice(i, cut), i) for i in range(0, table.num_rows, cut)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = [b.data for b in import_batches(batches, layout, o, on_error="skip")]
    return pa.concat_tables(got) if got else pa.table({})


@SETTINGS
@given(rows=st.lists(_row, min_size=1, max_size=8), cut=st.integers(0, 3))
def test_each_answer_row_gets_the_entry_at_its_answers_index(rows, cut):
    # `pred`: one entry per answer, naming the answer's row and index; one row has two
    rows = [*rows, ["x", "y"]]
    table = pa.table(
        {
            "prompt": [f"p{i}" for i in range(len(rows))],
            "completions": pa.array(rows, pa.list_(pa.string())),
            "pred": [[f"{i}:{k}" for k in range(len(r))] for i, r in enumerate(rows)],
        }
    )
    out = _imported(table, cut=cut)
    want = [(f"p{i}", a, f"{i}:{k}") for i, r in enumerate(rows) for k, a in enumerate(r) if a]
    assert out.num_rows == len(want)  # rows out = the answers holding text
    got = zip(*(out[c].to_pylist() for c in ("prompt", "completion", "pred")), strict=True)
    assert list(got) == want


def test_a_chunk_whose_lengths_agree_by_chance_is_read_as_the_whole_file():
    # rows 0-1: `tags` as long as the answers; row 2: not -> copied everywhere
    table = pa.table(
        {
            "prompt": ["a", "b", "c"],
            "completions": [["x", "y"], ["z", "w"], ["v", "u"]],
            "tags": [["t1", "t2"], ["t3", "t4"], ["only"]],
            "score": [[1, 0], [0, 1], [1, 1]],
        }
    )
    for cut in (0, 1, 2):
        out = _imported(table, cut=cut)
        assert out["tags"].to_pylist()[:2] == [["t1", "t2"]] * 2, cut
        assert out["score"].to_pylist() == [1, 0, 0, 1, 1, 1], cut


def test_lists_of_one_beside_one_answer_everywhere_are_copied_and_said():
    table = pa.table(
        {"prompt": ["a", "b"], "completions": [["x"], ["y"]], "score": [[True], [False]]}
    )
    res = import_table(table, "generations", ImportOptions())
    assert res.table["score"].to_pylist() == [[True], [False]]
    said = " ".join(res.notes)
    assert "list columns copied whole, one entry beside one answer of `completions`" in said
    assert "(nothing says it is per answer): score" in said


def test_a_null_list_beside_answers_gives_null_entries_and_decides_nothing():
    table = pa.table(
        {
            "prompt": ["a", "b", "c"],
            "completions": [["x", "y"], ["z"], None],
            "pred": [["1", "2"], None, ["9", "9", "9"]],  # row 2: no answers, not compared
        }
    )
    out = _imported(table)
    assert out["completion"].to_pylist() == ["x", "y", "z"]
    assert out["pred"].to_pylist() == ["1", "2", None]


def test_the_note_names_the_input_columns_and_the_split_ones(tmp_path):
    table = pa.table(
        {"question": ["a"], "code": [["x", "y"]], "pred": [["1", "2"]], "meta": [["m"]]}
    )
    opts = ImportOptions(map={"prompt": "question", "completions": "code"})
    res = import_table(table, "generations", opts)
    said = " ".join(res.notes)
    assert "split with the answers of `code`, each row given its own answer's entry: pred" in said
    assert "copied whole onto every row made from theirs, not as long as the answers of `code`" in (
        said
    )
    assert res.table["meta"].to_pylist() == [["m"], ["m"]]


def test_ranked_threshold_rows_and_pairs_get_their_completions_entries():
    table = pa.table(
        {
            "prompt": ["a", "b"],
            "completions": [["x", "y", "z"], ["u", "v"]],
            "scores": [[1.0, 0.0, 2.0], [1.0, 0.5]],
            "pred": [["px", "py", "pz"], ["pu", "pv"]],
        }
    )
    out = _imported(table, "ranked", cut=1, threshold=1.0)
    assert out["completion"].to_pylist() == ["x", "y", "z", "u", "v"]
    assert out["pred"].to_pylist() == ["px", "py", "pz", "pu", "pv"]
    out = _imported(table, "ranked", pairing="all-pairs")
    pairs = zip(out["chosen"].to_pylist(), out["rejected"].to_pylist(), strict=True)
    assert [f"p{c}" for c, _ in pairs] == out["chosen_pred"].to_pylist()
    assert [f"p{r}" for r in out["rejected"].to_pylist()] == out["rejected_pred"].to_pylist()
    assert "pred" not in out.column_names
    assert out.column_names.index("chosen_pred") + 1 == out.column_names.index("rejected_pred")


def test_ray_surveys_the_blocks_as_the_local_engine_does():
    # Ray surveys every block where the importer's survey of an empty table is not None
    for layout in ("generations", "ranked"):
        empty = pa.table({"prompt": pa.array([], pa.string())})
        assert get_importer(layout).survey(empty, ImportOptions()) == set()


def test_chunked_cli_run_splits_as_the_whole_file(tmp_path, monkeypatch):
    from realdata.support import rows_of, run

    from trlprep.io import jsonl

    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 60)  # a chunk of one or two lines

    src = tmp_path / "g.jsonl"
    lines = [
        {
            "prompt": f"p{i}",
            "completions": ["a", "b"][: 1 + (i == 5)],
            "pred": [str(i)] * (1 + (i == 5)),
        }
        for i in range(6)
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in lines))
    out = tmp_path / "o.jsonl"
    res = run("convert", src, "--from", "generations", "-o", out)
    assert res.exit_code == 0, res.output
    assert [r["pred"] for r in rows_of(out)] == ["0", "1", "2", "3", "4", "5", "5"]
