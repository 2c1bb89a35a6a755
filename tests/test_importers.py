"""Importers: each public layout lands on its TRL type, exactly, with every row accounted for."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import needs_shared

import trlprep.api as api
from trlprep.conversion.graph import reachable_from
from trlprep.errors import DataError, UsageError
from trlprep.importers import (
    ImportOptions,
    RejectedRowsWarning,
    detect_layout,
    get_importer,
    import_batches,
    import_dataset,
    import_table,
    is_layout,
)
from trlprep.io.jsonl import jsonl_chunks
from trlprep.io.readers import iter_batches, read
from trlprep.io.sources import Batch

FIX = Path(__file__).parent / "fixtures" / "importers"
H, A = "\n\nHuman: ", "\n\nAssistant: "


def _import(name: str, layout: str, on_error: str = "skip", **opts):
    src = read(FIX / name)
    return import_table(
        src.table, layout, ImportOptions.make(**opts), lines=src.lines, on_error=on_error
    )


def _m(role: str, content) -> dict:
    return {"role": role, "content": content}


def _strip_nulls(value):
    """Row dicts without the null fields Arrow gives every struct (absent keys)."""
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def _rows(table: pa.Table) -> list[dict]:
    return _strip_nulls(table.to_pylist())


def _written(table: pa.Table) -> list[dict]:
    """Rows as a JSONL output holds them (tool-call arguments as the user's JSON values)."""
    from trlprep.io.jsonencode import to_jsonl

    return _strip_nulls([json.loads(line) for line in to_jsonl(table).splitlines()])


def _assert_valid(result) -> None:
    report = api.validate(result.table, type=result.dtype, format=result.fmt)
    assert report.valid, [i.to_dict() for i in report.issues]


# ---------------------------------------------------------------- ShareGPT


def test_sharegpt_language_modeling():
    r = _import("sharegpt.jsonl", "sharegpt", on_error="stop")
    assert (r.dtype.name, r.fmt.value) == ("language-modeling", "conversational")
    _assert_valid(r)
    rows = _rows(r.table)
    assert r.table.column_names[0] == "messages"
    assert "conversations" not in r.table.column_names and "system" not in r.table.column_names
    assert rows[0]["messages"] == [
        _m("system", "You are helpful."),
        _m("user", "What color is the sky?"),
        _m("assistant", "It is blue."),
    ]
    assert rows[0]["id"] == "a"
    # a conversation that opens with the assistant is kept as it is; "" system adds nothing
    assert [m["role"] for m in rows[1]["messages"]] == ["assistant", "user", "assistant"]
    assert rows[1]["messages"][2]["content"] == "Why did the\nchicken cross the road?"
    # function_call -> assistant tool call (object arguments written back as the object),
    # observation -> tool
    written = _written(r.table)
    call = written[2]["messages"][1]
    assert call == {
        "role": "assistant",
        "tool_calls": [
            {
                "type": "function",
                "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}},
            }
        ],
    }
    assert rows[2]["messages"][2] == _m("tool", '{"temp": 21}')
    assert json.loads(rows[2]["tools"])[0]["name"] == "get_weather"
    # a list of calls; string arguments are kept byte for byte, objects as objects
    calls = written[3]["messages"][1]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == ['{"a": 2, "b": 3}', {"a": 4, "b": 5}]
    assert [m["role"] for m in rows[3]["messages"]][2:] == ["tool", "tool", "assistant"]


def test_sharegpt_rejects_each_bad_row_with_line_and_reason():
    r = _import("sharegpt_bad.jsonl", "sharegpt")
    _assert_valid(r)
    assert r.table.num_rows == 2 and list(r.rows) == [0, 5] and list(r.lines) == [1, 6]
    rej = r.rejects.to_pylist()
    assert [x["line"] for x in rej] == [2, 3, 4, 5]
    assert [x["row"] for x in rej] == [1, 2, 3, 4]
    reasons = [x["reason"] for x in rej]
    assert "unknown-role" in reasons[0] and "narrator" in reasons[0]
    assert reasons[1] == "conversations: a function_call turn is not valid JSON"
    assert "empty-string" in reasons[2]
    assert reasons[3] == "conversations is null"
    # the original row comes back whole
    assert json.loads(rej[1]["record"])["conversations"][1]["value"] == "get_weather(Paris)"


def test_sharegpt_stop_names_the_line():
    with pytest.raises(DataError) as e:
        _import("sharegpt_bad.jsonl", "sharegpt", on_error="stop")
    assert e.value.line == 2 and "narrator" in e.value.message
    assert e.value.exit_code == 1


def test_sharegpt_role_map_overrides_defaults():
    r = _import("sharegpt_bad.jsonl", "sharegpt", role_map="narrator=system,gpt=user")
    roles = {tuple(m["role"] for m in row["messages"]) for row in _rows(r.table)}
    assert ("system",) in roles and ("user", "user") in roles


def test_sharegpt_mixed_kinds_become_json_text_arguments():
    """`value` is an object in one row and text in others: Arrow reads the column as
    tagged JSON text; arguments are kept as the user's values either way."""
    src = read(FIX / "sharegpt_mixed.jsonl")
    assert src.table.schema.field("conversations").metadata  # tagged JSON text
    r = _import("sharegpt_mixed.jsonl", "sharegpt", on_error="stop")
    _assert_valid(r)
    calls = [row["messages"][1]["tool_calls"][0]["function"] for row in _written(r.table)]
    assert calls == [
        {"name": "get_weather", "arguments": {"city": "Oslo"}},
        {"name": "now", "arguments": "{}"},  # the turn held the string "{}"
    ]
    assert pa.types.is_string(
        r.table.schema.field("messages")
        .type.value_type.field("tool_calls")
        .type.value_type.field("function")
        .type.field("arguments")
        .type
    )


def test_sharegpt_preference_layout():
    r = _import("sharegpt_pref.jsonl", "sharegpt", on_error="stop")
    assert (r.dtype.name, r.fmt.value) == ("preference", "conversational")
    _assert_valid(r)
    rows = _rows(r.table)
    assert rows[0] == {
        "prompt": [_m("system", "Answer briefly."), _m("user", "What color is the sky?")],
        "chosen": [_m("assistant", "It is blue.")],
        "rejected": [_m("assistant", "It is green.")],
    }
    assert [m["role"] for m in rows[1]["prompt"]] == ["user", "assistant", "user"]


# ---------------------------------------------------------------- Alpaca


def test_alpaca_standard_uses_the_stanford_template():
    r = _import("alpaca.json", "alpaca")
    assert (r.dtype.name, r.fmt.value) == ("prompt-completion", "standard")
    _assert_valid(r)
    rows = _rows(r.table)
    assert rows[0]["prompt"] == (
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\nGive three tips for staying healthy.\n\n"
        "### Response:"
    )
    assert rows[1]["prompt"] == (
        "Below is an instruction that describes a task, paired with an input that provides "
        "further context. Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nTranslate to French.\n\n### Input:\nGood morning\n\n### Response:"
    )
    assert rows[1]["completion"] == "Bonjour"
    assert rows[2]["prompt"].startswith("You are terse.\n\n### Instruction:\nSummarise.")
    # standard format cannot hold the history: that row is reported (JSON array: the line
    # its object starts on)
    (rej,) = r.rejects.to_pylist()
    assert rej["row"] == 3 and rej["line"] == 18 and "--conversational" in rej["reason"]


def test_alpaca_plain_and_conversational():
    plain = _rows(_import("alpaca.json", "alpaca", prompt_style="plain").table)
    assert [p["prompt"] for p in plain] == [
        "Give three tips for staying healthy.",
        "Translate to French.\n\nGood morning",
        "You are terse.\n\nSummarise.\n\nLong text here.",
    ]
    r = _import("alpaca.json", "alpaca", on_error="stop", conversational=True)
    assert (r.dtype.name, r.fmt.value) == ("prompt-completion", "conversational")
    _assert_valid(r)
    rows = _rows(r.table)
    assert rows[2]["prompt"] == [
        _m("system", "You are terse."),
        _m("user", "Summarise.\n\nLong text here."),
    ]
    assert rows[3] == {
        "prompt": [
            _m("user", "Translate to French.\n\nGood morning"),
            _m("assistant", "Bonjour"),
            _m("user", "And in German?"),
        ],
        "completion": [_m("assistant", "Guten Morgen")],
    }


def test_alpaca_empty_output_and_instruction_are_reported():
    table = pa.table(
        {
            "instruction": ["a", "", "c", None],
            "input": ["", "", "", ""],
            "output": ["x", "y", "", "z"],
        }
    )
    r = import_table(table, "alpaca", on_error="skip")
    assert list(r.rows) == [0]
    assert r.rejects.column("reason").to_pylist() == [
        "instruction is empty",
        "output is empty",
        "instruction is null",
    ]


# ---------------------------------------------------------------- HH


def test_hh_turns_are_parsed_exactly():
    r = _import("hh.jsonl", "hh")
    assert (r.dtype.name, r.fmt.value) == ("preference-implicit", "conversational")
    _assert_valid(r)
    rows = _rows(r.table)
    assert rows[0]["chosen"] == [
        _m("user", "What color is the sky?"),
        _m("assistant", "It is blue."),
    ]
    # "Human:" not after a blank line stays in the text
    assert rows[1]["chosen"] == [
        _m("user", "My script says Human: hello. Is that right?"),
        _m("assistant", "Human: is just a label there.\nAssistant: too."),
    ]
    # a blank line inside a turn, and a trailing newline before the next marker, are kept
    assert rows[2]["chosen"][1] == _m("assistant", "1. Open the door.\n\n2. Walk in.\n")
    assert len(rows[2]["chosen"]) == 4
    # no blank line before the first marker; two assistant turns kept as written
    assert rows[3]["chosen"] == [
        _m("user", "Hi"),
        _m("assistant", "Hello!"),
        _m("assistant", "  How are you?"),
    ]


def test_hh_unimportable_rows_are_reported():
    r = _import("hh.jsonl", "hh")
    rej = r.rejects.to_pylist()
    assert [x["line"] for x in rej] == [5, 6, 7]
    assert rej[0]["reason"].startswith("chosen: ends with an empty Assistant turn")
    assert rej[1]["reason"] == 'chosen: has text before its first "Human:"/"Assistant:" turn'
    assert rej[2]["reason"] == "rejected: does not end with an Assistant turn"
    assert r.table.num_rows + len(rej) == 7


def _transcript(messages: list[dict]) -> str:
    return "".join((H if m["role"] == "user" else A) + m["content"] for m in messages)


def test_hh_real_file_every_row_accounted_for():
    shared = needs_shared()
    path = shared / "data" / "real" / "hh-rlhf-harmless-base-test.jsonl.gz"
    src = read(path)
    assert src.table.num_rows == 2312
    r = import_table(src.table, "hh", lines=src.lines, on_error="skip")
    rejected = r.rejects.column("row").to_numpy()
    assert src.table.num_rows == r.table.num_rows + len(rejected)
    assert not set(r.rows.tolist()) & set(rejected.tolist())
    assert sorted(r.rows.tolist() + rejected.tolist()) == list(range(2312))
    assert r.rejects.column("line").to_pylist() == [87, 517, 926, 1104]
    reasons = r.rejects.column("reason").to_pylist()
    assert all(x.startswith("chosen: ends with an empty Assistant turn") for x in reasons)
    assert all("--keep-empty-turns" in x and "--on-error" not in x for x in reasons)
    _assert_valid(r)
    # exact parse: the transcripts come back byte for byte
    out = r.table.to_pylist()
    original = src.table.to_pylist()
    for i in range(0, len(out), 97):
        for col in ("chosen", "rejected"):
            assert _transcript(out[i][col]) == original[r.rows[i]][col]


def test_hh_real_file_streams_in_batches():
    shared = needs_shared()
    path = str(shared / "data" / "real" / "hh-rlhf-harmless-base-test.jsonl.gz")
    batches = list(jsonl_chunks(path, chunk_bytes=256 << 10))
    assert len(batches) > 3
    rejects, seen = [], 0
    from trlprep.importers import ImportStats

    stats = ImportStats()

    class Sink:
        def write(self, t):
            rejects.extend(t.column("line").to_pylist())

    for b in import_batches(batches, "hh", on_error="skip", rejects=Sink(), stats=stats):
        assert b.offset == seen
        seen += b.data.num_rows
    assert (stats.rows_in, stats.rows_out, stats.rejected) == (2312, 2308, 4)
    assert rejects == [87, 517, 926, 1104] and seen == 2308


# ---------------------------------------------------------------- OpenAI chat


def test_openai_chat_tool_calls_weights_and_tools():
    from trlprep.io.jsonargs import has_tagged_arguments

    src = read(FIX / "openai_chat.jsonl")
    # arguments mix strings and objects: held as the JSON text of each (tagged)
    assert has_tagged_arguments(src.table.schema.field("messages").type)
    r = _import("openai_chat.jsonl", "openai-chat", on_error="stop")
    assert (r.dtype.name, r.fmt.value) == ("language-modeling", "conversational")
    _assert_valid(r)
    rows = _rows(r.table)
    assert rows[0]["messages"][2] == {
        "role": "assistant",
        "content": "Paris, obviously.",
        "weight": 1,
    }
    call = _written(r.table)[1]["messages"][1]
    assert call["weight"] == 0 and "content" not in call
    assert call["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    assert rows[1]["messages"][2] == {"role": "tool", "tool_call_id": "call_1", "content": "21C"}
    written = _written(r.table)[2]["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert written == {"a": 4, "b": 5}  # an object stays an object
    assert _written(r.table)[1]["messages"][1]["tool_calls"][0]["function"]["arguments"] == (
        '{"city": "Paris"}'  # a string stays that exact string
    )
    # tools as JSON text, each row with only its own function's parameters
    tools = [json.loads(row["tools"]) if "tools" in row else None for row in rows]
    assert tools[0] is None
    assert tools[1][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    }
    assert tools[2][0]["function"]["parameters"]["properties"] == {
        "a": {"type": "number"},
        "b": {"type": "number"},
    }


def test_openai_chat_typed_arguments_and_legacy_function_call():
    rows = [
        {
            "messages": [
                {"role": "user", "content": "go", "refusal": None},
                {
                    "role": "assistant",
                    "content": None,
                    "function_call": {"name": "f", "arguments": "{}"},
                },
                {"role": "function", "name": "f", "content": "done"},
                {"role": "assistant", "content": "ok"},
            ]
        }
    ]
    r = import_table(api_table(rows), "openai-chat")
    _assert_valid(r)
    msgs = _rows(r.table)[0]["messages"]
    assert msgs[1]["tool_calls"] == [
        {"type": "function", "function": {"name": "f", "arguments": "{}"}}
    ]
    assert msgs[2] == {"role": "tool", "name": "f", "content": "done"}
    assert r.notes == ["messages: message fields dropped (no TRL message field): 'refusal'"]


def api_table(rows: list[dict]) -> pa.Table:
    from trlprep.io.adapters import as_input

    return as_input(rows).table


def test_openai_preference_layout():
    r = _import("openai_pref.jsonl", "openai-chat", on_error="stop")
    assert (r.dtype.name, r.fmt.value) == ("preference", "conversational")
    _assert_valid(r)
    rows = _rows(r.table)
    assert rows[1] == {
        "prompt": [_m("system", "Be terse."), _m("user", "2+2?")],
        "chosen": [_m("assistant", "4")],
        "rejected": [_m("assistant", "Five")],
    }
    assert rows[0]["tools"] == "[]" and rows[0]["parallel_tool_calls"] is True


# ---------------------------------------------------------------- ranked


def test_ranked_best_vs_rest_reports_ties_and_unpairable_rows():
    r = _import("ranked.jsonl", "ranked")
    assert (r.dtype.name, r.fmt.value) == ("preference", "standard")
    _assert_valid(r)
    assert _rows(r.table) == [
        {"prompt": "The sky is", "chosen": " blue.", "rejected": " green.", "source": "x"},
        {"prompt": "The sky is", "chosen": " blue.", "rejected": " red.", "source": "x"},
        {"prompt": "Grass is", "chosen": " green.", "rejected": " purple.", "source": "y"},
    ]
    assert list(r.rows) == [0, 0, 1]
    assert r.rejects.column("line").to_pylist() == [3, 4]
    assert r.rejects.column("reason").to_pylist() == [
        "fewer than two completions: nothing to pair",
        "every completion has the same score: no pair (ties)",
    ]
    assert r.notes == ["2 pairs of completions with equal scores were not made (ties)"]


def test_ranked_threshold_ranks_and_ultrafeedback():
    r = _import("ranked.jsonl", "ranked", threshold=5)
    assert r.dtype.name == "unpaired-preference" and r.num_rejected == 0
    assert r.table.column("label").to_pylist() == [
        True,
        False,
        True,
        True,
        True,
        False,
        True,
        True,
        True,
    ]
    r = _import("ranked_ranks.jsonl", "ranked", pairing="best-vs-worst")
    assert [(x["chosen"], x["rejected"]) for x in _rows(r.table)] == [
        (" blue.", " green."),
        (" hot.", " cold."),
    ]
    r = _import("ultrafeedback.jsonl", "ranked", on_error="stop", margin=True)
    _assert_valid(r)
    assert [(x["prompt"], x["chosen"], x["rejected"], x["margin"]) for x in _rows(r.table)] == [
        ("Name a prime.", "7", "4", 7.5),
        ("Name a prime.", "7", "9", 6.5),
        ("Say hi.", "hi", "bye", 7.0),
    ]


def test_ranked_bad_rows():
    table = pa.table(
        {
            "prompt": ["a", None, "c", "d", "e"],
            "completions": [["x", "y"], ["x", "y"], ["x"], ["x", None], ["x", "y"]],
            "scores": [[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [1.0, float("nan")]],
        }
    )
    r = import_table(table, "ranked", on_error="skip")
    assert _rows(r.table) == [{"prompt": "a", "chosen": "y", "rejected": "x"}]
    assert r.rejects.column("reason").to_pylist() == [
        "prompt is null",
        "different numbers of completions and scores",
        "a completion is null",
        "a score is NaN",
    ]


# ---------------------------------------------------------------- generic mapping


def test_map_columns_and_roles():
    r = _import(
        "mapped.jsonl", "map", on_error="stop", map="prompt=question,chosen=good,rejected=bad"
    )
    assert (r.dtype.name, r.fmt.value) == ("preference", "standard")
    assert _rows(r.table)[0] == {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}
    r = _import(
        "mapped_roles.jsonl",
        "map",
        on_error="stop",
        map="messages=dialog",
        map_role="human=user,bot=assistant",
    )
    _assert_valid(r)
    assert [[m["role"] for m in x["messages"]] for x in _rows(r.table)] == [
        ["user", "assistant"],
        ["user", "assistant"],  # role names match case-insensitively ("Human")
    ]


def test_map_onto_text_and_messages_names_which_is_which():
    rows = [{"q": "Hi", "a": [{"role": "assistant", "content": "Hello"}]}]
    with pytest.raises(UsageError) as e:
        import_dataset(rows, "map", map="prompt=q,completion=a")
    assert (
        "column 'prompt' (from 'q') holds text and column 'completion' (from 'a') a list of "
        "messages: they must be of the same format"
    ) in e.value.message
    assert "no known format" not in e.value.message


def test_map_applies_before_any_layout():
    table = pa.table({"question": ["Hi?"], "answer": ["Hello."]})
    r = import_table(table, "alpaca", ImportOptions.make(map="instruction=question,output=answer"))
    assert _rows(r.table) == [
        {
            "prompt": "Below is an instruction that describes a task. Write a response that "
            "appropriately completes the request.\n\n### Instruction:\nHi?\n\n### Response:",
            "completion": "Hello.",
        }
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("prompt=nope", "no column 'nope'"),
        ("chosen", "bad --map entry"),
        ("prompt=question,prompt=good", "twice"),
    ],
)
def test_map_usage_errors(spec, message):
    table = pa.table({"question": ["q"], "good": ["g"], "bad": ["b"]})
    with pytest.raises(UsageError, match=message):
        import_table(table, "map", ImportOptions.make(map=spec))


def test_map_without_a_type_is_a_usage_error():
    with pytest.raises(UsageError, match="match no TRL dataset type"):
        import_table(pa.table({"question": ["q"]}), "map")


# ---------------------------------------------------------------- layout names, detection


def test_layout_names_and_detection():
    assert (
        get_importer("OpenAI").name == "openai-chat"
        and get_importer("ultrafeedback").name == "ranked"
    )
    assert is_layout("hh-rlhf") and not is_layout("preference")
    with pytest.raises(UsageError, match="unknown layout"):
        get_importer("csv")
    for name, layout in [
        ("sharegpt.jsonl", "sharegpt"),
        ("sharegpt_pref.jsonl", "sharegpt"),
        ("sharegpt_mixed.jsonl", "sharegpt"),
        ("alpaca.json", "alpaca"),
        ("openai_chat.jsonl", "openai-chat"),
        ("openai_pref.jsonl", "openai-chat"),
        ("ranked.jsonl", "ranked"),
        ("ultrafeedback.jsonl", "ranked"),
        ("hh.jsonl", "hh"),
        ("mapped.jsonl", None),
    ]:
        t = read(FIX / name).table
        assert detect_layout(t.schema, t) == layout, name
    # HH is valid standard implicit preference: only rows tell it apart
    assert detect_layout(read(FIX / "hh.jsonl").table.schema) is None


# ---------------------------------------------------------------- streaming = whole table


@pytest.mark.parametrize(
    ("name", "layout", "opts"),
    [
        ("sharegpt_bad.jsonl", "sharegpt", {}),
        ("hh.jsonl", "hh", {}),
        ("ranked.jsonl", "ranked", {}),
        ("openai_chat.jsonl", "openai-chat", {}),
    ],
)
def test_batches_match_the_whole_table(name, layout, opts):
    src = read(FIX / name)
    whole = import_table(
        src.table, layout, ImportOptions.make(**opts), lines=src.lines, on_error="skip"
    )
    batches = [
        Batch(src.table.slice(i, 2), i, src.lines[i : i + 2])
        for i in range(0, src.table.num_rows, 2)
    ]
    lines = []

    class Sink:
        def write(self, t):
            lines.extend(t.column("line").to_pylist())

    out = list(
        import_batches(batches, layout, ImportOptions.make(**opts), on_error="skip", rejects=Sink())
    )
    assert sum(b.data.num_rows for b in out) == whole.table.num_rows
    assert lines == whole.rejects.column("line").to_pylist()
    assert np.concatenate([b.lines for b in out]).tolist() == whole.lines.tolist()
    got = [r for b in out for r in _rows(b.data)]
    assert got == _rows(whole.table)


def test_import_batches_stop_raises_on_the_first_bad_batch():
    batches = iter_batches(FIX / "hh.jsonl")
    with pytest.raises(DataError) as e:
        list(import_batches(batches, "hh", path="hh.jsonl"))
    assert e.value.line == 5 and e.value.path == "hh.jsonl"


# ---------------------------------------------------------------- Python API, round trips


def test_import_dataset_gives_back_the_same_kind():
    rows = [{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}]
    out = import_dataset(rows, "sharegpt")
    assert out == [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    ]
    import polars as pl

    df = import_dataset(
        pl.DataFrame({"instruction": ["a"], "output": ["b"]}), "alpaca", prompt_style="plain"
    )
    assert isinstance(df, pl.DataFrame) and df.to_dicts() == [{"prompt": "a", "completion": "b"}]
    table = import_dataset(str(FIX / "ranked.jsonl"), "ranked", threshold=5.0)
    assert isinstance(table, pa.Table) and table.num_rows == 9


def test_import_dataset_skip_warns_with_the_count():
    with pytest.warns(RejectedRowsWarning, match="4 rows could not be imported"):
        out = import_dataset(str(FIX / "sharegpt_bad.jsonl"), "sharegpt", on_error="skip")
    assert out.num_rows == 2
    with pytest.raises(DataError):
        import_dataset(str(FIX / "sharegpt_bad.jsonl"), "sharegpt")
    with pytest.raises(UsageError, match="unknown on_error 'ignore'"):  # Python's words
        import_dataset(str(FIX / "hh.jsonl"), "hh", on_error="ignore")
    with pytest.raises(UsageError, match="unknown import option"):
        import_dataset(str(FIX / "hh.jsonl"), "hh", pairs="x")


ROUND_TRIPS = [
    ("sharegpt_pref.jsonl", "sharegpt", {}),
    ("openai_pref.jsonl", "openai-chat", {}),
    ("hh.jsonl", "hh", {}),
    ("alpaca.json", "alpaca", {}),
    ("alpaca.json", "alpaca", {"conversational": True}),
    ("ranked.jsonl", "ranked", {}),
    ("ranked.jsonl", "ranked", {"threshold": 5}),
    ("ultrafeedback.jsonl", "ranked", {}),
    ("mapped.jsonl", "map", {"map": "prompt=question,chosen=good,rejected=bad"}),
]


@pytest.mark.parametrize(("name", "layout", "opts"), ROUND_TRIPS)
def test_imported_data_converts_to_every_reachable_type(name, layout, opts):
    r = _import(name, layout, **opts)
    targets = sorted(reachable_from(r.dtype, guide_only=False))
    assert targets
    for dst in targets:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = api.convert(r.table, dst)
        assert out.num_rows > 0, dst
        report = api.validate(out, type=dst)
        assert report.valid, (dst, [i.to_dict() for i in report.issues])


def test_real_hh_converts_to_every_reachable_type():
    shared = needs_shared()
    src = read(shared / "data" / "real" / "hh-rlhf-harmless-base-test.jsonl.gz")
    r = import_table(src.table.slice(0, 400), "hh", lines=src.lines[:400], on_error="skip")
    for dst in sorted(reachable_from(r.dtype, guide_only=False)):
        out = api.convert(r.table, dst)
        assert api.validate(out, type=dst).valid, dst
