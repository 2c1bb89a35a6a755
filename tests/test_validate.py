"""Validation rules, one by one, for every type and format; reports; streaming and merging."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import EXAMPLES, _m

import trlprep
from trlprep.errors import UsageError
from trlprep.registry import TYPES, Format
from trlprep.validation.report import Report
from trlprep.validation.rolemap import parse_role_map
from trlprep.validation.rules import RULES, Severity
from trlprep.validation.validate import validate_path, validate_table


def _named_call(name: str) -> dict:
    calls = [{"type": "function", "function": {"name": name, "arguments": "{}"}}]
    return {"role": "assistant", "content": "", "tool_calls": calls}


def _tool(name: str) -> dict:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}


def _requiring(name: str, properties: list[str], required: list[str]) -> dict:
    """A function schema whose `required` is `required`, beside `properties` (strings)."""
    props = {p: {"type": "string"} for p in properties}
    params = {"type": "object", "properties": props, "required": required}
    return {"type": "function", "function": {"name": name, "parameters": params}}


U = _m("user", "What color is the sky?")
A = _m("assistant", "It is blue.")
B = _m("assistant", "It is green.")


def _call(arguments) -> dict:
    """An assistant turn calling one tool with `arguments`."""
    fn = {"name": "get_weather", "arguments": arguments}
    return {"role": "assistant", "tool_calls": [{"type": "function", "function": fn}]}


def run(rows, **kw) -> Report:
    report = trlprep.validate(rows, **kw)
    assert isinstance(report, Report)
    return report


def issue(report: Report, rule: str, column: str | None = None):
    found = report.issue(rule, column)
    assert found is not None, (rule, [(i.rule, i.column) for i in report.issues])
    return found


# ---------------------------------------------------------------- valid data


@pytest.mark.parametrize("key", sorted(EXAMPLES))
def test_guide_examples_are_valid_as_detected(key):
    r = run([EXAMPLES[key]])
    assert r.valid and r.issues == []
    assert (r.type, r.format) == key
    assert r.num_rows == 1


@pytest.mark.parametrize("key", sorted(EXAMPLES))
def test_guide_examples_are_valid_when_named(key):
    r = run([EXAMPLES[key]], type=key[0], format=key[1])
    assert r.valid and r.issues == []


@pytest.mark.parametrize(
    ("type_name", "fmt"), [(t.name, f.value) for t in TYPES.values() for f in t.all_formats]
)
def test_every_type_and_format_has_a_valid_case(type_name, fmt):
    row = EXAMPLES.get((type_name, fmt), {"input_ids": [1, 2, 3], "attention_mask": [1, 1, 0]})
    r = run([row, row | {"extra": "carried along"}], type=type_name, format=fmt)
    assert r.valid, r.issues
    assert r.issues == []  # the extra column makes the rows differ: no duplicate warning


def test_tool_calls_and_tool_turns_are_valid():
    call = {"type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}
    row = {
        "prompt": [
            _m("system", "Use tools."),
            U,
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "name": "weather", "content": "sunny"},
        ],
        "completion": [A],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {}}}],
    }
    r = run([row])
    assert r.valid and r.issues == []


def test_vision_rows_are_valid_when_counts_match():
    row = {
        "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "?"}]}],
        "completion": [{"role": "assistant", "content": [{"type": "text", "text": "blue"}]}],
        "images": ["a.png"],
    }
    r = run([row])
    assert (r.type, r.format, r.valid, r.issues) == (
        "prompt-completion",
        "conversational",
        True,
        [],
    )


def test_content_strings_and_parts_mixed_across_rows_are_valid():
    parts = {"role": "assistant", "content": [{"type": "text", "text": "It is blue."}]}
    r = run([{"prompt": [U], "completion": [A]}, {"prompt": [U], "completion": [parts]}])
    assert r.valid and r.issues == []


# ---------------------------------------------------------------- each rule


REQUIRED = [
    (t.name, f.value, name)
    for t in TYPES.values()
    for f in t.all_formats
    if f is not Format.TOKENIZED
    for name in t.column_names(f)
]


@pytest.mark.parametrize(("type_name", "fmt", "column"), REQUIRED)
def test_every_required_column_is_checked(type_name, fmt, column):
    good = EXAMPLES[(type_name, fmt)]
    kw = {"type": type_name, "format": fmt}
    dropped = {k: v for k, v in good.items() if k != column}
    r = run([good, dropped, good | {"extra": 1}], **kw)
    assert issue(r, "null-value", column).rows == [1]
    r = run([dropped | {"extra": 1}], **kw)  # (a row with no key at all would make no row)
    assert issue(r, "missing-column", column).count == 1
    r = run([good, good | {column: 7}], **kw)
    wrong = [i for i in r.errors if i.column == column]
    assert wrong and all(i.rows == [1] for i in wrong), r.issues
    assert {i.rule for i in wrong} <= {"mixed-kind", "label-type", "labels-type"}


CASES = [
    # rule, rows, kwargs, column, flagged rows
    ("unknown-type", [{"foo": 1}], {}, None, []),
    ("empty-dataset", [], {}, None, []),
    ("missing-column", [{"prompt": "a", "chosen": "b"}], {"type": "pref"}, "rejected", []),
    (
        "wrong-type",
        [{"prompt": "a", "completion": "b"}],
        {"type": "pc", "format": "conversational"},
        "prompt",
        [0],
    ),
    (
        "wrong-type",
        [{"text": 5}, {"text": 6}],
        {"type": "lm", "format": "standard"},
        "text",
        [0, 1],
    ),
    (
        "mixed-kind",
        [{"prompt": [U], "completion": [A]}] * 2 + [{"prompt": "a", "completion": "b"}],
        {},
        "prompt",
        [2],
    ),
    (
        "null-value",
        [{"prompt": "a", "completion": "b"}, {"prompt": None, "completion": "c"}],
        {},
        "prompt",
        [1],
    ),
    (
        "null-value",
        [{"prompt": "a", "completions": ["x", None], "labels": [True, True]}],
        {},
        "completions",
        [0],
    ),
    ("empty-string", [{"text": "a"}, {"text": ""}], {}, "text", [1]),
    ("empty-string", [{"messages": [U, _m("assistant", "")]}], {}, "messages", [0]),
    (
        "empty-string",
        [{"prompt": "q", "completions": ["a", ""], "labels": [True, False]}],
        {},
        "completions",
        [0],
    ),
    ("whitespace-only", [{"text": " \n\t"}], {}, "text", [0]),
    ("whitespace-only", [{"prompt": [_m("user", "  ")], "completion": [A]}], {}, "prompt", [0]),
    (
        "empty-messages",
        [{"prompt": [U], "completion": [A]}, {"prompt": [], "completion": [A]}],
        {},
        "prompt",
        [1],
    ),
    ("invalid-message", [{"messages": [U, None]}], {}, "messages", [0]),
    (
        "invalid-message",
        [{"messages": [{"role": "user", "content": "x", "name": 5}]}],
        {},
        "messages",
        [0],
    ),
    ("unknown-role", [{"messages": [_m("human", "x"), A]}], {}, "messages", [0]),
    ("unknown-role", [{"messages": [{"content": "x", "role": None}, A]}], {}, "messages", [0]),
    ("content-type", [{"messages": [_m("user", 5)]}], {}, "messages", [0]),
    ("content-type", [{"messages": [_m("user", ["a", "b"])]}], {}, "messages", [0]),
    ("missing-content", [{"messages": [{"role": "user", "content": None}]}], {}, "messages", [0]),
    ("missing-content", [{"messages": [_m("user", [])]}], {}, "messages", [0]),
    ("invalid-part", [{"messages": [_m("user", [{"type": "audiox"}])]}], {}, "messages", [0]),
    (
        "invalid-part",
        [{"messages": [_m("user", [{"type": "text"}, {"type": "image"}])]}],
        {"type": "lm", "format": "conversational"},
        "messages",
        [0],
    ),
    ("system-not-first", [{"messages": [U, _m("system", "s"), A]}], {}, "messages", [0]),
    ("prompt-ending", [{"prompt": [_m("system", "s")], "completion": [A]}], {}, "prompt", [0]),
    ("prompt-ending", [{"prompt": [U, _m("developer", "d")]}], {}, "prompt", [0]),
    (
        "continue-final-message",
        [{"prompt": [U, _m("assistant", "It")], "completion": [A]}],
        {},
        "prompt",
        [0],
    ),
    (
        "completion-not-assistant",
        [{"prompt": [U], "chosen": [A], "rejected": [U]}],
        {},
        "rejected",
        [0],
    ),
    (
        "completion-not-assistant",
        [{"prompt": [U], "completion": [_m("tool", "x")], "label": True}],
        {},
        "completion",
        [0],
    ),
    ("no-common-prefix", [{"chosen": "abc", "rejected": "abcd"}], {}, "chosen+rejected", [0]),
    (
        "conversation-ending",
        [{"messages": [U, A], "label": True}, {"messages": [A, U], "label": False}],
        {},
        "messages",
        [1],
    ),
    ("no-common-prefix", [{"chosen": "Yes.", "rejected": "No."}], {}, None, [0]),
    ("no-common-prefix", [{"chosen": [U, A], "rejected": [_m("user", "Other"), B]}], {}, None, [0]),
    ("chosen-equals-rejected", [{"prompt": "q", "chosen": " a", "rejected": " a"}], {}, None, [0]),
    ("chosen-equals-rejected", [{"chosen": [U, A], "rejected": [U, A]}], {}, None, [0]),
    ("label-type", [{"prompt": "a", "completion": "b", "label": 1}], {}, "label", [0]),
    ("label-type", [{"prompt": "a", "completion": "b", "label": "true"}], {}, "label", [0]),
    (
        "label-type",
        [{"prompt": "a", "completion": "b", "label": v} for v in (True, 0)],
        {},
        "label",
        [1],
    ),
    ("labels-type", [{"prompt": "a", "completions": ["x"], "labels": [1]}], {}, "labels", [0]),
    (
        "steps-mismatch",
        [{"prompt": "a", "completions": ["x", "y"], "labels": [True]}],
        {},
        "labels",
        [0],
    ),
    (
        "empty-steps",
        [{"prompt": "a", "completions": [], "labels": []}],
        {"type": "stepwise"},
        "completions",
        [0],
    ),
    (
        "image-count",
        [{"prompt": [_m("user", [{"type": "image"}, {"type": "image"}])], "images": ["a.png"]}],
        {},
        None,
        [0],
    ),
    # parts but no image part: TRL places no image in them (`media-unplaced` for strings)
    (
        "image-count",
        [{"messages": [_m("user", [{"type": "text", "text": "q"}]), A], "images": ["a.png"]}],
        {},
        None,
        [0],
    ),
    (
        "media-unplaced",
        [{"messages": [U, A], "images": ["a.png"]}, {"messages": [U, A], "images": []}],
        {},
        None,
        [0],
    ),
    (
        "media-unrendered",
        [
            {"prompt": "q", "completion": "a", "images": ["a.png"]},
            {"prompt": "<image> q", "completion": "a", "images": ["b.png"]},
        ],
        {},
        None,
        [0],
    ),
    (
        "media-standard-text",
        [
            {"prompt": "q", "completion": "a", "images": ["a.png"]},
            {"prompt": "<image> q", "completion": "a", "images": ["b.png"]},
            {"prompt": "<image> q", "completion": "a", "images": []},
        ],
        {},
        None,
        [1],
    ),
    ("image-count", [{"messages": [_m("user", [{"type": "image"}]), A]}], {}, None, [0]),
    (
        "media-count",
        [
            {"messages": [_m("user", [{"type": "video"}]), A], "videos": ["a.mp4"]},
            {"messages": [_m("user", [{"type": "video"}]), A], "videos": []},
            {"messages": [_m("user", [{"type": "audio"}]), A], "videos": []},
        ],
        {},
        None,
        [1],
    ),
    ("invalid-tools", [{"text": "x", "tools": "[{"}], {}, "tools", [0]),
    ("invalid-tools", [{"text": "x", "tools": '{"name": "f"}'}], {}, "tools", [0]),
    ("invalid-tools", [{"text": "x", "tools": [{"type": "function"}]}], {}, "tools", [0]),
    (
        "unknown-tool",
        [
            {"messages": [U, _named_call("f")], "tools": [_tool("f")]},
            {"messages": [U, _named_call("g")], "tools": [_tool("f")]},  # not offered
            {"messages": [U, _named_call("g")]},  # no tools: not checked
            # a bare schema offers its function too
            {"messages": [U, _named_call("g")], "tools": [{"name": "g"}, _tool("h")]},
            {
                "messages": [U, _named_call("f"), _m("tool", "1"), _named_call("h")],
                "tools": [_tool("f")],
            },
        ],
        {},
        "messages",
        [1, 4],
    ),
    (
        "required-not-property",
        [
            {"messages": [U, A], "tools": [_tool("f")]},  # nothing required
            {"messages": [U, A], "tools": [_requiring("f", ["x"], ["f"])]},  # its own name
            {"messages": [U, A], "tools": [_requiring("f", ["x"], ["x"])]},
            {"messages": [U, A], "tools": [_tool("g"), _requiring("f", [], ["x"])]},
            {"messages": [U, A]},
        ],
        {},
        "tools",
        [1, 3],
    ),
    (
        "tool-result-without-call",
        [
            {"messages": [U, _named_call("f"), _m("tool", "1"), A]},
            {"messages": [U, _m("assistant", "I'll look."), _m("tool", "1"), A]},  # no call
            {"messages": [U, _m("tool", "1"), A, _named_call("f"), _m("tool", "2"), A]},
            {"messages": [U, A]},
        ],
        {},
        "messages",
        [1, 2],
    ),
    (
        "import-failed",
        [
            {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}]},
            {"conversations": [{"from": "alien", "value": "Hi"}, {"from": "gpt", "value": "Yo"}]},
        ],
        {"from_": "sharegpt"},
        None,
        [1],
    ),
    (
        "import-not-paired",
        [
            {"prompt": "Q", "completions": ["a", "b"], "scores": [1, 2]},
            {"prompt": "Q", "completions": ["a", "b"], "scores": [3, 3]},  # a tie: no pair
        ],
        {"from_": "ranked"},
        None,
        [1],
    ),
    (
        "invalid-arguments",
        [{"messages": [U, _call('{"city": "Paris"}')]}, {"messages": [U, _call("{city: Paris")]}],
        {},
        "messages",
        [1],
    ),
    (
        "double-encoded-arguments",
        [
            {"messages": [U, _call('{"city": "Paris"}')]},
            {"messages": [U, _call(json.dumps('{"city": "Paris"}'))]},
        ],
        {},
        "messages",
        [1],
    ),
    (
        "invalid-tokens",
        [{"input_ids": [1, 2]}, {"input_ids": []}, {"input_ids": [-1]}],
        {},
        "input_ids",
        [1, 2],
    ),
    (
        "mask-mismatch",
        [{"input_ids": [1, 2], "attention_mask": [1]}, {"input_ids": [1], "attention_mask": [2]}],
        {},
        "attention_mask",
        [0, 1],
    ),
    (
        "duplicate-row",
        [{"text": "a"}, {"text": "b"}, {"text": "a"}, {"text": "a"}],
        {},
        None,
        [2, 3],
    ),
    ("role-alternation", [{"messages": [U, A]}, {"messages": [U, A, B]}], {}, "messages", [1]),
    ("special-token", [{"text": "a"}, {"text": "a<|endoftext|>b"}], {}, "text", [1]),
    ("nul-character", [{"messages": [U, _m("assistant", "a\x00")]}], {}, "messages", [0]),
    (
        "template-variable",
        [{"text": "{{ x }} is Jinja"}, {"text": "I am {{name}}."}, {"text": "{x}"}],
        {},
        "text",
        [1],
    ),
    ("whitespace-only", [{"text": "a"}, {"text": "\u200b\u3000"}], {}, "text", [1]),
    ("whitespace-only", [{"messages": [U, _m("assistant", "\ufeff")]}], {}, "messages", [0]),
    (
        "image-placeholder",
        [{"messages": [U, A]}, {"messages": [_m("user", "<image> what is it?"), A]}],
        {},
        None,
        [1],
    ),
    (
        "media-placeholder",
        [
            # a video part in the prompt and a `<video>` in the completion: 2 videos in all
            # (media-count agrees), but the placeholders alone are not the videos
            {
                "prompt": [_m("user", [{"type": "video"}, {"type": "text", "text": "Go"}])],
                "completion": [_m("assistant", "<video>")],
                "videos": ["a.mp4", "b.mp4"],
            },
        ],
        {},
        None,
        [0],
    ),
]


@pytest.mark.parametrize(("rule", "rows", "kw", "column", "flagged"), CASES)
def test_rule(rule, rows, kw, column, flagged):
    r = run(rows, **kw)
    found = issue(r, rule, column)
    assert found.rows == flagged
    assert found.count == max(len(flagged), found.count if not flagged else 0)
    assert found.severity is RULES[rule].severity
    assert found.hint
    assert r.valid is (RULES[rule].severity is not Severity.ERROR)


def test_every_rule_has_a_case():
    # invalid-line is about a file's lines (tests/test_validate_cli.py)
    assert {c[0] for c in CASES} | {"invalid-line"} == set(RULES)


def test_rules_have_kebab_case_ids_and_fix_hints():
    for rule in RULES.values():
        assert rule.id == rule.id.lower() and " " not in rule.id and "_" not in rule.id
        assert rule.hint and rule.summary


# ---------------------------------------------------------------- messages and hints


def test_label_hint_mentions_coerce():
    # without coerce no label is read as a boolean: the hint says what coerce=True does
    # (in the API's words: the report comes from trlprep.validate)
    fix = "`trlprep.validate(..., coerce=True)` checks the rows as "
    fix += "`trlprep.convert(..., coerce=True)`"
    r = run([{"prompt": "a", "completion": "b", "label": 0}])
    assert fix in issue(r, "label-type").hint
    r = run([{"prompt": "a", "completion": "b", "label": "False"}])
    assert fix in issue(r, "label-type").hint
    r = run([{"prompt": "a", "completion": "b", "label": "1"}])
    assert fix in issue(r, "label-type").hint
    r = run([{"prompt": "a", "completions": ["x"], "labels": [1]}])
    assert fix in issue(r, "labels-type").hint
    for bad in (7, -1, 0.5, "yes"):
        hint = issue(run([{"prompt": "a", "completion": "b", "label": bad}]), "label-type").hint
        assert fix not in hint and '`coerce=True` reads only 0/1 and "true"/"false"' in hint, bad
    r = run([{"prompt": "a", "completion": "b", "label": v} for v in (True, 1)])
    assert fix in issue(r, "label-type").hint  # mixed kinds: number among booleans
    r = run([{"prompt": "a", "completion": "b", "label": v} for v in (True, 2)])
    assert fix not in issue(r, "label-type").hint


def test_role_map_is_applied_first():
    rows = [{"messages": [_m("human", "x"), _m("gpt", "y")]}]
    r = run(rows)
    bad = issue(r, "unknown-role", "messages")
    assert "'human'" in bad.message and "'gpt'" in bad.message
    assert "role_map={'human': 'user'" in bad.hint  # the API's words: a report of trlprep.validate
    assert run(rows, role_map="human=user,gpt=assistant").valid
    assert run(rows, role_map={"human": "user", "gpt": "assistant"}).valid


def test_role_map_applies_before_turn_rules():
    rows = [{"prompt": [_m("human", "q")], "completion": [_m("gpt", "a")]}]
    r = run(rows, role_map="human=user")
    assert issue(r, "completion-not-assistant", "completion").rows == [0]
    assert run(rows, role_map="human=user,gpt=assistant").issues == []


def test_role_map_parse_errors():
    assert parse_role_map(" human = user , gpt=assistant ") == {"human": "user", "gpt": "assistant"}
    with pytest.raises(UsageError):
        parse_role_map("human")
    with pytest.raises(UsageError, match="not a role"):
        parse_role_map("human=people")


def test_format_contradicting_data_says_so():
    r = run([{"prompt": [U], "completion": [A]}], format="standard")
    wrong = issue(r, "wrong-type", "prompt")
    assert "pass format='conversational'" in wrong.hint  # the keyword this call took
    assert not r.valid


def test_type_contradicting_data_reports_missing_columns():
    r = run([EXAMPLES[("preference", "standard")]], type="unpaired")
    assert issue(r, "missing-column", "completion").count == 1
    assert issue(r, "missing-column", "label").count == 1
    assert "prompt, completion, label" in issue(r, "missing-column", "label").message


def test_unsupported_format_is_a_usage_error():
    with pytest.raises(UsageError, match="no tokenized format"):
        run([{"prompt": "a"}], type="prompt-only", format="tokenized")
    with pytest.raises(UsageError, match="unknown dataset type"):
        run([{"prompt": "a"}], type="nope")


def test_stepwise_conversational_note():
    r = run([EXAMPLES[("stepwise-supervision", "conversational")]])
    assert r.valid
    assert any("beyond the TRL guide" in n for n in r.notes)


def test_implicit_prefix_warns_only_where_the_default_extraction_fails():
    rows = [
        {"chosen": "The sky is blue.", "rejected": "The sky is green."},
        {"chosen": "Q: why? A: yes", "rejected": "Q: why? A: no"},
        # shared starts ending inside a word: the word mode backs off to "héllo ", "I like "
        {"chosen": "héllo wörld", "rejected": "héllo wèrld"},
        {"chosen": "I like cats", "rejected": "I like cars"},
        {"chosen": "Yes.", "rejected": "No."},  # nothing shared: an empty prompt
        {"chosen": "abc", "rejected": "abcd"},  # a prefix with no boundary to back off to
    ]
    r = run(rows)
    assert issue(r, "no-common-prefix").rows == [4]
    assert issue(r, "no-common-prefix", "chosen+rejected").rows == [5]
    assert len([i for i in r.issues if i.rule == "no-common-prefix"]) == 2


def test_duplicates_name_the_first_occurrence():
    r = run([{"text": "a"}, {"text": "b"}, {"text": "a"}])
    d = issue(r, "duplicate-row")
    assert "row 2 repeats row 0" in d.message


# ---------------------------------------------------------------- many rows, batches, files


def test_max_errors_caps_examples_not_counts():
    rows = [{"text": ""}] * 30
    r = run(rows, max_errors=4)
    e = issue(r, "empty-string", "text")
    assert (e.count, e.rows) == (30, [0, 1, 2, 3])


def test_mixed_dataset_flags_the_minority_rows():
    rows = [{"prompt": [U], "completion": [A]} for _ in range(5)]
    rows[1] = {"prompt": "The sky is", "completion": " blue."}
    rows[4] = {"prompt": "The sky is", "completion": " green."}
    r = run(rows)
    assert (r.type, r.format) == ("prompt-completion", "conversational")
    assert issue(r, "mixed-kind", "prompt").rows == [1, 4]
    assert any("majority" in n for n in r.notes)


def test_mixed_rows_of_other_types():
    rows = [
        {"prompt": "q", "chosen": "a", "rejected": "b"},
        {"prompt": "q", "chosen": "c", "rejected": None},
        {"prompt": "q", "completion": "c"},
    ]
    r = run(rows)
    assert r.type == "preference"
    assert issue(r, "null-value", "rejected").rows == [1, 2]
    assert issue(r, "null-value", "chosen").rows == [2]


def test_table_batches_merge_offsets_and_duplicates():
    texts = [f"row {i % 7}" if i % 50 == 0 else f"row {i}" for i in range(300)]
    texts[123] = ""
    table = pa.table({"text": texts})
    r = validate_table(table, batch_rows=64)
    assert issue(r, "empty-string", "text").rows == [123]
    dup = issue(r, "duplicate-row")
    assert dup.rows == [50, 100, 150, 200, 250]  # "row 0", "row 1", ... repeat rows 0..5
    one = validate_table(table, batch_rows=1000)
    assert [i.to_dict() for i in one.issues] == [i.to_dict() for i in r.issues]


def test_jsonl_is_streamed_with_line_numbers(tmp_path, monkeypatch):
    import trlprep.io.jsonl

    monkeypatch.setattr(trlprep.io.jsonl, "CHUNK_BYTES", 256)
    lines = []
    for i in range(40):
        row = {"prompt": [U], "completion": [_m("assistant", f"Answer {i}.")]}
        if i == 17:
            row["completion"] = [_m("user", "oops")]
        if i == 33:
            row = {"prompt": [U], "completion": [_m("assistant", "Answer 3.")]}
        lines.append(json.dumps(row))
        if i == 10:
            lines.append("")  # a blank line shifts line numbers, not rows
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")
    r = validate_path(path)
    assert r.num_rows == 40
    bad = issue(r, "completion-not-assistant", "completion")
    assert (bad.rows, bad.lines) == ([17], [19])
    dup = issue(r, "duplicate-row")
    assert (dup.rows, dup.lines) == ([33], [35])
    assert "line 35 repeats line 4" in dup.message


def test_jsonl_batches_with_different_schemas(tmp_path, monkeypatch):
    import trlprep.io.jsonl

    monkeypatch.setattr(trlprep.io.jsonl, "CHUNK_BYTES", 200)
    rows = [{"prompt": "The sky is", "completion": f" blue {i}."} for i in range(30)]
    rows[25] = {"prompt": "The sky is"}  # a chunk of its own may lack the column entirely
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = validate_path(path, type="pc", format="standard")
    assert issue(r, "null-value", "completion").rows == [25]
    assert r.issue("missing-column") is None


def test_parquet_over_one_batch_is_read_once(tmp_path, monkeypatch):
    n = 70_000
    prompts = pa.array(np.char.add("prompt ", np.arange(n).astype(str)).tolist())
    table = pa.table({"prompt": prompts, "completion": pa.array([" ok."] * n)})
    table = table.set_column(1, "completion", pa.array([" ok."] * 69_000 + [""] * 1000))
    path = tmp_path / "big.parquet"
    pq.write_table(table, path)
    v = importlib.import_module(
        "trlprep.validation.validate"
    )  # the module (trlprep.validate is the API)
    calls = []
    real = v.agreeing_batches
    monkeypatch.setattr(v, "agreeing_batches", lambda *a, **k: calls.append(1) or real(*a, **k))
    r = validate_path(path)
    assert len(calls) == 1
    assert (r.type, r.format, r.num_rows) == ("prompt-completion", "standard", n)
    assert issue(r, "empty-string", "completion").rows[:2] == [69_000, 69_001]
    assert issue(r, "empty-string", "completion").count == 1000


def test_parquet_with_a_late_column_is_detected_on_every_row(tmp_path, monkeypatch):
    n = 70_000
    label = [None] * 66_000 + [True] * (n - 66_000)
    table = pa.table(
        {
            "prompt": ["p"] * n,
            "completion": [f"c{i}" for i in range(n)],
            "label": pa.array(label, pa.bool_()),
        }
    )
    path = tmp_path / "late.parquet"
    pq.write_table(table, path)
    r = validate_path(path)
    assert r.type == "unpaired-preference"
    assert issue(r, "null-value", "label").count == 66_000


# ---------------------------------------------------------------- inputs and report


def test_every_input_kind_gives_a_report():
    import datasets
    import polars as pl

    row = EXAMPLES[("preference", "conversational")]
    assert run(pl.DataFrame([row])).valid
    assert run(pa.Table.from_pylist([row])).valid
    assert run({"text": ["a", ""]}).issue("empty-string") is not None
    dd = datasets.DatasetDict(
        {"train": datasets.Dataset.from_list([row]), "test": datasets.Dataset.from_list([{"x": 1}])}
    )
    out = trlprep.validate(dd)
    assert out["train"].valid and not out["test"].valid


def test_validate_function_survives_module_import():
    import trlprep.validation.validate  # noqa: F401

    assert callable(trlprep.validate)
    assert trlprep.validate([{"text": "a"}]).valid


def test_report_json_is_documented_shape():
    r = run([{"text": "a"}, {"text": ""}])
    d = json.loads(r.to_json())
    assert set(d) >= {"valid", "type", "format", "num_rows", "issues"}
    assert d["valid"] is False and d["num_rows"] == 2
    (i,) = d["issues"]
    assert set(i) >= {"rule", "severity", "count", "rows", "message", "hint"}
    assert "lines" not in i  # in-memory data has no lines
    assert (i["rule"], i["severity"], i["count"], i["rows"]) == ("empty-string", "error", 1, [1])


def test_strict_fails_on_warnings_only():
    rows = [{"text": " "}]
    assert run(rows).valid
    assert not run(rows, strict=True).valid
    info_only = [{"prompt": [U, _m("assistant", "It")], "completion": [A]}]
    assert run(info_only, strict=True).valid


def test_github_annotations_escape_and_fall_back_to_rows():
    r = run([{"text": "a"}, {"text": ""}])
    r.path = "d,a:ta.jsonl"
    out = r.render_github()
    assert out.splitlines()[0].startswith("::error file=d%2Ca%3Ata.jsonl,title=")
    assert "(rows 1)" in out
    r.issues[0].lines = [7]
    assert "line=7" in r.render_github()
    r.issues[0].message = "50% done\nnext"
    assert "50%25 done%0Anext" in r.render_github()


def test_summary_and_text_rendering():
    from rich.console import Console

    r = run([{"text": "a"}, {"text": ""}])
    console = Console(record=True, width=120, force_terminal=True)  # a table on a terminal
    r.render_text(console)
    text = console.export_text()
    for word in ("rule", "severity", "count", "empty-string", "row 1", "INVALID", "hint"):
        assert word in text
    console = Console(record=True, width=120, force_terminal=False)  # one block per issue
    r.render_text(console)
    text = console.export_text()
    assert "error: empty-string (text): 1 row, row 1" in text and "INVALID" in text
    assert Format.STANDARD.value in r.summary()
