"""A read column's kind is decided over the whole input (every file of a folder, every
chunk of a JSON Lines file): rows of the minority kind are refused wherever they lie, as
they are when the files are concatenated into one (`trlprep.io.agreeing`)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trlprep
from tests.realdata.support import counts, rows_of, run, sample
from trlprep.io import jsonl


def _std(i: int) -> dict:
    return {"prompt": f"p{i}", "completion": f"c{i}"}


def _num(i: int) -> dict:
    return {"prompt": f"p{i}", "completion": i}


def _conv(i: int) -> dict:
    return {
        "prompt": [{"role": "user", "content": f"q{i}"}],
        "completion": [{"role": "assistant", "content": f"a{i}"}],
    }


def _inputs(tmp_path: Path, files: list[list[dict]]) -> tuple[Path, Path]:
    """(a folder holding one file per part, the parts concatenated into one file)."""
    folder = tmp_path / "in"
    folder.mkdir()
    lines = []
    for k, rows in enumerate(files):
        text = "".join(json.dumps(r) + "\n" for r in rows)
        (folder / f"{k:02d}.jsonl").write_text(text)
        lines.append(text)
    joined = tmp_path / "joined.jsonl"
    joined.write_text("".join(lines))
    return folder, joined


def _convert(src: Path, out: Path, *flags: str):
    return run("convert", src, "--to", "language-modeling", "-o", out, "--on-error", "skip", *flags)


def _rejects(out: Path) -> list[tuple]:
    """(input row, stage, reason, record) of each rejected row (lines are per file)."""
    path = out.with_name(out.stem + ".rejects.jsonl")
    if not path.exists():
        return []
    return [(r["row"], r["stage"], r["reason"], r["record"]) for r in rows_of(path)]


def test_minority_in_a_later_file_is_refused_by_file_and_line(tmp_path):
    folder, joined = _inputs(tmp_path, [[_std(i) for i in range(5)], [_num(i) for i in range(3)]])
    res = _convert(folder, tmp_path / "o.jsonl")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (8, 3, 5, 5)
    assert rows_of(tmp_path / "o.jsonl") == [{"text": f"p{i}c{i}"} for i in range(5)]
    rejects = rows_of(tmp_path / "o.rejects.jsonl")
    assert [(r["file"], r["line"], r["stage"]) for r in rejects] == [
        (str(folder / "01.jsonl"), n, "read") for n in (1, 2, 3)
    ]
    assert rejects[0]["reason"] == (
        "column 'completion' holds a number (0) where the other rows hold strings "
        "(rule mixed-kind); pass --coerce to read numbers as text"
    )
    assert _convert(joined, tmp_path / "j.jsonl").exit_code == 0
    assert rows_of(tmp_path / "j.jsonl") == rows_of(tmp_path / "o.jsonl")
    assert _rejects(tmp_path / "j.jsonl") == _rejects(tmp_path / "o.jsonl")


def test_coerce_reads_a_later_files_numbers_as_text(tmp_path):
    folder, _ = _inputs(tmp_path, [[_std(i) for i in range(5)], [_num(i) for i in range(5, 8)]])
    res = _convert(folder, tmp_path / "o.jsonl", "--coerce")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (8, 0, 8, 8)
    assert rows_of(tmp_path / "o.jsonl")[5:] == [{"text": "p55"}, {"text": "p66"}, {"text": "p77"}]
    assert "3 values of another kind (numbers, booleans) read as text" in res.output


def test_majority_in_the_later_file_refuses_the_first_files_rows(tmp_path):
    folder, joined = _inputs(tmp_path, [[_std(i) for i in range(2)], [_conv(i) for i in range(4)]])
    res = _convert(folder, tmp_path / "o.jsonl")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (6, 2, 4, 4)
    assert [r["messages"][0]["content"] for r in rows_of(tmp_path / "o.jsonl")] == [
        "q0",
        "q1",
        "q2",
        "q3",
    ]
    rejects = rows_of(tmp_path / "o.rejects.jsonl")
    assert [(r["file"], r["line"]) for r in rejects] == [
        (str(folder / "00.jsonl"), n) for n in (1, 2)
    ]
    assert 'holds a string ("p0") where the other rows hold lists' in rejects[0]["reason"]
    assert _convert(joined, tmp_path / "j.jsonl").exit_code == 0
    assert _rejects(tmp_path / "j.jsonl") == _rejects(tmp_path / "o.jsonl")


def test_chunks_of_one_file_are_settled_by_the_whole_files_majority(tmp_path, monkeypatch):
    """The first chunk holds mostly text, the file mostly messages: the text rows go, also
    those of the first chunk, whose own count would have kept them."""
    rows = [_std(0), _std(1), _std(2), _conv(3)] + [_conv(i) for i in range(4, 8)]
    src = tmp_path / "one.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    whole = _convert(src, tmp_path / "w.jsonl")
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 4 * len(json.dumps(_conv(9))))  # several chunks
    chunked = _convert(src, tmp_path / "c.jsonl")
    assert whole.exit_code == chunked.exit_code == 0, chunked.output
    assert counts(chunked.output) == (8, 3, 5, 5)
    assert rows_of(tmp_path / "c.jsonl") == rows_of(tmp_path / "w.jsonl")
    assert [r[0] for r in _rejects(tmp_path / "c.jsonl")] == [0, 1, 2]


def test_extras_of_kinds_differing_between_files_are_kept_as_written(tmp_path):
    a = [{**_std(i), "meta": "x"} for i in range(2)]
    b = [{**_std(i), "meta": {"k": i}} for i in range(2, 5)]
    folder, joined = _inputs(tmp_path, [a, b])
    res = _convert(folder, tmp_path / "o.jsonl")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (5, 0, 5, 5)
    assert [r["meta"] for r in rows_of(tmp_path / "o.jsonl")] == ["x", "x"] + [
        {"k": i} for i in range(2, 5)
    ]
    said = []  # a Parquet output holds JSON text: the warning says the kinds, most rows' first
    for src in (folder, joined):
        res = _convert(src, tmp_path / "o.parquet", "--overwrite")
        said.append([line for line in res.output.splitlines() if "'meta'" in line])
    assert said[0] == said[1] and "holds objects and strings" in said[0][0], said


def test_validate_and_detect_of_a_folder_say_what_its_concatenation_says(tmp_path):
    folder, joined = _inputs(tmp_path, [[_std(i) for i in range(5)], [_num(i) for i in range(3)]])
    res = run("validate", folder)
    said = " ".join(res.output.split())
    assert res.exit_code == 1 and "mixed-kind (completion): 3 rows" in said, res.output
    assert "01.jsonl:1" in said and "wrong-type" not in said
    assert run("validate", folder, "--coerce").exit_code == 0
    for src in (folder, joined):
        (problem,) = trlprep.detect(src).problems
        assert problem.message == "column 'completion': 3 rows hold number"


def test_the_api_names_a_later_files_rows(tmp_path):
    folder, _ = _inputs(tmp_path, [[_std(i) for i in range(5)], [_num(i) for i in range(3)]])
    with pytest.warns(Warning, match=r"01\.jsonl:1, .*01\.jsonl:2"):
        out = trlprep.convert(folder, to="language-modeling", on_error="skip")
    assert out.column("text").to_pylist() == [f"p{i}c{i}" for i in range(5)]
    with pytest.raises(trlprep.DataError, match=r"01\.jsonl:1: read: column 'completion'"):
        trlprep.convert(folder, to="language-modeling")


_ROW = st.sampled_from([_std, _conv, _num])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=st.lists(st.lists(_ROW, min_size=1, max_size=5), min_size=1, max_size=4),
    chunk=st.integers(60, 400),
)
def test_a_folder_converts_as_its_concatenation(tmp_path_factory, files, chunk):
    """Whatever kinds the files hold: every row is out or rejected, and the folder (and
    the concatenation read in chunks of `chunk` bytes) gives the rows and rejects its
    files concatenated give."""
    tmp = tmp_path_factory.mktemp("prop")
    parts = [[make(i) for i, make in enumerate(f)] for f in files]
    folder, joined = _inputs(tmp, parts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = _convert(folder, tmp / "o.jsonl")
        b = _convert(joined, tmp / "j.jsonl")
        was, jsonl.CHUNK_BYTES = jsonl.CHUNK_BYTES, chunk
        try:
            c = _convert(joined, tmp / "c.jsonl")
        finally:
            jsonl.CHUNK_BYTES = was
    assert a.exit_code == b.exit_code == c.exit_code, (a.output, b.output, c.output)
    if a.exit_code != 0:
        return
    assert rows_of(tmp / "c.jsonl") == rows_of(tmp / "j.jsonl")
    assert _rejects(tmp / "c.jsonl") == _rejects(tmp / "j.jsonl")
    n_in, rejected, _, n_out = counts(a.output)
    assert n_in == sum(map(len, parts)) == n_out + rejected
    assert rows_of(tmp / "o.jsonl") == rows_of(tmp / "j.jsonl")
    assert _rejects(tmp / "o.jsonl") == _rejects(tmp / "j.jsonl")
    assert len(_rejects(tmp / "o.jsonl")) == rejected


def test_gsm8k_split_into_files_whose_second_holds_numeric_answers(tmp_path):
    """Real data through an import (`--map`): the second file's answers are the final
    numbers only, so its every row is refused as the minority (none reaches the import,
    which would find no text answers there) or, with --coerce, read as text."""
    rows = [json.loads(line) for line in sample("gsm8k").read_text().splitlines()]
    numeric = [{**r, "answer": int(r["answer"].split("####")[-1].replace(",", ""))} for r in rows]
    folder, joined = _inputs(tmp_path, [rows[:180], numeric[180:]])
    args = ["--map", "prompt=question,completion=answer", "-o"]
    res = run("convert", folder, *args, tmp_path / "o.jsonl", "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (200, 20, 180, 180)
    rejects = rows_of(tmp_path / "o.rejects.jsonl")
    assert {r["file"] for r in rejects} == {str(folder / "01.jsonl")}
    assert [r["line"] for r in rejects] == list(range(1, 21))
    assert run("convert", joined, *args, tmp_path / "j.jsonl", "--on-error", "skip").exit_code == 0
    assert rows_of(tmp_path / "o.jsonl") == rows_of(tmp_path / "j.jsonl")
    assert _rejects(tmp_path / "o.jsonl") == _rejects(tmp_path / "j.jsonl")
    checked = run("validate", folder, *args[:2])
    said = " ".join(checked.output.split())
    assert checked.exit_code == 1 and "01.jsonl:1" in said and "holds a number (20)" in said
    reported = run("report", folder, *args[:2])
    assert reported.exit_code == 0, reported.output
    assert "200 rows, 20 not reportable" in reported.output
    res = run("convert", folder, *args, tmp_path / "c.jsonl", "--coerce")
    assert res.exit_code == 0, res.output
    assert rows_of(tmp_path / "c.jsonl")[180]["completion"] == str(numeric[180]["answer"])


def test_parquet_shards_typing_a_column_apart_are_settled_as_jsonl_files_are(tmp_path):
    """Text answers in one Parquet file, numbers in another: no longer a stop ('int64 in
    shard b but string in shard a') but the minority rows refused, streamed and in memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "pq"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist([_std(i) for i in range(5)]), folder / "a.parquet")
    pq.write_table(pa.Table.from_pylist([_num(i) for i in range(3)]), folder / "b.parquet")
    res = _convert(folder, tmp_path / "o.jsonl")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (8, 3, 5, 5)
    rejects = rows_of(tmp_path / "o.rejects.jsonl")
    assert [(r["file"], r["row"], r["stage"]) for r in rejects] == [
        (str(folder / "b.parquet"), n, "read") for n in (5, 6, 7)
    ]
    with pytest.warns(Warning, match=r"b\.parquet row 0"):
        out = trlprep.convert(folder, to="language-modeling", on_error="skip")
    assert out.column("text").to_pylist() == [r["text"] for r in rows_of(tmp_path / "o.jsonl")]


def test_batches_kept_in_a_scratch_file_convert_as_those_kept_in_memory(tmp_path, monkeypatch):
    from trlprep.io import keptbatches

    a = [_std(i) for i in range(5)]
    b = [_num(i) for i in range(3)] + [{"prompt": "m", "completion": [1, "x"]}, _std(9)]
    folder, _ = _inputs(tmp_path, [a, b])
    assert _convert(folder, tmp_path / "m.jsonl").exit_code == 0
    monkeypatch.setattr(keptbatches, "MEMORY_BUDGET", 0)  # every batch to the scratch file
    res = _convert(folder, tmp_path / "s.jsonl")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (10, 4, 6, 6)
    assert rows_of(tmp_path / "s.jsonl") == rows_of(tmp_path / "m.jsonl")
    assert rows_of(tmp_path / "s.rejects.jsonl") == rows_of(tmp_path / "m.rejects.jsonl")


def test_conversational_wraps_text_when_the_first_file_holds_only_the_minority(tmp_path):
    """`--conversational` looks at the first rows to choose how to make messages; a first
    file whose `completion` is all numbers (refused) must not read as messages already."""
    folder, _ = _inputs(tmp_path, [[_num(0), _num(1)], [_std(i) for i in range(2, 7)]])
    out = tmp_path / "out.jsonl"
    args = ["--to", "prompt-completion", "--conversational", "-o", out, "--on-error", "skip"]
    r = run("convert", folder, *args)
    assert r.exit_code == 0, r.output
    assert "conversational already" not in r.output
    rows = rows_of(out)
    assert rows[0] == {
        "prompt": [{"role": "user", "content": "p2"}],
        "completion": [{"role": "assistant", "content": "c2"}],
    }
    assert len(rows) == 5 and len(_rejects(out)) == 2
