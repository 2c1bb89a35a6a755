"""validate: tool-call arguments encoded as JSON twice (`double-encoded-arguments`), and
arguments that are no JSON text of an object (`invalid-arguments`).

`"\\"{\\\\\\"city\\\\\\": ...}\\""` is the JSON text of a string holding an object's JSON
text: every chat template renders that string instead of the object, so the rows are
errors, found in every form the arguments reach validation (plain strings from Parquet,
tagged JSON text beside object arguments, `datasets` Json).
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from realdata.support import run, sample

import trlprep
from trlprep.validation.rules import RULES, Severity

RULE = "double-encoded-arguments"
ARGS = {"city": "Paris", "unit": "celsius"}
ONCE = json.dumps(ARGS)
TWICE = json.dumps(ONCE)
USER = {"role": "user", "content": "Weather in Paris?"}


def turn(arguments) -> dict:
    fn = {"name": "get_weather", "arguments": arguments}
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"type": "function", "function": fn}],
    }


def rows(*arguments) -> list[dict]:
    return [{"messages": [USER, turn(a)]} for a in arguments]


def flagged(report):
    found = report.issue(RULE, "messages")
    return None if found is None else found.rows


def test_the_rule_is_an_error_with_a_hint():
    rule = RULES[RULE]
    assert rule.severity is Severity.ERROR  # every template renders the string, not the object
    assert "json.loads" in rule.hint


def test_plain_string_arguments():
    report = trlprep.validate(rows(ONCE, TWICE, " " + ONCE, TWICE, "{}"))
    assert flagged(report) == [1, 3]
    assert not report.valid
    # objects, and objects whose values are quoted strings, are no JSON text of a string
    report = trlprep.validate(rows(ARGS, {"query": '"quoted"'}, TWICE))
    assert flagged(report) == [2]


def test_tagged_arguments_beside_objects(tmp_path):
    """Objects in some rows make every row's arguments tagged JSON text: still found, by line."""
    path = tmp_path / "calls.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows(ARGS, TWICE, ONCE, ARGS)))
    report = trlprep.validate(path)
    found = report.issue(RULE, "messages")
    assert (found.rows, found.lines) == ([1], [2])
    assert '"{\\"city\\": \\"Paris\\", \\"unit\\": \\"celsius\\"}"' in found.message


def test_a_json_string_that_holds_no_object_is_flagged_too():
    report = trlprep.validate(rows(ONCE, json.dumps("Paris")))
    assert flagged(report) == [1]
    assert "a string, not JSON text" in report.issue(RULE, "messages").message


def test_parquet_file_through_the_cli(tmp_path):
    path = tmp_path / "calls.parquet"
    pq.write_table(pa.Table.from_pylist(rows(ONCE, TWICE, TWICE)), path)
    res = run("validate", path)
    assert res.exit_code == 1, res.output
    assert f"error: {RULE} (messages): 2 rows, rows 1, 2" in res.output
    assert "json.loads" in res.output


def test_real_drone_sample_lines_3_to_6():
    """The OpenAI cookbook's drone set: lines 3-6 hold double-encoded arguments."""
    report = trlprep.validate(sample("openai_drone_toolcalls"))
    found = report.issue(RULE, "messages")
    assert found.lines == [3, 4, 5, 6]
    assert [i.rule for i in report.errors] == [RULE]


def test_real_samples_drone_flagged_glaive_clean(tmp_path):
    out = tmp_path / "glaive.jsonl"
    res = run("import", sample("glaive_toolcall"), "--from", "sharegpt", "-o", out)
    assert res.exit_code == 0, res.output
    assert trlprep.validate(out).issue(RULE, "messages") is None  # 50 rows of objects
    res = run("validate", sample("openai_drone_toolcalls"))
    assert (
        res.exit_code == 1 and f"error: {RULE} (messages): 4 rows, lines 3, 4, 5, 6" in res.output
    )


