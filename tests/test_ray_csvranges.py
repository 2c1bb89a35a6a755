"""`--engine ray` reads one CSV / TSV file in several Ray tasks, each its own range of
whole records (`trlprep.io.csvcuts`, `trlprep.io.csvranges`), and a compressed one as
ranges one task hands out while decompressing it, with the local engine's rows, column
types (decided once over the whole file), file lines, errors, outputs and rejects.
Ranges are shrunk (`RANGE_BYTES`) so a file of a few KB is cut into many tasks; Ray tests
run on the session's local Ray instance with 2 CPUs (`ray_support`)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest

from trlprep.io import csvcuts
from trlprep.io.csvcount import RangeCounter
from trlprep.io.csvlines import record_lines
from trlprep.io.csvranges import Seen, decide

REVIEW = Path(__file__).parent / "realdata" / "truthfulqa_multi_review" / "en.first40.csv"
BOM = b"\xef\xbb\xbf"


def _awkward(rows: int = 90, sep: str = ",") -> bytes:
    """A BOM, CRLF records, quoted values holding LF, CRLF, commas and doubled quotes,
    blank lines, a zip code column with leading zeros, a number column that turns to
    floats late, 0/1 that turns to true/false late (booleans), dates, a column empty
    until late then text, messages as JSON text, no line end after the last record."""
    names = ["prompt", "completion", "zip", "n", "flag", "day", "late", "messages"]
    out = [BOM + sep.join(names).encode() + b"\r\n"]
    for i in range(rows):
        p = f'"line one {i}\r\nline two, ""quoted""\nthree"' if i % 4 == 1 else f"question {i}"
        n = str(i) if i < rows - 8 else f"{i}.5"
        flag = str(i % 2) if i < rows // 2 else ("true" if i % 2 else "false")
        late = "" if i < rows - 5 else f"late {i}"
        msgs = f'"[{{""role"": ""user"", ""content"": ""hi {i}""}}]"'
        day = f"2024-01-{i % 28 + 1:02d}"
        row = sep.join([p, f"answer {i}", f"{i:05d}", n, flag, day, late, msgs])
        out.append(row.encode() + (b"\r\n" if i < rows - 1 else b""))
        if i % 9 == 2:
            out.append(b"\r\n")
    return b"".join(out)


# ------------------------------------------------------------------ cuts (no Ray)


def test_pieces_cut_at_record_starts_whatever_their_bounds(tmp_path):
    """Every way of cutting the file in 3 pieces (their bounds at every byte, quoted line
    breaks and CRLF included) gives ranges that start records, on the right lines."""
    data = _awkward(12)
    path = tmp_path / "a.csv"
    path.write_bytes(data)
    seen_cuts = set()
    for a in range(1, len(data) - 1, 7):
        b = (a + len(data)) // 2
        bounds = [0, a, b, len(data)]
        scans = [
            csvcuts.scan_piece(str(path), x, y, ",")
            for x, y in zip(bounds, bounds[1:], strict=False)
        ]
        ranges = csvcuts.chained(scans, len(data))
        assert ranges is not None and ranges[0].start == 0 and ranges[-1].end == len(data)
        for r, nxt in zip(ranges, ranges[1:], strict=False):
            assert r.end == nxt.start
            head = data[: nxt.start]  # after a line break outside quotes: a record starts
            assert head.count(b'"') % 2 == 0 and head[-1:] in (b"\n", b"\r")
            assert nxt.line == head.count(b"\n") + 1 + len(re.findall(rb"\r(?!\n)", head))
            seen_cuts.add(nxt.start)
    inside_quotes = [i for i, c in enumerate(data) if c == 10 and data[:i].count(b'"') % 2]
    assert inside_quotes and not seen_cuts & {i + 1 for i in inside_quotes}
    assert len(seen_cuts) > 10


def test_a_compressed_files_ranges_are_whole_records_on_their_lines():
    """Counted in order and cut as it goes (as a compressed file is, and the local engine
    reads every file): whole records, each record's line counted once, in its range."""
    data = _awkward(40)
    counter = RangeCounter(",", 300, keep=True)
    got = []
    for i in range(0, len(data), 97):  # fed in pieces that split CRLF and quotes
        got += list(counter.feed(data[i : i + 97]))
    got += list(counter.finish())
    assert counter.ok and len(got) > 5
    assert b"".join(c.data for c in got) == data
    assert counter.header == data[len(BOM) : data.index(b"\r\n") + 2]
    lines = record_lines([data])[0].tolist()
    assert [x for c in got for x in c.lines.tolist()] == lines
    for c in got:
        assert data[c.rng.start : c.rng.end] == c.data
        assert c.rng.line in lines or c.rng.start == 0
        assert record_lines([c.data])[1]  # the quotes of each range read on their own


