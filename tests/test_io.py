"""Reading and writing every supported format: round trips, line numbers, mixed kinds, errors."""

from __future__ import annotations

import bz2
import gzip
import json
import os
import tempfile
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trlprep.columns.arrowtypes import ValueKind, is_json_field, json_kinds, value_kind
from trlprep.errors import InputError, UsageError
from trlprep.io import joining, jsonencode, jsonl, jsontext, readers, writers
from trlprep.io.readers import iter_batches, read, table_from_records

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


def _m(role, content, **extra):
    return {"role": role, "content": content, **extra}


STANDARD_ROWS = [
    {"prompt": "The sky is", "chosen": " blue.", "rejected": " green.", "ok": True},
    {"prompt": "Café ☕ «naïve»", "chosen": " 日本語\n\ttab", "rejected": "", "ok": False},
    {"prompt": 'quote " and \\ back', "chosen": "2024-01-01", "rejected": None, "ok": None},
]
CONVERSATIONAL_ROWS = [
    {
        "prompt": [_m("system", "Be brief."), _m("user", "What color is the sky?")],
        "chosen": [_m("assistant", "It is blue.")],
        "rejected": [_m("assistant", "It is green.")],
        "tags": ["sky", "colour"],
        "flags": [True, False],
        "score": 0.5,
    },
    {
        "prompt": [_m("user", "Écris « bonjour » 🌍")],
        "chosen": [_m("assistant", "Bonjour\nle monde", name="bot")],
        "rejected": [_m("assistant", None)],
        "tags": [],
        "flags": [None, True],
        "score": None,
    },
    {
        "prompt": [_m("user", "2024-05-06T10:00:00")],
        "chosen": [_m("assistant", "")],
        "rejected": [_m("assistant", "no")],
        "tags": None,
        "flags": [],
        "score": -1.25,
    },
]
TABLES = {
    "standard": lambda: table_from_records(STANDARD_ROWS),
    "conversational": lambda: table_from_records(CONVERSATIONAL_ROWS),
}
OUTPUTS = ["out.parquet", "out.jsonl", "out.jsonl.gz", "out.jsonl.zst", "out.arrow", "out_folder"]


def _same(a: pa.Table, b: pa.Table) -> bool:
    return a.equals(b, check_metadata=False) and a.schema.equals(b.schema, check_metadata=False)


def _offsets(batches) -> list[int]:
    return np.cumsum([0] + [b.data.num_rows for b in batches])[:-1].tolist()


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("kind", sorted(TABLES))
@pytest.mark.parametrize("name", OUTPUTS)
def test_every_output_format_round_trips(tmp_path, kind, name):
    table = TABLES[kind]()
    out = tmp_path / name
    fmt = writers.write(table, out)
    assert fmt == writers.resolve_output_format(out)
    back = read(out).table
    assert _same(back, table), (back.schema, table.schema)
    assert back.to_pylist() == table.to_pylist()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary left


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "arrow", "disk"])
def test_explicit_output_and_input_format(tmp_path, fmt):
    table = TABLES["conversational"]()
    out = tmp_path / "data.bin"
    assert writers.write(table, out, output_format=fmt) == fmt
    assert _same(read(out, input_format=fmt).table, table)


def test_jsonl_bytes_are_plain_json_lines(tmp_path):
    out = tmp_path / "o.jsonl"
    writers.write(TABLES["conversational"](), out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert first["prompt"][1] == {"role": "user", "content": "What color is the sky?"}
    # a field other rows have (one Arrow struct) is left out where this row has none
    assert first["chosen"] == [{"role": "assistant", "content": "It is blue."}]
    assert first["flags"] == [True, False]
    assert "🌍" in lines[1]  # unicode written as is, not \u escaped


@st.composite
def _rows(draw):
    text = st.one_of(st.none(), st.text(max_size=12))
    message = st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "user", "assistant", "tool"]), "content": text}
    )
    n = draw(st.integers(1, 6))
    row = st.fixed_dictionaries(
        {
            "text": text,
            "messages": st.one_of(st.none(), st.lists(message, max_size=3)),
            "strings": st.one_of(st.none(), st.lists(text, max_size=3)),
            "bools": st.one_of(st.none(), st.lists(st.one_of(st.none(), st.booleans()))),
            "label": st.one_of(st.none(), st.booleans()),
            "count": st.one_of(st.none(), st.integers(-(2**62), 2**62)),
        }
    )
    return draw(st.lists(row, min_size=n, max_size=n))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_rows())