def test_drone_loaded_by_datasets_with_json_features(tmp_path):
    datasets = pytest.importorskip("datasets")
    drone = sample("openai_drone_toolcalls")
    ds = datasets.load_dataset(
        "json", data_files=str(drone), split="train", cache_dir=str(tmp_path)
    )
    assert flagged(trlprep.validate(ds)) == [2, 3, 4, 5]


# ---------------------------------------------------------------- invalid-arguments


def invalid(report):
    found = report.issue("invalid-arguments", "messages")
    return None if found is None else found.rows


def test_arguments_that_are_no_json_object_are_errors_as_convert_refuses_them():
    """Not JSON, empty, or JSON of a list, number or null: `convert --chat-template` refuses
    each of these rows, so validate must not pass them."""
    bad = ["{city: Paris", "", "[1, 2]", "5", "null", ONCE + " trailing", '{"a": "x\ny"}']
    report = trlprep.validate(rows(ONCE, *bad, "{}", " " + ONCE))
    assert invalid(report) == list(range(1, len(bad) + 1))
    assert flagged(report) is None  # none of them is the double encoding
    issue = report.issue("invalid-arguments", "messages")
    assert (
        '"{city: Paris"' in issue.message and RULES["invalid-arguments"].severity is Severity.ERROR
    )
    assert not report.valid


def test_doubly_encoded_arguments_are_not_also_called_invalid():
    report = trlprep.validate(rows(ONCE, TWICE, json.dumps("plain words")))
    assert flagged(report) == [1, 2] and invalid(report) is None


def test_tagged_arguments_beside_objects_are_read_as_the_users_values():
    """Objects in some rows and strings in others reach validation as tagged JSON text."""
    report = trlprep.validate(rows(ARGS, ONCE, "{oops", TWICE))
    assert invalid(report) == [2]
    assert flagged(report) == [3]


def test_what_validate_flags_is_what_convert_refuses(tmp_path):
    """The same rows: validate's invalid-arguments and convert's chat-template rejects."""
    data = rows(ONCE, "{city: Paris", "[1]", ARGS)
    report = trlprep.validate(data)
    with pytest.warns(UserWarning, match="could not be converted"):
        out = trlprep.convert(data, chat_template="qwen2.5", on_error="skip")
    kept = len(out) if isinstance(out, list) else out.num_rows
    assert invalid(report) == [1, 2] and kept == 2


def test_arguments_that_open_with_a_quote_but_are_no_json_are_invalid():
    """`"city": "Paris"` (an object's braces forgotten) is no JSON: a leading `"` is the
    double encoding's case only where the text parses."""
    forgot = '"city": "Paris"'
    report = trlprep.validate(rows(ONCE, forgot, TWICE, '"x" trailing'))
    assert invalid(report) == [1, 3] and flagged(report) == [2]
    assert forgot in report.issue("invalid-arguments", "messages").message.replace("\\", "")
    tagged = trlprep.validate(rows(ARGS, forgot))  # beside objects: tagged JSON text
    assert invalid(tagged) == [1]


def test_tool_results_without_call_found_per_row_in_null_and_sliced_lists():
    """`tool-result-without-call` per row of a messages column holding a null list, read
    through a slice (its lists' offsets not starting at 0): only the row whose tool
    message comes before any call is flagged."""
    from trlprep.validation.checks.toolresults import _unanswered

    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    asked = {"role": "assistant", "content": None, "tool_calls": [call]}
    result = {"role": "tool", "content": "ok"}
    rows = [
        [USER, asked, result],
        [USER, result],  # no call before it
        None,
        [USER, asked, result, result],
        [USER, result, asked],  # the call comes after
    ]
    msgs = pa.array(rows)
    assert _unanswered(msgs).tolist() == [False, True, False, False, True]
    assert _unanswered(msgs.slice(1)).tolist() == [True, False, False, True]
    assert _unanswered(msgs.slice(2, 2)).tolist() == [False, False]
