"""xLAM / APIGen function calling (`--from xlam`): real rows from the dataset cards, rows
written here for what those two do not show (optional arguments, broken JSON, ...).

The output is what TRL's tool-calling docs ask for: an assistant message with `tool_calls`
`[{"type": "function", "function": {"name", "arguments": {...}}}]` and a `tools` column of
OpenAI function schemas; renders through the original templates equal transformers'
`apply_chat_template` on the same messages and tools.
"""

from __future__ import annotations

import json

import pytest
from realdata.support import counts, original_render, original_template_args, rows_of, run, sample

from trlprep.importers.xlamschema import function_schema, parse_type

CARD = sample("xlam_function_calling")

# row 1234 of the card sample, as the output's tools (checked by hand against xLAM's types:
# `List` -> array, `List[int]` -> array of integers, `int` -> integer; nothing optional)
SPLIT_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "split_list",
            "description": "Splits a list into chunks of a specified size.",
            "parameters": {
                "type": "object",
                "properties": {
                    "lst": {"description": "The input list.", "type": "array"},
                    "chunk_size": {"description": "The size of each chunk.", "type": "integer"},
                },
                "required": ["lst", "chunk_size"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "binary_search",
            "description": "Performs binary search on a sorted list to find the index of a "
            "target value.",
            "parameters": {
                "type": "object",
                "properties": {
                    "arr": {
                        "description": "The sorted list of integers.",
                        "type": "array",
                        "items": {"type": "integer"},
                    },
                    "target": {"description": "The target value to search for.", "type": "integer"},
                },
                "required": ["arr", "target"],
            },
        },
    },
]

# rows written for these tests, as xLAM writes its REST tools (from ToolBench): every
# argument with a default, the optional ones marked `, optional` in the type
WEEK_TOOLS = [
    {
        "name": "catalog_albums",
        "description": "Fetch catalog album data from the Billboard API for a specified week.",
        "parameters": {
            "week": {
                "description": "The week, 'YYYY-MM-DD'.",
                "type": "str",
                "default": "2022-10-08",
            },
            "limit": {"description": "How many albums.", "type": "int, optional", "default": ""},
        },
    }
]


def _row(query, answers, tools, **extra):
    return {"query": query, "answers": answers, "tools": tools, **extra}


def _write(tmp_path, rows, name="x.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _convert(tmp_path, src, *args, name="out.jsonl"):
    out = tmp_path / name
    return run("convert", src, "-o", out, *args), out


def _messages(row):
    """The converted row as transformers takes it (written independently of trlprep)."""
    return row["prompt"] + row["completion"]


# ---------------------------------------------------------------- the real card rows


def test_detect_names_the_layout_and_convert_reads_it_without_from(tmp_path):
    res = run("detect", CARD, "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert (info["type"], info["format"], info["layout"]) == (
        "prompt-completion",
        "conversational",
        "xlam",
    )
    res, out = _convert(tmp_path, CARD)
    assert res.exit_code == 0, res.output
    assert "read as the xlam layout" in res.output
    assert counts(res.output) == (2, 0, 2, 2)


def test_card_rows_become_tool_calls_and_function_schemas(tmp_path):
    res, out = _convert(tmp_path, CARD, "--from", "xlam")
    assert res.exit_code == 0, res.output
    first, second = rows_of(out)
    assert first["prompt"] == [
        {"role": "user", "content": "Where can I find live giveaways for beta access and games?"}
    ]
    assert first["completion"] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": "live_giveaways_by_type", "arguments": {"type": t}},
                }
                for t in ("beta", "game")
            ],
        }
    ]
    # `"type": "str", "default": "game"`: a string, required (not marked optional), default kept
    assert first["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {
            "type": {
                "description": "The type of giveaways to retrieve (e.g., game, loot, beta).",
                "type": "string",
                "default": "game",
            }
        },
        "required": ["type"],
    }
    assert first["id"] == 0
    assert second["tools"] == SPLIT_TOOLS
    calls = second["completion"][0]["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == [
        {"lst": [10, 20, 30, 40, 50, 60], "chunk_size": 4},
        {"arr": [10, 20, 30, 40, 50, 60], "target": 30},
    ]
    assert (second["id"], second["origin"]) == (1234, "xLAM")  # argilla's columns carried
    assert run("validate", out).exit_code == 0