def test_jsonl_round_trip_property(rows):
    table = table_from_records(rows)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "p.jsonl"
        writers.write(table, out)
        back = read(out).table
    assert back.to_pylist() == table.to_pylist() == rows
    assert back.schema.equals(table.schema), (back.schema, table.schema)


@pytest.mark.parametrize(
    "lines",
    [
        ['{"s": [null, "a"]}', '{"s": ["b"]}'],
        ['{"s": [null, null]}', '{"s": ["b", null]}'],
        ['{"s": [null, null]}'],
        ['{"m": [{"c": [null, null, 1]}]}', '{"m": [{"c": [2]}]}'],
    ],
)
def test_leading_nulls_in_lists_read_right(tmp_path, lines):
    # Arrow's JSON type inference drops leading list nulls (apache/arrow#51305)
    p = _write_lines(tmp_path / "n.jsonl", lines)
    t = read(p).table
    t.validate(full=True)
    assert t.to_pylist() == [json.loads(x) for x in lines]


def test_tagged_mixed_columns_round_trip_through_every_format(tmp_path):
    rows = [{"prompt": "plain"}, {"prompt": [_m("user", "Hi")]}, {"prompt": None}]
    table = table_from_records(rows)
    assert is_json_field(table.schema.field("prompt"))
    for name in ("m.jsonl", "m.parquet", "m.arrow"):
        writers.write(table, tmp_path / name)
        back = read(tmp_path / name).table
        assert _same(back, table)
    with pytest.raises(UsageError, match="mixes value kinds"):
        writers.write(table, tmp_path / "folder")  # `datasets` would drop the tag
    assert not (tmp_path / "folder").exists()
    # JSON Lines hold the values themselves, not their JSON text
    lines = (tmp_path / "m.jsonl").read_text().splitlines()
    assert [json.loads(x)["prompt"] for x in lines] == [r["prompt"] for r in rows]


# ---------------------------------------------------------------- JSON Lines


def test_jsonl_line_numbers_skip_blank_lines_and_handle_crlf_and_bom(tmp_path):
    p = tmp_path / "d.jsonl"
    body = '{"text": "a"}\r\n\r\n   \n{"text": "b"}\n\t\n{"text": "c"}'  # no final newline
    p.write_bytes(b"\xef\xbb\xbf" + body.encode())
    src = read(p)
    assert src.table.column("text").to_pylist() == ["a", "b", "c"]
    assert src.lines.tolist() == [1, 4, 6]
    assert src.line_of(2) == 6


@pytest.mark.parametrize("chunk_bytes", [16, 64, 1 << 20])
def test_unterminated_broken_last_line_is_skipped_with_the_rest(tmp_path, monkeypatch, chunk_bytes):
    # a download cut mid-line: the tail is one more line of the last chunk, not a chunk of
    # its own that would come back as a table without columns
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", chunk_bytes)
    good = [json.dumps({"prompt": f"p{i}", "completion": f"c{i}"}) for i in range(3)]
    p = tmp_path / "cut.jsonl"
    p.write_text("\n".join(good) + '\n{"prompt": "p3", "compl')
    bad = jsonl.BadLines()
    batches = list(iter_batches(p, bad_lines=bad))
    assert all(b.data.column_names == ["prompt", "completion"] for b in batches)
    assert sum(b.data.num_rows for b in batches) == 3
    assert bad.lines == [4]
    src = read(p, bad_lines=jsonl.BadLines())
    assert src.lines.tolist() == [1, 2, 3]
    with pytest.raises(InputError, match="invalid JSON") as e:
        read(p)
    assert e.value.line == 4


def test_chunk_of_only_broken_lines_yields_no_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 40)
    good = json.dumps({"prompt": "p", "completion": "c"})
    p = _write_lines(tmp_path / "d.jsonl", [good, "{broken " + "x" * 60, good])
    bad = jsonl.BadLines()
    batches = list(iter_batches(p, bad_lines=bad))
    assert [b.lines.tolist() for b in batches] == [[1], [3]]
    assert [b.offset for b in batches] == [0, 1]
    assert bad.lines == [2]