@pytest.mark.parametrize("pieces", [2, 3, 7, 20])
def test_a_file_counted_in_order_is_cut_where_its_scanned_pieces_cut_it(tmp_path, pieces):
    """The local engine's cut (counted once, in order) is the cut of the file's pieces
    scanned apart (Ray's): the same ranges, so the same batches; each range's records'
    lines those of the file."""
    data = _awkward(60)
    path = tmp_path / "a.csv"
    path.write_bytes(data)
    bounds = csvcuts.piece_bounds(len(data), pieces)
    pairs = zip(bounds, bounds[1:], strict=False)
    scans = [csvcuts.scan_piece(str(path), x, y, ",") for x, y in pairs]
    want = csvcuts.chained(scans, len(data))
    counter = RangeCounter(",", 1 << 30, bounds=bounds[1:-1], size=len(data))
    got = []
    for i in range(0, len(data), 53):  # fed in pieces that split CRLF and quotes
        got += list(counter.feed(data[i : i + 53]))
    got += list(counter.finish())
    assert counter.ok and len(want) > 1
    assert [c.rng for c in got] == want
    assert [x for c in got for x in c.lines.tolist()] == record_lines([data])[0].tolist()


def test_quotes_that_are_no_csv_quoting_are_not_cut(tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes(b"a,b\n" + b'5",x\n' * 50)  # a quote closing a value it never opened
    scans = [csvcuts.scan_piece(str(path), x, y, ",") for x, y in ((0, 120), (120, 254))]
    assert csvcuts.chained(scans, 254) is None


def _seen(kinds, bits=(), texts=(), looks=None) -> Seen:
    names = [f"c{i}" for i in range(len(kinds))]
    looks = looks or ["no"] * len(kinds)
    return Seen(1, names, names, kinds, kinds, set(texts), set(bits), looks)


@pytest.mark.parametrize(
    ("first", "later", "bits", "want"),
    [
        (pa.int64(), pa.float64(), (), pa.float64()),
        (pa.int64(), pa.bool_(), (0,), pa.bool_()),  # "0"/"1" then "true": booleans
        (pa.int64(), pa.bool_(), (), pa.string()),  # "2" then "true": text
        (pa.int64(), pa.string(), (0,), pa.string()),
        (pa.null(), pa.int64(), (), pa.int64()),
        (pa.date32(), pa.null(), (), pa.string()),  # dates kept as written
        (pa.bool_(), pa.float64(), (), pa.string()),
    ],
)
def test_a_column_is_typed_once_as_arrow_types_the_file_read_whole(first, later, bits, want):
    plan = decide([_seen([first], bits), _seen([later])])
    assert plan.types == [want]


def test_integers_with_leading_zeros_in_one_range_are_text_in_all():
    plan = decide([_seen([pa.int64()]), _seen([pa.int64()], texts=(0,)), _seen([pa.null()])])
    assert plan.types == [pa.int64()] and plan.texts == {0}


def test_json_text_is_decoded_only_where_every_range_holds_it():
    s = pa.string()
    assert decide([_seen([s], looks=["json"]), _seen([s], looks=["none"])]).json == {0}
    assert decide([_seen([s], looks=["json"]), _seen([s], looks=["no"])]).json == set()
    # an untyped range read as text: empty throughout (JSON elsewhere), or "NA" (no JSON)
    assert decide([_seen([s], looks=["json"]), _seen([pa.null()], looks=["none"])]).json == {0}
    assert decide([_seen([s], looks=["json"]), _seen([pa.null()], looks=["no"])]).json == set()


def test_a_range_of_empty_json_values_takes_the_type_the_others_decode_to():
    from trlprep.io.csvjson import blank_ranges, json_plan

    msgs = pa.list_(pa.struct([("role", pa.string())]))
    s = pa.string()
    plan = decide([_seen([s], looks=["json"]), _seen([pa.null()], looks=["none"])])
    typed, blank = pa.field("c0", msgs), pa.field("c0", pa.null())
    final = json_plan(plan, [[typed], [blank], [typed]])
    assert final.decoded == ((0, msgs),) and blank_ranges(final, [[typed], [blank]]) == {1}
    assert json_plan(plan, [[typed], [typed]]) is plan  # nothing to type: settled once
    other = pa.field("c0", pa.list_(pa.struct([("content", pa.string())])))
    assert json_plan(plan, [[typed], [blank], [other]]) is None  # ranges disagree: whole


def test_a_range_casts_only_where_a_cast_gives_what_reading_gives():
    from trlprep.io.csvranges import Plan, change

    def how(have, final, nulls=0, converted=(), texts=()):
        seen = _seen([have], texts=converted)
        seen.nulls = [nulls]
        return change(seen, Plan([final], frozenset(texts), frozenset()), 0)

    assert how(pa.int64(), pa.float64(), nulls=3) == "cast"  # "" is null as a float too
    assert how(pa.int64(), pa.bool_()) == "cast"  # 0 / 1 read as booleans
    assert how(pa.int64(), pa.string()) == "cast"  # its text, given back
    assert how(pa.int64(), pa.string(), nulls=2) == "read"  # "" and "NA" are text there
    assert how(pa.int64(), pa.int64(), nulls=2, texts=(0,)) == "cast"  # null stays null
    assert how(pa.string(), pa.float64(), converted=(0,)) == "read"  # "-0", "007" as floats
    assert how(pa.string(), pa.string(), nulls=1, converted=(0,)) == "read"
    assert how(pa.string(), pa.int64(), nulls=1, converted=(0,), texts=(0,)) is None
    assert how(pa.null(), pa.string()) == "read"  # "NA" is text
    assert how(pa.null(), pa.int64(), texts=(0,)) == "cast"
    assert how(pa.bool_(), pa.string()) == "read"  # "True" as written
    assert how(pa.float64(), pa.float64()) is None


# ------------------------------------------------------------------ on Ray

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from ray_support import local_ray, run_outcome  # noqa: E402, F401  (the session's Ray)
from typer.testing import CliRunner  # noqa: E402

from trlprep.cli import app  # noqa: E402


@pytest.fixture
def small(monkeypatch):
    """Ranges of about 600 bytes."""
    monkeypatch.setattr(csvcuts, "RANGE_BYTES", 600)


def _count_ranges(monkeypatch) -> list[int]:
    """Filled, as files are read, with the ranges each CSV file was read in (0: whole)."""
    from trlprep.ray import csvread, sources

    ranged = []

    def counted(*args):
        done = csvread.finish_ranges(*args)
        ranged.append(0 if done is None else len(done.blocks))
        return done

    monkeypatch.setattr(sources, "finish_ranges", counted)
    return ranged


def _ray_read(path: Path, monkeypatch) -> tuple[pa.Table, int, int]:
    """(rows with LINE, blocks, ranges read) of `path` read by the Ray engine."""
    from trlprep.errors import ROW_ID
    from trlprep.ray import sources
    from trlprep.ray.base import _blocks

    ranged = _count_ranges(monkeypatch)
    ds, total, _ = sources.read_numbered(str(path))
    blocks = [ray.get(ref) for ref, _, _ in _blocks(ds)]
    table = pa.concat_tables(blocks)
    assert table[ROW_ID].to_pylist() == list(range(total))
    return table.drop_columns([ROW_ID]), len(blocks), sum(ranged)


@pytest.mark.parametrize("name", ["awkward.csv", "awkward.tsv", "awkward.csv.gz"])
def test_one_csv_file_is_read_in_ranges_with_the_local_rows_types_and_lines(
    tmp_path, monkeypatch, small, name
):
    from trlprep.io.readers import read
    from trlprep.ray.base import LINE

    data = _awkward(sep="\t" if ".tsv" in name else ",")
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    want = read(str(path))
    got, blocks, ranges = _ray_read(path, monkeypatch)
    assert ranges > 5 and blocks == ranges
    assert got.drop_columns([LINE]).schema == want.table.schema
    types = {f.name: str(f.type) for f in want.table.schema if f.name != "messages"}
    assert types == {
        **dict.fromkeys(["prompt", "completion", "zip", "day", "late"], "string"),
        "n": "double",
        "flag": "bool",
    }
    assert got.drop_columns([LINE]).to_pylist() == want.table.to_pylist()
    assert got[LINE].to_pylist() == want.lines.tolist()
    assert got["zip"][:2].to_pylist() == ["00000", "00001"]
    assert pa.types.is_list(want.table.schema.field("messages").type)  # JSON text decoded


@pytest.mark.parametrize("name", ["blank.csv", "blank.csv.gz"])
def test_a_range_of_empty_json_values_is_read_in_ranges_as_local(
    tmp_path, monkeypatch, small, name
):
    from trlprep.io.readers import read
    from trlprep.ray.base import LINE

    msg = b'"[{""role"": ""user"", ""content"": ""hi %d""}]",%d\n'
    rows = [msg % (i, i) if not 100 <= i < 250 else b",%d\n" % i for i in range(300)]
    data = b"messages,x\n" + b"".join(rows)
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    want = read(str(path))
    got, _, ranges = _ray_read(path, monkeypatch)
    assert ranges > 5  # not read whole
    assert got.drop_columns([LINE]).schema == want.table.schema
    assert got.drop_columns([LINE]).to_pylist() == want.table.to_pylist()
    assert got[LINE].to_pylist() == want.lines.tolist()
    assert pa.types.is_list(want.table.schema.field("messages").type)
    assert want.table["messages"][200].as_py() is None


def test_a_file_whose_quotes_are_no_csv_quoting_is_read_whole_as_local(
    tmp_path, monkeypatch, small
):
    from trlprep.io.readers import read
    from trlprep.ray.base import LINE

    path = tmp_path / "inches.csv"
    path.write_bytes(b"prompt,completion\n" + b"".join(b'a %d",b\n' % i for i in range(200)))
    want = read(str(path))
    got, _, ranges = _ray_read(path, monkeypatch)
    assert ranges == 0  # read whole, in one task
    assert got.drop_columns([LINE]).to_pylist() == want.table.to_pylist()
    assert got[LINE].to_pylist() == want.lines.tolist()


def _run(args: list[str], engine: str, out: Path) -> tuple[int, str, bytes, str | None]:
    """(exit code, messages, output bytes, rejects) of a convert run with `engine`."""
    argv = [*args, "--engine", engine, "-o", str(out), "--output-format", "jsonl"]
    res = CliRunner().invoke(app, [*argv, "--overwrite"])
    return run_outcome(res, out)


def test_cli_ray_rejects_a_late_record_by_its_line_as_local(tmp_path, monkeypatch):
    """The real TruthfulQA review (quoted values with CRLF, LF and blank lines inside) in
    about ten ranges: 29 rows refused, each named by the line its record starts on."""
    if not REVIEW.exists():
        pytest.skip(f"{REVIEW} is missing")
    args = ["convert", str(REVIEW), "--map", "prompt=question,completion=antes"]
    args += ["--on-error", "skip"]
    local = _run(args, "local", tmp_path / "local.jsonl")
    monkeypatch.setattr(csvcuts, "RANGE_BYTES", 3000)
    ranged = _count_ranges(monkeypatch)
    got = _run(args, "ray", tmp_path / "ray_out")
    assert ranged[0] > 5
    assert local[0] == 0 and local[3].count("\n") == 29
    assert got == local
    lines = [json.loads(x)["line"] for x in local[3].splitlines()]
    assert max(lines) > 250  # in the last ranges


def test_cli_ray_names_a_bad_record_in_a_late_range_as_local(tmp_path, monkeypatch, small):
    data = _awkward().replace(b"question 80,", b"question 80,extra,", 1)
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    args = ["convert", str(path), "--to", "prompt-completion"]
    local = _run(args, "local", tmp_path / "local.jsonl")
    ranged = _count_ranges(monkeypatch)
    got = _run(args, "ray", tmp_path / "ray_out")
    assert ranged == []  # the error raised from its range: not read whole again
    assert local[0] == got[0] == 1
    line = data[: data.index(b"question 80,")].count(b"\n") + 1
    assert f"bad.csv:{line}: expected 8 fields (as the header), got 9" in local[1]
    assert got[1] == local[1]


def test_cli_ray_reads_several_csv_files_in_ranges_as_local(tmp_path, monkeypatch, small):
    """Two files, each cut (their pieces scanned and first passes started together): rows,
    rejects (an empty completion, by file and line) and counts as the local engine's."""
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(2):
        rows = [b"prompt,completion,zip\r\n"]
        for i in range(70):
            answer = "" if i % 23 == 5 + k else f'"answer {i},\r\nmore"'
            rows.append(f'"q {k} {i}\nnext",{answer},{i:04d}\r\n'.encode())
        (folder / f"part{k}.csv").write_bytes(b"".join(rows))
    args = ["convert", str(folder / "*.csv"), "--map", "prompt=prompt,completion=completion"]
    args += ["--on-error", "skip"]
    local = _run(args, "local", tmp_path / "local.jsonl")
    ranged = _count_ranges(monkeypatch)
    got = _run(args, "ray", tmp_path / "ray_out")
    assert len(ranged) == 2 and min(ranged) > 3
    assert local[0] == 0 and local[3].count("\n") == 6
    assert got == local
    assert "part1.csv" in local[3] and '"zip":"0006"' in local[2].decode()


def test_a_quoted_crlf_keeps_its_line_feed_in_every_range(tmp_path, monkeypatch):
    """Arrow's CSV reader (pyarrow 26) drops the `\\n` of a quoted value's `\\r\\n` at some of
    its block bounds (1 MB apart): each range is read as one block, so none is lost."""
    from trlprep.io.readers import read
    from trlprep.ray.base import LINE

    path = tmp_path / "crlf.csv"
    path.write_bytes(b"a,b\n" + b"".join(b'"x%d\r\ny",%d\n' % (i, i) for i in range(150_000)))
    monkeypatch.setattr(csvcuts, "RANGE_BYTES", 1_400_000)  # 2 ranges of over 1 MB
    got, _, ranges = _ray_read(path, monkeypatch)
    assert ranges == 2
    values = got["a"].to_pylist()
    assert values == [f"x{i}\r\ny" for i in range(150_000)]
    want = read(str(path))  # the local engine reads its ranges as one block each too
    assert want.table["a"].to_pylist() == values
    assert got[LINE].to_pylist() == want.lines.tolist()


def test_cli_ray_names_a_cut_short_gzip_csv_as_local(tmp_path, monkeypatch, small):
    """The error met while one task decompresses the file, named as the user gave it."""
    data = b"prompt,completion\n" + b"".join(b'"q %d\r\nx",a %d\n' % (i, i) for i in range(900))
    whole = gzip.compress(data)
    (tmp_path / "cut.csv.gz").write_bytes(whole[: len(whole) * 2 // 3])
    monkeypatch.chdir(tmp_path)
    args = ["convert", "cut.csv.gz", "--to", "prompt-completion"]
    local = _run(args, "local", tmp_path / "local.jsonl")
    from trlprep.ray import csvread, sources

    started, ranged = [], _count_ranges(monkeypatch)
    monkeypatch.setattr(
        sources, "start_ranges", lambda *a: started.append(a) or csvread.start_ranges(*a)
    )
    got = _run(args, "ray", tmp_path / "ray_out")
    assert len(started) == 1 and started[0][0].compressed
    assert ranged == []  # raised from the decompressing task, not read whole
    assert local[0] == got[0] == 2
    assert "cut.csv.gz: cannot read: Truncated compressed stream" in local[1]
    assert got[1] == local[1]
