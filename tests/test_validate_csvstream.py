"""`validate` streams CSV / TSV and plain text in ranges (`STREAMED`), and parses a text input
once: detection's batches are kept and given back to the checks (`AgreeingBatches.again`).
Reports equal those of the file read whole, whatever the ranges (`csvcuts.RANGE_BYTES`
shrunk so a file of a few KB is cut into many)."""

from __future__ import annotations

import gzip
import importlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trlprep.io import csvcuts, jsonl, readers
from trlprep.io.agreeing import agreeing_batches

V = importlib.import_module("trlprep.validation.validate")  # the module, not the API
WHOLE = ("jsonl", "parquet")  # what was streamed before CSV and text were


def _csv(n: int = 240, sep: bytes = b",") -> bytes:
    """Conversations as JSON text: empty replies, an unknown role, repeated rows, a quoted
    line break, so the report has issues spread over the file."""
    out = [b"messages%sscore\n" % sep]
    for i in range(n):
        if i % 29 == 5:
            msgs = [{"role": "bot", "content": "x"}]
        else:
            reply = "" if i % 17 == 3 else f"line\nbreak {i % 60}"
            user = {"role": "user", "content": f"hi {i % 60}"}
            msgs = [user, {"role": "assistant", "content": reply}]
        text = json.dumps(msgs).replace('"', '""').encode()
        out.append(b'"%s"%s%d\n' % (text, sep, i % 7))
    return b"".join(out)


def _report(path, whole: bool, **kw) -> str:
    saved = V.STREAMED
    V.STREAMED = WHOLE if whole else saved
    try:
        return V.validate_path(str(path), **kw).to_json()
    finally:
        V.STREAMED = saved


@pytest.fixture
def no_whole_read(monkeypatch):
    """The streamed reports' reads: a whole read (`read`) fails the test."""
    real = V.read
    state = {"on": False}

    def read(*a, **k):
        assert not state["on"], "read whole"
        return real(*a, **k)

    monkeypatch.setattr(V, "read", read)
    return state


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(range_bytes=st.integers(200, 40_000), gz=st.booleans(), coerce=st.booleans())
def test_csv_in_ranges_reports_what_the_whole_read_reports(
    tmp_path_factory, monkeypatch, no_whole_read, range_bytes, gz, coerce
):
    data = _csv()
    path = tmp_path_factory.mktemp("csv") / ("d.csv" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    monkeypatch.setattr(csvcuts, "RANGE_BYTES", range_bytes)
    want = _report(path, whole=True, coerce=coerce)
    no_whole_read["on"] = True
    got = _report(path, whole=False, coerce=coerce)
    no_whole_read["on"] = False
    assert got == want
    r = json.loads(got)
    assert {i["rule"] for i in r["issues"]} >= {"unknown-role", "empty-string", "duplicate-row"}


@pytest.mark.parametrize("kw", [{}, {"type": "language-modeling", "format": "conversational"}])
def test_tsv_and_text_stream_as_read_whole(tmp_path, monkeypatch, no_whole_read, kw):
    monkeypatch.setattr(csvcuts, "RANGE_BYTES", 300)
    tsv = tmp_path / "d.tsv"
    tsv.write_bytes(_csv(sep=b"\t"))
    txt = tmp_path / "d.txt"
    txt.write_text("".join(f"line {i % 40}\n" + ("\n" if i % 9 == 0 else "") for i in range(200)))
    for path, args in ((tsv, kw), (txt, {})):
        want = _report(path, whole=True, **args)
        no_whole_read["on"] = True
        assert _report(path, whole=False, **args) == want
        no_whole_read["on"] = False
    assert json.loads(_report(txt, whole=False))["num_rows"] == 200


def _count_reads(monkeypatch) -> list[str]:
    """The inputs `iter_batches` read, one entry per read."""
    reads: list[str] = []
    real = readers.iter_batches

    def counted(path, **k):
        reads.append(str(path))
        return real(path, **k)

    monkeypatch.setattr(readers, "iter_batches", counted)
    return reads


@pytest.mark.parametrize("skip", [False, True])
def test_jsonl_is_parsed_once_and_reports_as_read_twice(tmp_path, monkeypatch, skip):
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 300)
    rows = [{"prompt": f"p{i % 50}", "completion": f"c{i % 50}"} for i in range(200)]
    rows[120]["completion"] = 7  # a number among text, in a later chunk
    lines = [json.dumps(r) for r in rows]
    lines[60] = "{not json"
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(lines) + "\n")
    bad = "skip" if skip else "error"
    reads = _count_reads(monkeypatch)
    got = V.validate_path(str(path), on_bad_lines=bad).to_json()
    assert reads == [str(path)]  # detection's batches given back, not read again
    # the same checks on a fresh read, the type given (no detection pass)
    given = V.validate_path(
        str(path), on_bad_lines=bad, type="prompt-completion", format="standard"
    ).to_json()
    report = json.loads(got)
    assert report["issues"] == json.loads(given)["issues"]
    assert report["num_rows"] == (199 if skip else 60)
    assert report["issues"][0]["rule"] == "invalid-line"
    assert report["issues"][0]["lines"] == [61]


def test_csv_is_ranged_twice_not_four_times(tmp_path, monkeypatch):
    """Detection and the checks share one read of the ranges (each range read by the first
    pass, which types the columns, and the second, which hands the rows out)."""
    monkeypatch.setattr(csvcuts, "RANGE_BYTES", 300)
    path = tmp_path / "d.csv"
    path.write_bytes(_csv())
    reads = _count_reads(monkeypatch)
    assert json.loads(V.validate_path(str(path)).to_json())["num_rows"] == 240
    assert reads == [str(path)]


@pytest.mark.parametrize("chunk", [300, 1 << 20])  # several batches whose kinds differ; one
def test_again_gives_the_batches_once_more(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", chunk)
    rows = [{"a": i if i < 50 else f"s{i}", "b": [i]} for i in range(80)]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    kept = agreeing_batches(path, replayable=True)
    with pytest.raises(RuntimeError):
        next(iter(kept.again()))  # nothing kept yet
    first = [(b.offset, b.lines.tolist(), b.data.to_pylist()) for b in kept]
    second = [(b.offset, b.lines.tolist(), b.data.to_pylist()) for b in kept.again()]
    assert second == first
    assert sum(len(b[1]) for b in first) == 80
    with pytest.raises(RuntimeError):
        next(iter(kept.again()))  # given once more only


@pytest.mark.parametrize(
    "name,data",
    [("header.csv", b"prompt,completion\n"), ("tabs.tsv", b"a\tb\r\n"), ("blank.txt", b"\n\n")],
)
def test_a_file_without_rows_reports_its_columns_as_read_whole(tmp_path, name, data):
    """No batch comes of it, so its columns are read whole: the report names them (a CSV
    header) or detects from them (a text file's `text`) as before."""
    path = tmp_path / name
    path.write_bytes(data)
    got = _report(path, whole=False)
    assert got == _report(path, whole=True)
    report = json.loads(got)
    assert report["issues"][0]["rule"] == "empty-dataset"
    assert report["notes"] or report["type"] == "language-modeling"
