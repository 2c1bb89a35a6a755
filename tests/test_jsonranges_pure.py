"""A JSON Lines file cut into byte ranges for `--engine ray` (`trlprep.ray.jsonranges`):
the ranges hold exactly the local reader's chunks and lines, with their file line numbers,
for any cut; the chunks' tables join as the local reader joins them. No Ray needed."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trlprep.errors import TrlprepError
from trlprep.io import jsonl
from trlprep.io.joining import concat_tables
from trlprep.io.sources import sniff
from trlprep.ray.jsonranges import (
    conform,
    cut_points,
    join_plan,
    line_breaks,
    span_chunks,
    spans,
)

BOM = b"\xef\xbb\xbf"


def _ranges(path: Path, cpus: int, range_bytes: int, chunk: int):
    cuts = cut_points(str(path), cpus, range_bytes, chunk)
    counts = [line_breaks(str(path), a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    return spans(cuts, counts, chunk)


LINE = st.one_of(
    st.just(b""),
    st.just(b"  "),
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
    st.integers(0, 300).map(lambda n: b'{"a": "' + b"x" * n + b'"}'),  # long lines
)


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(LINE, max_size=40),
    crlf=st.booleans(),
    bom=st.booleans(),
    final_newline=st.booleans(),
    chunk=st.integers(4, 120),  # a first read holds the BOM whole (the local reader's are 32 MB)
    range_bytes=st.integers(1, 400),
    cpus=st.integers(1, 6),
)
def test_ranges_hold_the_local_readers_chunks_and_lines(
    tmp_path_factory, lines, crlf, bom, final_newline, chunk, range_bytes, cpus
):
    """For any file and any cut (chunk size, range size, CPUs), the ranges' chunks are the
    local reader's chunks, in order, and each range starts on its file line."""
    data = (b"\r\n" if crlf else b"\n").join(lines) + (b"\n" if final_newline else b"")
    data = (BOM if bom else b"") + data
    path = tmp_path_factory.mktemp("r") / "d.jsonl"
    path.write_bytes(data)
    if sniff(str(path)) is not None:  # bytes that open like gzip/zstd/bz2: never cut
        assert cut_points(str(path), cpus, range_bytes, chunk) == [0, len(data)]
        return
    try:
        want = list(jsonl._line_chunks(str(path), chunk))
    except TrlprepError as e:  # UTF-16 text, say: the first range says so as locally
        with pytest.raises(type(e)):
            for s in _ranges(path, cpus, range_bytes, chunk):
                list(span_chunks(str(path), s))
        return
    got, starts = [], []
    for s in _ranges(path, cpus, range_bytes, chunk):
        starts.append((s.line, data[: s.start].count(b"\n") + 1))
        got += list(span_chunks(str(path), s))
    assert got == want
    assert all(line == want_line for line, want_line in starts)
    numbered = [(n, x) for s in _ranges(path, cpus, range_bytes, chunk) for n, x in _lines(s, path)]
    body = data[len(BOM) :] if bom else data
    assert numbered == list(enumerate(body.split(b"\n"), 1))[: len(numbered)]
    assert len(numbered) == body.count(b"\n") + (bool(body) and not body.endswith(b"\n"))


def _lines(span, path):
    """(file line, bytes) of every line in `span`'s chunks."""
    n = span.line
    for chunk in span_chunks(str(path), span):
        parts = chunk.split(b"\n")
        if chunk.endswith(b"\n"):
            parts = parts[:-1]
        for p in parts:
            yield n, p
            n += 1


def test_a_big_file_is_cut_at_least_once_per_cpu_and_a_compressed_one_never(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"".join(b'{"a": %d}\n' % i for i in range(400)))  # 4 KB
    cuts = cut_points(str(path), cpus=4, range_bytes=1 << 20, chunk_bytes=256)
    assert len(cuts) - 1 == 4  # one range per CPU, though one range would hold the file
    assert all(path.read_bytes()[c - 1 : c] == b"\n" for c in cuts[1:])
    assert len(cut_points(str(path), 2, 1000, 256)) - 1 == 5  # about 1000 bytes each
    zipped = tmp_path / "d.jsonl.gz"
    zipped.write_bytes(gzip.compress(path.read_bytes()))
    assert cut_points(str(zipped), 4, 1000, 256) == [0, zipped.stat().st_size]


@pytest.mark.parametrize(
    "pieces",
    [
        [{"x": [None, None]}, {"x": ["a", "b"]}],  # null in one piece, text in another
        [{"x": [1, 2]}, {"x": [1.5, None]}, {"y": ["only here", None]}],  # ints, floats
        [{"x": [1, 2]}, {"x": ["one", "two"]}],  # kinds Arrow cannot join: JSON text
        [
            {"m": [[{"role": "user", "content": "hi"}]]},
            {"m": [[{"role": "user", "content": [{"type": "text", "text": "hi"}]}]]},
        ],  # message content as a string in one piece, as parts in another
    ],
)
def test_chunks_conformed_by_the_plan_join_as_the_local_reader_joins_them(pieces):
    tables = [pa.table(p) for p in pieces]
    want = concat_tables(tables)
    plan = join_plan([t.schema for t in tables])
    assert plan is not None
    got = pa.concat_tables([conform(t, plan) for t in tables])
    assert got.schema == want.schema
    assert got.to_pylist() == want.to_pylist()


def test_a_range_reads_the_column_mapped_onto_tools_as_each_rows_own_schemas(tmp_path):
    """`--map tools=specs`: a range's `specs` is each row's own JSON text, as the
    local reader reads it (typed as one struct, row 0 would gain `description: null`)."""
    from trlprep.ray.sources import _read_span

    rows = [
        {"prompt": "p0", "specs": [{"name": "f", "parameters": {"type": "object"}}]},
        {"prompt": "p1", "specs": [{"description": "d", "name": "g"}]},
    ] * 4
    path = tmp_path / "f.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cuts = cut_points(str(path), 2, 150, 100)
    (span, *_) = spans(
        cuts, [line_breaks(str(path), a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)], 100
    )
    *tables, head = list(_read_span(str(path), None, span, False, "specs"))
    got = pa.concat_tables(tables)
    assert head[0] == got.num_rows >= 2
    assert [json.loads(x) for x in got["specs"].to_pylist()] == [
        r["specs"] for r in rows[: got.num_rows]
    ]
    *plain, _ = list(_read_span(str(path), None, span, False))
    assert pa.types.is_list(plain[0].schema.field("specs").type)  # what the map undoes
