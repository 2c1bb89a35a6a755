"""CSV rows named by the file line their record starts on (`trlprep.io.csvlines`), in every
message: a quoted value's line breaks belong to its record; the header, empty lines, CRLF
and a byte-order mark are counted as Python's `csv` module counts them."""

from __future__ import annotations

import csv
import gzip
import io
import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trlprep.cli import app
from trlprep.io import csvlines
from trlprep.io.readers import iter_batches, read

# quoted newlines (LF and CRLF), a doubled quote, blank lines (CRLF), a BOM
AWKWARD = (
    b"\xef\xbb\xbfprompt,completion\r\n"  # line 1
    b'"multi\r\nline",ok\r\n'  # lines 2-3
    b"\r\n"  # 4: blank
    b"hello,\r\n"  # 5: an empty completion
    b'"say ""hi""\nthen go",b\r\n'  # 6-7
    b"\r\n\r\n"  # 8-9: blank
    b",x\r\n"  # 10: an empty prompt
)


def _csv_reader_lines(text: str) -> list[int]:
    """The line `csv.reader` starts each non-empty record on (the header's first)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    found, line = [], 0
    for record in reader:
        if record:
            found.append(line + 1)
        line = reader.line_num
    return found


def test_awkward_csv_rows_keep_their_first_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(AWKWARD)
    src = read(path)
    assert src.table.column("prompt").to_pylist()[1] == "hello"
    assert src.lines.tolist() == [2, 5, 6, 10]
    assert src.lines.tolist() == _csv_reader_lines(AWKWARD.decode())[1:]


def test_compressed_and_chunked_csv_keeps_counting_across_chunks(tmp_path, monkeypatch):
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(AWKWARD))
    monkeypatch.setattr(csvlines, "CHUNK_BYTES", 3)  # cuts CRLF, quotes and the BOM apart
    assert read(path).lines.tolist() == [2, 5, 6, 10]
    batches = list(iter_batches(path, batch_rows=3))
    assert [b.lines.tolist() for b in batches] == [[2, 5, 6], [10]]


def test_tsv_rows_are_named_by_line_with_tabs_as_the_delimiter(tmp_path):
    # a comma inside a TSV value is text; quoted values after a tab span two lines
    text = 'prompt\tcompletion\n"a, b\nc"\tx\n\t\nd, e\t"f\ng"\nh\ti\n'
    path = tmp_path / "d.tsv"
    path.write_text(text)
    src = read(path)
    assert src.table.column("prompt").to_pylist() == ["a, b\nc", "", "d, e", "h"]
    assert src.lines.tolist() == [2, 4, 5, 7]
    found = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    line = 0
    for record in reader:
        if record:
            found.append(line + 1)
        line = reader.line_num
    assert src.lines.tolist() == found[1:]


def test_a_literal_quote_inside_an_unquoted_value(tmp_path):
    """`5" screen` (a quote mid-value, literal to Arrow's reader) is counted columnarly;
    `5",` (a quote that would open a value) is left to the `csv` module, which agrees."""
    data = b'item,size\n5" screen,a\n"b\nc",d\ne,f\n'
    lines, ok = csvlines.record_lines([data])
    assert ok and lines.tolist() == [1, 2, 3, 5]
    path = tmp_path / "q.csv"
    path.write_bytes(b'item,size\nsize 5",a\n"b\nc",d\ne,f\n')
    assert csvlines.record_lines([path.read_bytes()])[1] is False
    assert read(path).lines.tolist() == [2, 3, 5]


field = st.text(st.sampled_from(list('ab ,"\n\ré5')), max_size=5)


@st.composite
def csv_texts(draw, unambiguous: bool = False) -> str:
    """CSV as `csv.writer` writes it (any line end): a header, blank lines between records,
    maybe a BOM and a last record without a line end. `unambiguous`: every value quoted
    where a line end of another kind would stand unquoted in it (`csv.writer` quotes only
    the characters of its own line end), which Arrow would read as a record's end."""
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    width = draw(st.integers(1, 3))
    out = io.StringIO()
    out.write(end * draw(st.integers(0, 1)))
    quoting = csv.QUOTE_ALL if unambiguous and end != "\r\n" else csv.QUOTE_MINIMAL
    writer = csv.writer(out, lineterminator=end, quoting=quoting)
    writer.writerow(["prompt", "completion", "source"][:width])
    for record in draw(st.lists(st.lists(field, min_size=width, max_size=width), max_size=6)):
        out.write(end * draw(st.integers(0, 2)))
        writer.writerow(record)
    text = out.getvalue()
    if draw(st.booleans()):
        text = text.removesuffix(end)
    return ("\ufeff" if draw(st.booleans()) else "") + text


@settings(max_examples=300, deadline=None)
@given(text=csv_texts(), cut=st.integers(1, 9))
def test_record_lines_equal_csv_readers_whatever_the_chunks(text, cut):
    """For random records cut into chunks anywhere, the named line of record i equals the
    line `csv.reader` starts it on, counted without the `csv` module's help."""
    data = text.encode()
    lines, ok = csvlines.record_lines([data[i : i + cut] for i in range(0, len(data), cut)])
    assert ok
    assert lines.tolist() == _csv_reader_lines(text)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=csv_texts(unambiguous=True))