def test_card_rows_render_as_the_original_qwen_template(tmp_path):
    res, out = _convert(tmp_path, CARD, "--from", "xlam", *original_template_args("qwen2_5"))
    assert res.exit_code == 0, res.output
    rendered = rows_of(out)
    res, plain = _convert(tmp_path, CARD, "--from", "xlam", name="plain.jsonl")
    for text, row in zip(rendered, rows_of(plain), strict=True):
        expected = original_render("qwen2_5", _messages(row), tools=row["tools"])
        assert text["prompt"] + text["completion"] == expected
        # the calls as Qwen writes them: <tool_call> JSON with an OBJECT of arguments
        assert '"arguments": {' in text["completion"] and '"arguments": "' not in expected


def test_llama31_refuses_parallel_calls_as_its_template_does(tmp_path):
    # both card rows call two functions; Llama 3.1's template raises on more than one
    res, out = _convert(tmp_path, CARD, "--from", "xlam", *original_template_args("llama3_1"))
    assert res.exit_code == 1
    assert "This model only supports single tool-calls at once!" in res.output


# ---------------------------------------------------------------- rows written for the tests


def test_optional_arguments_and_defaults(tmp_path):
    answers = json.dumps([{"name": "catalog_albums", "arguments": {"week": "2024-01-15"}}])
    src = _write(tmp_path, [_row("Albums of 2024-01-15?", answers, json.dumps(WEEK_TOOLS))])
    res, out = _convert(tmp_path, src, "--from", "xlam")
    assert res.exit_code == 0, res.output
    params = rows_of(out)[0]["tools"][0]["function"]["parameters"]
    assert params == {
        "type": "object",
        "properties": {
            "week": {
                "description": "The week, 'YYYY-MM-DD'.",
                "type": "string",
                "default": "2022-10-08",
            },
            "limit": {"description": "How many albums.", "type": "integer", "default": ""},
        },
        "required": ["week"],  # `int, optional` is not required; a default alone does not say so
    }


def test_single_call_renders_as_the_original_llama31_template(tmp_path):
    answers = json.dumps([{"name": "catalog_albums", "arguments": {"week": "2024-01-15"}}])
    src = _write(tmp_path, [_row("Albums of 2024-01-15?", answers, json.dumps(WEEK_TOOLS))])
    res, out = _convert(tmp_path, src, "--from", "xlam", *original_template_args("llama3_1"))
    assert res.exit_code == 0, res.output
    text = rows_of(out)[0]
    _, plain = _convert(tmp_path, src, "--from", "xlam", name="plain.jsonl")
    row = rows_of(plain)[0]
    assert text["prompt"] + text["completion"] == original_render(
        "llama3_1", _messages(row), tools=row["tools"]
    )
    assert text["completion"].startswith(
        '{"name": "catalog_albums", "parameters": {"week": "2024-01-15"}}'
    )


TOOLS_TEXT = json.dumps(WEEK_TOOLS)
CALL = '[{"name": "catalog_albums", "arguments": {}}]'


@pytest.mark.parametrize(
    "answers,tools,reason",
    [
        ('[{"name": ', TOOLS_TEXT, "answers: not valid JSON"),
        ("[]", TOOLS_TEXT, "answers: an empty list: no call to train on"),
        ('{"name": "f"}', TOOLS_TEXT, "answers: not a list of calls (dict)"),
        ('[{"arguments": {}}]', TOOLS_TEXT, 'answers: item 0 is not a call {"name", "arguments"}'),
        (CALL, "[{", "tools: not valid JSON"),
        (CALL, '[{"description": "x"}]', "tools: tool 0 has no name"),
    ],
)  # fmt: skip
def test_a_row_that_cannot_be_read_is_refused_with_column_and_reason(
    tmp_path, answers, tools, reason
):
    good = json.dumps([{"name": "catalog_albums", "arguments": {"week": "2024-01-15"}}])
    rows = [_row("ok", good, json.dumps(WEEK_TOOLS)), _row("bad", answers, tools)]
    src = _write(tmp_path, rows)
    res, out = _convert(tmp_path, src, "--from", "xlam")
    assert res.exit_code == 1
    assert "x.jsonl:2" in res.output and reason in res.output
    res, out = _convert(tmp_path, src, "--from", "xlam", "--on-error", "skip")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 1, 1, 1)
    rejects = rows_of(tmp_path / "out.rejects.jsonl")
    assert [(r["line"], r["reason"]) for r in rejects] == [(2, reason)]


