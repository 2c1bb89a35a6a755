"""The local engine reads CSV / TSV in ranges of whole records (`trlprep.io.csvlocal`), each
parsed as one Arrow block, with the column types decided once over the whole file: the
rows, types and lines of the file read at once, a quoted value's CRLF kept whole, a range
at a time (bounded memory), a compressed file streamed. Ranges are shrunk (`RANGE_BYTES`)
so a file of a few KB is cut into many."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

from trlprep.errors import InputError
from trlprep.io import csvcuts, csvlocal, wholeformats
from trlprep.io.readers import iter_batches, read

WHOLE = wholeformats._read_csv_whole  # the file read at once, as one Arrow block
BOM = b"\xef\xbb\xbf"


def _rows(make, n: int = 200) -> bytes:
    return b"".join(make(i) for i in range(n))


MSG = b'"[{""role"": ""user"", ""content"": ""hi %d""}]",%d\n'
# each holds what a range read alone would type otherwise than the file read whole
CASES = {
    "late_float.csv": b"a,b\n" + _rows(lambda i: b"%d,%s\n" % (i, b"1.5" if i == 190 else b"2")),
    "late_text.csv": b"a,b\n" + _rows(lambda i: b"%d,%s\n" % (i, b"abc" if i == 190 else b"7")),
    "late_zeros.csv": b"id,b\n" + _rows(lambda i: b"%s,x\n" % (b"007" if i == 180 else b"%d" % i)),
    "zeros_and_empty.csv": b"id,b\n"
    + _rows(lambda i: b"%s,x\n" % (b"007" if i == 180 else b"" if i % 10 == 3 else b"%d" % i)),
    "bits_then_bools.csv": b"f,b\n"
    + _rows(lambda i: b"%s,x\n" % (b"%d" % (i % 2) if i < 100 else b"true" if i % 2 else b"false")),
    "ints_then_bools.csv": b"f,b\n"
    + _rows(lambda i: b"%s,x\n" % (b"%d" % (i % 3) if i < 100 else b"true" if i % 2 else b"false")),
    "dates.csv": b"d,t\n"
    + _rows(lambda i: b"2024-01-%02d,2024-01-01 10:00:%02d\n" % (i % 28 + 1, i % 60)),
    "json_blanks.csv": b"messages,x\n" + _rows(lambda i: MSG % (i, i) if i % 3 else b",%d\n" % i),
    # ranges whose JSON column is empty throughout: nulls of the others' type, no whole read
    "json_blank_range.csv": b"messages,x\n"
    + _rows(lambda i: MSG % (i, i) if not 50 <= i < 150 else b",%d\n" % i),
    "json_spaces_range.csv": b"messages,x\n"
    + _rows(lambda i: MSG % (i, i) if not 50 <= i < 150 else b'" ",%d\n' % i),
    "json_na_range.csv": b"messages,x\n"  # "NA" is no JSON: the column stays text
    + _rows(lambda i: MSG % (i, i) if not 50 <= i < 150 else b"NA,%d\n" % i),
    "json_bad_late.csv": b"messages,x\n"
    + _rows(lambda i: MSG % (i, i) if i != 150 else b'"[oops",%d\n' % i),
    "empty_then_text.csv": b"a,b\n" + _rows(lambda i: b"%d,%s\n" % (i, b"x" if i > 190 else b"")),
    "na_then_text.csv": b"a,b\n" + _rows(lambda i: b"%s,x\n" % (b"NA" if i < 150 else b"s%d" % i)),
    "empty_then_zeros.csv": b"a,b\n"
    + _rows(lambda i: b"%s,x\n" % (b"" if i < 150 else b"0%d" % i)),
    "zeros_na_quoted.csv": b"id,b\n"
    + _rows(
        lambda i: (
            b"%s,x\n"
            % (b"007" if i == 180 else b"NA" if i % 7 == 2 else b'""' if i % 11 == 4 else b"%d" % i)
        )
    ),
    "big_then_float.csv": b"a,b\n"
    + _rows(lambda i: b"%s,x\n" % (b"1.5" if i == 190 else b"900719925474099%d" % (i % 10))),
    "minus_zero.csv": b"a,b\n" + _rows(lambda i: b"%s,x\n" % (b"-0" if i == 120 else b"%d" % i)),
    "pandas_index.csv": b",prompt\n" + _rows(lambda i: b"%d,q%d\n" % (i, i)),
    "blank_lines.csv": b"a,b\n" + _rows(lambda i: b"%d,x\n\n" % i),
    "bom_crlf.csv": BOM + b"a,b\r\n" + _rows(lambda i: b'"x\r\n%d",%d\r\n\r\n' % (i, i)),
    "lone_cr.csv": b"a,b\r" + _rows(lambda i: b'"x\r%d",%d\r' % (i, i)),
    "no_last_line_end.csv": b"a,b\n" + _rows(lambda i: b"%d,x\n" % i)[:-1],
    "tabs.tsv": b"a\tb\n" + _rows(lambda i: b'"q\t%d"\t%s\n' % (i, b"1.5" if i == 190 else b"2")),
}


@pytest.fixture
def small(monkeypatch):
    """Ranges of about 300 bytes; the whole read (`_read_csv_whole`) counted."""
    monkeypatch.setattr(csvcuts, "RANGE_BYTES", 300)
    whole = []
    monkeypatch.setattr(wholeformats, "_read_csv_whole", lambda p: whole.append(p) or WHOLE(p))
    return whole


def _same(got, want) -> None:
    assert got.table.schema == want.table.schema
    assert got.table.to_pylist() == want.table.to_pylist()
    assert got.lines.tolist() == want.lines.tolist()


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("gz", [False, True])
def test_ranges_read_as_the_file_read_at_once(tmp_path, small, name, gz):
    data = CASES[name]
    path = tmp_path / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    got = read(str(path))
    assert small == []  # read in ranges, not whole
    _same(got, WHOLE(str(path)))
    batches = list(iter_batches(str(path), batch_rows=7))
    assert sum(b.data.num_rows for b in batches) == got.table.num_rows
    sizes = [b.data.num_rows for b in batches]
    assert max(sizes) <= 7 and [b.offset for b in batches] == [
        sum(sizes[:k]) for k in range(len(sizes))
    ]
    lines = [x for b in batches for x in b.lines.tolist()]
    assert lines == got.lines.tolist()


def test_leading_zeros_json_and_late_types_kept_across_ranges(tmp_path, small):
    path = tmp_path / "mixed.csv"
    path.write_bytes(CASES["zeros_and_empty.csv"])
    ids = read(str(path)).table["id"].to_pylist()
    assert ids[180] == "007" and ids[3] is None and ids[4] == "4"
    path.write_bytes(CASES["json_blanks.csv"])
    messages = read(str(path)).table["messages"].to_pylist()
    assert messages[0] is None and messages[151] == [{"role": "user", "content": "hi 151"}]
    path.write_bytes(CASES["json_bad_late.csv"])
    assert read(str(path)).table["messages"][150].as_py() == "[oops"  # left as written
    path.write_bytes(CASES["late_float.csv"])
    assert read(str(path)).table.schema.field("b").type == pa.float64()
    path.write_bytes(CASES["json_blank_range.csv"])
    got = read(str(path)).table["messages"]
    assert pa.types.is_list(got.type) and got[100].as_py() is None
    assert got[151].as_py() == [{"role": "user", "content": "hi 151"}]
    path.write_bytes(CASES["json_na_range.csv"])
    got = read(str(path)).table["messages"]
    assert got.type == pa.string() and got[100].as_py() == "NA"
    assert small == []  # each read in ranges


def _small_blocks(monkeypatch) -> None:
    """Arrow's CSV reader given 128-byte blocks where a caller leaves the block size as
    its default, as if its 1 MB blocks fell often (each drops a quoted CRLF's `\\n` at
    some bounds)."""
    real = pcsv.read_csv
    default = pcsv.ReadOptions().block_size

    def read_csv(source, read_options=None, **kw):
        if read_options is None or read_options.block_size == default:
            read_options = pcsv.ReadOptions(block_size=128)
        return real(source, read_options=read_options, **kw)

    monkeypatch.setattr(pcsv, "read_csv", read_csv)


def test_a_quoted_crlf_keeps_its_line_feed(tmp_path, monkeypatch):
    data = b"a,b\n" + _rows(lambda i: b'"x%d\r\ny",%d\n' % (i, i), 2000)
    path = tmp_path / "crlf.csv"
    path.write_bytes(data)
    _small_blocks(monkeypatch)
    arrow = pcsv.read_csv(
        pa.BufferReader(data), parse_options=pcsv.ParseOptions(newlines_in_values=True)
    )
    assert sum("\r\n" not in v for v in arrow["a"].to_pylist()) > 5  # Arrow loses some
    want = [f"x{i}\r\ny" for i in range(2000)]
    for range_bytes in (1 << 30, 2000):  # one range, then many
        monkeypatch.setattr(csvcuts, "RANGE_BYTES", range_bytes)
        got = read(str(path))
        assert got.table["a"].to_pylist() == want
        assert got.lines.tolist() == list(range(2, 4001, 2))
    blank = tmp_path / "blank.csv"  # blank lines before the header: read whole, one block too
    blank.write_bytes(b"\n\n" + data)
    assert read(str(blank)).table.column(0).to_pylist() == want
    dup = tmp_path / "dup.csv"  # a header naming a column twice: refused, naming it
    dup.write_bytes(b"a,a\n" + _rows(lambda i: b'"x%d\r\ny",v%d\n' % (i, i), 2000))
    with pytest.raises(InputError, match="names the column 'a' 2 times"):
        read(str(dup))


def test_ranges_are_read_one_at_a_time(tmp_path, monkeypatch, small):
    """The second pass reads a range only as its rows are asked for (bounded memory)."""
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(CASES["late_float.csv"]))
    firsts, seconds = [], []
    first_pass, read_planned = csvlocal.first_pass, csvlocal.read_planned
    monkeypatch.setattr(csvlocal, "first_pass", lambda *a: firsts.append(a) or first_pass(*a))
    monkeypatch.setattr(
        csvlocal, "read_planned", lambda *a: seconds.append(a[1]) or read_planned(*a)
    )
    batches = iter_batches(str(path))
    first = next(batches)
    assert len(firsts) > 3 and len(seconds) == 1  # every range's first pass, then one range
    assert first.data.schema.field("b").type == pa.float64()  # typed over the whole file
    rest = list(batches)
    assert len(seconds) == len(firsts) and len(rest) == len(firsts) - 1
    assert seconds == [a[2] for a in firsts]  # the same ranges, in order


@pytest.mark.parametrize("gz", [False, True])
def test_quotes_are_counted_once_for_the_cuts_and_the_lines(tmp_path, monkeypatch, small, gz):
    """Neither pass counts a range's quotes again: the count that cuts the file gives each
    record's line (kept small between the passes)."""
    from trlprep.io import csvlines

    data = CASES["bom_crlf.csv"]
    path = tmp_path / ("d.csv.gz" if gz else "d.csv")
    path.write_bytes(gzip.compress(data) if gz else data)
    want = WHOLE(str(path))

    def counted_again(*args):
        raise AssertionError("a range's lines counted again")

    monkeypatch.setattr(csvlines, "RecordLines", counted_again)
    _same(read(str(path)), want)
    assert small == []