@pytest.mark.parametrize("suffix", [".gz", ".zst", ".bz2"])
def test_compressed_jsonl_is_read_transparently(tmp_path, suffix):
    raw = (
        b'{"prompt": "The sky is", "completion": " blue."}\n\n{"prompt": "x", "completion": "y"}\n'
    )
    p = tmp_path / f"d.jsonl{suffix}"
    if suffix == ".gz":
        p.write_bytes(gzip.compress(raw))
    elif suffix == ".bz2":
        p.write_bytes(bz2.compress(raw))
    else:
        with pa.output_stream(str(p), compression="zstd") as f:
            f.write(raw)
    src = read(p)
    assert src.table.column("completion").to_pylist() == [" blue.", "y"]
    assert src.lines.tolist() == [1, 3]
    batches = list(iter_batches(p))
    assert sum(b.data.num_rows for b in batches) == 2


def _compress(raw: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(raw)
    if how == "bz2":
        return bz2.compress(raw)
    return pa.compress(raw, codec="zstd", asbytes=True)  # one zstd frame


@pytest.mark.parametrize("how", ["gzip", "zstd", "bz2"])
@pytest.mark.parametrize("name", ["d.jsonl", "d.jsonl.gz", "d.csv"])
def test_compression_is_read_from_the_bytes_whatever_the_name(tmp_path, how, name):
    rows = [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": "d"}]
    raw = "\n".join(json.dumps(r) for r in rows).encode() + b"\n"
    if name.endswith(".csv"):
        raw = b"prompt,completion\na,b\nc,d\n"
    p = tmp_path / name
    p.write_bytes(_compress(raw, how))
    assert read(p).table.to_pylist() == rows


def test_binary_or_mislabelled_files_say_what_they_are(tmp_path):
    table = table_from_records([{"prompt": "a", "completion": "b"}])
    pq.write_table(table, tmp_path / "p.parquet")
    (tmp_path / "p.jsonl").write_bytes((tmp_path / "p.parquet").read_bytes())
    with pytest.raises(UsageError, match="this is a Parquet file, not JSON Lines text") as e:
        read(tmp_path / "p.jsonl")
    assert e.value.hint == "name it .parquet or pass --input-format parquet"
    with pytest.raises(UsageError, match="this is a Parquet file"):
        read(tmp_path / "p.jsonl", input_format="jsonl")
    feather.write_feather(table, tmp_path / "a.csv")
    with pytest.raises(UsageError, match="this is an Arrow IPC file, not CSV text"):
        read(tmp_path / "a.csv")
    (tmp_path / "x.jsonl").write_bytes(b"\xfd7zXZ\x00" + b"\x00" * 20)
    with pytest.raises(InputError, match="xz-compressed") as e:
        read(tmp_path / "x.jsonl")
    assert "xz -d" in e.value.hint
    (tmp_path / "plain.jsonl.gz").write_text('{"a": 1}\n')
    with pytest.raises(InputError, match="the name says gzip-compressed but the file is not") as e:
        read(tmp_path / "plain.jsonl.gz")
    assert "remove .gz" in e.value.hint
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(b'{"a": 1}\n' * 100)[:-30])
    with pytest.raises(InputError, match="cannot read") as e:
        read(tmp_path / "cut.jsonl.gz")
    assert "cut short" in e.value.hint


def test_date_like_strings_stay_strings(tmp_path):
    p = _write_lines(
        tmp_path / "d.jsonl",
        [
            '{"text": "2020-01-01", "m": [{"role": "user", "content": "2020-01-01T10:00:00"}]}',
            '{"text": "2021-12-31 23:59:59", "m": [{"role": "user", "content": "1999-01-01"}]}',
        ],
    )
    t = read(p).table
    assert value_kind(t.schema.field("text")) is ValueKind.STRING
    assert value_kind(t.schema.field("m")) is ValueKind.MESSAGES
    assert t.column("text").to_pylist() == ["2020-01-01", "2021-12-31 23:59:59"]
    assert t.column("m").to_pylist()[0][0]["content"] == "2020-01-01T10:00:00"


def test_mixed_kinds_in_one_chunk_become_tagged_json_text(tmp_path):
    p = _write_lines(
        tmp_path / "mixed.jsonl",
        [
            '{"prompt": "The sky is", "completion": " blue."}',
            '{"prompt": [{"role": "user", "content": "Hi"}], "completion": " there"}',
            '{"prompt": null, "completion": "x"}',
        ],
    )
    src = read(p)
    field = src.table.schema.field("prompt")
    assert value_kind(field) is ValueKind.MIXED
    assert value_kind(src.table.schema.field("completion")) is ValueKind.STRING
    assert json_kinds(src.table.column("prompt")).to_pylist() == ["string", "list", "null"]
    texts = src.table.column("prompt").to_pylist()
    assert json.loads(texts[1]) == [{"role": "user", "content": "Hi"}]
    assert src.lines.tolist() == [1, 2, 3]


@pytest.mark.parametrize("order", ["strings_first", "messages_first"])
def test_mixed_kinds_between_chunks_become_tagged_json_text(tmp_path, monkeypatch, order):
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 64)
    strings = [json.dumps({"prompt": f"p{i}", "n": i}) for i in range(4)]
    messages = [json.dumps({"prompt": [_m("user", f"q{i}")], "n": 10 + i}) for i in range(4)]
    lines = strings + [""] + messages if order == "strings_first" else messages + [""] + strings
    p = _write_lines(tmp_path / "chunks.jsonl", lines)
    batches = list(iter_batches(p))
    assert len(batches) > 2  # really read in several chunks
    assert [b.offset for b in batches] == list(np.cumsum([0] + [b.data.num_rows for b in batches]))[
        :-1
    ]
    src = read(p)
    assert src.table.num_rows == 8
    assert src.lines.tolist() == [1, 2, 3, 4, 6, 7, 8, 9]
    assert value_kind(src.table.schema.field("prompt")) is ValueKind.MIXED
    assert value_kind(src.table.schema.field("n")) is ValueKind.INT
    kinds = json_kinds(src.table.column("prompt")).to_pylist()
    expected = ["string"] * 4 + ["list"] * 4
    assert kinds == (expected if order == "strings_first" else expected[::-1])
    values = [json.loads(v) for v in src.table.column("prompt").to_pylist()]
    originals = [json.loads(x)["prompt"] for x in lines if x]
    assert values == originals


