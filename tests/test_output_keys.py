"""JSON Lines outputs give each message, tool call and content part the keys its input had.

Arrow types a column of messages as one struct of every key any message held, null where a
message had none; written as it stood, every message of a file got `"id": null`,
`"tool_calls": null`, `"loss": null` ... Now null-valued keys are left out (a message's
`content` kept: `content: null` beside tool calls is OpenAI's own), in the order a reader
meets them, so a file converted twice is the same bytes. Parquet and Arrow keep the struct's
fields (inherent to the format).
"""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
from realdata.support import run

from trlprep.io.jsonencode import to_jsonl
from trlprep.io.readers import read
from trlprep.io.writers import write

CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
ROWS = [
    {
        "messages": [
            {"role": "user", "content": "hi", "name": "ann"},
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {"role": "tool", "content": "ok", "tool_call_id": "c1"},
            {"role": "assistant", "content": "done", "loss": False},
        ]
    },
    {
        "messages": [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "what?"}]},
            {"role": "assistant", "content": "a cat", "reasoning_content": "looks"},
        ]
    },
]


ANSWER = {"role": "assistant", "content": "b"}


def _lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode().splitlines()]


def _input(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return src


def test_messages_parts_and_calls_keep_only_their_own_keys(tmp_path):
    table = read(_input(tmp_path)).table
    assert table.schema.field("messages").type.value_type.get_field_index("loss") >= 0
    got = _lines(to_jsonl(table))
    first, second = got[0]["messages"], got[1]["messages"]
    assert first[0] == {"role": "user", "content": "hi", "name": "ann"}
    assert first[1] == {"role": "assistant", "content": None, "tool_calls": [CALL]}
    assert first[2] == {"role": "tool", "content": "ok", "tool_call_id": "c1"}
    assert first[3] == {"role": "assistant", "content": "done", "loss": False}
    assert second[0]["content"] == ROWS[1]["messages"][0]["content"]
    assert second[1] == {"role": "assistant", "content": "a cat", "reasoning_content": "looks"}


def test_converted_twice_gives_the_same_bytes(tmp_path):
    # a key first held by a later message of the struct's order than another: written in
    # the order a reader meets them, so the file read back orders the struct the same
    rows = [
        {"messages": [{"role": "user", "content": "a", "b": None, "c": 1}, ANSWER]},
        {"messages": [{"role": "user", "content": "a", "b": 2, "c": 3}, ANSWER]},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    once, twice = tmp_path / "once.jsonl", tmp_path / "twice.jsonl"
    assert run("convert", src, "-o", once).exit_code == 0
    res = run("convert", once, "-o", twice)
    assert res.exit_code == 0, res.output
    assert once.read_bytes() == twice.read_bytes()
    got = [row["messages"][0] for row in _lines(once.read_bytes())]
    assert got == [
        {"role": "user", "content": "a", "c": 1},
        {"role": "user", "content": "a", "c": 3, "b": 2},
    ]
    assert list(got[1]) == ["role", "content", "c", "b"]


def test_compressed_and_shard_outputs_leave_null_keys_out(tmp_path):
    table = read(_input(tmp_path)).table
    write(table, tmp_path / "out.jsonl.gz")
    gz = _lines(gzip.decompress((tmp_path / "out.jsonl.gz").read_bytes()))
    write(table, f"{tmp_path}/shards/", output_format="jsonl")
    shard = next((tmp_path / "shards").glob("*.jsonl"))
    for rows in (gz, _lines(shard.read_bytes())):
        assert rows[0]["messages"][2] == {"role": "tool", "content": "ok", "tool_call_id": "c1"}
        assert "tool_calls" not in rows[1]["messages"][1]


def test_parquet_keeps_every_struct_field(tmp_path):
    table = read(_input(tmp_path)).table
    write(table, tmp_path / "out.parquet")
    message = pq.read_table(tmp_path / "out.parquet").to_pylist()[0]["messages"][0]
    assert message["tool_call_id"] is None and message["name"] == "ann"


def test_no_null_anywhere_writes_as_before():
    # every message holding every key: written by the fast path, keys in the struct's order
    table = pa.table(
        {"messages": [[{"role": "user", "content": "x"}], [{"role": "a", "content": "y"}]]}
    )
    assert to_jsonl(table) == (
        b'{"messages":[{"role":"user","content":"x"}]}\n{"messages":[{"role":"a","content":"y"}]}\n'
    )


def test_objects_whose_first_key_may_be_absent_and_null_objects_and_lists():
    from trlprep.io.jsonencode import encode_json_texts
    from trlprep.io.nullkeys import encode_dropping_nulls

    calls = pa.array(
        [[{"id": "a", "n": 1}, {"id": None, "n": 2}, None], None, [], [{"id": None, "n": None}]]
    )
    got = encode_dropping_nulls(calls, encode_json_texts).to_pylist()
    assert got == ['[{"id":"a","n":1},{"n":2},null]', None, "[]", "[{}]"]
    kept = encode_dropping_nulls(calls.flatten(), encode_json_texts, keep={"n"}).to_pylist()
    assert kept == ['{"id":"a","n":1}', '{"n":2}', None, '{"n":null}']


def test_list_views_are_written_row_by_row():
    """A list view cast to a list loses rows after a null one (pyarrow 26): read as views."""
    from trlprep.io.jsonencode import encode_without_null_keys

    item = pa.struct([("a", pa.int64()), ("b", pa.int64())])
    rows = [[{"a": 1, "b": None}], None, [], [{"a": 2, "b": 3}, {"a": None, "b": 4}]]
    for kind in (pa.list_view, pa.large_list_view):
        got = encode_without_null_keys(pa.array(rows, kind(item))).to_pylist()
        assert got == ['[{"a":1}]', None, "[]", '[{"a":2,"b":3},{"b":4}]']


def test_written_in_batches_as_in_one(tmp_path, monkeypatch):
    """Keys are ordered as a reader meets them in the whole output, not in each batch: the
    second row meets `tool_calls` and `reasoning_content` at once (the struct's order), the
    first met `reasoning_content` alone, so the file orders it first."""
    from trlprep.io import writers

    struct = pa.struct(
        [("role", pa.string()), ("content", pa.string()), ("tool_calls", pa.list_(pa.struct(
            [("id", pa.string())]))), ("reasoning_content", pa.string())]
    )  # fmt: skip
    said = {"role": "assistant", "content": "a"}
    rows = [
        [{**said, "reasoning_content": "r"}],
        [{**said, "tool_calls": [{"id": "c"}], "reasoning_content": "s"}],
        [{**said, "tool_calls": [{"id": "d"}], "reasoning_content": "t"}],
    ]
    table = pa.table({"messages": pa.array(rows, pa.list_(struct))})
    writers.write(table, tmp_path / "one.jsonl")
    monkeypatch.setattr(writers, "WRITE_BATCH_ROWS", 1)
    writers.write(table, tmp_path / "three.jsonl")
    one = (tmp_path / "one.jsonl").read_bytes()
    assert (tmp_path / "three.jsonl").read_bytes() == one
    assert [list(r["messages"][0]) for r in _lines(one)][1:] == [
        ["role", "content", "reasoning_content", "tool_calls"]
    ] * 2


def test_a_rejected_rows_record_does_not_depend_on_the_rows_refused_beside_it():
    """Ray refuses rows block by block, the local engine over a whole batch: a record's key
    order was the order met among the rows refused together (`content` before `role` when
    the row's first message had no role)."""
    from trlprep.importers.rejects import records

    rows = [
        {"messages": [{"role": "user", "content": "sky?"}, {"role": "assistant", "content": ""}]},
        {"messages": [{"content": "sky?"}, {"role": "assistant", "content": "blue"}]},
    ]
    table = pa.Table.from_pylist(rows)
    together = records(table)
    alone = records(table.slice(1, 1))
    assert alone == together[1:]
    assert alone == ['{"messages":[{"content":"sky?"},{"role":"assistant","content":"blue"}]}']


def test_a_column_in_chunks_is_written_as_one_chunk():
    """Keys are ordered as met over the rows, whatever chunks hold them: the first chunk
    (null keys in it) meets `id` before `name`, the second (every key held) in the struct's
    order; `name` came first in the second chunk's rows when the first chunk was not noted."""
    struct = pa.struct([(k, pa.string()) for k in ("role", "content", "name", "id")])
    first = [
        [{"role": "user", "content": "a", "id": "1"}],
        [{"role": "user", "content": "b", "name": "n"}],
    ]
    second = [[{"role": "user", "content": "c", "name": "m", "id": "2"}]]
    kind = pa.list_(struct)
    chunked = pa.table(
        {"messages": pa.chunked_array([pa.array(first, kind), pa.array(second, kind)])}
    )
    assert chunked.column("messages").num_chunks == 2
    got = to_jsonl(chunked, {})
    assert got == to_jsonl(chunked.combine_chunks(), {})
    assert list(_lines(got)[2]["messages"][0]) == ["role", "content", "id", "name"]