@pytest.mark.parametrize("data", [b"a,b", b"a,b\n", b"a,b\r\n", BOM + b"a,b", b"\n\na,b\n1,2\n"])
@pytest.mark.parametrize("gz", [False, True])
def test_a_file_of_a_header_or_less_is_read_as_at_once(tmp_path, small, data, gz):
    """Rows, lines or the error ("a,b" with no line end is no CSV to Arrow) as read whole."""
    path = tmp_path / ("d.csv.gz" if gz else "d.csv")
    path.write_bytes(gzip.compress(data) if gz else data)

    def outcome(reader) -> object:
        try:
            got = reader(str(path))
        except InputError as e:
            return str(e)
        return got.table.schema, got.table.to_pylist(), got.lines.tolist()

    assert outcome(read) == outcome(WHOLE)


def test_lines_not_kept_between_the_passes_are_counted_again(tmp_path, monkeypatch, small):
    monkeypatch.setattr(csvlocal, "_KEPT_LINES", 0)
    for name in ("bom_crlf.csv", "lone_cr.csv", "blank_lines.csv", "no_last_line_end.csv"):
        path = tmp_path / name
        path.write_bytes(CASES[name])
        _same(read(str(path)), WHOLE(str(path)))
    assert small == []


def test_a_bad_record_in_a_late_range_is_named_by_its_line(tmp_path, small):
    from trlprep.errors import DataError

    data = CASES["bom_crlf.csv"].replace(b'"x\r\n150",150', b'"x\r\n150",150,extra')
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    line = data[: data.index(b'"x\r\n150"')].count(b"\n") + 1
    with pytest.raises(DataError, match=rf"bad.csv:{line}: expected 2 fields \(as the header\)"):
        read(str(path))
    assert small == []


def test_quotes_that_are_no_csv_quoting_are_read_whole(tmp_path, small):
    path = tmp_path / "inches.csv"
    path.write_bytes(b"prompt,completion\n" + _rows(lambda i: b'a %d",b\n' % i))
    got = read(str(path))
    assert small == [str(path)] and got.table["prompt"][3].as_py() == 'a 3"'
    assert got.lines.tolist() == list(range(2, 202))


def test_the_realdata_review_in_ranges_as_read_at_once(monkeypatch, small):
    path = Path(__file__).parent / "realdata" / "truthfulqa_multi_review" / "en.first40.csv"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    got = read(str(path))
    assert small == []
    _same(got, WHOLE(str(path)))