def test_one_chunk_tagged_and_another_plain_are_tagged_together(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 80)
    lines = [json.dumps({"prompt": f"plain {i}"}) for i in range(3)]
    lines += [json.dumps({"prompt": "s"}), json.dumps({"prompt": [_m("user", "m")]})]
    p = _write_lines(tmp_path / "d.jsonl", lines)
    t = read(p).table
    assert value_kind(t.schema.field("prompt")) is ValueKind.MIXED
    assert [json.loads(v) for v in t.column("prompt").to_pylist()] == [
        json.loads(x)["prompt"] for x in lines
    ]


def test_concat_tags_every_disagreeing_column():
    a = table_from_records([{"p": "s", "q": 1, "r": [1]}])
    b = table_from_records([{"p": [1], "q": "x", "r": [2.5]}, {"p": "t", "q": None, "r": None}])
    c = table_from_records([{"p": "u", "q": 2}])  # "p" plain here, tagged in b
    t = joining.concat_tables([a, b, c])
    assert [is_json_field(t.schema.field(n)) for n in "pqr"] == [True, True, False]
    assert [json.loads(v) for v in t.column("p").to_pylist()] == ["s", [1], "t", "u"]
    assert t.column("q").to_pylist() == ["1", '"x"', None, "2"]
    assert t.column("r").to_pylist() == [[1.0], [2.5], None, None]


def test_struct_fields_unify_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 100)
    plain = json.dumps({"messages": [_m("user", "hi")]})
    tool = json.dumps({"messages": [_m("assistant", "", tool_calls=[{"name": "f"}])]})
    p = _write_lines(tmp_path / "d.jsonl", [plain] * 3 + [tool] * 3)
    t = read(p).table
    assert value_kind(t.schema.field("messages")) is ValueKind.MESSAGES
    assert t.column("messages").to_pylist()[0][0]["tool_calls"] is None
    assert t.column("messages").to_pylist()[-1][0]["tool_calls"] == [{"name": "f"}]


def test_well_formed_jsonl_never_takes_the_python_path(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("fell back to the line-by-line parser")

    monkeypatch.setattr(jsonl, "_jsonl_python", boom)
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(jsontext, "BLOCK_BYTES", 1 << 16)
    long_line = json.dumps({"text": "x" * 200_000})  # longer than a JSON block
    rows = [json.dumps({"text": f"row {i}", "label": i % 2 == 0}) for i in range(300)]
    p = _write_lines(tmp_path / "big.jsonl", rows + [long_line])
    src = read(p)
    assert src.table.num_rows == 301
    assert src.lines[-1] == 301
    assert len(src.table.column("text")[-1].as_py()) == 200_000


def test_parquet_streams_in_bounded_batches(tmp_path):
    table = pa.table(
        {"text": [f"t{i}" for i in range(10)], "label": [i % 2 == 0 for i in range(10)]}
    )
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=4)
    batches = list(iter_batches(tmp_path / "d.parquet", batch_rows=3))
    assert all(b.data.num_rows <= 3 for b in batches)
    assert [b.offset for b in batches] == list(np.cumsum([0] + [b.data.num_rows for b in batches]))[
        :-1
    ]
    assert pa.Table.from_batches([b.data for b in batches]).equals(table)
    assert all(b.lines is None for b in batches)


