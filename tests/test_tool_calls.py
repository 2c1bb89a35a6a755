"""Tool-call arguments reach chat templates as parsed objects (issue 11, item 1).

Whatever the data holds (an object, OpenAI's JSON string, a column mixing both), the render
equals the original model template rendered by transformers on the same messages given as
Python dicts with the arguments as dicts. Arguments that are not JSON fail their row.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from templates_support import TEMPLATES_DIR, WEATHER_TOOL, template_tokenizer

from trlprep.errors import RowFailures
from trlprep.io.readers import table_from_records
from trlprep.templates import load_template, render_table

ORIGINALS = [TEMPLATES_DIR / "qwen2_5.jinja", TEMPLATES_DIR / "llama3_1.jinja"]
needs_shared = pytest.mark.skipif(
    not all(p.exists() for p in ORIGINALS), reason="../shared is not available"
)


def call(args, name="get_weather"):
    return {"type": "function", "function": {"name": name, "arguments": args}}


def conversation(args, city="Paris"):
    return [
        {"role": "user", "content": f"Weather in {city}?"},
        {"role": "assistant", "content": "", "tool_calls": [call(args)]},
        {"role": "tool", "content": '{"temperature": 22}'},
        {"role": "assistant", "content": "22 degrees."},
    ]


# the arguments as the original template must see them, in each row's own key order
DICTS = [{"city": "Paris", "unit": "celsius"}, {"unit": "fahrenheit", "city": "Tokyo"}]


def expected(tokenizer, rows_args):
    return [
        tokenizer.apply_chat_template(
            conversation(a), tools=[WEATHER_TOOL], tokenize=False, add_generation_prompt=False
        )
        for a in rows_args
    ]


@needs_shared
@pytest.mark.parametrize("path", ORIGINALS, ids=lambda p: p.stem)
@pytest.mark.parametrize("form", ["json-string", "object", "mixed"])
def test_render_equals_the_original_with_dict_arguments(path, form):
    tokenizer = template_tokenizer(path)
    if form == "json-string":  # as the OpenAI API writes them (spaces kept as written)
        args = [json.dumps(d) for d in DICTS]
    elif form == "object":
        args = DICTS
    else:
        args = [json.dumps(DICTS[0]), DICTS[1]]
    rows = [{"messages": conversation(a), "tools": [WEATHER_TOOL]} for a in args]
    table = table_from_records(rows)
    out, report = render_table(table, "language-modeling", load_template(tokenizer), num_proc=1)
    got = out.column("text").to_pylist()
    assert got == expected(tokenizer, DICTS)
    assert '\\"city\\"' not in got[0]  # never an escaped string
    assert report.fast_rows == 0


@needs_shared
def test_qwen_renders_the_arguments_object():
    tokenizer = template_tokenizer(ORIGINALS[0])
    rows = [{"messages": conversation('{"city": "Paris"}')}]
    out, _ = render_table(table_from_records(rows), "lm", load_template(tokenizer), num_proc=1)
    text = out.column("text")[0].as_py()
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n' in text


def test_builtin_fast_template_renders_tool_rows_with_jinja():
    """qwen2.5's string-column renderer covers plain rows only: tool rows go to Jinja."""
    rows = [{"messages": conversation('{"city": "Paris"}')}] + [
        {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}
    ]
    t = load_template("qwen2.5")
    out, report = render_table(table_from_records(rows), "lm", t, num_proc=1)
    assert report.fast_rows == 0
    assert '"arguments": {"city": "Paris"}' in out.column("text")[0].as_py()
    plain, report = render_table(table_from_records(rows[1:] * 3), "lm", t, num_proc=1)
    assert report.fast_rows == 3  # plain rows keep the fast path


def test_arguments_that_are_not_json_fail_their_rows_all_at_once():
    rows = [
        {"messages": conversation('{"city": "Paris"')},
        {"messages": conversation('{"city": "Rome"}')},
        {"messages": conversation("city=Oslo")},
    ]
    table = table_from_records(rows)
    with pytest.raises(RowFailures) as info:
        render_table(table, "lm", load_template("qwen2.5"), num_proc=1)
    e = info.value
    assert e.stage == "chat template" and e.rows == [0, 2]
    assert e.reasons[0].startswith(
        "messages: message 1: tool call 0 (get_weather): arguments are not valid JSON"
    )
    assert e.exit_code == 1