def test_read_names_each_row_by_the_line_csv_reader_starts_it_on(tmp_path, text):
    assume(len(_csv_reader_lines(text)) > 1)  # a row under the header
    path = tmp_path / "p.csv"
    path.write_bytes(text.encode())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(csvlines, "_csv_module_lines", lambda path: None)  # the columnar count
        assert read(path).lines.tolist() == _csv_reader_lines(text)[1:]


def test_every_command_names_csv_rows_by_line(tmp_path, monkeypatch):
    """validate's issues, convert's rejects file and summary, detect's problems."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.csv").write_bytes(AWKWARD)
    runner = CliRunner()
    checked = runner.invoke(app, ["validate", "d.csv"])
    assert checked.exit_code == 1
    assert "empty-string (completion): 1 row, line 5" in checked.output
    assert "empty-string (prompt): 1 row, line 10" in checked.output
    args = ["convert", "d.csv", "-o", "o.parquet", "--to", "prompt-completion"]
    done = runner.invoke(app, [*args, "--on-error", "skip"])
    assert done.exit_code == 0, done.output
    assert "(e.g. line 5)" in done.output and "(e.g. line 10)" in done.output
    rejects = [json.loads(x) for x in (tmp_path / "o.rejects.jsonl").read_text().splitlines()]
    assert [(r["row"], r["line"]) for r in rejects] == [(1, 5), (3, 10)]
    stopped = runner.invoke(app, [*args, "--overwrite"])
    assert stopped.exit_code == 1 and "d.csv:5:" in stopped.output, stopped.output
    (tmp_path / "u.csv").write_bytes(b'prompt,completion,label\n"a\nb",c,true\n\nd,e,maybe\n')
    found = runner.invoke(app, ["detect", "u.csv"])
    assert "expected boolean (e.g. lines 2, 5)" in found.output, found.output


def test_train_names_a_dropped_csv_row_by_its_line(tmp_path):
    pytest.importorskip("torch")
    from train_support import make_tokenizer
    from trlprep.trainers.algorithms import get_algorithm
    from trlprep.trainers.data import prepare

    path = tmp_path / "pairs.csv"
    path.write_bytes(
        b'chosen,rejected\n"the sky\nis blue",the sky is red\n\n'
        b"the sky is blue and green and red,no\n"
    )
    algo, logs = get_algorithm("reward"), []
    prepare(
        str(path), algo.layout, algo.accepts, make_tokenizer(), max_length=6, algo="reward",
        options=algo.make_options({}), log=logs.append,
    )  # fmt: skip
    assert "data: dropped 1 row (line 5) longer than max_length=6" in logs, logs