def test_iter_batches_of_whole_formats_keep_offsets(tmp_path):
    table = pa.table({"text": [f"t{i}" for i in range(7)]})
    writers.write(table, tmp_path / "d.arrow")
    batches = list(iter_batches(tmp_path / "d.arrow", batch_rows=3))
    assert [b.data.num_rows for b in batches] == [3, 3, 1]
    assert [b.offset for b in batches] == [0, 3, 6]


@pytest.mark.parametrize(
    "name, body", [("e.jsonl", ""), ("w.jsonl", "\n  \n\t\n"), ("e.json", "[]")]
)
def test_empty_inputs_read_as_zero_rows(tmp_path, name, body):
    (tmp_path / name).write_text(body)
    assert read(tmp_path / name).table.num_rows == 0
    assert sum(b.data.num_rows for b in iter_batches(tmp_path / name)) == 0


def test_record_batches_write_like_tables(tmp_path):
    rb = TABLES["conversational"]().to_batches()[0]
    for name in ("b.parquet", "b.jsonl", "b.arrow", "b_folder"):
        writers.write(rb, tmp_path / name)
        assert read(tmp_path / name).table.to_pylist() == rb.to_pylist()


# ---------------------------------------------------------------- JSON, CSV, Arrow, folders


@pytest.mark.parametrize(
    "payload",
    [
        [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": "d"}],
        {"data": [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": "d"}]},
        {"prompt": ["a", "c"], "completion": ["b", "d"]},
    ],
    ids=["array", "wrapper", "columns"],
)
def test_json_shapes(tmp_path, payload):
    p = tmp_path / "d.json"
    p.write_text(json.dumps(payload, indent=2))
    t = read(p).table
    assert t.to_pylist() == [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": "d"}]


def test_json_file_holding_json_lines_is_read_as_lines(tmp_path):
    p = _write_lines(tmp_path / "d.json", ['{"text": "a"}', '{"text": "b"}'])
    src = read(p)
    assert src.table.column("text").to_pylist() == ["a", "b"]
    assert src.lines.tolist() == [1, 2]


def test_json_mixed_kinds_and_messages(tmp_path):
    p = tmp_path / "d.json"
    p.write_text(json.dumps([{"prompt": "s"}, {"prompt": [_m("user", "m")]}]))
    t = read(p).table
    assert value_kind(t.schema.field("prompt")) is ValueKind.MIXED


@pytest.mark.parametrize(
    "text, message",
    [
        ('[{"a": 1}, 3]', "expected an array of objects"),
        ("{}", "found an empty object"),  # one object of unequal columns is one row
        ('"just a string"', "expected an array of objects.*found a string"),
        ('[{"a": 1},\n {"a": ]', "invalid JSON"),
    ],
)
def test_json_errors(tmp_path, text, message):
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(InputError, match=message) as e:
        read(p)
    if "invalid" in message:
        assert e.value.line == 2


def test_csv_messages_booleans_newlines_and_dates(tmp_path):
    import csv

    p = tmp_path / "d.csv"
    with open(p, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["prompt", "completion", "label", "day", "note", "steps"])
        w.writerow(
            [
                json.dumps([_m("user", "What color\nis the sky?")]),
                json.dumps([_m("assistant", "It is blue.")]),
                "true",
                "2020-01-01",
                "multi\nline, with comma",
                json.dumps(["a", "b"]),
            ]
        )
        w.writerow(
            [
                json.dumps([_m("user", "Hi")], indent=2),
                "",
                "False",
                "2020-01-02",
                "[not json",
                json.dumps([]),
            ]
        )
    t = read(p).table
    assert value_kind(t.schema.field("prompt")) is ValueKind.MESSAGES
    assert value_kind(t.schema.field("completion")) is ValueKind.MESSAGES
    assert value_kind(t.schema.field("label")) is ValueKind.BOOL
    assert value_kind(t.schema.field("steps")) is ValueKind.STRINGS
    assert t.column("prompt").to_pylist()[0] == [_m("user", "What color\nis the sky?")]
    assert t.column("completion").to_pylist() == [[_m("assistant", "It is blue.")], None]
    assert t.column("label").to_pylist() == [True, False]
    assert t.column("day").to_pylist() == ["2020-01-01", "2020-01-02"]
    assert t.column("note").to_pylist() == ["multi\nline, with comma", "[not json"]


def test_csv_python_literal_and_mixed_columns(tmp_path):
    p = tmp_path / "d.csv.gz"
    body = (
        "prompt,chosen\n"
        "\"[{'role': 'user', 'content': 'Hi'}]\",\"[{'role': 'assistant', 'content': 'Yo'}]\"\n"
        '"[{""role"": ""user"", ""content"": ""x""}]","{""a"": 1}"\n'
    )
    p.write_bytes(gzip.compress(body.encode()))
    t = read(p).table
    assert t.column("prompt").to_pylist() == [[_m("user", "Hi")], [_m("user", "x")]]
    assert value_kind(t.schema.field("chosen")) is ValueKind.MIXED
    assert json_kinds(t.column("chosen")).to_pylist() == ["list", "object"]


@pytest.mark.filterwarnings("ignore:Feather V1:DeprecationWarning")
def test_arrow_file_stream_and_feather(tmp_path):
    table = TABLES["conversational"]()
    with ipc.new_file(str(tmp_path / "f.arrow"), table.schema) as w:
        w.write(table)
    with ipc.new_stream(str(tmp_path / "s.arrow"), table.schema) as w:
        w.write(table)
    feather.write_feather(table, tmp_path / "d.feather")
    flat = TABLES["standard"]()
    feather.write_feather(flat, tmp_path / "v1.feather", version=1)
    for name in ("f.arrow", "s.arrow", "d.feather"):
        assert _same(read(tmp_path / name).table, table), name
    assert read(tmp_path / "v1.feather").table.to_pylist() == flat.to_pylist()


def test_dataset_folder_and_dataset_dict_splits(tmp_path):
    ds = datasets.Dataset(TABLES["standard"]())
    ds.save_to_disk(str(tmp_path / "single"))
    assert read(tmp_path / "single").table.to_pylist() == STANDARD_ROWS
    dd = datasets.DatasetDict({"train": ds, "test": ds.select([0])})
    dd.save_to_disk(str(tmp_path / "dict"))
    assert read(tmp_path / "dict").table.num_rows == 3  # train by default
    assert read(tmp_path / "dict", split="test").table.to_pylist() == STANDARD_ROWS[:1]
    with pytest.raises(UsageError, match="no split 'valid'") as e:
        read(tmp_path / "dict", split="valid")
    assert "train" in e.value.hint and "test" in e.value.hint
    no_train = datasets.DatasetDict({"a": ds, "b": ds})
    no_train.save_to_disk(str(tmp_path / "ab"))
    with pytest.raises(UsageError, match=r"has several splits \(a, b\) and none is named"):
        read(tmp_path / "ab")


def test_hub_id_goes_to_load_dataset_and_failures_are_input_errors(tmp_path, monkeypatch):
    seen = {}

    def fake_load(name, split=None):
        seen["args"] = (name, split)
        return datasets.DatasetDict({"train": datasets.Dataset(TABLES["standard"]())})

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    monkeypatch.setattr("trlprep.io.sources._probe", lambda endpoint: None)  # "reachable"
    monkeypatch.setattr("trlprep.io.sources._HUB_PROBES", {})
    monkeypatch.chdir(tmp_path)
    assert readers.resolve_format("trl-lib/example") == "hub"
    assert read("trl-lib/example").table.num_rows == 3
    assert seen["args"] == ("trl-lib/example", None)

    def offline(name, split=None):
        raise ConnectionError(f"Couldn't reach '{name}' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="cannot load from the Hugging Face Hub") as e:
        read("trl-lib/example", split="train")
    assert "offline" in e.value.hint.lower()


# ---------------------------------------------------------------- reader errors


def test_reader_errors_name_file_and_line(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 64)
    good = [json.dumps({"text": f"row {i}"}) for i in range(6)]
    p = _write_lines(tmp_path / "data.jsonl", good + ["", '{"text": "broken'])
    with pytest.raises(InputError) as e:
        read(p)
    assert e.value.line == 8
    assert str(e.value).startswith(f"{p}:8: invalid JSON: ")

    q = _write_lines(tmp_path / "list.jsonl", ['{"a": 1}', "[1, 2]"])
    with pytest.raises(InputError, match="expected a JSON object, got an array") as e:
        read(q)
    assert e.value.line == 2

    for text, kind in [
        ("null", "null"),
        ("  null", "null"),
        ("42", "a number"),
        ('"s"', "a string"),
    ]:
        n = _write_lines(tmp_path / "null.jsonl", ['{"a": 1}', text, '{"a": 2}'])
        with pytest.raises(InputError, match=f"expected a JSON object, got {kind}") as e:
            read(n)  # never a row of nulls
        assert e.value.line == 2
        bad = jsonl.BadLines()
        assert read(n, bad_lines=bad).lines.tolist() == [1, 3] and bad.lines == [2]

    arr = tmp_path / "array.jsonl"
    arr.write_text('[\n  {"a": 1}\n]\n')
    with pytest.raises(InputError, match="invalid JSON") as e:
        read(arr)
    assert "--input-format json" in e.value.hint

    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"a": "ok"}\n{"a": "caf\xe9"}\n')
    with pytest.raises(InputError, match="UTF-8") as e:
        read(latin)
    assert e.value.line == 2


def test_missing_unknown_and_corrupt_inputs(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read(tmp_path / "missing.jsonl")
    (tmp_path / "notes.md").write_text("hi")
    with pytest.raises(UsageError, match="cannot tell the file format"):
        read(tmp_path / "notes.md")
    with pytest.raises(UsageError, match="unknown input format 'yaml'"):
        read(tmp_path / "notes.md", input_format="yaml")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.md").write_text("hi")
    with pytest.raises(InputError, match="no data files to read, and not a save_to_disk folder"):
        read(folder)  # no data files (a folder of data files is read: tests/test_shards.py)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="cannot read"):
        read(tmp_path / "bad.parquet")
    (tmp_path / "bad.jsonl.gz").write_bytes(b"not gzip")
    with pytest.raises(InputError, match="bad.jsonl.gz"):
        read(tmp_path / "bad.jsonl.gz")
    (tmp_path / "bad.arrow").write_bytes(b"garbage")
    with pytest.raises(InputError, match="cannot read"):
        read(tmp_path / "bad.arrow")


# ---------------------------------------------------------------- writers


def test_existing_output_needs_overwrite_and_input_is_never_output(tmp_path):
    table = TABLES["standard"]()
    out = tmp_path / "o.parquet"
    writers.write(table, out)
    with pytest.raises(UsageError, match="already exists") as e:
        writers.write(table, out)
    assert "--overwrite" in e.value.hint
    writers.write(table.slice(0, 1), out, overwrite=True)
    assert read(out).table.num_rows == 1
    with pytest.raises(UsageError, match="the output is the input"):
        writers.write(table, out, overwrite=True, inputs=(str(out),))
    with pytest.raises(UsageError, match="the output is the input"):
        writers.write(table, tmp_path / "." / "o.parquet", overwrite=True, inputs=(str(out),))
    with pytest.raises(UsageError, match="holds the input"):
        writers.write(table, tmp_path, overwrite=True, output_format="disk", inputs=(str(out),))
    assert read(out).table.num_rows == 1


def test_output_path_errors(tmp_path):
    table = TABLES["standard"]()
    with pytest.raises(InputError, match="the folder to write it in, .*missing, does not exist"):
        writers.write(table, tmp_path / "missing" / "o.parquet")
    with pytest.raises(UsageError, match="CSV is an input format only"):
        writers.write(table, tmp_path / "o.csv")
    with pytest.raises(UsageError, match="cannot tell the output format"):
        writers.write(table, tmp_path / "o.xlsx")
    with pytest.raises(UsageError, match="unknown output format"):
        writers.write(table, tmp_path / "o.parquet", output_format="xlsx")
    with pytest.raises(UsageError, match="save_to_disk folder"):
        writers.write({"train": table}, tmp_path / "o.parquet")
    assert list(tmp_path.iterdir()) == []


def test_jsonl_refuses_raw_bytes_and_leaves_nothing(tmp_path):
    table = pa.table({"images": pa.array([[{"bytes": b"\x89PNG", "path": None}]])})
    with pytest.raises(UsageError, match="raw bytes") as e:
        writers.write(table, tmp_path / "o.jsonl")
    assert "parquet" in e.value.hint
    assert list(tmp_path.iterdir()) == []
    writers.write(table, tmp_path / "o.parquet")  # binary is fine in Parquet
    assert read(tmp_path / "o.parquet").table.equals(table)


def test_failed_jsonl_write_midway_leaves_nothing(tmp_path, monkeypatch):
    calls = []
    real = writers.to_jsonl

    def flaky(data, *args, **kwargs):
        calls.append(data.num_rows)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(data, *args, **kwargs)

    monkeypatch.setattr(writers, "to_jsonl", flaky)
    monkeypatch.setattr(writers, "WRITE_BATCH_ROWS", 1)
    with pytest.raises(RuntimeError, match="disk full"):
        writers.write(TABLES["standard"](), tmp_path / "o.jsonl")
    assert calls == [1, 1]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["o.parquet", "o.arrow", "o.jsonl.gz"])
def test_failed_streaming_write_leaves_nothing_and_keeps_old_output(tmp_path, name):
    table = TABLES["conversational"]()
    out = tmp_path / name
    writers.write(table.slice(0, 1), out)
    before = out.read_bytes()
    with pytest.raises(KeyError), writers.open_writer(out, table.schema) as w:
        w.write(table.slice(0, 2))
        raise KeyError("stop")
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_failed_folder_write_leaves_nothing_and_keeps_old_output(tmp_path, monkeypatch):
    table = TABLES["standard"]()
    out = tmp_path / "ds"
    writers.write(table, out)

    def partial_save(self, path, *a, **k):
        Path(path, "data-00000-of-00001.arrow").write_bytes(b"partial")
        raise OSError("no space left on device")

    monkeypatch.setattr(datasets.Dataset, "save_to_disk", partial_save)
    with pytest.raises(InputError, match="no space"):  # one message naming the output
        writers.write(table.slice(0, 1), out, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]
    assert read(out).table.num_rows == 3


def test_batch_of_an_unwritable_type_midway_leaves_nothing(tmp_path):
    table = pa.table({"x": pa.array([{"a": 1}], pa.struct([pa.field("a", pa.int64())]))})
    bad = pa.table({"x": pa.array([[1]], pa.list_(pa.int64()))})
    with pytest.raises(InputError, match="column 'x'"):
        with writers.open_writer(tmp_path / "o.parquet", table.schema) as w:
            w.write(table)
            w.write(bad)
    assert list(tmp_path.iterdir()) == []


def test_streaming_writer_conforms_batches_to_the_schema(tmp_path):
    schema = pa.schema([("text", pa.string()), ("label", pa.bool_())])
    out = tmp_path / "o.parquet"
    with writers.open_writer(out, schema) as w:
        w.write(pa.table({"text": ["a"], "label": [True]}))
        w.write(pa.table({"label": pa.array([None], pa.null()), "text": ["b"]}))
        w.write(pa.table({"text": ["c"]}))
    assert read(out).table.to_pylist() == [
        {"text": "a", "label": True},
        {"text": "b", "label": None},
        {"text": "c", "label": None},
    ]


def test_splits_to_a_folder(tmp_path):
    train, test = TABLES["standard"](), TABLES["standard"]().slice(0, 1)
    writers.write({"train": train, "test": test}, tmp_path / "dd")
    assert isinstance(datasets.load_from_disk(str(tmp_path / "dd")), datasets.DatasetDict)
    assert read(tmp_path / "dd", split="test").table.num_rows == 1
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_encode_and_decode_json_texts_agree():
    arr = table_from_records(CONVERSATIONAL_ROWS).column("prompt")
    texts = jsonencode.encode_json_texts(arr)
    field, decoded = jsontext.decode_json_texts("prompt", texts)
    assert decoded.to_pylist() == arr.to_pylist()
    assert pc.all(pc.is_valid(texts)).as_py()


# ---------------------------------------------------------------- shipped examples


EXPECTED_EXAMPLES = {
    "preference.jsonl": ("preference", "standard"),
    "preference_conversational.jsonl": ("preference", "conversational"),
    "prompt_completion.jsonl": ("prompt-completion", "standard"),
    "unpaired.jsonl": ("unpaired-preference", "standard"),
    "stepwise.jsonl": ("stepwise-supervision", "standard"),
    "implicit_preference.jsonl": ("preference-implicit", "standard"),
    "language_modeling_conversational.jsonl": ("language-modeling", "conversational"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_EXAMPLES))
def test_shipped_examples_are_valid_and_uniform(name):
    import trlprep

    path = EXAMPLES_DIR / name
    src = read(path)
    assert 4 <= src.table.num_rows <= 12
    assert src.lines.tolist() == list(range(1, src.table.num_rows + 1))
    det = trlprep.detect(path)
    assert (det.type.name, det.format.value) == EXPECTED_EXAMPLES[name]
    assert det.problems == []
    assert det.extra_columns == []
    assert os.path.getsize(path) < 8_000