def test_prompt_side_arguments_are_parsed_and_checked():
    prompt = conversation('{"city": "Paris"}')[:3]
    rows = [
        {"prompt": prompt, "completion": [{"role": "assistant", "content": "22."}]},
        {
            "prompt": conversation("{oops")[:3],
            "completion": [{"role": "assistant", "content": "22."}],
        },
    ]
    with pytest.raises(RowFailures) as info:
        render_table(table_from_records(rows), "pc", load_template("qwen2.5"), num_proc=1)
    assert info.value.rows == [1] and info.value.reasons[0].startswith("prompt: message 1")
    out, _ = render_table(table_from_records(rows[:1]), "pc", load_template("qwen2.5"))
    assert '"arguments": {"city": "Paris"}' in out.column("prompt")[0].as_py()


def test_struct_arguments_from_parquet_lose_only_the_union_nulls(tmp_path):
    """Arrow gives struct arguments the union of keys; the absent ones are not rendered."""
    import pyarrow.parquet as pq

    rows = [{"messages": conversation({"city": "Paris"})}, {"messages": conversation({"n": 1})}]
    pq.write_table(table_from_records(rows), tmp_path / "t.parquet")
    table = pq.read_table(tmp_path / "t.parquet")
    out, _ = render_table(table, "lm", load_template("qwen2.5"), num_proc=1)
    texts = out.column("text").to_pylist()
    assert '"arguments": {"city": "Paris"}}' in texts[0]
    assert '"arguments": {"n": 1}}' in texts[1]


def test_extra_columns_and_row_ids_pass_through_untouched():
    from trlprep.errors import ROW_ID

    rows = [{"messages": conversation('{"city": "Paris"}'), "source": "a"}]
    table = table_from_records(rows).append_column(ROW_ID, pa.array([41], pa.int64()))
    out, _ = render_table(table, "lm", load_template("qwen2.5"), num_proc=1)
    assert out.column_names == ["text", "source", ROW_ID]
    assert out.column(ROW_ID).to_pylist() == [41] and out.column("source").to_pylist() == ["a"]


# ---------------------------------------------------------------- round trips through files


def _written_rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_objects_keep_each_rows_keys_and_order(tmp_path):
    """Arrow would type object arguments as one struct (union of keys, first-seen order);
    they are read as each row's own JSON and render as the original template would."""
    from trlprep.io.readers import read

    rows = [{"messages": conversation(d)} for d in DICTS] + [{"messages": conversation({"n": 1})}]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    table = read(str(src)).table
    out, _ = render_table(table, "lm", load_template("qwen2.5"), num_proc=1)
    texts = out.column("text").to_pylist()
    assert '"arguments": {"unit": "fahrenheit", "city": "Tokyo"}}' in texts[1]
    assert '"arguments": {"n": 1}}' in texts[2]


def test_json_text_columns_keep_each_rows_arguments(tmp_path):
    """A CSV column of message-list JSON text is decoded as JSON Lines are read: object
    arguments keep each row's own keys and order (not one struct of every row's keys)."""
    import csv

    from trlprep.io.readers import read

    src = tmp_path / "in.csv"
    with src.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["messages"])
        for d in DICTS:
            writer.writerow([json.dumps(conversation(d))])
    table = read(str(src)).table
    out, _ = render_table(table, "lm", load_template("qwen2.5"), num_proc=1)
    texts = out.column("text").to_pylist()
    assert '"arguments": {"city": "Paris", "unit": "celsius"}}' in texts[0]
    assert '"arguments": {"unit": "fahrenheit", "city": "Tokyo"}}' in texts[1]


@pytest.mark.parametrize(
    "args",
    [DICTS, [json.dumps(d, indent=1) for d in DICTS], [DICTS[0], json.dumps(DICTS[1])]],
    ids=["objects", "strings", "mixed"],
)
def test_convert_writes_back_the_users_values(tmp_path, args):
    """An object stays an object, a JSON string that exact string (JSONL and Parquet)."""
    from typer.testing import CliRunner

    from trlprep.cli import app as main

    rows = [{"messages": conversation(x)} for x in args]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    runner = CliRunner()
    for suffix in ("jsonl", "parquet"):
        out = tmp_path / f"out.{suffix}"
        res = runner.invoke(main, ["convert", str(src), "-o", str(out), "--overwrite"])
        assert res.exit_code == 0, res.output
    back = tmp_path / "back.jsonl"
    res = runner.invoke(main, ["convert", str(tmp_path / "out.parquet"), "-o", str(back)])
    assert res.exit_code == 0, res.output
    for path in (tmp_path / "out.jsonl", back):
        got = [
            r["messages"][1]["tool_calls"][0]["function"]["arguments"] for r in _written_rows(path)
        ]
        assert got == list(args), path.name