def test_answers_and_tools_given_as_lists_read_the_same(tmp_path):
    calls = [{"name": "catalog_albums", "arguments": {"week": "2024-01-15"}}]
    as_text = _write(tmp_path, [_row("q", json.dumps(calls), json.dumps(WEEK_TOOLS))], "a.jsonl")
    as_lists = _write(tmp_path, [_row("q", calls, WEEK_TOOLS)], "b.jsonl")
    _, one = _convert(tmp_path, as_text, "--from", "xlam")
    text_rows = rows_of(one)
    _, two = _convert(tmp_path, as_lists, "--from", "xlam", name="two.jsonl")
    assert rows_of(two) == text_rows


def test_unmapped_types_are_left_out_and_said(tmp_path):
    tools = [{"name": "integrate", "description": "d", "parameters": {
        "func": {"description": "f", "type": "Callable[[float], float]"},
        "a": {"description": "a", "type": "float"},
    }}]  # fmt: skip
    answers = json.dumps([{"name": "integrate", "arguments": {"func": "x**2", "a": 0}}])
    src = _write(tmp_path, [_row("q", answers, json.dumps(tools))])
    res, out = _convert(tmp_path, src, "--from", "xlam")
    assert res.exit_code == 0, res.output
    assert "'Callable[[float], float]'" in res.output
    props = rows_of(out)[0]["tools"][0]["function"]["parameters"]["properties"]
    assert props == {"func": {"description": "f"}, "a": {"description": "a", "type": "number"}}


# ---------------------------------------------------------------- the type mapping

INT = {"type": "integer"}


@pytest.mark.parametrize(
    "text,schema,optional",
    [
        ("str", {"type": "string"}, False),
        ("int", {"type": "integer"}, False),
        ("float", {"type": "number"}, False),
        ("bool", {"type": "boolean"}, False),
        ("str, optional", {"type": "string"}, True),
        ("List[int], optional", {"type": "array", "items": {"type": "integer"}}, True),
        ("List", {"type": "array"}, False),
        ("list", {"type": "array"}, False),
        ("List[List[int]]", {"type": "array", "items": {"type": "array", "items": INT}}, False),
        ("Tuple[int, int]", {"type": "array", "items": {"type": "integer"}}, False),
        ("Tuple[int, str]", {"type": "array"}, False),
        ("Dict[str, Any]", {"type": "object"}, False),
        ("dict", {"type": "object"}, False),
        ("Optional[str]", {"type": "string"}, True),
        ("Union[int, float]", {"type": ["integer", "number"]}, False),
        ("Union[int, None]", {"type": "integer"}, True),
        ("Any", {}, False),
        ("Callable[[float], float]", None, False),
        ("datetime", None, False),
    ],
)  # fmt: skip
def test_parse_type(text, schema, optional):
    assert parse_type(text) == (schema, optional)


def test_schemas_already_openai_or_json_schema_are_kept():
    openai = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    assert function_schema(openai) == (openai, None, [])
    bare = {"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}
    assert function_schema(bare) == ({"type": "function", "function": bare}, None, [])
    explicit = {"name": "f", "parameters": {"x": {"type": "str", "required": False}}}
    schema, _, _ = function_schema(explicit)
    assert schema["function"]["parameters"]["required"] == []


def test_report_counts_the_completions_tool_calls_as_answers():
    # the calls are in the completion, beside a prompt of messages without `tool_calls`:
    # they were counted as none, and each call-only completion as an empty answer
    res = run("report", CARD)
    assert res.exit_code == 0, res.output
    assert "4 tool calls" in res.output
    assert "completion text: 0 rows empty/whitespace" in res.output