def test_double_encoded_arguments_fail_their_rows():
    """Arguments that are JSON text of a string (encoded twice) are not an object."""
    twice = json.dumps(json.dumps({"city": "Paris"}))
    rows = [{"messages": conversation(twice)}, {"messages": conversation('{"city": "Rome"}')}]
    with pytest.raises(RowFailures) as info:
        render_table(table_from_records(rows), "lm", load_template("qwen2.5"), num_proc=1)
    assert info.value.rows == [0]
    assert "arguments are the JSON text of a string, not of an object" in info.value.reasons[0]


def test_sharegpt_glaive_turn_round_trip_and_render(tmp_path):
    """glaive's function_call turn (arguments an object inside JSON text) -> messages whose
    arguments are written back as the object and rendered as one."""
    from trlprep.importers import ImportOptions, import_table
    from trlprep.io.jsonencode import to_jsonl

    value = json.dumps({"name": "get_weather", "arguments": {"unit": "C", "city": "Oslo"}})
    row = {
        "conversations": [
            {"from": "human", "value": "Weather?"},
            {"from": "function_call", "value": value},
            {"from": "observation", "value": "cold"},
            {"from": "gpt", "value": "Cold."},
        ]
    }
    r = import_table(table_from_records([row]), "sharegpt", ImportOptions.make())
    written = json.loads(to_jsonl(r.table))
    call = written["messages"][1]["tool_calls"][0]["function"]
    assert call == {"name": "get_weather", "arguments": {"unit": "C", "city": "Oslo"}}
    out, _ = render_table(r.table, "lm", load_template("qwen2.5"), num_proc=1)
    assert '{"name": "get_weather", "arguments": {"unit": "C", "city": "Oslo"}}' in (
        out.column("text")[0].as_py()
    )


def test_sharegpt_turn_fields_that_are_not_message_fields_are_named():
    from trlprep.importers import ImportOptions, import_table

    row = {
        "conversations": [
            {"from": "human", "value": "hi", "markdown": None},
            {"from": "gpt", "value": "yo", "markdown": {"answer": "**yo**"}, "weight": 0},
        ]
    }
    r = import_table(table_from_records([row]), "sharegpt", ImportOptions.make())
    assert r.notes == ["conversations: turn fields dropped (not message fields): markdown"]
    assert r.table.column("messages").to_pylist()[0][1]["weight"] == 0  # a message field: kept


def test_python_rows_get_back_their_own_argument_values():
    """Rows in, rows out (Python API): arguments come back as given, never as JSON text."""
    import trlprep

    rows = [
        {"messages": conversation(DICTS[1])},
        {"messages": conversation('{"city": "Rome"}')},
    ]
    out = trlprep.apply_chat_template(rows, "qwen2.5", num_proc=1)
    assert '"arguments": {"unit": "fahrenheit", "city": "Tokyo"}' in out[0]["text"]
    back = trlprep.convert(rows, to="prompt-completion")
    args = [r["prompt"][1]["tool_calls"][0]["function"]["arguments"] for r in back]
    assert args == [DICTS[1], '{"city": "Rome"}']


def test_datasets_output_holds_arguments_as_strings():
    """`datasets` keeps no field tags: arguments become strings (objects as their JSON,
    spaced as `json.dumps` writes it; strings as the user's exact text)."""
    from trlprep.io.diskwriter import to_dataset

    table = table_from_records(
        [{"messages": conversation(DICTS[1])}, {"messages": conversation('{"city": "Rome"}')}]
    )
    ds = to_dataset(table)
    args = [m[1]["tool_calls"][0]["function"]["arguments"] for m in ds["messages"]]
    assert args == ['{"unit": "fahrenheit", "city": "Tokyo"}', '{"city": "Rome"}']


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_streamed_chunks_holding_strings_then_objects_keep_each_value(
    tmp_path, monkeypatch, suffix
):
    """Chunks of one file read apart share one arguments representation, so a string in
    one chunk and an object in the next are both written back as given."""
    from typer.testing import CliRunner

    import trlprep.io.jsonl
    from trlprep.cli import app

    monkeypatch.setattr(trlprep.io.jsonl, "CHUNK_BYTES", 400)
    args = ['{"city": "Rome"}', '{ "x":1 }', DICTS[1], '{"city": "Oslo"}', DICTS[0]]
    rows = [{"messages": conversation(x)} for x in args]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / f"out.{suffix}"
    res = CliRunner().invoke(app, ["convert", str(src), "-o", str(out)])
    assert res.exit_code == 0, res.output
    if suffix == "parquet":
        back = tmp_path / "back.jsonl"
        res = CliRunner().invoke(app, ["convert", str(out), "-o", str(back)])
        assert res.exit_code == 0, res.output
        out = back
    got = [r["messages"][1]["tool_calls"][0]["function"] for r in _written_rows(out)]
    assert [fn["arguments"] for fn in got] == args
